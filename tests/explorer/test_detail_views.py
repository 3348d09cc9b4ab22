"""Detail views without a browser: each builds for every cell/unit, and changing a parameter changes
what it shows; the generic view opens real files from other tools and turns garbage into a message."""

from __future__ import annotations

import json

import numpy as np
import panel as pn
import pytest

from nwb_ketamine.explorer.cell import CellView
from nwb_ketamine.explorer.generic import GenericView
from nwb_ketamine.explorer.spiketrain import autocorrelogram, isi_histogram
from nwb_ketamine.explorer.traces import TracesView
from nwb_ketamine.explorer.unit import UnitView
from tests.conftest import sha256


def _names(fig) -> set[str]:
    """Names of the glyphs and annotations drawn in a bokeh figure."""
    return {r.name for r in fig.renderers} | {a.name for a in fig.center if a.name}


def _n_sweeps(fig) -> int:
    """Sweeps drawn: the lines of the multi-line glyphs (accepted and rejected)."""
    return sum(len(r.data_source.data["xs"]) for r in fig.renderers if r.name in ("accepted", "rejected"))


def _source(fig, name: str) -> dict:
    return next(r for r in fig.renderers if r.name == name).data_source.data


def test_cell_view_builds_and_reacts(store):
    for key in store.cells["cell_key"]:
        view = CellView(store, key)
        assert isinstance(view.__panel__(), pn.Column)
        ampa, nmda = view.sweeps_plot("AMPA"), view.sweeps_plot("NMDA")
        assert {"average", "decay", "baseline window", "peak window"} <= _names(ampa) & _names(nmda)
        sweeps = view.data()["sweeps"]
        for kind, fig in (("AMPA", ampa), ("NMDA", nmda)):  # every sweep of the kind (rejected ones too)
            assert _n_sweeps(fig) == int((sweeps["kind"] == kind).sum()) > 0
            n_accepted = int(((sweeps["kind"] == kind) & sweeps["accepted"]).sum())
            assert fig.title.text.endswith(f"{n_accepted} accepted, {_n_sweeps(fig) - n_accepted} rejected")
        assert "latency window" in _names(nmda) and "latency window" not in _names(ampa)
        meta = dict(view.metadata().itertuples(index=False, name=None))
        assert meta["file"] == store.cell(key)["file"] and meta["drug"] in ("ketamine", "saline")
        rs, rin = view.qc_plot()
        assert len(_source(rs, "rs_mohm")["rs_mohm"]) == len(sweeps) and "Rs threshold" in _names(rs)
        np.testing.assert_allclose(_source(rin, "rin_mohm")["rin_mohm"], sweeps["input_resistance_ohm"] / 1e6)
        view.show_rejected = False
        assert _n_sweeps(view.sweeps_plot("AMPA")) == int(((sweeps["kind"] == "AMPA") & sweeps["accepted"]).sum())
        view.show_sweeps = False
        assert _n_sweeps(view.sweeps_plot("AMPA")) == 0
        view.window_ms = (0.0, 10.0)
        x = np.asarray(_source(view.sweeps_plot("AMPA"), "average")["x"])
        assert x.min() >= 0 and x.max() <= 10


