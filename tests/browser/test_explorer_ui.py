"""The explorer in Chromium: every view renders without console errors, widgets and clicks work."""

import time
from pathlib import Path
from urllib.parse import quote

import pytest

from nwb_ketamine.explorer.store import ArchiveStore
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser


def wait_ready(page, text: str, timeout: float = 30_000):
    page.wait_for_selector(f"text={text}", timeout=timeout)
    page.wait_for_timeout(800)  # let bokeh finish drawing


def views(archive):
    store = ArchiveStore(archive)
    ecephys = store.sessions[store.sessions.modality == "ecephys"]["file"].iloc[0]
    return {
        "compare": ("?view=compare", "Statistics"),
        "overview": ("?view=overview", "Per group"),
        "cell": (f"?view=cell&cell={quote(store.cells['cell_key'].iloc[0])}", store.cells["cell_key"].iloc[0]),
        "unit": (f"?view=unit&unit={quote(store.units['unit_key'].iloc[0])}", store.units["unit_key"].iloc[0]),
        "traces": (f"?view=traces&file={quote(ecephys)}", "Raw traces"),
        "file": (f"?view=file&file={quote(store.sessions['file'].iloc[0])}", "NWB file"),
    }


def test_every_view_renders_without_console_errors(page, explorer_url, browser_archive):
    for name, (query, text) in views(browser_archive).items():
        page.console_errors.clear()
        page.goto(explorer_url + "/" + query)
        page.wait_for_function(f"window.location.search.includes('view={name}')", timeout=30_000)
        wait_ready(page, text)
        page.wait_for_timeout(1500)
        assert page.locator(".alert-danger").count() == 0, name
        screenshot(page, f"explorer-{name}")
        assert page.console_errors == [], (name, page.console_errors)


def test_changing_the_measure_updates_plot_and_url(page, explorer_url):
    page.goto(explorer_url + "/")
    wait_ready(page, "Statistics")
    assert "NMDAR-EPSC amplitude (pA)" in page.content() or page.locator("canvas").count() > 0
    page.locator("select").first.select_option(label="Firing rate")
    page.wait_for_function("window.location.search.includes('measure=firing_rate')", timeout=15_000)
    # the data table now lists units (unit keys end in the unit id, cells in /s<slice>/c<cell>)
    page.wait_for_selector("text=post-injection", timeout=15_000)
    assert page.console_errors == []


def test_clicking_a_point_opens_its_detail(page, explorer_url):
    page.goto(explorer_url + "/")
    wait_ready(page, "Statistics")
    # a tap selects the point in the scatter's data source; do what bokeh's TapTool does
    page.evaluate(
        """() => {
        let last = null;
        for (const m of Bokeh.documents[0]._all_models.values()) {
          const has = (k) => (m.data instanceof Map ? m.data.has(k) : k in m.data);
          if (m.type === 'ColumnDataSource' && has('xpos') && has('colour')) last = m;
        }
        if (last) last.selected.indices = [0];
        return last !== null; }"""
    )
    page.wait_for_function("window.location.search.includes('view=cell')", timeout=15_000)
    page.wait_for_selector("text=Cell", timeout=15_000)
    assert "cell=" in page.url


def test_csv_download(page, explorer_url):
    page.goto(explorer_url + "/")
    wait_ready(page, "Statistics")
    with page.expect_download(timeout=20_000) as info:
        page.get_by_text("Data (CSV)").click()
    text = Path(info.value.path()).read_text()
    assert text.splitlines()[0].startswith("key,subject,region") and "NMDAR-EPSC amplitude (pA)" in text
    with page.expect_download(timeout=20_000) as info:
        page.get_by_text("Stats (CSV)").click()
    assert Path(info.value.path()).read_text().startswith("measure,")


@pytest.mark.parametrize(
    "query",
    ["?view=cell&cell=../../etc/passwd", "?view=file&file=/etc/passwd", "?view=traces&file=..%2F..%2Fetc%2Fpasswd",
     "?view=unit&unit=%2Fetc%2Fpasswd"],
)  # fmt: skip
def test_path_traversal_is_refused(page, explorer_url, query):
    page.goto(explorer_url + "/" + query)
    wait_ready(page, "in the catalog")
    assert "root:x:0" not in page.content()


def test_time_to_first_render(page, explorer_url):
    start = time.perf_counter()
    page.goto(explorer_url + "/")
    page.wait_for_selector("canvas", timeout=30_000)
    print(f"compare view first render: {time.perf_counter() - start:.2f} s")
