"""The honest comparisons in Chromium: the landing headline, a filter, the paired view, the mixed-model row."""

from urllib.parse import quote

import pytest

from nwb_ketamine.explorer.store import ArchiveStore
from tests.browser.conftest import screenshot
from tests.browser.test_compare_plot import SCATTER_SOURCES

pytestmark = pytest.mark.browser

MODELS = "[...Bokeh.documents[0]._all_models.values()]"
TITLES = f"() => {MODELS}.filter((m) => m.type === 'Title').map((m) => m.text)"
POINTS = f"() => {SCATTER_SOURCES}.reduce((n, s) => n + s.get_length(), 0)"


def open_page(page, explorer_url, query: str, text: str) -> None:
    page.goto(explorer_url + "/" + query)
    page.wait_for_selector(f"text={text}", timeout=60_000)
    page.wait_for_function("window.Bokeh !== undefined && Bokeh.documents.length > 0", timeout=30_000)


def test_landing_headline_with_its_facets(page, explorer_url, browser_archive):
    open_page(page, explorer_url, "", "Statistics")
    page.wait_for_selector("text=Stress ∈ all but control", timeout=30_000)
    cells = ArchiveStore(browser_archive).cells
    times = sorted(set(cells.loc[cells["accepted"].astype(bool), "time_group"].astype(str)))
    wanted = [f"Time since injection: {t}" for t in times]
    page.wait_for_function(f"(w) => w.every((t) => ({TITLES})().includes(t))", arg=wanted, timeout=30_000)
    screenshot(page, "compare-landing-headline")
    assert page.console_errors == []


def test_a_filter_changes_n(page, explorer_url, browser_archive):
    cells = ArchiveStore(browser_archive).cells
    accepted = cells[cells["accepted"].astype(bool)]
    open_page(page, explorer_url, "", "Statistics")
    page.wait_for_function(f"({POINTS})() === {len(accepted)}", timeout=30_000)
    drug = sorted(accepted["drug"].astype(str).unique())[0]
    kept = int((accepted["drug"].astype(str) == drug).sum())
    assert kept < len(accepted)
    open_page(page, explorer_url, "?filter_drug=" + quote(f'["{drug}"]'), "Statistics")
    page.wait_for_selector(f"text=Drug ∈ {drug}", timeout=30_000)
    page.wait_for_function(f"({POINTS})() === {kept}", timeout=30_000)
    screenshot(page, "compare-filtered")
    assert page.console_errors == []


def test_paired_view_lines_and_statistic(page, explorer_url, browser_archive):
    open_page(page, explorer_url, "?view=paired&paired_row=none&paired_col=none", "Paired statistics")
    units = ArchiveStore(browser_archive).units
    n_good = units.loc[units["curation_label"] == "good", "unit_key"].nunique()
    lines = f"""() => {MODELS}.filter((m) => m.type === 'GlyphRenderer' && m.glyph.type === 'MultiLine')
        .map((r) => r.data_source.get_length())"""
    page.wait_for_function(f"(n) => ({lines})().includes(n)", arg=n_good, timeout=30_000)
    page.wait_for_selector(".static-table th[data-field='wilcoxon_p']", timeout=30_000)
    page.wait_for_selector(".static-table td[data-field='level'] >> text=animals", timeout=30_000)
    screenshot(page, "paired-view")
    assert page.console_errors == []


def test_mixed_model_row_in_the_statistics_table(page, explorer_url):
    open_page(page, explorer_url, "?x=drug&colour=none&mixed_model=true", "Statistics")
    page.wait_for_selector(".static-table td >> text=mixed model (animal random effect)", timeout=60_000)
    page.wait_for_selector("text=Holm–Bonferroni over the", timeout=30_000)
    screenshot(page, "compare-mixed-model")
    assert page.console_errors == []


def test_interaction_row_appears_when_the_mixed_model_is_asked_for(page, explorer_url, browser_archive):
    cells = ArchiveStore(browser_archive).cells
    accepted = cells[cells["accepted"].astype(bool)]
    assert accepted["region"].nunique() >= 2 and accepted["drug"].nunique() >= 2
    open_page(page, explorer_url, "?x=region&colour=drug&facet_col=none&filter_stress=[]", "Statistics")
    page.wait_for_selector("text=Holm–Bonferroni over the", timeout=30_000)
    assert page.locator(".static-table td >> text=interaction (mixed model)").count() == 0
    # the checkbox's label is a sibling div in its shadow root: click the input itself
    page.get_by_text("Mixed model (animal random effect)").evaluate("(label) => label.previousElementSibling.click()")
    page.wait_for_function("window.location.search.toLowerCase().includes('mixed_model=true')", timeout=15_000)
    page.wait_for_selector(".static-table td >> text=interaction (mixed model)", timeout=60_000)
    page.wait_for_selector("text=Region × drug interaction rows", timeout=30_000)
    page.wait_for_selector(".static-table td[data-field='note'] >> text=random intercept per animal",
                           timeout=30_000)  # fmt: skip
    screenshot(page, "compare-interaction")
    assert page.console_errors == []
