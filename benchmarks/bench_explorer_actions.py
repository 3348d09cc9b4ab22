"""The explorer's four user actions timed in Chromium, against a trivial Panel page, with where the time goes.

Prints numbers; no timed asserts. Usage::

    python benchmarks/bench_explorer_actions.py ARCHIVE [--repeats 5] [--before TREE] [--profile DIR]

``ARCHIVE`` is a converted archive with a catalog (the demo's: ``make demo DEMO_ARGS=--no-explore``, or
the tiny study's). Servers are started by ``explorer_timed_server.py`` (the explorer as ``nwb-ketamine
explore`` serves it, its Python timed); the pages are Chromium (``/usr/bin/chromium``) driven by Playwright.

The actions and the goals of issue 13, each "drawn" meaning: every Bokeh document idle (has drawn all its
views) and the expected plot or text shown (its view exists and is displayed). The browser tests'
``IDLE_JS`` also waits for Panel's busy spinner to stop, which Panel keeps spinning at least 500 ms
(``BooleanIndicator.throttle``) after any callback: that moment is reported as ``spinner off``, not
as drawn.

- **first page**: navigation start → the compare plot drawn (a scatter point on screen); goal < 2 s.
  ``page complete`` is when the tables below the plot are shown with their rows too and the server is idle;
- **switch view**: a click on a nav button → the new view drawn: Compare → Overview (its sessions heading)
  and Overview → Compare (the plot again); goal < 1 s;
- **point click**: a mouse click on a compare point → its cell view drawn (the 'AMPAR-EPSC' plot);
  goal < 1.5 s;
- **traces step**: the ▶ button on a 2 s raw-traces window → the plot titled with the new window and its x
  range moved; goal < 300 ms.

Every other action starts on a page that has finished loading (complete, idle). Times are the page's own
clock (``performance.now()``): the action starts at the click's ``pointerdown``
(the first page at navigation start) and ends when a check polled every animation frame first passes.
Each action is repeated ``--repeats`` times per server, rounds alternating the servers' order (A B, B A):

- **baseline** (A): a trivial Panel page served the same way (BootstrapTemplate, a radio-button nav, a
  50-point scatter whose tap opens a one-line figure, a ▶ button moving a figure's x range), the same
  checks; the floor of Panel, Bokeh and this machine;
- **explorer** (B): ``ARCHIVE`` served by this tree's code;
- **before** (C, with ``--before TREE``): the same archive served by another source tree (an earlier
  commit: ``git archive COMMIT | tar -x -C TREE``), for an optimisation's before/after in the same run.

For each server, median and p95 (nearest rank), then the split (medians of each part over the repeats):

- ``to server``: click → the page's first websocket message out (Bokeh's event handling in the page);
- ``server``: that message → the last message in before drawn; within it the server process's CPU time
  (all threads) and the Python times of ``explorer_timed_server`` (patches applied, Panel's change and
  event handling, next-tick callbacks, the explorer's view render; see there) and the part spent
  serialising PATCH-DOC messages, with their bytes (``patch kB``) and the bytes the page received;
- ``browser``: the last message in → drawn (applying the patches, building views, layout, painting), with
  Chromium's main-thread task, script, layout and style-recalculation time during the action (CDP
  ``Performance.getMetrics``, the whole action).

The first page's split: the server's answer to the page request (``responseStart``; the session's app and
template built, and the page's HTML with the serialised document: Python times), the HTML's bytes, the
page's scripts and styles (count, bytes, when the last arrived), then the page's own work until drawn.

With ``--profile DIR`` the explorer's server runs under cProfile (slower) and writes ``DIR/explorer.prof``.
The machine's load average is printed with each figure.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests' helpers

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, IDLE_JS, free_port  # noqa: E402
from tests.browser.test_compare_plot import POINT_ON_SCREEN  # noqa: E402
from tests.browser.test_navigation import RANGES_JS  # noqa: E402

SERVER = Path(__file__).with_name("explorer_timed_server.py")
#: The server's timed steps (``explorer_timed_server.py``); 'render' runs inside 'locked' or 'change'.
CALLBACKS = ("apply", "change", "event", "locked", "render")
GOALS = {"first page": 2.0, "switch to Overview": 1.0, "switch to Compare": 1.0, "point click": 1.5,
         "traces step": 0.3}  # fmt: skip

#: Every websocket frame (time, direction, size) and every pointerdown's time, in the page's clock.
INIT_JS = """(() => {
  window.__ws = [];
  window.__downs = [];
  const size = (d) => typeof d === 'string' ? d.length : (d.byteLength ?? d.size ?? 0);
  const Base = window.WebSocket;
  window.WebSocket = class extends Base {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (e) => window.__ws.push([performance.now(), 1, size(e.data)]));
    }
    send(data) { window.__ws.push([performance.now(), 0, size(data)]); return super.send(data); }
  };
  document.addEventListener('pointerdown', (e) => window.__downs.push(e.timeStamp), true);
})();"""

#: Whether a model's view exists and is displayed (not in a hidden layout).
SHOWN = "((m) => { const v = Bokeh.index.find_one(m); return v != null && v.el.getClientRects().length > 0; })"
#: A shown model whose text holds ``s`` (Panel's markup is in shadow roots, out of document.querySelector's reach).
SHOWN_TEXT = f"""((s) => Bokeh.documents.some((doc) => [...doc.all_models].some((m) =>
    typeof m.text === 'string' && m.text.includes(s) && {SHOWN}(m))))"""
#: A compare scatter (a source with 'xpos' and 'row') with points, drawn in a shown canvas.
COMPARE_SHOWN = """(() => Bokeh.documents.some((doc) => [...doc.all_models].some((m) => {
    if (m.type !== 'GlyphRenderer' || !m.visible || m.data_source.get_length() === 0) return false;
    const data = m.data_source.data, has = (k) => data instanceof Map ? data.has(k) : k in data;
    if (!has('xpos') || !has('row')) return false;
    const v = Bokeh.index.find_one(m);
    return v != null && v.parent.canvas_view.el.getClientRects().length > 0;
})))()"""


#: Every Bokeh document has drawn all its views (IDLE_JS without its wait for Panel's busy spinner, which
#: stays on at least 500 ms after it started: BooleanIndicator.throttle).
DOCS_IDLE = "(() => Bokeh.documents.length > 0 && Bokeh.documents.every((doc) => doc.is_idle))"


def drawn_check(condition: str, idle: str = DOCS_IDLE) -> str:
    """A function for ``wait_for_function``: records ``performance.now()`` the first time the page's
    documents are idle and ``condition`` (a JS expression of ``arg``) holds."""
    return f"""(arg) => {{
        if (window.Bokeh === undefined) return false;
        if ({idle}() && ({condition})) {{ window.__drawn = performance.now(); return true; }}
        return false;
    }}"""


SETTLED = drawn_check("true", IDLE_JS)
#: Every shown Tabulator has its rows (a remote-paginated one asks the server for its first page once built).
TABLES_FILLED = f"""(() => Bokeh.documents.every((doc) => [...doc.all_models].every((m) =>
    !String(m.type).endsWith('DataTabulator') || !{SHOWN}(m) || m.source.get_length() > 0)))"""
#: The whole compare page shown (its statistics heading), its tables filled and the server idle.
COMPLETE = drawn_check(f"{SHOWN_TEXT}('Statistics (each level') && {TABLES_FILLED}()", IDLE_JS)


def complete_check(server: Server) -> str:
    """The check that a page opened on Compare is complete: its tables shown (the trivial page has none)."""
    return SETTLED if server.name == "baseline" else COMPLETE


COMPARE_DRAWN = drawn_check(f"{COMPARE_SHOWN} && ({POINT_ON_SCREEN})() !== null")
OVERVIEW_DRAWN = drawn_check(f"{SHOWN_TEXT}('Sessions (filter in the header')")
CELL_DRAWN = drawn_check(f"({RANGES_JS})('AMPAR-EPSC').length > 0")
WINDOW_DRAWN = drawn_check(
    f"({RANGES_JS})(arg[0]).some(([x0, x1]) => Math.abs(x0 - arg[1]) < 1e-6 && Math.abs(x1 - arg[2]) < 1e-6)"
)


def load() -> str:
    return "load " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


class Server:
    """``explorer_timed_server.py`` in a subprocess, its ``BENCH-TIMING`` lines collected in a thread."""

    def __init__(self, name: str, argv: list[str]):
        self.name = name
        self.port = free_port()
        command = [sys.executable, str(SERVER), argv[0], argv[1], str(self.port), *argv[2:]]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.time() + 120
        while True:
            try:
                opener.open(f"http://127.0.0.1:{self.port}/favicon.ico", timeout=5)
                return
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    self.stop()
                    raise RuntimeError(f"{name} server did not start:\n" + "\n".join(self.lines[-20:])) from None
                time.sleep(0.3)

    def _read(self) -> None:
        for raw in self.proc.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip())

    def timings(self, since: int) -> dict[str, list[tuple[float, int]]]:
        """``kind → [(seconds, bytes), ...]`` of the lines after ``since``."""
        out: dict[str, list[tuple[float, int]]] = {}
        for line in self.lines[since:]:
            if line.startswith("BENCH-TIMING "):
                _, kind, seconds, nbytes = line.split()
                out.setdefault(kind, []).append((float(seconds), int(nbytes)))
        return out

    def errors(self) -> list[str]:
        return [line for line in self.lines if "ERROR" in line or "Traceback" in line]

    def cpu(self) -> float:
        """User + system CPU seconds of the server process so far (all its threads)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Session:
    """One Chromium context and page on a server, with the page's CDP performance metrics."""

    def __init__(self, browser, server: Server):
        self.server = server
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.context.add_init_script(INIT_JS)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda msg: msg.type == "error" and self.errors.append(msg.text))
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.cdp = self.context.new_cdp_session(self.page)
        self.cdp.send("Performance.enable")

    def metrics(self) -> dict[str, float]:
        return {m["name"]: m["value"] for m in self.cdp.send("Performance.getMetrics")["metrics"]}

    def url(self, query: str = "") -> str:
        return f"http://127.0.0.1:{self.server.port}/{query}"

    def wait(self, check: str, arg=None, timeout: float = 120_000) -> float:
        self.page.evaluate("() => { window.__drawn = undefined; }")
        self.page.wait_for_function(check, arg=arg, polling="raf", timeout=timeout)
        return self.page.evaluate("() => window.__drawn")

    def settled(self, timeout: float = 120_000) -> float:
        """``performance.now()`` once the server is idle too (the busy spinner off: ``IDLE_JS``)."""
        return self.wait(SETTLED, timeout=timeout)

    def close(self) -> None:
        self.context.close()


