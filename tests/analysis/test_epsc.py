"""EPSC analysis: exact values on synthetic sweeps, edge cases, and ground truth of a simulated study.

Accuracy bar (issue 4), checked on every cell of a small simulated study read back with pyabf:
cell means of the AMPA and NMDA peaks, the NMDA value at the fixed latency and the NMDA/AMPA ratio
within 5 % of the truth; AMPA and NMDA decay tau within 10 %; Rs within 10 % per sweep and per cell.
"""

import dataclasses
import math

import numpy as np
import pytest

from nwb_ketamine.analysis import (
    EpscParameters,
    classify_sweeps,
    concatenate_measures,
    fit_exponential_decay,
    measure_sweeps,
    quality_control,
    summarize_cell,
)

FS = 20_000.0
N = 20_000  # 1 s sweeps
P = EpscParameters(
    stimulus_time_s=0.4,
    test_pulse_start_s=0.1,
    test_pulse_duration_s=0.1,
    test_pulse_amplitude_v=-0.005,
)


def synthetic(
    n_sweeps=1,
    *,
    rs=10e6,
    rm=200e6,
    cm=50e-12,
    holding_a=-20e-12,
    amplitude_a=-100e-12,
    onset_s=0.002,
    tau_s=0.01,
    params=P,
):
    """Sweeps with an exact test-pulse response and an EPSC ``amplitude * exp(-t / tau)`` from its onset."""
    t = np.arange(N) / FS
    x = np.full((n_sweeps, N), holding_a)
    rin = rs + rm
    tau_m = rs * rm / rin * cm
    dv = params.test_pulse_amplitude_v

    def step(t0):
        u = t - t0
        return np.where(u >= -0.5 / FS, dv / rin + dv * (1 / rs - 1 / rin) * np.exp(-np.clip(u, 0, None) / tau_m), 0)

    x += step(params.test_pulse_start_s) - step(params.test_pulse_start_s + params.test_pulse_duration_s)
    u = t - params.stimulus_time_s - onset_s
    x += np.where(u >= -0.5 / FS, amplitude_a * np.exp(-np.clip(u, 0, None) / tau_s), 0.0)
    return x


# --------------------------------------------------------------------------------------------------
# Parameters


def test_parameters_rows_round_trip():
    p = dataclasses.replace(P, nmda_latency_s=0.06, min_accepted_sweeps=5)
    rows = p.rows()
    assert [r[0] for r in rows] == [f.name for f in dataclasses.fields(EpscParameters)]
    units = {name: unit for name, _, unit, _ in rows}
    assert units["rs_max_ohm"] == "Ohm" and units["nmda_latency_s"] == "s" and units["ampa_holding_v"] == "V"
    assert units["rs_change_max"] == ""
    assert all(isinstance(value, float) and description for _, value, _, description in rows)
    rebuilt = EpscParameters.from_rows(rows)
    assert rebuilt == p
    assert isinstance(rebuilt.min_accepted_sweeps, int)


def test_parameters_reject_bad_values():
    with pytest.raises(ValueError, match="unknown EPSC analysis parameter 'foo_s'"):
        EpscParameters.from_rows([*P.rows(), ("foo_s", 1.0)])
    with pytest.raises(ValueError, match="test_pulse_amplitude_v"):
        dataclasses.replace(P, test_pulse_amplitude_v=0.0)
    with pytest.raises(ValueError, match="decay_fit"):
        dataclasses.replace(P, decay_fit_start_fraction=0.1, decay_fit_end_fraction=0.5)


def test_protocol_timing_has_no_default():
    with pytest.raises(TypeError):
        EpscParameters()


# --------------------------------------------------------------------------------------------------
# Per sweep, exact synthetic data


def test_classify_sweeps_by_holding_potential():
    kinds = classify_sweeps([-0.07, -0.0675, 0.04, 0.0449, 0.0, -0.06], P)
    assert kinds.tolist() == ["AMPA", "AMPA", "NMDA", "NMDA", "other", "other"]


def test_test_pulse_gives_rs_rin_and_holding_current_exactly():
    x = synthetic(rs=12e6, rm=300e6, cm=20e-12, holding_a=-35e-12)
    m = measure_sweeps(x, FS, [-0.07], P)
    assert m["series_resistance_ohm"][0] == pytest.approx(12e6, rel=1e-9)
    assert m["input_resistance_ohm"][0] == pytest.approx(312e6, rel=1e-6)
    assert m["holding_current_a"][0] == pytest.approx(-35e-12, rel=1e-12)


