"""Where the explorer's first page spends Chromium's main thread: trace events and script self time.

Prints numbers; no asserts. Usage::

    python benchmarks/profile_first_page.py ARCHIVE [--loads 5] [--src TREE] [--baseline]

Each load is a fresh Chromium context opening ``?view=compare`` on a server started as
``bench_explorer_actions.py`` starts it (``--src TREE``: another source tree's code; ``--baseline``: the
trivial Panel page instead), until the compare plot is drawn. The first load warms the server up and is
not counted. Per load, two measurements on separate loads (a CPU profile slows the page):

- the devtools timeline of the renderer's main thread, each event's self time (its duration less its
  children's): script (``v8.callFunction``, ``FunctionCall``, ``v8.run``), layout
  (``LocalFrameView::performLayout``), style (``Document::recalcStyle``)...; medians over the loads;
- a V8 CPU profile (CDP ``Profiler``, 200 µs sampling): self time per script file, the last load's.

This is how the stop-26 note found the compare page's Tabulators (the profile's ``tabulator.min.js`` and
the trace's layout time).
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_explorer_actions import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    COMPARE_DRAWN,
    INIT_JS,
    Server,
    load,
)

DRAWN = COMPARE_DRAWN.replace("(arg) =>", "() =>")


def self_times(events: list[dict]) -> collections.Counter:
    """Self time (ms) per event name of the complete events on the renderer's main thread."""
    mains = {(e["pid"], e["tid"]) for e in events
             if e.get("name") == "thread_name" and e["args"].get("name") == "CrRendererMain"}  # fmt: skip
    spans = sorted((e for e in events if e.get("ph") == "X" and "dur" in e and (e["pid"], e["tid"]) in mains),
                   key=lambda e: (e["pid"], e["tid"], e["ts"], -e["dur"]))  # fmt: skip
    out: collections.Counter = collections.Counter()
    stack: list[dict] = []
    for event in spans:
        while stack and stack[-1]["ts"] + stack[-1]["dur"] <= event["ts"]:
            stack.pop()
        if stack:
            out[stack[-1]["name"]] -= event["dur"] / 1e3
        out[event["name"]] += event["dur"] / 1e3
        stack.append(event)
    return out


def script_times(profile: dict) -> collections.Counter:
    """Self time (ms) per script file (or V8's own: program, idle, garbage collector) of a CPU profile."""
    nodes = {n["id"]: n["callFrame"] for n in profile["nodes"]}
    out: collections.Counter = collections.Counter()
    for node, delta in zip(profile["samples"], profile["timeDeltas"], strict=True):
        frame = nodes[node]
        out[frame["url"].rsplit("/", 1)[-1].split("?")[0] or frame["functionName"]] += delta / 1e3
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archive", type=Path, help="a converted archive with a catalog")
    parser.add_argument("--loads", type=int, default=5, help="counted loads (default 5)")
    parser.add_argument("--src", type=Path, help="serve with this source tree's code")
    parser.add_argument("--baseline", action="store_true", help="profile the trivial Panel page instead")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    argv = ["trivial", "-"] if args.baseline else ["explorer", str(args.archive)]
    server = Server("baseline" if args.baseline else "explorer", argv + (["--src", str(args.src)] if args.src else []))
    url = f"http://127.0.0.1:{server.port}/?view=compare"
    traces: dict[str, list[float]] = collections.defaultdict(list)
    drawn: list[float] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            for i in range(args.loads + 1):
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                context.add_init_script(INIT_JS)
                page = context.new_page()
                browser.start_tracing(page=page, categories=["devtools.timeline", "v8", "blink"])
                page.goto(url, timeout=120_000)
                page.wait_for_function(DRAWN, polling="raf", timeout=120_000)
                if i:
                    drawn.append(page.evaluate("() => window.__drawn") / 1e3)
                    for name, ms in self_times(json.loads(browser.stop_tracing())["traceEvents"]).items():
                        traces[name].append(ms)
                else:
                    browser.stop_tracing()
                context.close()
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.goto(url.split("?")[0] + "favicon.ico")  # same origin: the profiler stays on this renderer
            cdp = context.new_cdp_session(page)
            cdp.send("Profiler.enable")
            cdp.send("Profiler.setSamplingInterval", {"interval": 200})
            cdp.send("Profiler.start")
            page.goto(url, timeout=120_000)
            page.wait_for_function(DRAWN, polling="raf", timeout=120_000)
            scripts = script_times(cdp.send("Profiler.stop")["profile"])
            context.close()
            browser.close()
    finally:
        server.stop()
    print(f"{server.name}: plot drawn at {statistics.median(drawn):.3f} s median of {len(drawn)} loads ({load()})")
    print("main-thread self time by trace event (ms, medians):")
    for name, values in sorted(traces.items(), key=lambda kv: -statistics.median(kv[1]))[:15]:
        print(f"  {statistics.median(values):8.1f}  {name}")
    print("CPU profile, self time by script (ms, one load):")
    for name, ms in scripts.most_common(12):
        print(f"  {ms:8.1f}  {name}")


if __name__ == "__main__":
    main()