def split(
    session: Session, start_ms: float, drawn_ms: float, since: int, before: dict, after: dict, cpu: float
) -> dict:
    """The parts of one action (seconds, bytes) from the page's websocket log, the server's timings and CDP."""
    frames = session.page.evaluate("() => window.__ws")
    out_times = [t for t, d, _ in frames if d == 0 and start_ms <= t <= drawn_ms]
    sent = out_times[0] if out_times else start_ms
    ins = [(t, n) for t, d, n in frames if d == 1 and sent <= t <= drawn_ms]
    last_in = ins[-1][0] if ins else sent
    time.sleep(0.1)  # the server's lines are printed before it sends; let the reader thread catch up
    timings = session.server.timings(since)
    python = {kind: sum(s for s, _ in timings.get(kind, [])) for kind in CALLBACKS}
    serialise = timings.get("serialise", [])
    delta = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in ("TaskDuration", "ScriptDuration",
                                                                 "LayoutDuration", "RecalcStyleDuration")}  # fmt: skip
    return {
        "total": (drawn_ms - start_ms) / 1e3,
        "to server": (sent - start_ms) / 1e3,
        "server": (last_in - sent) / 1e3,
        "server cpu": cpu,
        **python,
        "serialise": sum(s for s, _ in serialise),
        "patch kB": sum(n for _, n in serialise) / 1e3,
        "ws in kB": sum(n for _, n in ins) / 1e3,
        "browser": (drawn_ms - last_in) / 1e3,
        "main thread": delta["TaskDuration"],
        "script": delta["ScriptDuration"],
        "layout": delta["LayoutDuration"],
        "style": delta["RecalcStyleDuration"],
    }


