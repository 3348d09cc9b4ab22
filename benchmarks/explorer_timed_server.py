"""A served explorer (or a trivial Panel page) whose server prints where its time goes: the benchmarks' server.

Usage (``bench_explorer_actions.py`` starts it)::

    python benchmarks/explorer_timed_server.py explorer ARCHIVE PORT [--profile OUT.prof] [--src TREE]
    python benchmarks/explorer_timed_server.py trivial - PORT

``explorer`` serves ``ARCHIVE`` as ``nwb-ketamine explore`` does (same :func:`serve`, glibc's allocator);
``trivial`` serves a Panel page with the same four actions and nothing behind them (the baseline): a
BootstrapTemplate whose sidebar has a RadioButtonGroup of two views, a bokeh scatter whose tap opens a
"detail" figure, and a ▶ button that moves a figure's x range.

Every timed step prints one line ``BENCH-TIMING <kind> <seconds> <bytes>`` (flushed), read by the
benchmark between the actions:

- ``page``: building the session's document and its HTML page (``create_app`` / the template, then
  ``server_html_page_for_session``: models serialised into the page), with the page's bytes;
- ``apply``: a patch from the browser applied to the document (a tap's indices, a widget's value, a
  button's click event), with every Python callback it runs synchronously;
- ``locked``: a (not asynchronous) callback run later under the document lock (next-tick callbacks);
- ``change``: Panel applying the changes the browser sent to a component (its parameters' watchers run),
  50 ms after they arrived (Panel's debounce); ``event``: Panel handling a browser event (a button click);
- ``render``: the explorer building the view shown (``ExplorerApp._render_now``, run on the next tick);
- ``serialise``: one PATCH-DOC message to the browser built (its JSON and buffers), with its bytes; this
  happens inside the callbacks above (a change is sent when its callback ends), so it is part of their time.

With ``--src TREE`` the package is imported from another source tree (an earlier commit, unpacked with
``git archive``), for a before/after comparison in one run. With ``--profile`` the server runs under
cProfile and writes OUT.prof when it is terminated (SIGTERM).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

if "PYTHONMALLOC" not in os.environ and sys.platform.startswith("linux"):  # as `nwb-ketamine explore` runs
    os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "PYTHONMALLOC": "malloc"})


def report(kind: str, seconds: float, nbytes: int = 0) -> None:
    print(f"BENCH-TIMING {kind} {seconds:.6f} {nbytes}", flush=True)


def timed(owner, name: str, kind: str, size=None) -> None:
    """Replace ``owner.name`` by a wrapper that reports each call's duration (and ``size(result)`` bytes)."""
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        out = original(*args, **kwargs)
        report(kind, time.perf_counter() - start, size(out) if size else 0)
        return out

    setattr(owner, name, wrapper)


def message_bytes(message) -> int:
    return (
        len(message.header_json)
        + len(message.metadata_json)
        + len(message.content_json)
        + sum(memoryview(buffer.data).nbytes for buffer in message.buffers)
    )


def instrument() -> None:
    import panel.io.server as pn_server
    from bokeh.protocol import Protocol
    from bokeh.protocol.messages.patch_doc import patch_doc
    from bokeh.server.session import ServerSession
    from panel.reactive import Syncable

    timed(pn_server, "server_html_page_for_session", "page", len)
    timed(patch_doc, "apply_to_document", "apply")
    timed(ServerSession, "with_document_locked", "locked")
    timed(Syncable, "_change_event", "change")
    timed(Syncable, "_process_bokeh_event", "event")
    create = Protocol.create

    def create_timed(self, msgtype, *args, **kwargs):
        if msgtype != "PATCH-DOC":
            return create(self, msgtype, *args, **kwargs)
        start = time.perf_counter()
        message = create(self, msgtype, *args, **kwargs)
        nbytes = message_bytes(message)  # the JSON is made (and kept) here, not when it is written out
        report("serialise", time.perf_counter() - start, nbytes)
        return message

    Protocol.create = create_timed


