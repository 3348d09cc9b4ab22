"""A cell whose files were recorded at different sampling rates is analysed file by file, at each file's rate."""

import math

import numpy as np
import pytest

from nwb_ketamine.analysis import EpscParameters, measure_sweeps
from nwb_ketamine.analysis.store import analyse_cell
from nwb_ketamine.simulate.abf import ProtocolSpec, simulate_protocol
from nwb_ketamine.simulate.parameters import SliceParameters

PARAMS = EpscParameters(
    stimulus_time_s=0.3, test_pulse_start_s=0.05, test_pulse_duration_s=0.1, test_pulse_amplitude_v=-0.005
)
CELL = dict(rs_mohm=15.0, rs_drift_per_sweep=0.0, rm_mohm=300.0, cm_pf=20.0, spontaneous=False)
AMPA = ProtocolSpec("AMPA", -70.0, 6, -200.0, 0.001, 0.005, 0.0025, holding_current_pa=-50.0, **CELL)
NMDA = ProtocolSpec("NMDA", 40.0, 6, 120.0, 0.007, 0.085, 0.0025, holding_current_pa=30.0, **CELL)


def recorded(spec, rate_hz, seed):
    """One file of the cell at ``rate_hz``, as the converter hands it to the analysis (A)."""
    sweeps, _ = simulate_protocol(spec, SliceParameters(sampling_rate_hz=rate_hz), np.random.default_rng(seed))
    return {"current_a": sweeps * 1e-12, "rate_hz": rate_hz, "holding_v": spec.holding_mv * 1e-3, "file": spec.protocol}


def test_files_at_different_rates_are_measured_each_at_its_own_rate():
    files = [recorded(AMPA, 10_000.0, 1), recorded(NMDA, 20_000.0, 2)]
    measures, summary = analyse_cell(files, PARAMS)
    start = 0
    for f in files:
        alone = measure_sweeps(f["current_a"], f["rate_hz"], np.full(len(f["current_a"]), f["holding_v"]), PARAMS)
        stop = start + len(f["current_a"])
        for name, values in alone.items():
            np.testing.assert_array_equal(measures[name][start:stop], values, err_msg=name)
        start = stop
    # The simulated truth comes back: amplitudes, Rs and both decay time constants (each kind at one rate).
    assert summary["ampa_peak_a"] * 1e12 == pytest.approx(-200.0, rel=0.1)
    assert summary["nmda_peak_a"] * 1e12 == pytest.approx(120.0, rel=0.1)
    assert summary["series_resistance_ohm"] / 1e6 == pytest.approx(15.0, rel=0.1)
    assert summary["nmda_decay_tau_average_s"] == pytest.approx(0.085, rel=0.1)
    assert summary["ampa_decay_tau_average_s"] == pytest.approx(0.005, rel=0.2)
    assert summary["n_sweeps"] == 12 and summary["accepted"], summary["qc_reasons"]


def test_same_cell_at_one_rate_gives_the_same_summary():
    """Recording the NMDA file at 20 kHz instead of 10 kHz changes the cell's results only by noise."""
    mixed = analyse_cell([recorded(AMPA, 10_000.0, 1), recorded(NMDA, 20_000.0, 2)], PARAMS)[1]
    single = analyse_cell([recorded(AMPA, 10_000.0, 1), recorded(NMDA, 10_000.0, 2)], PARAMS)[1]
    for name in ("ampa_peak_a", "nmda_peak_a", "nmda_ampa_ratio", "series_resistance_ohm", "nmda_decay_tau_average_s"):
        assert mixed[name] == pytest.approx(single[name], rel=0.05), name


def test_average_sweep_of_a_kind_recorded_at_two_rates_is_not_fitted():
    """Averaging sweeps on two time bases would need resampling; that kind's average-sweep tau is NaN."""
    files = [recorded(AMPA, 10_000.0, 1), recorded(AMPA, 20_000.0, 3), recorded(NMDA, 20_000.0, 2)]
    _, summary = analyse_cell(files, PARAMS)
    assert math.isnan(summary["ampa_decay_tau_average_s"])
    assert summary["ampa_decay_tau_s"] == pytest.approx(0.005, rel=0.2)  # per-sweep fits are unaffected
    assert summary["nmda_decay_tau_average_s"] == pytest.approx(0.085, rel=0.1)
    assert summary["n_ampa"] == 12