def first_page(browser, server: Server, query: str) -> dict:
    session = Session(browser, server)
    try:
        since = len(server.lines)
        session.page.goto(session.url(query), timeout=120_000)
        drawn = session.wait(COMPARE_DRAWN)
        settled = session.settled()
        complete = session.wait(complete_check(server))
        nav = session.page.evaluate("""() => { const n = performance.getEntriesByType('navigation')[0];
            const r = performance.getEntriesByType('resource').filter((e) => ['script', 'link', 'css']
                .includes(e.initiatorType));
            return {request: n.requestStart, response: n.responseStart, end: n.responseEnd,
                    bytes: n.encodedBodySize, n: r.length, rbytes: r.reduce((s, e) => s + e.encodedBodySize, 0),
                    rend: Math.max(0, ...r.map((e) => e.responseEnd))}; }""")  # fmt: skip
        time.sleep(0.1)
        timings = server.timings(since)
        metrics = session.metrics()
        return {
            "total": drawn / 1e3,
            "page answered": nav["response"] / 1e3,
            "server wait": (nav["response"] - nav["request"]) / 1e3,
            "build (py)": sum(s for s, _ in timings.get("build", [])),
            "page html (py)": sum(s for s, _ in timings.get("page", [])),
            "html kB": nav["bytes"] / 1e3,
            "resources": nav["n"],
            "resources kB": nav["rbytes"] / 1e3,
            "resources done": nav["rend"] / 1e3,
            "page work": (drawn - max(nav["end"], nav["rend"])) / 1e3,
            "ws patches kB": sum(n for _, n in timings.get("serialise", [])) / 1e3,
            **{f"{kind} (py)": sum(s for s, _ in timings.get(kind, [])) for kind in CALLBACKS},
            "main thread": metrics.get("TaskDuration", float("nan")),
            "script": metrics.get("ScriptDuration", float("nan")),
            "layout": metrics.get("LayoutDuration", float("nan")),
            "spinner off": settled / 1e3,
            "page complete": complete / 1e3,
        }
    finally:
        session.close()