def trivial_page():
    """The baseline: the same four actions on a page with nothing behind them (the same labels and titles,
    so that the benchmark's checks apply unchanged)."""
    import numpy as np
    import panel as pn
    from bokeh.models import ColumnDataSource, Range1d, TapTool
    from bokeh.plotting import figure

    pn.extension(notifications=False)
    rng = np.random.default_rng(0)
    source = ColumnDataSource({"xpos": rng.uniform(0, 1, 50), "value": rng.uniform(0, 1, 50), "row": np.arange(50)})
    compare = figure(title="baseline compare", height=400, sizing_mode="stretch_width", tools="tap")
    compare.scatter("xpos", "value", source=source, size=8)
    compare.select_one(TapTool).renderers = compare.renderers
    main = pn.Column(sizing_mode="stretch_width")

    def open_detail(attr, old, new):
        if new:
            detail = figure(title=f"baseline AMPAR-EPSC {new[0]}", height=400, sizing_mode="stretch_width")
            detail.line(np.arange(1000), rng.normal(size=1000))
            main.objects = [pn.pane.Markdown(f"## Cell {new[0]}"), pn.pane.Bokeh(detail)]

    source.selected.on_change("indices", open_detail)
    x_range = Range1d(0, 2)
    traces = figure(title="0.000–2.000 s", height=300, sizing_mode="stretch_width", x_range=x_range)
    t = np.linspace(0, 60, 4000)
    traces.line(t, np.sin(t))
    step = pn.widgets.Button(name="▶", width=80)

    def on_step(_):
        start = x_range.start + 1.0
        x_range.update(start=start, end=start + 2.0)
        traces.title.text = f"{start:.3f}–{start + 2.0:.3f} s"

    step.on_click(on_step)
    views = {
        "compare": pn.pane.Bokeh(compare, sizing_mode="stretch_width"),
        "overview": pn.pane.Markdown("### Sessions (filter in the header; the baseline has none)"),
        "traces": pn.Column(step, pn.pane.Bokeh(traces, sizing_mode="stretch_width")),
    }
    args = pn.state.session_args or {}
    first = (args.get("view") or [b"compare"])[0].decode()
    first = first if first in views else "compare"
    main.objects = [views[first]]
    nav = pn.widgets.RadioButtonGroup(
        options={"Compare": "compare", "Overview": "overview", "Raw traces": "traces"}, value=first,
        orientation="vertical",
    )  # fmt: skip
    nav.param.watch(lambda e: setattr(main, "objects", [views[e.new]]), "value")
    return pn.template.BootstrapTemplate(title="baseline", sidebar=[nav], main=[main])


def use_source(src: str) -> None:
    """Import ``nwb_ketamine`` from the source tree ``src`` (e.g. an earlier commit's ``git archive``), not the
    editable install's: its finder's mapping is pointed there before anything of the package is imported."""
    root = str(Path(__file__).resolve().parents[1])
    finders = [m for name, m in sys.modules.items() if name.startswith("__editable___nwb_ketamine")]
    if not finders:
        sys.exit("--src needs the editable install of nwb-ketamine (pip install -e .)")
    for finder in finders:
        for name, path in finder.MAPPING.items():
            finder.MAPPING[name] = path.replace(root, str(Path(src).resolve()), 1)


def main(argv: list[str]) -> None:
    mode, archive, port = argv[0], argv[1], int(argv[2])
    if "--src" in argv:
        use_source(argv[argv.index("--src") + 1])
    profile = argv[argv.index("--profile") + 1] if "--profile" in argv else None
    instrument()
    profiler = None
    if profile:
        import cProfile
        import signal

        profiler = cProfile.Profile()

        def stop(*_):
            profiler.disable()
            profiler.dump_stats(profile)
            os._exit(0)

        signal.signal(signal.SIGTERM, stop)
        profiler.enable()
    if mode == "explorer":
        from nwb_ketamine.explorer import server
        from nwb_ketamine.explorer.app import ExplorerApp

        timed(server, "create_app", "build")  # the session's app and template
        timed(ExplorerApp, "_render_now", "render")
        server.serve(archive, port=port)
    else:
        import panel as pn

        pn.serve({"/": trivial_page}, port=port, address="127.0.0.1", show=False, print_url=True,
                 websocket_origin=[f"127.0.0.1:{port}"])  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