def test_unit_view_recomputes_bursts_live(store):
    keys = list(dict.fromkeys(store.units["unit_key"]))
    for key in keys:
        view = UnitView(store, key)
        assert isinstance(view.__panel__(), pn.Column)
        n_spikes = view.data()["spike_times_s"].size
        raster = view.raster_plot()
        assert len(_source(raster, "single")["x"]) + len(_source(raster, "burst")["x"]) == n_spikes
        assert "injection" in _names(raster)
        assert sum(_source(view.isi_plot(), "isi")["count"]) == n_spikes - 1
        assert len(_source(view.acg_plot(), "acg")["count"]) == 200
        rate, percent = view.rates_plot()
        assert rate.title.text == f"Firing rate ({view.rate_bin():g} s bins)" and percent.y_range.end == 100
        assert len(view.waveform_plot()) == 4
        assert [f.title.text for f in view.waveform_plot()] == view.data()["channels"]
    # A unit that bursts under the stored rule: the live metrics equal the stored ones, then change.
    bursting = store.units.loc[store.units["percent_spikes_in_bursts"] > 0, "unit_key"].iloc[0]
    view = UnitView(store, bursting)
    before = view.metrics()
    np.testing.assert_allclose(before["percent_spikes_in_bursts"], before["percent_spikes_in_bursts (stored)"])
    figures = view.figures()
    assert len(_source(figures["raster"], "burst")["x"]) == int((view.burst_id() >= 0).sum()) > 0
    view.onset_isi_ms = 1.0
    after = view.metrics()
    assert after["percent_spikes_in_bursts"].sum() < before["percent_spikes_in_bursts"].sum()
    assert (view.burst_id() == -1).all()
    # The same figures, their data recomputed in place: no burst spikes, no % in bursts, the onset mark moved.
    assert view.figures() is figures and len(_source(figures["raster"], "burst")["x"]) == 0
    assert np.nansum(_source(figures["percent"], "percent_in_bursts")["percent_in_bursts"]) == 0
    assert figures["marks"]["onset"].location == 1.0
    view.param.update(raster_row_s=7.0, rate_bin_s=3.0, acg_window_ms=50.0)
    assert "rows of 7 s" in figures["raster"].title.text and "(3 s bins)" in figures["rate"].title.text
    assert max(_source(figures["acg"], "acg")["right"]) == pytest.approx(50.0)


def test_isi_and_autocorrelogram_known_values():
    t = np.array([0.0, 0.010, 0.020, 1.0])
    edges, counts = isi_histogram(t)
    assert counts.sum() == 3
    edges, counts = autocorrelogram(t, window_s=0.025, bin_s=0.005)
    lags = (edges[:-1] + edges[1:]) / 2
    assert counts.sum() == 6  # pairs (10, 10, 20 ms) both ways
    assert counts[np.argmin(abs(lags - 0.0125))] + counts[np.argmin(abs(lags - 0.0075))] == 2


def test_traces_view_window_follows_parameters(store):
    file = store.sessions.loc[store.sessions["modality"] == "ecephys", "file"].iloc[0]
    view = TracesView(store, file, start_s=0.0, window_s=2.0)
    assert isinstance(view.__panel__(), pn.Column)
    first = view.window()
    assert first["time_s"][0] == pytest.approx(0.0) and first["time_s"][-1] < 2.0
    view.start_s = 5.0
    moved = view.window()
    assert moved["time_s"][0] == pytest.approx(5.0) and not np.array_equal(first["data_uv"], moved["data_uv"])
    view.step(1.0)
    assert view.start_s == pytest.approx(7.0)
    view.group = "tetrode2"
    assert view.window()["data_uv"].shape[1] == 4
    view.param.update(start_s=3.0, window_s=2.0)
    assert any(type(el).__name__ == "VLine" for el in view.plot())  # the injection at 4 s
    view._range.event(x_range=(1.0, 1.1))  # zooming the plot sets the window
    assert view.start_s == 1.0 and view.window_s == pytest.approx(0.1)
    assert not view.window()["decimated"]


REAL = {
    "neuroconv_mock_ttl_examples.nwb": "14c77ef49aed4a92568455cb5b293c1bde863c6b8f6dfb6922fb0ccd95195203",
    "pynwb_backcompat_2.1.0_nwbfile_with_extension.nwb": "cb4dd14d0c969156220ab32f5815ae7213bdd3762f133f88f07adc8d2716b675",  # noqa: E501
}


@pytest.mark.parametrize("name", sorted(REAL))
def test_generic_view_real_files(realdata, name):
    path = realdata / "nwb" / name
    if not path.exists():
        pytest.skip(f"{path} not available")
    assert sha256(path) == REAL[name]
    view = GenericView(path)
    assert view.error is None
    assert "identifier" in set(view.metadata()["field"])
    assert len(view.tree()) > 0 and view.param.series.objects
    assert view.series_plot() is not None
    layout = view.__panel__()
    assert isinstance(layout, pn.Column) and not any(isinstance(o, pn.pane.Alert) for o in layout.objects)


def test_generic_view_on_our_file_and_garbage(store, tmp_path):
    view = GenericView(store.path_of(store.sessions.loc[store.sessions["modality"] == "ecephys", "file"].iloc[0]))
    assert view.units_plot() is not None and "ElectricalSeries (ElectricalSeries)" in view.param.series.objects
    garbage = tmp_path / "garbage.nwb"
    garbage.write_bytes(np.random.default_rng(0).bytes(4096))
    bad = GenericView(garbage)
    page = bad.__panel__()
    assert isinstance(page, pn.pane.Alert) and "cannot be read" in page.object
    missing = GenericView(tmp_path / "absent.nwb")
    assert isinstance(missing.__panel__(), pn.pane.Alert)


