"""Views driven by their parameters, without a browser."""

import io

import numpy as np
import pandas as pd
import pytest

from nwb_ketamine.explorer.app import ExplorerApp
from nwb_ketamine.explorer.compare import MEASURES, CompareView
from nwb_ketamine.explorer.factors import region_name, region_names
from nwb_ketamine.explorer.overview import OverviewView, group_summary
from nwb_ketamine.explorer.server import is_loopback, serve
from nwb_ketamine.explorer.store import ArchiveStore


def test_compare_first_load_is_the_headline(synthetic):
    """NMDAR-EPSCs of stressed animals, x = region, colour = drug, one facet column per time since injection."""
    view = CompareView(synthetic)
    assert (view.measure, view.x, view.colour, view.facet_row, view.facet_col) == (
        "nmda_amplitude",
        "region",
        "drug",
        "none",
        "time_group",
    )
    assert set(view.data["stress"]) == {"chronic restraint"} and set(view.data["region"]) == {
        region_name("LHb", "LH"),
        region_name("CA1", "CA1"),
    }
    assert [p.figure.title.text for p in view.panels] == ["Time since injection: 1h", "Time since injection: 24h"]
    assert set(view.stats["group_a"]) == {"ketamine"} and set(view.stats["group_b"]) == {"saline"}
    assert set(view.stats["level"]) == {"cells", "animals"}
    lh = view.stats[(view.stats.region == region_name("LHb", "LH")) & (view.stats.level == "cells")]
    assert (lh["mann_whitney_p"] < 0.01).all() and (lh["rank_biserial"] < 0).all()  # the simulated block in LH
    # n = cells / animals labels under each group, equal to the data's counts, in every facet
    counts = view.counts.set_index(["time_group", "region", "drug"])
    for panel, time in zip(view.panels, ["1h", "24h"], strict=True):
        labels = panel.figure.xaxis[0].major_label_overrides
        assert len(labels) == 4
        for label in labels.values():
            *region_lines, drug, n = label.split("\n")  # the region wrapped at word breaks, then drug and n
            assert all(len(line) <= 16 for line in region_lines), label  # no line runs into the next group's
            region = " ".join(region_lines)
            row = counts.loc[(time, region, drug)]
            assert n == f"n = {row['n_cells']} / {row['n_animals']}"
    # every plotted point is one row of the data, at its value
    rows = np.concatenate([p.points.data["row"] for p in view.panels])
    assert sorted(rows) == list(range(len(view.data)))
    for panel in view.panels:
        points = panel.points.data
        assert points["value"] == pytest.approx(view.data["value"].to_numpy()[points["row"]])


@pytest.mark.parametrize("measure", list(MEASURES))
def test_every_measure_changes_data_and_plot(synthetic, measure):
    view = CompareView(synthetic, measure="firing_rate" if measure == "nmda_amplitude" else "nmda_amplitude")
    figure = view.panels[0].figure
    view.param.update(measure=measure)
    column = MEASURES[measure][2]
    table = getattr(synthetic, MEASURES[measure][1])
    assert len(view.data) > 0
    assert view.data["value"].abs().sum() != 0
    assert column in table
    # the same figure, new data: the points are this measure's values, the axis its label
    assert view.panels[0].figure is figure
    points = view.panels[0].points.data
    assert points["value"] == pytest.approx(view.data["value"].to_numpy()[points["row"]])
    assert figure.yaxis[0].axis_label == view.value_label


def test_every_cell_measure_is_a_catalog_column():
    """The compare view plots what the catalog of a real archive holds, not only the synthetic store."""
    from nwb_ketamine.archive.catalog_columns import CELL_COLUMNS

    cell_columns = {m[2] for m in MEASURES.values() if m[1] == "cells"}
    assert cell_columns <= set(CELL_COLUMNS), cell_columns - set(CELL_COLUMNS)
    assert {"nmda_value_at_latency_pa", "nmda_ampa_ratio_latency", "nmda_decay_tau_weighted_ms"} <= cell_columns
    assert len({m[0] for m in MEASURES.values()}) == len(MEASURES)  # labels are the widget's options


