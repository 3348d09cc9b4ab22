"""Navigation in Chromium (issue 13): the raw-traces step buttons move the time axis, Back/Forward restore
the view shown, the cell view's y range shows the EPSC rather than the stimulus artefact."""

from urllib.parse import quote

import pytest

from nwb_ketamine.explorer.store import ArchiveStore
from tests.browser.conftest import open_data_table, wait_idle

pytestmark = pytest.mark.browser
pytest.importorskip("playwright.sync_api")

#: The x and y ranges of every bokeh plot in the page whose title contains ``text``: [[x0, x1, y0, y1], ...].
RANGES_JS = """(text) => {
    const out = [];
    for (const doc of Bokeh.documents) {
        for (const m of doc.all_models) {
            if (m.x_range && m.y_range && m.title && m.title.text !== undefined && m.title.text.includes(text)) {
                out.push([m.x_range.start, m.x_range.end, m.y_range.start, m.y_range.end]);
            }
        }
    }
    return out;
}"""


def ranges(page, title: str) -> list:
    return page.evaluate(RANGES_JS, title)


def wait_for_query(page, name: str, value: str, timeout: float = 60_000):
    page.wait_for_function(
        "([n, v]) => new URLSearchParams(window.location.search).get(n) === v", arg=[name, value], timeout=timeout
    )


def wait_for_x_range(page, title: str, start: float, stop: float, timeout: float = 30_000):
    """Wait until a plot titled ``title`` has an x range covering ``start``–``stop`` (and not much more)."""
    page.wait_for_function(
        f"""([title, start, stop]) => ({RANGES_JS})(title).some(
            ([x0, x1]) => x0 <= start + 1e-6 && x1 >= stop - 1e-6 && x1 - x0 <= 1.5 * (stop - start))""",
        arg=[title, start, stop], timeout=timeout,
    )  # fmt: skip


def ecephys_file(archive) -> str:
    store = ArchiveStore(archive)
    return store.sessions[store.sessions.modality == "ecephys"]["file"].iloc[0]


def test_traces_step_buttons_move_the_time_axis(page, explorer_url, browser_archive):
    ecephys = ecephys_file(browser_archive)
    page.goto(explorer_url + f"/?view=traces&file={quote(ecephys)}&traces_start_s=0&traces_window_s=2")
    wait_for_x_range(page, "events orange", 0.0, 2.0, timeout=60_000)
    page.get_by_role("button", name="▶▶", exact=True).click()  # one window on
    wait_for_query(page, "traces_start_s", "2.0")
    wait_for_x_range(page, "2.000–4.000 s", 2.0, 4.0)
    page.get_by_role("button", name="▶", exact=True).click()  # half a window on
    wait_for_query(page, "traces_start_s", "3.0")
    wait_for_x_range(page, "3.000–5.000 s", 3.0, 5.0)
    page.get_by_role("button", name="◀◀", exact=True).click()
    wait_for_query(page, "traces_start_s", "1.0")
    wait_for_x_range(page, "1.000–3.000 s", 1.0, 3.0)
    assert page.console_errors == []


def test_back_and_forward_restore_the_view(page, explorer_url):
    expect = pytest.importorskip("playwright.sync_api").expect
    page.goto(explorer_url + "/?view=compare")
    page.wait_for_selector("text=Statistics", timeout=60_000)
    keys = open_data_table(page)
    wait_idle(page)
    key = keys.first.inner_text()
    keys.first.click()
    wait_for_query(page, "view", "cell")
    wait_for_query(page, "cell", key)
    heading = page.get_by_role("heading", name=f"Cell {key}")
    expect(heading).to_be_visible(timeout=60_000)
    page.go_back()
    wait_for_query(page, "view", "compare")
    expect(heading).to_have_count(0, timeout=30_000)  # the page follows the address back to Compare
    expect(page.get_by_text("Statistics").first).to_be_visible(timeout=30_000)
    page.go_forward()
    wait_for_query(page, "view", "cell")
    expect(heading).to_be_visible(timeout=30_000)
    assert page.console_errors == []


def test_back_restores_the_traces_window(page, explorer_url, browser_archive):
    ecephys = ecephys_file(browser_archive)
    page.goto(explorer_url + f"/?view=traces&file={quote(ecephys)}&traces_start_s=0&traces_window_s=2")
    wait_for_x_range(page, "events orange", 0.0, 2.0, timeout=60_000)
    page.get_by_role("button", name="▶▶", exact=True).click()
    wait_for_query(page, "traces_start_s", "2.0")
    wait_for_x_range(page, "2.000–4.000 s", 2.0, 4.0)
    page.go_back()
    page.wait_for_function("new URLSearchParams(window.location.search).get('traces_start_s') !== '2.0'")
    wait_for_x_range(page, "0.000–2.000 s", 0.0, 2.0)  # the window of the address gone back to
    page.go_forward()
    wait_for_query(page, "traces_start_s", "2.0")
    wait_for_x_range(page, "2.000–4.000 s", 2.0, 4.0)
    assert page.console_errors == []


def test_unit_view_sliders_fit_in_the_page(page, explorer_url, browser_archive):
    expect = pytest.importorskip("playwright.sync_api").expect
    unit = ArchiveStore(browser_archive).units["unit_key"].iloc[0]
    page.goto(explorer_url + f"/?view=unit&unit={quote(unit)}")
    titles = page.locator(".bk-slider-title")
    expect(titles.first).to_be_visible(timeout=60_000)
    width = page.viewport_size["width"]
    boxes = [titles.nth(i).bounding_box() for i in range(titles.count())]
    assert len(boxes) >= 5
    assert all(box is not None and box["x"] + box["width"] <= width for box in boxes), (width, boxes)


def test_cell_view_y_range_is_the_epsc(page, explorer_url, browser_archive):
    from nwb_ketamine.explorer.cell import CellView

    store = ArchiveStore(browser_archive)
    key = store.cells["cell_key"].iloc[0]
    expected = CellView(store, key).response_y_range("AMPA")
    page.goto(explorer_url + f"/?view=cell&cell={quote(key)}")
    page.wait_for_function(f"({RANGES_JS})('AMPAR-EPSC').length > 0", timeout=60_000)
    (_, _, y0, y1), *_ = ranges(page, "AMPAR-EPSC")
    assert (y0, y1) == pytest.approx(expected)  # not the artefact's hundreds of pA


def test_back_restores_the_compare_measure(page, explorer_url):
    expect = pytest.importorskip("playwright.sync_api").expect
    page.goto(explorer_url + "/?view=compare")
    page.wait_for_selector("text=Statistics", timeout=60_000)
    keys = open_data_table(page)
    wait_idle(page)
    cells = keys.all_inner_texts()
    select = page.locator("select").first
    first = select.input_value()
    select.select_option(label="Firing rate")
    wait_for_query(page, "measure", "firing_rate")
    expect(keys.first).not_to_have_text(cells[0], timeout=30_000)  # the units are listed
    page.go_back()
    page.wait_for_function("new URLSearchParams(window.location.search).get('measure') !== 'firing_rate'")
    expect(select).to_have_value(first, timeout=30_000)  # the widget and the measure follow the address
    expect(keys).to_have_text(cells, timeout=30_000)  # and the table lists the cells again
    page.go_forward()
    wait_for_query(page, "measure", "firing_rate")
    expect(select).not_to_have_value(first, timeout=30_000)
    assert page.console_errors == []