def test_detail_views_show_the_methods_in_words_with_units(store):
    """The cell view's metadata and the unit view's table show the study's methods (issue 13); nothing when absent."""
    from nwb_ketamine.explorer.methodsfields import cell_methods_fields, implant_fields
    from nwb_ketamine.simulate.study_file import SLICE_METHODS

    for key in store.cells["cell_key"]:
        meta = dict(CellView(store, key).metadata().itertuples(index=False, name=None))
        assert meta["slice thickness"] == "300 µm" and meta["recording temperature"] == "32 °C"
        assert meta["internal solution"] == SLICE_METHODS["internal_solution"]
        assert meta["recording solution (ACSF)"] == SLICE_METHODS["recording_solution"]
        assert meta["slice preparation"].startswith("cutting solution: ")
        assert meta["stimulation site"] in SLICE_METHODS["stimulation_sites"].values()
    key = store.units["unit_key"].iloc[0]
    quality = dict(UnitView(store, key).quality().itertuples(index=False, name=None))
    assert quality["implant"] == "AP -1.8 mm, ML 0.45 mm, DV -2.9 mm from bregma (Paxinos and Franklin 2019)"
    # absent: empty text and NaN (a study file without methods), or no column at all (an older catalog)
    empty = {"internal_solution": "", "slice_thickness_um": float("nan"), "stimulation_site": None}
    assert cell_methods_fields(empty) == [] and cell_methods_fields({}) == []
    assert implant_fields({"implant_ap_mm": float("nan"), "implant_ml_mm": 0.4, "implant_dv_mm": -3}) == []
    assert implant_fields({}) == []
    assert implant_fields({"implant_ap_mm": -1.8, "implant_ml_mm": 0.45, "implant_dv_mm": -2.9}) == [
        ("implant", "AP -1.8 mm, ML 0.45 mm, DV -2.9 mm from bregma")
    ]


def test_detail_views_show_the_analysis_version_and_parameters(store):
    from nwb_ketamine import __version__

    expected = f"Analysis by nwb-ketamine {__version__}"
    for key in store.cells["cell_key"]:
        meta = dict(CellView(store, key).metadata().itertuples(index=False, name=None))
        stored = json.loads(store.cell(key)["epsc_parameters"])
        assert meta["analysis"] == expected
        assert f"baseline_window_s = {stored['baseline_window_s']:g} s" in meta["parameters: EPSC analysis"]
        assert f"rs_max_ohm = {stored['rs_max_ohm']:g} Ohm" in meta["parameters: EPSC analysis"]
    key = store.units["unit_key"].iloc[0]
    quality = dict(UnitView(store, key).quality().itertuples(index=False, name=None))
    assert quality["analysis"] == expected
    assert "onset_isi_s = " in quality["parameters: burst detection"]
    assert "refractory_period_s = " in quality["parameters: unit quality metrics"]
    for modality, analyses in (
        ("icephys", ["EPSC analysis"]),
        ("ecephys", ["burst detection", "unit quality metrics"]),
    ):
        path = store.path_of(store.sessions.loc[store.sessions["modality"] == modality, "file"].iloc[0])
        fields = dict(GenericView(path).metadata().itertuples(index=False, name=None))
        assert fields["analysis"] == expected
        assert all(fields[f"parameters: {a}"] for a in analyses)


def test_detail_view_fields_of_a_row_without_provenance():
    from nwb_ketamine.explorer.analysisinfo import row_fields

    fields = dict(row_fields({"nwb_ketamine_version": "", "analysis_parameters": ""}, ["epsc"]))
    assert list(fields) == ["analysis"] and fields["analysis"].startswith("no nwb-ketamine version stored")
    fields = dict(
        row_fields({"nwb_ketamine_version": "9.9.9", "analysis_parameters": '{"epsc":{"a_s":0.5}}'}, ["epsc"])
    )
    assert fields == {"analysis": "Analysis by nwb-ketamine 9.9.9", "parameters: EPSC analysis": "a_s = 0.5 s"}
