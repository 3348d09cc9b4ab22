"""The simulator's in vivo variants convert with nothing lost: a recording stopped and restarted (Open Ephys,
two recordings), a Neuralynx folder mixing 32 kHz and 2 kHz channels with a gap, and a sorting-only session.

Each is compared with the simulator's ground truth (session-clock spike times, recorded spans), and the
files validate and open in the explorer's readers.
"""

import csv
import json

import numpy as np
import pytest
from pynwb import NWBHDF5IO

from nwb_ketamine.converters.invivo import InVivoConverter


@pytest.fixture(scope="module")
def variants(variants_study):
    """{variant: (session, nwb path, ground-truth session row, ground-truth spikes by cluster)}."""
    _, study, out = variants_study
    with open(out / "ground_truth" / "invivo_sessions.csv") as f:
        truth = {row["session"]: row for row in csv.DictReader(f) if row.get("variant") not in (None, "", "openephys")}
    result = {}
    for session in study.invivo_sessions:
        row = truth.get(f"{session.subject}-{session.session_id}")
        if row is None:
            continue
        nwb = InVivoConverter(study, session).run_conversion(out.parent / f"{row['variant']}.nwb")
        spikes: dict[str, list[float]] = {}
        with open(out / "ground_truth" / "invivo" / row["session"] / "spikes.csv") as f:
            for spike in csv.DictReader(f):
                spikes.setdefault(spike["cluster_id"], []).append(float(spike["time_s"]))
        result[row["variant"]] = (session, nwb, row, spikes)
    assert sorted(result) == ["neuralynx", "openephys_split", "sorting_only"]
    return result


def _spikes_equal_truth(nwb, spikes, rate):
    units = nwb.units.to_dataframe()
    assert len(units) and set(units["unit_name"]) <= set(spikes)
    for _, unit in units.iterrows():
        np.testing.assert_allclose(unit["spike_times"], spikes[unit["unit_name"]], atol=1 / rate)


@pytest.mark.parametrize("variant", ["openephys_split", "neuralynx"])
def test_every_recorded_part_and_spikes_on_the_session_clock(variants, variant):
    _, path, row, spikes = variants[variant]
    rate = float(row["sampling_rate_hz"])
    spans = json.loads(row["recorded_s"])
    with NWBHDF5IO(path, "r") as io:
        nwb = io.read()
        series = [nwb.acquisition[f"ElectricalSeries_segment{k}"] for k in range(len(spans))]
        assert [s.data.shape[0] for s in series] == [round((b - a) * rate) for a, b in spans]
        assert [s.starting_time for s in series] == pytest.approx([a for a, _ in spans], abs=1 / rate)
        assert all(s.rate == rate for s in series)
        gaps = nwb.intervals["recording_gaps"].to_dataframe()
        expected = [value for k in range(len(spans) - 1) for value in (spans[k][1], spans[k + 1][0])]
        assert [v for pair in zip(gaps["start_time"], gaps["stop_time"], strict=True) for v in pair] == pytest.approx(
            expected, abs=1 / rate
        )
        _spikes_equal_truth(nwb, spikes, rate)
        (ttl,) = [t for t in nwb.events.values() if len(t) and np.any(np.isclose(t["timestamp"][:], 4.0))]
        assert ttl["timestamp"][:].min() >= 0


def test_neuralynx_converts_the_named_32khz_stream_not_the_lfp(variants):
    session, path, row, _ = variants["neuralynx"]
    assert session.raw_stream == row["stream"] and "32000Hz" in session.raw_stream
    with NWBHDF5IO(path, "r") as io:
        nwb = io.read()
        assert nwb.acquisition["ElectricalSeries_segment0"].data.shape[1] == 4
        segments = nwb.intervals["recording_segments"].to_dataframe()
    assert segments["stream"].iloc[0].startswith(row["stream"])
    assert "gap_tolerance_ms=1.0" in segments["reader"].iloc[0]


def test_sorting_only_session_has_units_and_no_raw(variants):
    from nwb_ketamine.explorer import rawread, unitread

    session, path, row, spikes = variants["sorting_only"]
    assert session.raw_path is None
    with NWBHDF5IO(path, "r") as io:
        nwb = io.read()
        assert not nwb.acquisition and "recording_segments" not in nwb.intervals
        assert len(nwb.electrodes) == 4 * len(session.tetrodes)
        assert "burst_metrics" in nwb.processing["ecephys"].data_interfaces
        _spikes_equal_truth(nwb, spikes, float(row["sampling_rate_hz"]))
    unit = unitread.unit_spikes(path, 0)
    assert unit["spike_times_s"].size and unit["recording_s"][1] > 0
    with pytest.raises(LookupError, match="without raw data"):
        rawread.raw_window(path, 0.0, 1.0)


def test_variants_pass_the_inspector_without_violations(variants):
    from nwbinspector import Importance, inspect_nwbfile, load_config

    for _, path, _, _ in variants.values():
        messages = list(inspect_nwbfile(nwbfile_path=str(path), config=load_config("dandi")))
        bad = [m for m in messages if m.importance in (Importance.CRITICAL, Importance.BEST_PRACTICE_VIOLATION)]
        assert not bad, [(m.check_function_name, m.location, m.message) for m in bad]


@pytest.mark.parametrize("variant", ["openephys_split", "neuralynx", "sorting_only"])
def test_variants_open_in_the_explorers_file_unit_and_traces_readers(variants, variant):
    from nwb_ketamine.explorer import rawread, unitread
    from nwb_ketamine.explorer.generic import GenericView

    _, path, _, _ = variants[variant]
    view = GenericView(path)
    assert view.error is None and len(view.tree()) and view.units_plot() is not None
    if variant != "sorting_only":
        assert {f"ElectricalSeries_segment{k} (ElectricalSeries)" for k in range(2)} <= set(view.param.series.objects)
        window = rawread.raw_window(path, 6.5, 9.5)  # across the pause at 7-9 s
        assert len(window["gaps"]) == 1 and np.isnan(window["data_uv"]).any()
        assert window["events"]["start_s"].between(0, 10).all()
    unit = unitread.unit_spikes(path, 0)
    assert unit["recording_s"] == pytest.approx((0.0, 10.0), abs=1e-3)
