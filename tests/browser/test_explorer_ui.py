"""The explorer in Chromium: every view renders without console errors, widgets and clicks work."""

import re
import time
from pathlib import Path
from urllib.parse import parse_qs, quote

import pytest

from nwb_ketamine.explorer.paperfigure import file_stem
from nwb_ketamine.explorer.store import ArchiveStore
from tests.browser.conftest import open_data_table, screenshot, wait_idle

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect
expect.set_options(timeout=30_000)  # a wait, not a timing assertion: the server sorts and filters


def wait_ready(page, text: str, timeout: float = 30_000):
    page.wait_for_selector(f"text={text}", timeout=timeout)
    wait_idle(page, timeout)


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
    page.wait_for_selector("text=units plotted", timeout=15_000)
    open_data_table(page)
    page.wait_for_selector(".tabulator-cell >> text=post-injection", timeout=15_000)
    assert page.console_errors == []


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
    ("query", "ready", "statistics"),
    [("", "Statistics", "Mann–Whitney U"), ("?view=paired", "Paired statistics", "Wilcoxon signed-rank"),
     ("?view=timecourse", "Summary (per region", "percentile bootstrap over animals")],
)  # fmt: skip
def test_methods_paragraph_opens_and_downloads(page, explorer_url, query, ready, statistics):
    """Each overview view's methods card: opened, written from the view's rows, with the view's own statistics."""
    from nwb_ketamine import __version__

    page.goto(explorer_url + "/" + query)
    wait_ready(page, ready)
    page.get_by_text("Methods paragraph (from the parameters stored in the files").click()
    page.wait_for_selector(f"text=Analysis by nwb-ketamine {__version__}", timeout=30_000)
    wait_idle(page)
    expect(page.get_by_text(statistics).first).to_be_visible()  # the paragraph in the page: the view's own tests
    with page.expect_download(timeout=20_000) as info:
        page.get_by_text("Methods (Markdown)").click()
    text = Path(info.value.path()).read_text()
    assert text.startswith("## Methods") and statistics in text and f"nwb-ketamine {__version__} explorer" in text
    assert page.console_errors == []


def test_cell_figure_downloads_as_a_pdf_named_after_the_cell(page, explorer_url, browser_archive):
    key = ArchiveStore(browser_archive).cells["cell_key"].iloc[0]
    page.goto(explorer_url + f"/?view=cell&cell={quote(key)}")
    wait_ready(page, "PDF (editable text)")
    with page.expect_download(timeout=30_000) as info:
        page.get_by_text("PDF (editable text)").click()
    assert info.value.suggested_filename == "cell-" + key.replace("/", "_") + ".pdf"
    assert Path(info.value.path()).read_bytes().startswith(b"%PDF")
    assert page.console_errors == []


@pytest.mark.parametrize(("view", "label"), [("unit", "ISI (ms)"), ("traces", "µV")])
def test_unit_and_traces_figures_download_as_svg_with_text(page, explorer_url, browser_archive, view, label):
    """The unit's raster/ISI/waveform panel and the raw-traces window export as SVG, their labels kept as text."""
    store = ArchiveStore(browser_archive)
    query, ready = views(browser_archive)[view]
    page.goto(explorer_url + "/" + query)
    wait_ready(page, "SVG (editable text)")
    with page.expect_download(timeout=60_000) as info:
        page.get_by_text("SVG (editable text)").click()
    if view == "unit":
        stem = "unit-" + file_stem(store.units["unit_key"].iloc[0])
    else:
        stem = "traces-" + file_stem(Path(parse_qs(query[1:])["file"][0]).stem)
    assert info.value.suggested_filename == stem + ".svg"
    svg = Path(info.value.path()).read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert re.search(r"<text[^>]*>[^<]*" + re.escape(label), svg), f"{label!r} is not a text element of the SVG"
    assert page.console_errors == []


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


# ------------------------------------------------------------------------------------------- table clicks
def file_cells(page):
    """The cells of the overview's sessions table's 'file' column (the summary table has no such column)."""
    return page.locator(".tabulator-row .tabulator-cell[tabulator-field='file']")


def wait_for_query(page, name: str, value: str, timeout: float = 60_000):
    """Wait until the URL's query has ``name=value`` (value compared decoded)."""
    page.wait_for_function(
        "([n, v]) => new URLSearchParams(window.location.search).get(n) === v", arg=[name, value], timeout=timeout
    )


def open_overview(page, explorer_url):
    page.goto(explorer_url + "/?view=overview")
    wait_ready(page, "Per group")
    file_cells(page).first.wait_for()


