"""A served explorer on a tiny archive, and Chromium driven by Playwright (skipped without /usr/bin/chromium)."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(archive: Path | str, port: int, *options: str) -> subprocess.Popen:
    """``nwb-ketamine explore ARCHIVE [options]`` (a folder or a URL) in a subprocess, returned once it answers."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "nwb_ketamine.cli", "explore", str(archive), "--port", str(port), *options],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            # the page itself builds a session; ask for a static file, and bypass any proxy of the environment
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            opener.open(f"http://127.0.0.1:{port}/favicon.ico", timeout=5)
            return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(proc.stdout.read().decode()) from None
            time.sleep(0.3)
    proc.terminate()
    raise RuntimeError("explorer did not start")


@pytest.fixture(scope="session")
def browser_archive(request):
    if not CHROMIUM.exists():
        pytest.skip("Chromium not installed at /usr/bin/chromium (make browser-deps)")
    if os.environ.get("NWB_KETAMINE_TEST_ARCHIVE"):  # reuse an archive with a catalog while developing
        return Path(os.environ["NWB_KETAMINE_TEST_ARCHIVE"])
    return request.getfixturevalue("tiny_archive")  # the shared one (tests/conftest.py), built only when needed


@pytest.fixture(scope="session")
def explorer_url(browser_archive):
    port = free_port()
    proc = start_server(browser_archive, port)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Chromium not installed at /usr/bin/chromium (make browser-deps)")
    from playwright.sync_api import expect, sync_playwright

    # Playwright's default of 5 s for expect() is a timing assumption the shared 2-core machine breaks
    # under load (a notice seen after 6 s failed once); every expect waits for its condition up to 30 s.
    expect.set_options(timeout=30_000)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda msg: msg.type == "error" and page.console_errors.append(msg.text))
    page.on("pageerror", lambda exc: page.console_errors.append(str(exc)))
    yield page
    context.close()


#: True once every Bokeh document of the page has drawn all its views (``is_idle``) and the server has no
#: callback running for it (Panel's busy indicator, a LoadingSpinner whose classes hold ``spin`` while busy).
IDLE_JS = """() => window.Bokeh !== undefined && Bokeh.documents.length > 0 && Bokeh.documents.every(
    (doc) => doc.is_idle && ![...doc.all_models].some(
        (m) => Array.isArray(m.css_classes) && m.css_classes.includes("spin")))"""


def wait_idle(page, timeout: float = 60_000) -> None:
    """Wait until the page has drawn and the server is idle: a click then reaches a view that is wired up.

    Under load the first address sync after a page opens can still be running when the first table or
    plot is visible; a click in that moment could be lost (seen once in CI: the row click never opened the cell).
    """
    page.wait_for_function(IDLE_JS, timeout=timeout)


#: The compare view's data table's key cells (a Tabulator, in the "Data: ..." card).
DATA_KEYS = ".tabulator-row .tabulator-cell[tabulator-field='key']"


def open_data_table(page, timeout: float = 60_000):
    """Open the compare view's "Data: ..." card (its table is sent when first opened); its key cells.

    Returns
    -------
    playwright.sync_api.Locator
        The table's key cells, the first one shown.
    """
    page.locator(".card-header", has_text="Data: the").first.click(timeout=timeout)
    keys = page.locator(DATA_KEYS)
    keys.first.wait_for(timeout=timeout)
    return keys


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path