def test_depolarising_test_pulse_gives_positive_resistances():
    p = dataclasses.replace(P, test_pulse_amplitude_v=0.01)
    m = measure_sweeps(synthetic(rs=20e6, rm=100e6, params=p), FS, [0.04], p)
    assert m["series_resistance_ohm"][0] == pytest.approx(20e6, rel=1e-9)
    assert m["input_resistance_ohm"][0] == pytest.approx(120e6, rel=1e-6)


@pytest.mark.parametrize(("holding_v", "amplitude_a", "tau_s"), [(-0.07, -80e-12, 0.006), (0.04, 150e-12, 0.09)])
def test_exact_exponential_epsc(holding_v, amplitude_a, tau_s):
    p = dataclasses.replace(P, ampa_peak_smoothing_s=0.0, nmda_peak_smoothing_s=0.0)
    x = synthetic(amplitude_a=amplitude_a, tau_s=tau_s, onset_s=0.002, holding_a=25e-12, params=p)
    m = measure_sweeps(x, FS, [holding_v], p)
    assert m["kind"][0] == ("AMPA" if holding_v < 0 else "NMDA")
    assert m["baseline_a"][0] == pytest.approx(25e-12, rel=1e-12)
    assert m["peak_a"][0] == pytest.approx(amplitude_a, rel=1e-9)
    assert m["peak_time_s"][0] == pytest.approx(0.002, abs=0.5 / FS)
    assert m["decay_tau_s"][0] == pytest.approx(tau_s, rel=1e-6)
    expected = amplitude_a * np.exp(-(p.nmda_latency_s - 0.002) / tau_s)
    # Mean of an exponential over the +-1 ms window: within 0.1 % of its centre value for these taus.
    assert m["value_at_latency_a"][0] == pytest.approx(expected, rel=2e-3)


def test_value_at_latency_of_a_plateau_is_exact():
    x = synthetic(amplitude_a=0.0)
    i = int(P.stimulus_time_s * FS)
    x[:, i + 40 :] += 70e-12
    m = measure_sweeps(x, FS, [0.04], P)
    assert m["value_at_latency_a"][0] == pytest.approx(70e-12, rel=1e-12)


def test_vectorised_equals_one_sweep_at_a_time_and_ignores_offsets():
    rng = np.random.default_rng(3)
    holding = np.array([-0.07, 0.04, -0.07, 0.04, 0.0])
    x = np.concatenate(
        [
            synthetic(amplitude_a=-90e-12, tau_s=0.005, rs=15e6),
            synthetic(amplitude_a=200e-12, tau_s=0.08, rs=16e6),
            synthetic(amplitude_a=-50e-12, tau_s=0.004, rs=22e6),
            synthetic(amplitude_a=120e-12, tau_s=0.12, rs=9e6),
            synthetic(amplitude_a=30e-12, tau_s=0.02),
        ]
    )
    x += rng.normal(0, 3e-12, x.shape)
    together = measure_sweeps(x, FS, holding, P)
    alone = concatenate_measures(measure_sweeps(x[i : i + 1], FS, holding[i : i + 1], P) for i in range(len(x)))
    shifted = measure_sweeps(x + 1e-9, FS, holding, P)
    for key, value in together.items():
        if value.dtype.kind == "f":
            np.testing.assert_allclose(value, alone[key], rtol=1e-12, err_msg=key)
            if key not in ("baseline_a", "holding_current_a"):
                np.testing.assert_allclose(value, shifted[key], rtol=1e-6, err_msg=key)
        else:
            assert value.tolist() == alone[key].tolist()
    assert together["kind"].tolist() == ["AMPA", "NMDA", "AMPA", "NMDA", "other"]
    assert together["peak_a"][4] > 0  # 'other' above the reversal potential: outward


def test_windows_outside_the_sweep_give_nan_not_an_error():
    p = dataclasses.replace(P, stimulus_time_s=0.99)
    m = measure_sweeps(synthetic(), FS, [-0.07], p)
    assert np.isnan(m["peak_a"][0]) and np.isnan(m["decay_tau_s"][0]) and np.isnan(m["value_at_latency_a"][0])
    assert m["series_resistance_ohm"][0] == pytest.approx(10e6, rel=1e-9)


def test_no_decay_crossing_gives_nan_tau():
    x = synthetic(amplitude_a=-80e-12, tau_s=10.0)  # barely decays inside the AMPA fit window
    m = measure_sweeps(x, FS, [-0.07], P)
    assert math.isnan(m["decay_tau_s"][0])
    assert m["peak_a"][0] == pytest.approx(-80e-12, rel=1e-3)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="holding_v has 1 values for 2 sweeps"):
        measure_sweeps(np.zeros((2, N)), FS, [-0.07], P)


