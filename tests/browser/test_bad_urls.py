"""URL values that do not fit are ignored with a visible one-line notice, never an internal error (issue 16)."""

from urllib.parse import quote

import pytest

from nwb_ketamine.explorer.store import ArchiveStore

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect


def _ecephys(archive) -> str:
    store = ArchiveStore(archive)
    return store.sessions[store.sessions.modality == "ecephys"]["file"].iloc[0]


@pytest.mark.parametrize(
    ("query", "notice", "shown"),
    [
        ("view=../../etc", "view='../../etc' (not one of compare, paired", "Statistics"),
        ("measure=nosuch", "measure='nosuch' (not one of nmda_amplitude", "Statistics"),
        ("filter_region=LHb", "filter_region='LHb' (not a list of labels", "Statistics"),
        ("view=traces&file={ecephys}&traces_start_s=1e308", "lies outside the recording (0–10 s); shown from 0 s",
         "Raw traces"),
        ("view=traces&file={ecephys}&traces_window_s=-3", "traces_window_s='-3.0' (outside", "Raw traces"),
        ("view=unit&unit_min_spikes=abc", "unit_min_spikes='abc' (not a whole number)", "No unit chosen"),
    ],
)  # fmt: skip
def test_a_misfit_url_value_is_a_visible_notice(page, explorer_url, browser_archive, query, notice, shown):
    page.goto(explorer_url + "/?" + query.format(ecephys=quote(_ecephys(browser_archive))))
    expect(page.get_by_text(shown).first).to_be_visible()
    banner = page.get_by_text("Ignored in the URL:")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text(notice)
    assert "Error" not in banner.inner_text() and "Traceback" not in page.content()
    expect(page.get_by_text(" view failed:")).to_have_count(0)
    assert page.console_errors == []
