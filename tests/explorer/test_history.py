"""Back/Forward on the server side: the app follows the query the browser went back or forward to."""

from __future__ import annotations

from urllib.parse import quote

from nwb_ketamine.explorer.app import ExplorerApp


def test_apply_history_restores_the_view_and_its_parameters(store):
    key = store.cells["cell_key"].iloc[0]
    app = ExplorerApp(store)
    app.apply_history(f"?view=cell&cell={quote(key)}&measure=ampa_amplitude")
    assert (app.view, app.cell, app.compare.measure) == ("cell", key, "ampa_amplitude")
    assert app.current.cell_key == key
    app.apply_history("view=compare&measure=nmda_amplitude")  # without its '?'
    assert (app.view, app.compare.measure) == ("compare", "nmda_amplitude")
    assert app.current is app.compare
    app.apply_history("?view=nonsense&measure=nmda_amplitude")  # a value that does not fit: a notice
    assert app.view == "compare" and any("view='nonsense'" in notice for notice in app.url_notices)


def test_apply_history_to_an_address_without_parameters_shows_the_defaults(store):
    app = ExplorerApp(store, view="unit")
    app.compare.measure = "firing_rate"
    app.apply_history("?view=compare")  # the page's first address names only the view
    assert (app.view, app.compare.measure) == ("compare", app.compare.param["measure"].default)