def test_grouping_facets_and_normalisation(synthetic):
    view = CompareView(synthetic, filter_stress=[])
    view.param.update(x="drug", colour="stress", facet_col="time_group")
    assert set(view.stats["group_b"]) == {"none"}
    assert "drug" in view.stats.columns and "time_group" in view.stats.columns
    assert len(view.panels) == 2  # one panel per time group
    assert [p.figure.title.text for p in view.panels] == ["Time since injection: 1h", "Time since injection: 24h"]
    assert sum(len(p.points.data["row"]) for p in view.panels) == len(view.data)
    view.param.update(colour="drug", x="region", facet_col="none", normalise=True)
    saline = view.data[view.data.drug == "saline"].groupby(["region", "stress", "time_group"])["value"].mean()
    assert saline.to_numpy() == pytest.approx(100.0)
    assert "% of saline" in view.value_label


def test_exports(synthetic):
    view = CompareView(synthetic)
    data = pd.read_csv(io.StringIO(view.data_csv().getvalue()))
    assert len(data) == len(view.data) and "NMDAR-EPSC amplitude (pA)" in data.columns
    stats = pd.read_csv(io.StringIO(view.stats_csv().getvalue()))
    assert list(stats.columns[:4]) == ["measure", "region", "time_group", "group_a"] and len(stats) == len(view.stats)
    assert view.figure_bytes("png").read(8) == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in view.figure_bytes("svg").read()


def test_click_opens_detail(synthetic):
    app = ExplorerApp(synthetic)
    app.compare.panels[0].points.selected.indices = [5]  # what a tap in the browser sets
    key = app.compare.data["key"].iloc[app.compare.panels[0].points.data["row"][5]]
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
    import h5py

    store = ArchiveStore(tiny_archive)
    view = OverviewView(store)
    summary = group_summary(store)
    assert summary["cells"].sum() == len(store.cells)
    assert "validation" in view.sessions.columns
    view._on_click(type("Event", (), {"row": 0})())
    assert view.selected_file == view.sessions["file"].iloc[0]
    # the in vivo session, read from the file itself: every unit is counted once in each epoch's group
    ecephys = store.sessions[store.sessions.modality == "ecephys"].iloc[0]
    with h5py.File(store.path_of(ecephys["file"]), "r") as f:
        n_units = len(f["units/id"])
        epochs = {t.decode() if isinstance(t, bytes) else str(t) for t in f["intervals/epochs/tags"][:]}
    assert {"baseline", "post-injection"} <= epochs
    region = region_names(store.sessions[store.sessions.file == ecephys.file])[0]  # the name a reader sees
    group = summary[(summary.region == region) & (summary.drug == ecephys.drug)
                    & (summary.stress == ecephys.stress)].set_index("time_group")  # fmt: skip
    for epoch in ("baseline", "post-injection"):  # good units, multi-unit and noise clusters apart
        assert group.loc[epoch, ["units", "mua", "noise", "uncurated"]].sum() == n_units
        assert group.loc[epoch, "units"] == (store.units.drop_duplicates("unit_key").curation_label == "good").sum()
        assert (group.loc[epoch, "subjects"], group.loc[epoch, "sessions"], group.loc[epoch, "cells"]) == (1, 1, 0)
    # the session is listed where its units are, not under the sessions table's own time group
    assert ecephys.time_group not in group.index or group.loc[ecephys.time_group, "units"] == 0


def test_group_summary_counts_per_time_group(synthetic):
    """Counts per region × drug × stress × time group, recounted row by row with sets (good units as units)."""
    expected = {}
    names = ("subjects", "sessions", "cells", "units", "mua")
    for table, key in ((synthetic.cells, "cell_key"), (synthetic.units, "unit_key")):
        for row in table.to_dict("records"):
            group = (region_name(str(row.get("region_label", row["region"])), str(row["region"])),
                     *(str(row[c]) for c in ("drug", "stress", "time_group")))  # fmt: skip
            entry = expected.setdefault(group, {name: set() for name in names})
            entry["subjects"].add(row["subject"])
            entry["sessions"].add(row["file"])
            what = "cells" if key == "cell_key" else "units" if row["curation_label"] == "good" else "mua"
            entry[what].add(row[key])
    summary = group_summary(synthetic)
    assert len(summary) == len(expected)
    assert set(summary["time_group"]) == {"1h", "24h", "baseline", "post-injection"}
    for row in summary.to_dict("records"):
        group = tuple(row[c] for c in ("region", "drug", "stress", "time_group"))
        assert {k: row[k] for k in names} == {k: len(v) for k, v in expected[group].items()}, group