# --------------------------------------------------------------------------------------------------
# Exponential fit


def test_fit_exponential_decay_is_exact_and_unbiased_under_noise():
    t = np.arange(400) / FS
    tau = np.array([0.002, 0.005, 0.01])
    y = np.array([50.0, 100.0, 200.0])[:, None] * np.exp(-t / tau[:, None])
    amp, fitted = fit_exponential_decay(t, y)
    np.testing.assert_allclose(fitted, tau, rtol=1e-9)
    np.testing.assert_allclose(amp, [50, 100, 200], rtol=1e-9)

    rng = np.random.default_rng(0)
    noisy = 20.0 * np.exp(-t / 0.005) + rng.normal(0, 3.0, (2000, t.size))
    mask = t < 0.012  # down to ~10 % of the peak
    _, fitted = fit_exponential_decay(t, noisy, np.broadcast_to(mask, noisy.shape))
    assert np.nanmean(fitted) == pytest.approx(0.005, rel=0.01)


def test_fit_of_a_rising_signal_is_nan():
    t = np.arange(100) / FS
    _, tau = fit_exponential_decay(t, np.exp(t / 0.01)[None, :])
    assert np.isnan(tau[0])


# --------------------------------------------------------------------------------------------------
# Quality control and cell summary


def _measures_with_rs(rs_mohm):
    rs = np.asarray(rs_mohm, dtype=float) * 1e6
    return {"series_resistance_ohm": rs}


def test_quality_control_reasons():
    accepted, reasons = quality_control(_measures_with_rs([15, 16.5, 27.0, 18.3, np.nan, 11.0]), P)
    assert accepted.tolist() == [True, True, False, False, False, False]
    assert reasons.tolist() == [
        "",
        "",
        "Rs 27.0 MOhm > 25 MOhm; Rs changed 80% from the first sweep > 20%",
        "Rs changed 22% from the first sweep > 20%",
        "Rs not measurable",
        "Rs changed 27% from the first sweep > 20%",
    ]


def test_quality_control_first_measurable_sweep_is_the_reference_and_thresholds_are_parameters():
    p = dataclasses.replace(P, rs_max_ohm=30e6, rs_change_max=0.5)
    accepted, reasons = quality_control(_measures_with_rs([np.nan, 20, 27, 31]), p)
    assert accepted.tolist() == [False, True, True, False]
    assert reasons[3] == "Rs 31.0 MOhm > 30 MOhm; Rs changed 55% from the first sweep > 50%"


# The synthetic EPSCs rise instantly, which any peak smoothing would cut: these tests read single samples.
P0 = dataclasses.replace(P, ampa_peak_smoothing_s=0.0, nmda_peak_smoothing_s=0.0)


def _cell(kinds_amps, n_each=4, rng_seed=1):
    """Sweeps of one cell: one block of ``n_each`` sweeps per (holding, amplitude, tau), 1 pA noise."""
    rng = np.random.default_rng(rng_seed)
    blocks, holding = [], []
    for h, amp, tau in kinds_amps:
        blocks.append(synthetic(n_each, amplitude_a=amp, tau_s=tau) + rng.normal(0, 1e-12, (n_each, N)))
        holding += [h] * n_each
    x = np.concatenate(blocks)
    return x, measure_sweeps(x, FS, holding, P0)


@pytest.mark.filterwarnings("error")
def test_summary_of_a_cell_with_both_kinds():
    x, m = _cell([(-0.07, -100e-12, 0.005), (0.04, 150e-12, 0.08)])
    accepted, _ = quality_control(m, P0)
    s = summarize_cell(m, accepted, x, FS, P0)
    assert s["accepted"] and s["qc_reasons"] == ""
    assert (s["n_sweeps"], s["n_accepted"], s["n_ampa"], s["n_nmda"]) == (8, 8, 4, 4)
    assert s["ampa_peak_a"] == pytest.approx(-100e-12, rel=0.02)
    assert s["nmda_peak_a"] == pytest.approx(150e-12, rel=0.02)
    assert s["nmda_ampa_ratio"] == pytest.approx(1.5, rel=0.03)
    latency = 150e-12 * np.exp(-(P0.nmda_latency_s - 0.002) / 0.08)
    assert s["nmda_value_at_latency_a"] == pytest.approx(latency, rel=0.02)
    assert s["nmda_ampa_ratio_latency"] == pytest.approx(latency / 100e-12, rel=0.03)
    for kind, tau in (("ampa", 0.005), ("nmda", 0.08)):
        assert s[f"{kind}_decay_tau_s"] == pytest.approx(tau, rel=0.05)
        assert s[f"{kind}_decay_tau_average_s"] == pytest.approx(tau, rel=0.05)
    assert s["series_resistance_ohm"] == pytest.approx(10e6, rel=0.01)
    assert s["input_resistance_ohm"] == pytest.approx(210e6, rel=0.05)
    assert s["rs_change_max"] < 0.01