def timed_click(session: Session, click, check: str, arg=None) -> dict:
    since = len(session.server.lines)
    before = session.metrics()
    downs = session.page.evaluate("() => window.__downs.length")
    cpu = session.server.cpu()
    click()
    drawn = session.wait(check, arg)
    cpu = session.server.cpu() - cpu
    settled = session.settled()
    start = session.page.evaluate(f"() => window.__downs[{downs}]")
    return {
        **split(session, start, drawn, since, before, session.metrics(), cpu),
        "spinner off": (settled - start) / 1e3,
    }


def switch_views(browser, server: Server) -> list[tuple[str, dict]]:
    session = Session(browser, server)
    try:
        session.page.goto(session.url("?view=compare"), timeout=120_000)
        session.wait(COMPARE_DRAWN)
        session.wait(complete_check(server))  # an action starts on a page that has finished loading
        button = session.page.get_by_role("button", name="Overview", exact=True)
        to_overview = timed_click(session, button.click, OVERVIEW_DRAWN)
        button = session.page.get_by_role("button", name="Compare", exact=True)
        to_compare = timed_click(session, button.click, COMPARE_DRAWN)
        return [("switch to Overview", to_overview), ("switch to Compare", to_compare)]
    finally:
        session.close()


def point_click(browser, server: Server) -> dict:
    session = Session(browser, server)
    try:
        session.page.goto(session.url("?view=compare"), timeout=120_000)
        session.wait(COMPARE_DRAWN)
        session.wait(complete_check(server))  # an action starts on a page that has finished loading
        point = session.page.evaluate(POINT_ON_SCREEN)
        return timed_click(session, lambda: session.page.mouse.click(point["x"], point["y"]), CELL_DRAWN)
    finally:
        session.close()


