"""Names a reader understands, in Chromium: region names on the axis, the colour legend, labelled sidebar
groups, statistics columns in words, a statistics table inside the page."""

import pytest

from tests.browser.conftest import screenshot
from tests.browser.test_compare_honest import MODELS, open_page

pytestmark = pytest.mark.browser

#: The x-axis tick labels of the compare figures.
TICKS = f"""() => {MODELS}.filter((m) => m.type === 'LinearAxis' && m.major_label_overrides)
    .flatMap((a) => [...a.major_label_overrides.values()].map(String))"""
#: The statistics table's right edge and the page's width, and whether the table scrolls what it cannot show.
STATS_BOX = """() => {
    const all = (root) => [...root.querySelectorAll('*')]
        .flatMap((e) => [e, ...(e.shadowRoot ? all(e.shadowRoot) : [])]);
    const t = all(document).find((x) => x.classList && x.classList.contains('static-table')
        && x.querySelector("th[data-field='group_b']"));
    if (!t) return null;
    return {right: t.getBoundingClientRect().right, page: document.documentElement.clientWidth,
            scrolls: t.scrollWidth <= t.clientWidth || getComputedStyle(t).overflowX !== 'hidden'}; }"""


def test_compare_page_names_regions_and_colours_in_words(page, explorer_url):
    open_page(page, explorer_url, "?filter_stress=[]", "Statistics")
    page.wait_for_function(
        f"() => ({TICKS})().some((t) => t.split('\\n').slice(0, -2).join(' ') === 'LHb — lateral habenula (CCF: LH)')",
        timeout=30_000,
    )  # the region's lines, wrapped at word breaks, before the drug's and the n's
    assert not any(" ".join(t.split("\n")[:-2]) == "LH" for t in page.evaluate(TICKS))
    legend = page.locator(".colour-legend")
    legend.wait_for(timeout=30_000)
    assert "Colour: Drug" in legend.inner_text() and "ketamine" in legend.inner_text()
    for heading in ("What is plotted", "Grouping", "Options", "Filters"):
        page.wait_for_selector(f"text={heading}", timeout=30_000)
    title = page.locator(".static-table th[data-field='group_b']").first
    title.wait_for(timeout=30_000)
    assert title.inner_text().strip() == "Compared with (control)"
    box = page.evaluate(STATS_BOX)
    assert box is not None and box["right"] <= box["page"] + 1 and box["scrolls"], box
    screenshot(page, "compare-labels")
    assert page.console_errors == []
