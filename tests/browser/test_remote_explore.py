"""``nwb-ketamine explore URL`` in Chromium, on the tiny archive served by nginx (``served_archive``).

The compare view, then one cell, one unit, a raw-traces window and the file view are opened; nginx's
access log gives the requests and bytes each view open made for its file, printed against its size. A view that read
whole files (a GET without a Range, or more than its fraction of the file) fails the test.
"""

from urllib.parse import quote

import pytest

from nwb_ketamine.explorer.store import ArchiveStore
from tests.browser.conftest import CHROMIUM, free_port, screenshot, start_server, wait_idle
from tests.explorer.test_remote import MAX_FRACTION

pytestmark = pytest.mark.browser

#: The page of the file view also plots the first 100 000 samples of the first series (the raw
#: ElectricalSeries: two of its five 65 536-row chunks, ~40 % of the file), besides the object tree.
PAGE_FRACTION = MAX_FRACTION | {"file": 0.75}


@pytest.fixture(scope="module")
def remote_explorer(served_archive, tmp_path_factory):
    """(explorer URL, archive URL): ``nwb-ketamine explore URL/archive/ --cache TMP`` in a subprocess."""
    if not CHROMIUM.exists():
        pytest.skip("Chromium not installed at /usr/bin/chromium (make browser-deps)")
    archive_url = served_archive.url + "archive/"
    port = free_port()
    proc = start_server(archive_url, port, "--cache", str(tmp_path_factory.mktemp("explore-cache")))
    yield f"http://127.0.0.1:{port}", archive_url
    proc.terminate()
    proc.wait(timeout=10)


def _open(page, server, url: str, text: str, file_key: str | None):
    """Open ``url``, wait until ``text`` is shown and the page is idle; the requests for ``file_key``."""
    mark = server.mark()
    page.goto(url)
    page.wait_for_selector(f"text={text}", timeout=60_000)
    wait_idle(page, 60_000)
    assert page.locator(".alert-danger").count() == 0, page.locator(".alert-danger").all_inner_texts()
    sent = server.transfers(mark)
    return (
        [r for r in sent if r.path.endswith(".nwb")]
        if file_key is None
        else [r for r in sent if r.path.endswith(file_key)]
    )


def test_explore_url_opens_every_view_by_range_requests(page, remote_explorer, served_archive, tiny_archive):
    explorer, archive_url = remote_explorer
    store = ArchiveStore(tiny_archive)  # the keys, from the local catalog the served one equals
    cell, unit = store.cells.iloc[0], store.units.iloc[0]
    ecephys = store.sessions[store.sessions["modality"] == "ecephys"]["file"].iloc[0]
    # Compare: the catalog only; the header says the archive is remote and where it is.
    sent = _open(page, served_archive, explorer + "/?view=compare", "Statistics", None)
    assert sent == [], sent  # no NWB file is read to show the catalog
    badge = page.locator(".remote-archive")
    assert "remote archive" in badge.inner_text() and archive_url in badge.inner_text()
    screenshot(page, "explorer-remote-compare")
    views = {
        "cell": (f"?view=cell&cell={quote(cell['cell_key'])}", cell["cell_key"], cell["file"]),
        "unit": (f"?view=unit&unit={quote(unit['unit_key'])}", unit["unit_key"], unit["file"]),
        "traces-1s": (f"?view=traces&file={quote(ecephys)}&traces_window_s=1", "Raw traces", ecephys),
        "file": (f"?view=file&file={quote(ecephys)}", "Time series", ecephys),
    }
    figures = {}
    for name, (query, text, file_key) in views.items():
        page.console_errors.clear()
        sent = _open(page, served_archive, explorer + "/" + query, text, file_key)
        screenshot(page, f"explorer-remote-{name}")
        assert page.console_errors == [], (name, page.console_errors)
        size = (tiny_archive / file_key).stat().st_size
        figures[name] = (sent, sum(r.bytes for r in sent), size)
        print(f"browser remote {name:<10} {len(sent):>3} requests {sum(r.bytes for r in sent):>9} bytes of {size:>9}")
    for name, (sent, nbytes, size) in figures.items():
        assert sent, name  # the view read its file over HTTP
        assert all(r.method == "HEAD" or (r.range.startswith("bytes=") and r.status == 206) for r in sent), (name, sent)
        if name in PAGE_FRACTION:
            assert nbytes < PAGE_FRACTION[name] * size, (name, nbytes, size)
        else:  # the cell view needs every sweep of its cell, spread over the file: at most the file, once
            assert nbytes <= size, (name, nbytes, size)