def traces_steps(browser, server: Server, file_key: str, repeats: int) -> list[dict]:
    session = Session(browser, server)
    try:
        session.page.goto(session.url(f"?view=traces&file={quote(file_key)}&traces_start_s=0&traces_window_s=2"))
        session.wait(WINDOW_DRAWN, ["0.000–2.000 s", 0.0, 2.0])
        session.settled()
        button = session.page.get_by_role("button", name="▶", exact=True)
        out = []
        for i in range(1, repeats + 1):  # half a window on each time
            out.append(timed_click(session, button.click, WINDOW_DRAWN, [f"{i:.3f}–{i + 2:.3f} s", i, i + 2.0]))
        return out
    finally:
        session.close()


def ecephys_file(archive: Path) -> str:
    from nwb_ketamine.explorer.store import ArchiveStore

    store = ArchiveStore(archive)
    sessions = store.sessions[(store.sessions.modality == "ecephys")]
    if "n_raw_series" in sessions:
        sessions = sessions[sessions["n_raw_series"].fillna(0).astype(int) > 0]
    return str(sessions["file"].iloc[0])


def summary(name: str, runs: list[dict], goal: float | None = None) -> str:
    totals = [r["total"] for r in runs]
    text = f"{name}: median {statistics.median(totals):.3f} s, p95 {p95(totals):.3f} s (n={len(totals)})"
    if goal is not None:
        text += f", goal < {goal:g} s {'met' if p95(totals) < goal else 'NOT met'} at p95"
    return text


def print_split(runs: list[dict]) -> None:
    keys = list(runs[0])
    parts = [f"{k} {statistics.median(r[k] for r in runs):.3f}" for k in keys if k != "total"]
    print("      split (medians; s, kB): " + ", ".join(parts))


def run(args) -> None:
    from playwright.sync_api import sync_playwright

    file_key = ecephys_file(args.archive)
    servers = [Server("baseline", ["trivial", "-"])]
    profile = ["--profile", str(args.profile / "explorer.prof")] if args.profile else []
    servers.append(Server("explorer", ["explorer", str(args.archive), *profile]))
    if args.before:
        servers.append(Server("before", ["explorer", str(args.archive), "--src", str(args.before)]))
    results: dict[str, dict[str, list[dict]]] = {s.name: {} for s in servers}
    print(f"archive {args.archive}, raw traces of {file_key}; {args.repeats} rounds ({load()})")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            for server in servers:  # warm-up: imports, first files opened, Chromium's cache of the scripts
                first_page(browser, server, "?view=compare")
                switch_views(browser, server)
                point_click(browser, server)
                traces_steps(browser, server, file_key, 1)
            print(f"warmed up ({load()})")
            for round_ in range(args.repeats):
                order = servers if round_ % 2 == 0 else servers[::-1]
                for server in order:
                    got = results[server.name]
                    got.setdefault("first page", []).append(first_page(browser, server, "?view=compare"))
                    for name, result in switch_views(browser, server):
                        got.setdefault(name, []).append(result)
                    got.setdefault("point click", []).append(point_click(browser, server))
                    got.setdefault("traces step", []).extend(traces_steps(browser, server, file_key, 1))
                print(f"round {round_ + 1} done ({load()})", flush=True)
            browser.close()
    finally:
        for server in servers:
            server.stop()
    for action, goal in GOALS.items():
        print(f"{action} ({load()}):")
        base = statistics.median(r["total"] for r in results["baseline"][action])
        for server in servers:
            runs = results[server.name][action]
            ratio = statistics.median(r["total"] for r in runs) / base
            print(f"  {summary(server.name, runs, goal if server.name != 'baseline' else None)}, "
                  f"× baseline {ratio:.2f}")  # fmt: skip
            print_split(runs)
    for server in servers:
        if server.errors():
            print(f"{server.name} server error lines: {len(server.errors())}; first: {server.errors()[0][:200]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archive", type=Path, help="a converted archive with a catalog")
    parser.add_argument("--repeats", type=int, default=5, help="rounds of every action per server (default 5)")
    parser.add_argument("--before", type=Path, help="also serve the archive with this source tree's code")
    parser.add_argument("--profile", type=Path, help="profile the explorer's server: DIR/explorer.prof")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        sys.exit("needs Chromium at /usr/bin/chromium (make browser-deps)")
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    run(args)


if __name__ == "__main__":
    main()
