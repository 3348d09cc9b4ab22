"""Regenerate the README's screenshots of the explorer (docs/screenshots/explorer-*.png) from an archive.

Serves ``ARCHIVE`` with ``nwb-ketamine explore`` on a free loopback port, opens each view in Debian's
Chromium (Playwright) at 1400 × 1000, waits until the page has drawn and the server is idle (the
browser tests' condition, no fixed sleep) and saves the visible page. Use the demo archive
(``make demo DEMO_ARGS=--no-explore`` builds ``demo/archive``)::

    python docs/make_screenshots.py demo/archive [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, IDLE_JS, free_port, start_server  # noqa: E402


def views(archive: Path) -> dict[str, tuple[str, str]]:
    """Screenshot name → (query, a text the drawn view shows)."""
    from nwb_ketamine.explorer.store import ArchiveStore

    store = ArchiveStore(archive)
    sessions = store.sessions
    ecephys = sessions[sessions.modality == "ecephys"]["file"].iloc[0]
    good = store.units[store.units["curation_label"] == "good"] if "curation_label" in store.units else store.units
    unit = (good if len(good) else store.units)["unit_key"].iloc[0]
    cells = store.cells[store.cells["accepted"].astype(bool)] if "accepted" in store.cells else store.cells
    cell = cells["cell_key"].iloc[0]
    return {
        "compare": ("?view=compare", "Statistics"),
        "compare-dots": ("?view=compare&plot=dots", "Statistics"),
        "compare-ecdf": ("?view=compare&plot=cumulative", "Statistics"),
        "compare-bursting": ("?view=compare&measure=percent_in_bursts", "Statistics"),
        "timecourse": ("?view=timecourse", "Summary (per region"),
        "overview": ("?view=overview", "Per group"),
        "unit": (f"?view=unit&unit={quote(unit)}", unit),
        "cell": (f"?view=cell&cell={quote(cell)}", cell),
        "traces": (f"?view=traces&file={quote(ecephys)}", "Raw traces"),
    }


def main() -> None:
    """Serve the archive, photograph each view, stop the server."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archive", type=Path)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "screenshots")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = start_server(args.archive, port)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            for name, (query, text) in views(args.archive).items():
                page.goto(f"http://127.0.0.1:{port}/{query}")
                page.get_by_text(text).first.wait_for(timeout=120_000)
                page.wait_for_function(IDLE_JS, timeout=120_000)
                path = args.out / f"explorer-{name}.png"
                page.screenshot(path=str(path))
                print(f"{path}  ({query})")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
