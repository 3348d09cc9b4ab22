"""The time-course view in Chromium: opened from the URL, its points and fraction panels drawn, a filter changes n."""

import pytest

from nwb_ketamine.explorer.factors import region_name
from nwb_ketamine.explorer.store import ArchiveStore
from tests.browser.conftest import screenshot
from tests.browser.test_compare_plot import POINT_ON_SCREEN, SCATTER_SOURCES

pytestmark = pytest.mark.browser

MODELS = "[...Bokeh.documents[0]._all_models.values()]"
POINTS = f"() => {SCATTER_SOURCES}.reduce((n, s) => n + s.get_length(), 0)"
#: Title and drawn canvas height of every figure whose title starts with the argument.
FIGURES = f"""(prefix) => {MODELS}.filter((m) => m.type === 'Figure' && m.title.text.startsWith(prefix))
    .map((m) => {{ const v = Bokeh.index.find_one(m);
                   return [m.title.text, v === null ? 0 : v.canvas_view.el.getBoundingClientRect().height]; }})"""
#: The in-plot messages of the fraction panels.
LABELS = f"() => {MODELS}.filter((m) => m.type === 'Label').map((m) => m.text)"


def test_time_course_from_the_url_draws_and_a_filter_changes_n(page, explorer_url, browser_archive):
    cells = ArchiveStore(browser_archive).cells
    shown = cells[cells["accepted"].astype(bool) & (cells["stress"] != "none")]  # the landing filter
    # the regions as the view names them: the study's label, the full name and the CCF term
    regions = sorted({region_name(lab, ccf) for lab, ccf in zip(shown["region_label"], shown["region"], strict=True)})
    page.goto(explorer_url + "/?view=timecourse")
    page.wait_for_selector(f"text=Shown: {len(shown)} cells from {shown['subject'].nunique()} animals", timeout=60_000)
    page.wait_for_function("window.Bokeh !== undefined && Bokeh.documents.length > 0", timeout=30_000)
    # every facet's measure figure and its fraction-blocked figure are laid out on a canvas, the points placed
    fraction = [f"Fraction blocked · Region: {r}" for r in regions]
    page.wait_for_function(f"(w) => w.every((t) => ({FIGURES})('Fraction').some(([title, h]) => title === t && h > 0))",
                           arg=fraction, timeout=30_000)  # fmt: skip
    page.wait_for_function(f"({POINT_ON_SCREEN})() !== null", timeout=30_000)
    assert page.evaluate(POINTS) == len(shown)
    assert sorted(t for t, h in page.evaluate(FIGURES, "Region") if h > 0) == [f"Region: {r}" for r in regions]
    # the tiny archive has no region with both drugs: each fraction panel says why it is empty
    labels = page.evaluate(LABELS)
    assert len([t for t in labels if t]) == len(regions), labels
    assert any(t.startswith("No matched saline group") for t in labels)
    screenshot(page, "timecourse-tiny")
    # a filter chosen in the sidebar: the Drug multi-choice
    drug = sorted(shown["drug"].unique())[0]
    kept = shown[shown["drug"] == drug]
    assert len(kept) < len(shown)
    widget = page.locator("div.bk-input-group").filter(has_text="Drug")
    widget.locator("input[type=search]").click()
    widget.locator(f".choices__item--choice[data-value='{drug}']").click()
    page.wait_for_selector(f"text=Shown: {len(kept)} cell from {kept['subject'].nunique()} animal", timeout=30_000)
    page.wait_for_function(f"({POINTS})() === {len(kept)}", timeout=30_000)
    page.wait_for_function("window.location.search.includes('tc_filter_drug')", timeout=15_000)
    assert page.console_errors == []
