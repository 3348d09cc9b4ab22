"""The detail views' axes show what a reader looks for (issue 13): the raw-traces x range follows the
window the step buttons move, the cell view's current axis is set by the EPSC, not the stimulus artefact."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pytest

from nwb_ketamine.explorer.cell import KINDS, CellView
from nwb_ketamine.explorer.traces import TracesView


def test_traces_step_moves_the_x_range(store):
    ecephys = store.sessions[store.sessions.modality == "ecephys"]["file"].iloc[0]
    view = TracesView(store, ecephys, start_s=0.0, window_s=2.0)
    plot = hv.renderer("bokeh").get_plot(view.dynamic_map())
    assert (plot.state.x_range.start, plot.state.x_range.end) == (0.0, 2.0)
    view._range.event(x_range=(0.0, 2.0))  # the browser reports the first range, as it does when drawn
    view.step(1)
    assert (plot.state.x_range.start, plot.state.x_range.end) == (2.0, 4.0)
    view.step(-0.5)
    assert (plot.state.x_range.start, plot.state.x_range.end) == (1.0, 3.0)


@pytest.mark.parametrize("kind", list(KINDS))
def test_cell_y_range_shows_the_epsc_not_the_artefact(store, kind):
    view = CellView(store, store.cells["cell_key"].iloc[0])
    d = view.data()
    p = d["parameters"]
    fig = view.sweeps_plot(kind)
    low, high = fig.y_range.start, fig.y_range.end
    assert low is not None and high is not None, "the y range is left to the data (the artefact)"
    t_ms = (d["time_s"] - p.stimulus_time_s) * 1e3
    rows = d["sweeps"].index[(d["sweeps"]["kind"] == kind) & d["sweeps"]["accepted"]].to_numpy()
    average = np.nanmean(d["current_a"][rows], axis=0) * 1e12
    baseline = np.nanmean(average[(t_ms >= -p.baseline_window_s * 1e3) & (t_ms < 0)])
    response = (t_ms >= p.artefact_blanking_s * 1e3) & (t_ms <= 200)
    peak = average[response][np.nanargmax(np.abs(average[response] - baseline))]
    assert low <= min(baseline, peak) and max(baseline, peak) <= high  # the EPSC and its baseline are shown
    artefact = np.abs(average[(t_ms >= 0) & (t_ms < p.artefact_blanking_s * 1e3)] - baseline).max()
    assert artefact > high - low  # the artefact clips: it is larger than the axis
    assert high - low < 3 * abs(peak - baseline)  # the EPSC fills the plot rather than a flat line


def test_cell_y_range_follows_what_is_drawn(store):
    view = CellView(store, store.cells["cell_key"].iloc[0], show_sweeps=False)
    with_sweeps = CellView(store, store.cells["cell_key"].iloc[0], show_sweeps=True)
    a, b = view.response_y_range("AMPA"), with_sweeps.response_y_range("AMPA")
    assert b[0] <= a[0] and a[1] <= b[1]  # the single sweeps are noisier than their average


def test_keywords_are_plain_text(store):
    import h5py

    from nwb_ketamine.explorer.generic import GenericView, plain_text

    path = store.path_of(store.sessions["file"].iloc[0])
    with h5py.File(path, "r") as f:
        keywords = [k.decode() if isinstance(k, bytes) else str(k) for k in f["general/keywords"][:]]
    shown = GenericView(path).metadata().set_index("field")["value"]
    assert shown["keywords"] == "; ".join(keywords) and "HDF5" not in shown["keywords"]
    assert "HDF5" not in " ".join(shown)
    assert plain_text(["Doe, Jane", b"Roe, Richard"]) == "Doe, Jane; Roe, Richard"
    assert plain_text(np.array([b"a", b"b"])) == "a; b" and plain_text(3.5) == "3.5"


def test_detail_controls_wrap_instead_of_running_off_the_page(store):
    import panel as pn

    from nwb_ketamine.explorer.panes import controls, field_table, table

    view = CellView(store, store.cells["cell_key"].iloc[0])
    boxes = controls(view, ["show_sweeps", "show_rejected", "window_ms"], show_name=False).layout.select(pn.FlexBox)
    assert boxes and all(box.flex_wrap == "wrap" for box in boxes)
    sweeps = table(view.sweeps_table())
    assert sweeps.max_height is not None and sweeps.html().startswith('<div class="static-table"')  # scrolls
    meta = field_table(view.metadata())
    assert meta.wrap == ["value"] and '<td data-field="value" class="wrap">' in meta.html()  # long values wrap
