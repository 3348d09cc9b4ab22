"""Slice ABF files: pyabf and neo open them and see exactly the simulated currents."""

import csv
from datetime import datetime

import numpy as np
import pyabf
import pytest

from nwb_ketamine.simulate import abf as abf_io
from nwb_ketamine.simulate.parameters import SliceParameters
from nwb_ketamine.simulate.plan import TZ
from nwb_ketamine.simulate.slice_cells import simulate_cell_file


def _rows(path, name):
    with open(path.parent / "ground_truth" / name) as f:
        return list(csv.DictReader(f))


def test_kernel_peaks_at_one():
    rise, decay = 0.007, 0.09
    tp = abf_io.peak_time(rise, decay)
    t = np.linspace(0, 0.5, 50001)
    k = abf_io.epsc_kernel(t, rise, decay)
    assert k.max() == pytest.approx(1.0, abs=1e-6)
    assert t[k.argmax()] == pytest.approx(tp, abs=2e-5)
    assert abf_io.epsc_kernel(np.array([-0.001]), rise, decay)[0] == 0.0


def test_pyabf_reads_the_simulated_sweeps(tiny):
    path, plan, study = tiny
    params = plan.params.slice
    tolerance = abf_io.lsb_pa(params) / 2 * 1.001
    files = _rows(path, "slice_files.csv")
    assert len(files) == 4
    for cell in plan.cells:
        for i, f in enumerate(cell.files):
            sweeps, truth = simulate_cell_file(plan, cell, i)
            abf = pyabf.ABF(str(path.parent / f["path"]))
            assert abf.sweepCount == f["n_sweeps"] == len(truth)
            assert abf.dataRate == params.sampling_rate_hz
            assert abf.adcUnits[0] == "pA"
            assert abf.abfDateTime == f["start"].astimezone(TZ).replace(tzinfo=None)
            seen = np.stack(
                [abf.getAllYs()[k * abf.sweepPointCount : (k + 1) * abf.sweepPointCount] for k in range(abf.sweepCount)]
            )
            np.testing.assert_allclose(seen, sweeps, rtol=1e-6, atol=tolerance)


def test_neo_axon_reads_one_segment_per_sweep(tiny):
    neo = pytest.importorskip("neo")
    path, plan, _ = tiny
    f = plan.cells[0].files[1]
    reader = neo.rawio.AxonRawIO(str(path.parent / f["path"]))
    reader.parse_header()
    assert reader.segment_count(0) == f["n_sweeps"]
    assert reader.get_signal_t_start(0, 1, 0) == pytest.approx(plan.params.slice.sweep_interval_s)
    sweeps, _ = simulate_cell_file(plan, plan.cells[0], 1)
    raw = reader.get_analogsignal_chunk(0, 2, None, None, 0)
    seen = reader.rescale_signal_raw_to_float(raw, dtype="float64")[:, 0]
    np.testing.assert_allclose(seen, sweeps[2], atol=abf_io.lsb_pa(plan.params.slice) / 2 * 1.001)


def test_resistances_and_amplitudes_are_recoverable(tmp_path):
    params = SliceParameters()
    spec = abf_io.ProtocolSpec("NMDA-EPSC", 40.0, 20, 150.0, 0.007, 0.09, 0.0025, 15.0, 0.002, 300.0, 20.0, 80.0, False)
    sweeps, truth = abf_io.simulate_protocol(spec, params, np.random.default_rng(3))
    seen = abf_io.write_abf(
        tmp_path / "x.abf", sweeps, params, start_time=datetime(2024, 3, 1, 10), protocol="NMDA-EPSC", holding_mv=40.0
    )
    fs = params.sampling_rate_hz
    i_on = int(params.test_pulse_start_s * fs)
    i_off = i_on + int(params.test_pulse_duration_s * fs)
    base = seen[:, : i_on - 10].mean(axis=1)
    rs = params.test_pulse_mv / (seen[:, i_on] - base) * 1e3
    rin = params.test_pulse_mv / (seen[:, i_off - 300 : i_off].mean(axis=1) - base) * 1e3
    np.testing.assert_allclose(rs, [t["rs_mohm"] for t in truth], rtol=0.05)
    np.testing.assert_allclose(rin.mean(), np.mean([t["rin_mohm"] for t in truth]), rtol=0.03)
    i_stim = int(params.stimulus_time_s * fs)
    pre = seen[:, i_stim - 200 : i_stim - 5].mean(axis=1)
    window = seen[:, i_stim + 20 : i_stim + 1500] - pre[:, None]
    peak = window.mean(axis=0).max()  # the average sweep lowers noise
    assert peak == pytest.approx(np.mean([t["epsc_amplitude_pa"] for t in truth]), rel=0.05)
    assert truth[0]["decay_tau_ms"] == pytest.approx(90.0)


def test_ground_truth_sweeps_match_the_files(tiny):
    path, plan, _ = tiny
    sweeps = _rows(path, "slice_sweeps.csv")
    cells = _rows(path, "slice_cells.csv")
    assert {(c["region"], c["drug"]) for c in cells} == {("LHb", "ketamine"), ("CA1", "saline")}
    n = sum(f["n_sweeps"] for c in plan.cells for f in c.files)
    assert len(sweeps) == n
    for row in sweeps:
        sign = -1 if row["protocol"] == "AMPA-EPSC" else 1
        assert np.sign(float(row["epsc_amplitude_pa"])) == sign
        assert float(row["rin_mohm"]) == pytest.approx(float(row["rs_mohm"]) + float(row["rm_mohm"]))


def test_command_waveform_is_the_test_pulse(tiny):
    path, plan, _ = tiny
    params = plan.params.slice
    for f in plan.cells[0].files:
        abf = pyabf.ABF(str(path.parent / f["path"]))
        abf.setSweep(abf.sweepCount - 1)
        command = abf.sweepC
        i_on = int(round(params.test_pulse_start_s * params.sampling_rate_hz))
        i_off = i_on + int(round(params.test_pulse_duration_s * params.sampling_rate_hz))
        assert abf.sweepUnitsC == "mV"
        assert command[0] == command[-1] == pytest.approx(f["holding_mv"])
        assert np.flatnonzero(np.diff(command)).tolist() == [i_on - 1, i_off - 1]
        assert command[i_on] == pytest.approx(f["holding_mv"] + params.test_pulse_mv)