def test_clicking_a_session_row_opens_that_file(page, explorer_url, browser_archive):
    store = ArchiveStore(browser_archive)
    ecephys = store.sessions[store.sessions.modality == "ecephys"]["file"].iloc[0]
    open_overview(page, explorer_url)
    assert file_cells(page).all_inner_texts() == list(store.sessions["file"])
    file_cells(page).filter(has_text=ecephys).click()  # a real mouse click on the cell
    wait_for_query(page, "file", ecephys)
    wait_for_query(page, "view", "traces")
    wait_ready(page, f"Raw traces: {ecephys}")
    screenshot(page, "explorer-overview-click")
    # back to the overview: the same row opens again (the selection is cleared once a view is opened)
    page.get_by_role("button", name="Overview", exact=True).click()
    wait_for_query(page, "view", "overview")
    file_cells(page).filter(has_text=ecephys).click()
    wait_for_query(page, "view", "traces")
    assert page.console_errors == []


def sort_descending(page, field: str, cells, last: str) -> None:
    """Click a column title until its header says descending, then wait for ``last`` to be shown first."""
    header = page.locator(f".tabulator-col[tabulator-field='{field}']").first
    header.locator(".tabulator-col-title").click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    header.locator(".tabulator-col-title").click()
    expect(header).to_have_attribute("aria-sort", "descending")
    expect(cells.first).to_have_text(last)


def test_row_click_after_sorting_and_filtering_opens_the_row_shown(page, explorer_url, browser_archive):
    files = list(ArchiveStore(browser_archive).sessions["file"])
    assert files[0] != max(files)
    open_overview(page, explorer_url)
    # sorted descending, the first row shown is not the value's first row: the shown one must open
    sort_descending(page, "file", file_cells(page), max(files))
    file_cells(page).first.click()
    wait_for_query(page, "file", max(files))
    # a header filter that leaves one row, which is not the value's first
    open_overview(page, explorer_url)
    target = files[1]
    header_filter = page.locator(".tabulator-col[tabulator-field='file'] input")
    header_filter.click()
    header_filter.press_sequentially(target.split("/")[0])  # typed: the filter listens to key events
    header_filter.press("Enter")
    expect(file_cells(page)).to_have_count(1)
    expect(file_cells(page).first).to_have_text(target)
    file_cells(page).first.click()
    wait_for_query(page, "file", target)


def test_clicking_a_compare_table_row_opens_that_cell(page, explorer_url):
    page.goto(explorer_url + "/")
    wait_ready(page, "Statistics")
    cells = open_data_table(page)
    shown = cells.all_inner_texts()
    assert len(shown) >= 2
    cells.nth(1).click()
    wait_for_query(page, "cell", shown[1])
    wait_for_query(page, "view", "cell")
    # back to compare, sorted by key descending on the server (remote pagination): the first row shown opens
    page.get_by_role("button", name="Compare", exact=True).click()
    wait_for_query(page, "view", "compare")
    cells.first.wait_for()
    sort_descending(page, "key", cells, max(shown))
    cells.first.click()
    wait_for_query(page, "cell", max(shown))
    wait_for_query(page, "view", "cell")


# ------------------------------------------------------------------------------------------- detail views in the URL
def test_unit_burst_rule_from_and_to_the_url(page, explorer_url, browser_archive):
    unit = ArchiveStore(browser_archive).units["unit_key"].iloc[0]
    page.goto(explorer_url + f"/?view=unit&unit={quote(unit)}&unit_onset_isi_ms=7.5&unit_min_spikes=3")
    wait_ready(page, f"Unit {unit}")
    titles = page.locator(".bk-slider-title")
    titles.first.wait_for()
    texts = titles.all_inner_texts()
    assert "Onset isi ms: 7.50" in texts and "Min spikes: 3" in texts, texts
    wait_for_query(page, "unit_onset_isi_ms", "7.5")  # kept in the URL after the page's sync
    # state → URL: move the min spikes slider one step with the keyboard
    handle = page.locator(".bk-slider-title", has_text="Min spikes").locator("xpath=..").locator(".noUi-handle")
    handle.focus()
    page.keyboard.press("ArrowRight")
    wait_for_query(page, "unit_min_spikes", "4")
    assert page.console_errors == []


def test_traces_window_from_and_to_the_url(page, explorer_url, browser_archive):
    store = ArchiveStore(browser_archive)
    ecephys = store.sessions[store.sessions.modality == "ecephys"]["file"].iloc[0]
    page.goto(explorer_url + f"/?view=traces&file={quote(ecephys)}&traces_start_s=4&traces_window_s=2")
    wait_ready(page, f"Raw traces: {ecephys}")
    values = page.locator("input").evaluate_all("els => els.map(e => e.value)")
    assert values[:2] == ["4", "2"], values
    wait_for_query(page, "traces_start_s", "4.0")
    page.get_by_role("button", name="▶", exact=True).click()  # half a window on
    wait_for_query(page, "traces_start_s", "5.0")
    wait_for_query(page, "traces_window_s", "2.0")
    assert page.console_errors == []