def test_group_summary_small_known_case():
    """Two units in two epochs of one in vivo session, two cells of one slice session, one empty session."""
    labels = {"region": "LH", "drug": "ketamine", "stress": "none"}
    sessions = pd.DataFrame([
        {**labels, "subject": "a", "file": "a.nwb", "time_group": "none", "modality": "ecephys"},
        {**labels, "subject": "b", "file": "b.nwb", "time_group": "1h", "modality": "icephys"},
        {**labels, "subject": "c", "file": "c.nwb", "time_group": "24h", "modality": "icephys"},
    ])  # fmt: skip
    cells = pd.DataFrame([{**labels, "subject": "b", "file": "b.nwb", "time_group": "1h", "cell_key": k}
                          for k in ("b/1", "b/2")])  # fmt: skip
    epochs = (("a/0", "baseline"), ("a/0", "post-injection"), ("a/1", "baseline"))
    units = pd.DataFrame([{**labels, "subject": "a", "file": "a.nwb", "time_group": epoch, "unit_key": k,
                           "curation_label": "good"} for k, epoch in epochs])  # fmt: skip
    store = ArchiveStore.from_tables(".", sessions, cells, units)
    summary = group_summary(store).set_index("time_group")[["subjects", "sessions", "cells", "units"]]
    assert summary.to_dict("index") == {
        "1h": {"subjects": 1, "sessions": 1, "cells": 2, "units": 0},
        "24h": {"subjects": 1, "sessions": 1, "cells": 0, "units": 0},
        "baseline": {"subjects": 1, "sessions": 1, "cells": 0, "units": 2},
        "post-injection": {"subjects": 1, "sessions": 1, "cells": 0, "units": 1},
    }


def test_serve_refuses_remote_without_flag(tiny_archive):
    from nwb_ketamine.errors import NwbKetamineError

    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    with pytest.raises(NwbKetamineError, match="--allow-remote"):
        serve(tiny_archive, address="0.0.0.0", start=False)


def test_apply_query_sets_the_detail_views_parameters(tiny_archive):
    from nwb_ketamine.explorer.urlstate import apply_query

    store = ArchiveStore(tiny_archive)
    units = list(store.units["unit_key"].unique())
    app = ExplorerApp(store)
    apply_query(app, {"view": [b"unit"], "unit": [units[0].encode()], "unit_onset_isi_ms": [b"7.5"],
                      "unit_min_spikes": [b"3"], "unit_end_isi_ms": [b"9999"]})  # fmt: skip
    view = app.current
    assert view.unit_key == units[0] and (view.onset_isi_ms, view.min_spikes) == (7.5, 3)
    assert view.end_isi_ms != 9999  # out of the parameter's bounds: the view's own value is kept
    assert (app.detail.unit_onset_isi_ms, app.detail.unit_end_isi_ms) == (7.5, view.end_isi_ms)
    view.min_silence_ms = 250.0  # a widget change reaches the state the URL is synced with
    assert app.detail.unit_min_silence_ms == 250.0
    app.param.update(view="overview")
    app.param.update(view="unit")  # the same unit rebuilt: the values stay
    assert (app.current.onset_isi_ms, app.current.min_silence_ms) == (7.5, 250.0)
    app.unit = units[1]  # another unit starts from its own (stored) rule
    assert app.current.onset_isi_ms != 7.5 and app.detail.unit_onset_isi_ms == app.current.onset_isi_ms

    ecephys = store.sessions[store.sessions.modality == "ecephys"]["file"].iloc[0]
    app = ExplorerApp(store)
    apply_query(app, {"view": [b"traces"], "file": [ecephys.encode()], "traces_start_s": [b"4"],
                      "traces_window_s": [b"2.5"], "traces_group": [b"no-such-group"]})  # fmt: skip
    traces = app.current
    assert (traces.file_key, traces.start_s, traces.window_s, traces.group) == (ecephys, 4.0, 2.5, "all")
    traces.group = traces.param.group.objects[1]
    traces.step(0.5)
    assert (app.detail.traces_start_s, app.detail.traces_group) == (5.25, traces.param.group.objects[1])
    # nonsense in the URL is ignored, the view opens with its defaults
    app = ExplorerApp(store)
    apply_query(app, {"view": [b"traces"], "file": [ecephys.encode()], "traces_start_s": [b"nan"],
                      "traces_window_s": [b"abc"]})  # fmt: skip
    assert (app.current.start_s, app.current.window_s) == (0.0, 10.0)
