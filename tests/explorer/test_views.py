"""Views driven by their parameters, without a browser."""

import io

import pandas as pd
import pytest

from nwb_ketamine.explorer.app import ExplorerApp, is_loopback, serve
from nwb_ketamine.explorer.compare import MEASURES, CompareView
from nwb_ketamine.explorer.overview import OverviewView, group_summary
from nwb_ketamine.explorer.store import ArchiveStore


def test_compare_first_load_is_nmda_by_region_and_drug(synthetic):
    view = CompareView(synthetic)
    assert (view.measure, view.x, view.colour) == ("nmda_amplitude", "region", "drug")
    assert set(view.data["region"]) == {"LH", "CA1"}
    assert set(view.stats["group_a"]) == {"ketamine"} and set(view.stats["group_b"]) == {"saline"}
    assert set(view.stats["level"]) == {"cells", "animals"}
    lh = view.stats[(view.stats.region == "LH") & (view.stats.level == "cells")].iloc[0]
    assert lh["mann_whitney_p"] < 1e-6 and lh["rank_biserial"] < 0  # the simulated block in LH
    # n = cells / animals labels under each group
    ticks = view.plot.opts.get().kwargs["xticks"]
    assert all("n = " in label for _, label in ticks)


@pytest.mark.parametrize("measure", list(MEASURES))
def test_every_measure_changes_data_and_plot(synthetic, measure):
    view = CompareView(synthetic, measure="firing_rate" if measure == "nmda_amplitude" else "nmda_amplitude")
    before = view.plot
    view.param.update(measure=measure)
    column = MEASURES[measure][2]
    table = getattr(synthetic, MEASURES[measure][1])
    assert len(view.data) > 0
    assert view.data["value"].abs().sum() != 0
    assert view.plot is not before
    assert view._plot_pane.object is view.plot
    assert column in table


def test_grouping_facets_and_normalisation(synthetic):
    view = CompareView(synthetic)
    view.param.update(x="drug", colour="stress", facet="time_group")
    assert set(view.stats["group_b"]) == {"none"}
    assert "drug" in view.stats.columns and "time_group" in view.stats.columns
    assert len(view.plot) == 2  # one panel per time group
    view.param.update(colour="drug", x="region", facet="none", normalise=True)
    saline = view.data[view.data.drug == "saline"].groupby(["region", "time_group"])["value"].mean()
    assert saline.to_numpy() == pytest.approx(100.0)
    assert "% of saline" in view.value_label


def test_exports(synthetic):
    view = CompareView(synthetic)
    data = pd.read_csv(io.StringIO(view.data_csv().getvalue()))
    assert len(data) == len(view.data) and "NMDAR-EPSC amplitude (pA)" in data.columns
    stats = pd.read_csv(io.StringIO(view.stats_csv().getvalue()))
    assert list(stats.columns[:3]) == ["measure", "region", "group_a"] and len(stats) == len(view.stats)
    assert view.figure_bytes("png").read(8) == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in view.figure_bytes("svg").read()


def test_click_opens_detail(synthetic):
    app = ExplorerApp(synthetic)
    key = app.compare.data["key"].iloc[3]
    app.compare._on_select([3], app.compare.data["key"].tolist())
    assert (app.view, app.cell) == ("cell", key)
    app.view = "compare"
    app.compare.measure = "firing_rate"
    app.compare._on_table_click(type("Event", (), {"row": 0})())
    assert (app.view, app.unit) == ("unit", app.compare.data["key"].iloc[0])


@pytest.mark.parametrize("view", ["cell", "unit", "file", "traces"])
def test_traversal_keys_give_a_message(tiny_archive, view):
    app = ExplorerApp(ArchiveStore(tiny_archive))
    name = {"traces": "file"}.get(view, view)
    for key in ["../../etc/passwd", "/etc/passwd", "..%2F..%2Fetc%2Fpasswd"]:
        app.param.update(**{name: key, "view": view})
        assert "in the catalog" in app.current.object


def test_app_opens_every_view_of_the_tiny_archive(tiny_archive):
    store = ArchiveStore(tiny_archive)
    app = ExplorerApp(store)
    ecephys = store.sessions[store.sessions.modality == "ecephys"]["file"].iloc[0]
    for params in (
        {"view": "overview"},
        {"view": "cell", "cell": store.cells["cell_key"].iloc[0]},
        {"view": "unit", "unit": store.units["unit_key"].iloc[0]},
        {"view": "traces", "file": ecephys},
        {"view": "file", "file": store.sessions["file"].iloc[0]},
    ):
        app.param.update(**params)
        assert not isinstance(app.current, pn_alert()), getattr(app.current, "object", "")


def pn_alert():
    import panel as pn

    return pn.pane.Alert


def test_overview(tiny_archive):
    store = ArchiveStore(tiny_archive)
    view = OverviewView(store)
    summary = group_summary(store)
    assert summary["cells"].sum() == len(store.cells)
    assert summary["units"].sum() == store.units["unit_key"].nunique()
    assert summary["sessions"].sum() == len(store.sessions)
    assert "validation" in view.sessions.columns
    view._on_click(type("Event", (), {"row": 0})())
    assert view.selected_file == view.sessions["file"].iloc[0]


def test_serve_refuses_remote_without_flag(tiny_archive):
    from nwb_ketamine.errors import NwbKetamineError

    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    with pytest.raises(NwbKetamineError, match="--allow-remote"):
        serve(tiny_archive, address="0.0.0.0", start=False)
