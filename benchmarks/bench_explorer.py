"""Explorer benchmark: compare-view recompute on a 10,000-row catalog, raw window reads, browser first render.

Prints numbers; no timed asserts. Usage::

    python benchmarks/bench_explorer.py [ARCHIVE]

ARCHIVE (a converted archive with raw tetrode data and a catalog, e.g. the demo's) is used for the raw window
read and the browser first render; without it only the compare recompute is measured.
"""

import statistics
import sys
import time
from pathlib import Path

import holoviews as hv

from nwb_ketamine.explorer.compare import CompareView
from nwb_ketamine.explorer.store import synthetic_store

CHANGES = [
    {"measure": "firing_rate"},
    {"measure": "nmda_amplitude"},
    {"colour": "stress"},
    {"facet": "time_group"},
    {"normalise": True},
    {"x": "drug"},
    {"colour": "drug", "x": "region", "facet": "none", "normalise": False},
]


def bench_compare(n_rows: int = 10_000, n_sessions: int = 500, repeats: int = 3) -> None:
    store = synthetic_store(n_rows, n_sessions)
    view = CompareView(store)
    hv.render(view.plot)  # warm up
    recompute, render = [], []
    for _ in range(repeats):
        for change in CHANGES:
            start = time.perf_counter()
            view.param.update(**change)
            middle = time.perf_counter()
            hv.render(view.plot)  # the bokeh models the server sends
            recompute.append(middle - start)
            render.append(time.perf_counter() - start)
    print(f"compare view, {n_rows} cells + {n_rows} unit×epoch rows over {n_sessions} sessions:")
    print(f"  recompute (data, stats, holoviews objects): median {1e3 * statistics.median(recompute):.0f} ms")
    print(f"  recompute + render to bokeh models:         median {1e3 * statistics.median(render):.0f} ms")


def bench_raw_window(archive: Path, repeats: int = 10) -> None:
    import numpy as np

    from nwb_ketamine.explorer.nwbread import raw_window
    from nwb_ketamine.explorer.store import ArchiveStore

    store = ArchiveStore(archive)
    files = store.sessions[store.sessions.modality == "ecephys"]["file"]
    if files.empty:
        print("no ecephys session in", archive)
        return
    path = store.path_of(files.iloc[0])
    raw_window(path, 0.0, 1.0)  # opens and caches the file
    rng = np.random.default_rng(0)
    times = []
    for t0 in rng.uniform(0, 100, repeats):
        start = time.perf_counter()
        raw_window(path, float(t0), float(t0) + 10.0)
        times.append(time.perf_counter() - start)
    print(f"raw window of 10 s from {path.name}: median {1e3 * statistics.median(times):.0f} ms (n={repeats})")


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


if __name__ == "__main__":
    bench_compare()
    if len(sys.argv) > 1:
        bench_raw_window(Path(sys.argv[1]))
        bench_first_render(Path(sys.argv[1]))