@pytest.mark.filterwarnings("error")
def test_summary_without_nmda_sweeps_is_nan_for_nmda():
    x, m = _cell([(-0.07, -100e-12, 0.005)])
    s = summarize_cell(m, np.ones(4, bool), x, FS, P0)
    assert s["accepted"]
    assert s["n_nmda"] == 0 and s["n_nmda_accepted"] == 0
    for key in ("nmda_peak_a", "nmda_value_at_latency_a", "nmda_ampa_ratio", "nmda_ampa_ratio_latency"):
        assert math.isnan(s[key]), key
    assert math.isnan(s["nmda_decay_tau_s"]) and math.isnan(s["nmda_decay_tau_average_s"])
    assert s["ampa_peak_a"] == pytest.approx(-100e-12, rel=0.02)


@pytest.mark.filterwarnings("error")
def test_summary_with_every_sweep_rejected():
    x, m = _cell([(-0.07, -100e-12, 0.005), (0.04, 150e-12, 0.08)])
    s = summarize_cell(m, np.zeros(8, bool), x, FS, P0)
    assert not s["accepted"]
    assert s["qc_reasons"] == "no accepted sweeps; AMPA: 0 accepted sweeps < 3; NMDA: 0 accepted sweeps < 3"
    assert s["n_accepted"] == 0
    for key in ("ampa_peak_a", "nmda_peak_a", "nmda_ampa_ratio", "series_resistance_ohm", "ampa_decay_tau_s"):
        assert math.isnan(s[key]), key


def test_summary_flags_too_few_accepted_sweeps_of_one_kind():
    x, m = _cell([(-0.07, -100e-12, 0.005), (0.04, 150e-12, 0.08)])
    accepted = np.array([True] * 4 + [True, True, False, False])
    s = summarize_cell(m, accepted, x, FS, P0)
    assert not s["accepted"] and s["qc_reasons"] == "NMDA: 2 accepted sweeps < 3"
    assert s["n_nmda_accepted"] == 2 and s["nmda_peak_a"] == pytest.approx(150e-12, rel=0.02)


def test_summary_refuses_a_mask_of_the_wrong_length():
    x, m = _cell([(-0.07, -100e-12, 0.005)])
    with pytest.raises(ValueError, match="accepted has shape"):
        summarize_cell(m, np.ones(3, bool), x, FS, P0)


# --------------------------------------------------------------------------------------------------
# Ground truth of a simulated study


def _rel(measured, truth):
    return abs(measured / truth - 1)


