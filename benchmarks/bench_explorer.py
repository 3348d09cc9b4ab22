"""Explorer benchmark: compare-view updates on a 10,000-row catalog, and the browser's first render.

Prints numbers; no timed asserts. Usage::

    python benchmarks/bench_explorer.py [ARCHIVE] [--repeats 5] [--plot boxes|dots|cumulative]

Compare view: a synthetic catalog of 10,000 cells and 10,000 unit × epoch rows over 500 sessions. The view
is attached to a bokeh Document, as in a served session, and each change of measure, grouping, facets or
normalisation is timed from setting the parameter until the document patch the server would send
(``PATCH-DOC``) is serialised: data, statistics, plot and table updates and the message. The baseline,
in the same process, is building the view for the same state from scratch and serialising the whole
document (what a page load costs, and what every change cost when the plot was rebuilt each time).
``--plot`` runs the same changes with another plot kind shown; a switch between the plot kinds is timed
as well.

ARCHIVE (a converted archive with a catalog, e.g. the demo's) is served for the browser's time to first
render of the compare view (needs /usr/bin/chromium). The raw-window benchmark on a 1 h recording is
``bench_raw_window.py``.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

from bokeh.document import Document
from bokeh.protocol import Protocol

from nwb_ketamine.explorer.compare import CompareView
from nwb_ketamine.explorer.factors import NOT_CONTROL
from nwb_ketamine.explorer.store import synthetic_store

CHANGES = [
    {"measure": "firing_rate"},
    {"measure": "nmda_amplitude"},
    {"colour": "stress"},
    {"facet_col": "none"},
    {"facet_row": "stress", "facet_col": "time_group"},
    {"filter_stress": [], "filter_region": ["LH"]},
    {"normalise": True},
    {"x": "drug"},
    {"measure": "percent_in_bursts"},
    {
        "colour": "drug",
        "x": "region",
        "facet_row": "none",
        "facet_col": "time_group",
        "normalise": False,
        "measure": "nmda_amplitude",
        "filter_stress": [NOT_CONTROL],
        "filter_region": [],
    },
]
STATE = ("measure", "x", "colour", "facet_row", "facet_col", "normalise", "filter_stress", "filter_region", "plot")
KINDS = ["dots", "cumulative", "boxes"]
PROTOCOL = Protocol()


def message_bytes(message) -> int:
    return len(message.content_json) + sum(len(buffer.data) for buffer in message.buffers)


def attached(view: CompareView) -> tuple[Document, list]:
    """The view in a new document (as the server renders it) and the list its change events go to."""
    doc = Document()
    doc.add_root(view.__panel__().get_root(doc))
    events = []
    doc.on_change(events.append)
    return doc, events


def full_build(store, state: dict) -> tuple[float, int]:
    """Seconds and bytes to build the view in ``state`` from scratch and serialise the whole document."""
    start = time.perf_counter()
    view = CompareView(store, **state)
    doc, _ = attached(view)
    message = PROTOCOL.create("PULL-DOC-REPLY", "0", doc)
    message_bytes(message)
    return time.perf_counter() - start, message_bytes(message)


def bench_compare(n_rows: int = 10_000, n_sessions: int = 500, repeats: int = 5, plot: str = "boxes") -> None:
    store = synthetic_store(n_rows, n_sessions)
    view = CompareView(store, plot=plot)
    _, events = attached(view)
    full_build(store, {"plot": plot})  # warm up imports and caches of both paths
    update, patch_size, baseline, full_size = [], [], [], []
    per_change = {i: [] for i in range(len(CHANGES))}
    for _ in range(repeats):
        for i, change in enumerate(CHANGES):
            events.clear()
            start = time.perf_counter()
            view.param.update(**change)
            message = PROTOCOL.create("PATCH-DOC", list(events))
            size = message_bytes(message)
            elapsed = time.perf_counter() - start
            update.append(elapsed)
            per_change[i].append(elapsed)
            patch_size.append(size)
            state = {name: getattr(view, name) for name in STATE}
            seconds, nbytes = full_build(store, state)
            baseline.append(seconds)
            full_size.append(nbytes)
    u, b = statistics.median(update), statistics.median(baseline)
    print(f"compare view ({plot}), {n_rows} cells + {n_rows} unit×epoch rows over {n_sessions} sessions, "
          f"{len(CHANGES)} changes × {repeats}:")  # fmt: skip
    print(f"  change → patch serialised: median {1e3 * u:.0f} ms, max {1e3 * max(update):.0f} ms "
          f"(patch median {statistics.median(patch_size) / 1e3:.0f} kB)")  # fmt: skip
    print(f"  baseline, same state built from scratch + whole document: median {1e3 * b:.0f} ms "
          f"({statistics.median(full_size) / 1e3:.0f} kB)")  # fmt: skip
    print(f"  ratio update / rebuild: {u / b:.2f}")
    for i, change in enumerate(CHANGES):
        print(f"    {change}: median {1e3 * statistics.median(per_change[i]):.0f} ms")
    after = KINDS.index(plot) + 1
    switches = {kind: [] for kind in KINDS[after:] + KINDS[:after]}  # each a switch from the kind before
    for _ in range(repeats):
        for kind in switches:
            events.clear()
            start = time.perf_counter()
            view.plot = kind
            message_bytes(PROTOCOL.create("PATCH-DOC", list(events)))
            switches[kind].append(time.perf_counter() - start)
    view.plot = plot
    print("  switch of plot kind → patch serialised: "
          + ", ".join(f"to {k} median {1e3 * statistics.median(v):.0f} ms" for k, v in switches.items()))  # fmt: skip
    costs = []
    for _ in range(repeats):
        events.clear()
        start = time.perf_counter()
        view.mixed_model = True
        PROTOCOL.create("PATCH-DOC", list(events))
        costs.append(time.perf_counter() - start)
        view.mixed_model = False
    n_models = int((view.stats["level"] == "cells").sum())
    print(f"  mixed model on ({n_models} comparisons, on demand): median {1e3 * statistics.median(costs):.0f} ms")


def bench_first_render(archive: Path) -> None:
    if not Path("/usr/bin/chromium").exists():
        print("browser first render: skipped (no /usr/bin/chromium)")
        return
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' server helpers

    from tests.browser.conftest import CHROMIUM_ARGS, free_port, start_server

    port = free_port()
    proc = start_server(archive, port)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
            times = []
            for _ in range(3):
                page = browser.new_page()
                start = time.perf_counter()
                page.goto(f"http://127.0.0.1:{port}/")
                page.wait_for_selector("canvas", timeout=60_000)
                times.append(time.perf_counter() - start)
                page.close()
            browser.close()
        print(f"browser time to first render of the compare view: median {statistics.median(times):.2f} s (n=3)")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archive", nargs="?", type=Path, help="archive for the browser first render")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--plot", default="boxes", choices=KINDS, help="the plot kind shown during the changes")
    args = parser.parse_args()
    bench_compare(repeats=args.repeats, plot=args.plot)
    if args.archive:
        bench_first_render(args.archive)


if __name__ == "__main__":
    main()
