"""The compare plot in Chromium: a mouse click on a drawn point opens that cell; a change redraws in place."""

import pytest

from nwb_ketamine.explorer.store import ArchiveStore
from tests.browser.conftest import screenshot, wait_idle

pytestmark = pytest.mark.browser

#: Screen position (page pixels) of the first point of the compare scatter, computed by bokeh's own scales.
# a source's columns are a Map or a plain object, depending on how bokeh received them
COLUMN = "((m, k) => (m.data instanceof Map ? m.data.get(k) : m.data[k]))"
SCATTER_SOURCES = f"""[...Bokeh.documents[0]._all_models.values()].filter((m) => m.type === 'ColumnDataSource'
    && {COLUMN}(m, 'xpos') !== undefined && {COLUMN}(m, 'row') !== undefined)"""
POINT_ON_SCREEN = f"""() => {{
  const sources = {SCATTER_SOURCES};
  for (const source of sources) {{
    if (source.get_length() === 0) continue;
    const renderer = [...Bokeh.documents[0]._all_models.values()].find(
      (m) => m.type === 'GlyphRenderer' && m.data_source === source);
    const view = Bokeh.index.find_one(renderer);
    if (view === null) continue;
    const x = view.coordinates.x_scale.compute({COLUMN}(source, 'xpos')[0]);
    const y = view.coordinates.y_scale.compute({COLUMN}(source, 'value')[0]);
    const canvas = view.parent.canvas_view.el.getBoundingClientRect();
    return {{x: canvas.left + x, y: canvas.top + y, row: {COLUMN}(source, 'row')[0]}};
  }}
  return null;
}}"""


def compare_page(page, explorer_url, query=""):
    page.goto(explorer_url + "/" + query)
    page.wait_for_selector("text=Statistics", timeout=30_000)
    page.wait_for_selector("canvas", timeout=30_000)
    wait_idle(page)


def test_mouse_click_on_a_point_opens_its_cell(page, explorer_url, browser_archive):
    compare_page(page, explorer_url)
    # wait until bokeh has laid out the plot and drawn the points (slow on a loaded machine)
    page.wait_for_function(f"({POINT_ON_SCREEN})() !== null", timeout=30_000)
    wait_idle(page)
    point = page.evaluate(POINT_ON_SCREEN)
    page.mouse.click(point["x"], point["y"])
    page.wait_for_function("window.location.search.includes('view=cell')", timeout=15_000)
    # the cell opened is the one of that point: the compare data are the QC-accepted cells in catalog order
    cells = ArchiveStore(browser_archive).cells
    accepted = cells[cells["accepted"].astype(bool)].reset_index(drop=True)
    key = accepted["cell_key"].iloc[point["row"]]
    page.wait_for_selector(f"text={key}", timeout=15_000)
    assert page.console_errors == []


def test_changing_the_measure_keeps_the_figure_and_replaces_its_points(page, explorer_url, browser_archive):
    compare_page(page, explorer_url, "?facet_col=none")  # one facet for cells and units alike
    count = "() => [...Bokeh.documents[0]._all_models.values()].filter((m) => m.type === 'Figure').length"
    figures = page.evaluate(count)
    page.locator("select").first.select_option(label="Firing rate")
    page.wait_for_function("window.location.search.includes('measure=firing_rate')", timeout=15_000)
    units = ArchiveStore(browser_archive).units
    good = int(((units["curation_label"] == "good") & (units["epoch"] == "post-injection")).sum())  # one epoch
    points = f"() => {SCATTER_SOURCES}.reduce((n, s) => n + s.get_length(), 0)"
    page.wait_for_function(f"({points})() === {good}", timeout=15_000)
    assert page.evaluate(count) == figures
    assert page.console_errors == []


#: Per glyph type, the rows of the visible renderers' sources, and the legend items and axes shown.
DRAWN = """() => {
  const models = [...Bokeh.documents[0]._all_models.values()];
  const drawn = {};
  for (const r of models.filter((m) => m.type === 'GlyphRenderer' && m.visible)) {
    if (Bokeh.index.find_one(r) === null) continue;  // not rendered
    drawn[r.glyph.type] = (drawn[r.glyph.type] || 0) + r.data_source.get_length();
  }
  const legends = models.filter((m) => m.type === 'Legend' && m.visible);
  drawn.legend_items = legends.reduce((n, l) => n + l.items.filter((i) => i.visible).length, 0);
  drawn.axes = models.filter((m) => m.type === 'LinearAxis' && m.visible).map((a) => a.axis_label);
  return drawn;
}"""


def plot_select(page):
    return page.locator("select", has=page.locator("option", has_text="Cumulative distribution"))


def test_switching_to_dots_and_to_cumulative_redraws_the_kept_figure(page, explorer_url, browser_archive):
    compare_page(page, explorer_url, "?facet_col=none&filter_stress=[]")
    cells = ArchiveStore(browser_archive).cells
    accepted = cells[cells["accepted"].astype(bool)]
    n_groups = len(accepted.groupby(["region", "drug"]))
    figures = page.evaluate("() => [...Bokeh.documents[0]._all_models.values()].filter((m) => m.type === 'Figure')"
                            ".map((m) => m.id)")  # fmt: skip
    boxes = page.evaluate(DRAWN)
    assert boxes["Quad"] == n_groups and boxes["Segment"] == 3 * n_groups and boxes.get("MultiLine", 0) == 0
    plot_select(page).select_option(label="Dots (median, IQR)")
    page.wait_for_function("window.location.search.includes('plot=dots')", timeout=15_000)
    # no box; points and animal means; a median line and an IQR bar with two caps per group
    page.wait_for_function(f"(() => {{ const d = ({DRAWN})(); return !d.Quad && d.Segment === 4 * {n_groups}; }})",
                           timeout=15_000)  # fmt: skip
    assert page.evaluate(f"({POINT_ON_SCREEN})() !== null")
    assert page.evaluate(DRAWN)["Scatter"] >= len(accepted)
    plot_select(page).select_option(label="Cumulative distribution")
    page.wait_for_function("window.location.search.includes('plot=cumulative')", timeout=15_000)
    # one step line per group, its legend entry, the measure's axis; no point, no box
    page.wait_for_function(f"""(() => {{ const d = ({DRAWN})(); return d.MultiLine === {n_groups}
        && d.legend_items === {n_groups} && !d.Scatter && !d.Quad && !d.Segment; }})""", timeout=15_000)  # fmt: skip
    assert sorted(page.evaluate(DRAWN)["axes"]) == ["Fraction of cells (cumulative)", "NMDAR-EPSC amplitude (pA)"]
    same = page.evaluate("() => [...Bokeh.documents[0]._all_models.values()].filter((m) => m.type === 'Figure')"
                         ".map((m) => m.id)")  # fmt: skip
    assert same == figures  # the figures were kept
    screenshot(page, "compare-cumulative")
    assert page.console_errors == []