def test_simulated_cells_recover_ground_truth(simulated_cells):
    """Cell means over all sweeps vs slice_cells.csv (whose means are over all sweeps too)."""
    worst: dict[str, float] = {}
    for cell in simulated_cells:
        t = {k: float(v) for k, v in cell.truth.items() if k.endswith(("_pa", "_ms", "_mohm", "_ratio"))}
        everything = np.ones(len(cell.current_a), bool)
        s = summarize_cell(cell.measures, everything, cell.current_a, cell.rate_hz, cell.params)
        errors = {
            "ampa_peak": _rel(s["ampa_peak_a"] * 1e12, t["ampa_amplitude_pa"]),
            "nmda_peak": _rel(s["nmda_peak_a"] * 1e12, t["nmda_amplitude_pa"]),
            "nmda_latency": _rel(s["nmda_value_at_latency_a"] * 1e12, t["nmda_value_at_fixed_latency_pa"]),
            "nmda_ampa_ratio": _rel(s["nmda_ampa_ratio"], t["nmda_ampa_ratio"]),
            "ampa_tau": _rel(s["ampa_decay_tau_s"] * 1e3, t["ampa_decay_tau_ms"]),
            "nmda_tau": _rel(s["nmda_decay_tau_s"] * 1e3, t["nmda_decay_tau_ms"]),
            "ampa_tau_average": _rel(s["ampa_decay_tau_average_s"] * 1e3, t["ampa_decay_tau_ms"]),
            "nmda_tau_average": _rel(s["nmda_decay_tau_average_s"] * 1e3, t["nmda_decay_tau_ms"]),
            "ampa_tau_weighted": _rel(s["ampa_decay_tau_weighted_s"] * 1e3, t["ampa_decay_tau_ms"]),
            "nmda_tau_weighted": _rel(s["nmda_decay_tau_weighted_s"] * 1e3, t["nmda_decay_tau_ms"]),
            "ampa_tau_weighted_average": _rel(s["ampa_decay_tau_weighted_average_s"] * 1e3, t["ampa_decay_tau_ms"]),
            "nmda_tau_weighted_average": _rel(s["nmda_decay_tau_weighted_average_s"] * 1e3, t["nmda_decay_tau_ms"]),
            "rs": _rel(s["series_resistance_ohm"] / 1e6, t["rs_mohm"]),
            "rin": _rel(s["input_resistance_ohm"] / 1e6, t["rin_mohm"]),
        }
        for name, error in errors.items():
            worst[name] = max(worst.get(name, 0.0), error)  # NaN never wins, so check below
            assert np.isfinite(error), (name, cell.truth["cell_id"])
    bars = {"ampa_peak": 0.05, "nmda_peak": 0.05, "nmda_latency": 0.05, "nmda_ampa_ratio": 0.05}
    bars |= {"ampa_tau": 0.10, "nmda_tau": 0.10, "ampa_tau_average": 0.10, "nmda_tau_average": 0.10}
    bars |= {f"{kind}_tau_weighted{how}": 0.10 for kind in ("ampa", "nmda") for how in ("", "_average")}
    bars |= {"rs": 0.10, "rin": 0.10}
    print("max relative error per quantity over", len(simulated_cells), "cells:", worst)
    failed = {name: round(worst[name], 4) for name, bar in bars.items() if not worst[name] <= bar}
    assert not failed


def test_simulated_sweeps_rs_within_10_percent(simulated_cells):
    """Per sweep: Rs within 10 %; amplitudes within 15 % (one noisy sweep, not the cell-mean bar)."""
    rs, amp = [], []
    for cell in simulated_cells:
        truth = cell.truth_sweeps
        assert len(truth) == len(cell.current_a)
        rs.append(cell.measures["series_resistance_ohm"] / 1e6 / np.array([float(r["rs_mohm"]) for r in truth]) - 1)
        amp.append(cell.measures["peak_a"] * 1e12 / np.array([float(r["epsc_amplitude_pa"]) for r in truth]) - 1)
    rs, amp = np.abs(np.concatenate(rs)), np.abs(np.concatenate(amp))
    assert rs.size > 1000
    assert np.max(rs) < 0.10
    assert np.max(amp) < 0.15


def test_simulated_quality_control_follows_true_rs(simulated_cells):
    """With thresholds strict enough to reject some sweeps of this study: sweeps clearly over a threshold
    (by their true Rs) are rejected, sweeps clearly under are accepted, and the summaries over the
    accepted sweeps match the truth averaged over the same sweeps within 5 %."""
    margin = 0.04
    counts = {"bad": 0, "good": 0, "rejected": 0}
    for cell in simulated_cells:
        p = dataclasses.replace(cell.params, rs_max_ohm=16e6, rs_change_max=0.06)
        accepted, reasons = quality_control(cell.measures, p)
        assert all((r == "") == a for a, r in zip(accepted, reasons, strict=True))
        rs = np.array([float(r["rs_mohm"]) for r in cell.truth_sweeps]) * 1e6
        change = np.abs(rs / rs[0] - 1)
        clearly_bad = (rs > p.rs_max_ohm * (1 + margin)) | (change > p.rs_change_max + margin)
        clearly_good = (rs < p.rs_max_ohm * (1 - margin)) & (change < p.rs_change_max - margin)
        assert not accepted[clearly_bad].any()
        assert accepted[clearly_good].all()
        counts["bad"] += clearly_bad.sum()
        counts["good"] += clearly_good.sum()
        counts["rejected"] += (~accepted).sum()

        s = summarize_cell(cell.measures, accepted, cell.current_a, cell.rate_hz, p)
        for kind, key in (("AMPA", "ampa_peak_a"), ("NMDA", "nmda_peak_a")):
            use = accepted & (cell.measures["kind"] == kind)
            amplitudes = np.array([float(r["epsc_amplitude_pa"]) for r in cell.truth_sweeps])
            if use.any():
                assert _rel(s[key] * 1e12, amplitudes[use].mean()) < 0.05
            else:
                assert math.isnan(s[key])
    assert counts["bad"] > 50 and counts["good"] > 50, counts
