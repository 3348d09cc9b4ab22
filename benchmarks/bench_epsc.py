"""Sweeps per second of the vectorised EPSC analysis against a naive per-sweep scipy baseline.

The baseline measures the same things one sweep at a time, with a Python loop and
``scipy.optimize.curve_fit`` for the decay; both run on the same simulated AMPA and NMDA sweeps in
the same process, and the script prints the ratio (no timed assertion). Run::

    .venv/bin/python benchmarks/bench_epsc.py [n_sweeps_per_kind]
"""

from __future__ import annotations

import sys
import time

import numpy as np
from scipy.optimize import curve_fit

from nwb_ketamine.analysis import EpscParameters, measure_sweeps
from nwb_ketamine.simulate.abf import ProtocolSpec, simulate_protocol
from nwb_ketamine.simulate.parameters import SliceParameters


def simulated_sweeps(n: int) -> tuple[np.ndarray, np.ndarray, float, EpscParameters]:
    """``n`` AMPA and ``n`` NMDA sweeps from the simulator's model, in A, with their holding potentials."""
    sp = SliceParameters()
    rng = np.random.default_rng(0)
    common = dict(n_sweeps=n, latency_s=0.0025, rs_mohm=15.0, rs_drift_per_sweep=0.0, rm_mohm=300.0, cm_pf=30.0)
    ampa = ProtocolSpec("AMPA", -70.0, amplitude_pa=-100.0, rise_s=0.001, decay_s=0.005, holding_current_pa=-30.0,
                        spontaneous=True, **common)  # fmt: skip
    nmda = ProtocolSpec("NMDA", 40.0, amplitude_pa=150.0, rise_s=0.007, decay_s=0.09, holding_current_pa=80.0,
                        spontaneous=False, **common)  # fmt: skip
    x = np.concatenate([simulate_protocol(spec, sp, rng)[0] for spec in (ampa, nmda)]) * 1e-12
    holding = np.repeat([-0.07, 0.04], n)
    params = EpscParameters(
        stimulus_time_s=sp.stimulus_time_s,
        test_pulse_start_s=sp.test_pulse_start_s,
        test_pulse_duration_s=sp.test_pulse_duration_s,
        test_pulse_amplitude_v=sp.test_pulse_mv * 1e-3,
    )
    return x, holding, sp.sampling_rate_hz, params


def naive(x: np.ndarray, fs: float, holding: np.ndarray, p: EpscParameters) -> np.ndarray:
    """Per-sweep loop: the same measures, decay by ``curve_fit``; returns the decay taus."""

    def i(t):
        return int(round(t * fs))

    taus = []
    for sweep, h in zip(x, holding, strict=True):
        on, off, stim = i(p.test_pulse_start_s), i(p.test_pulse_start_s + p.test_pulse_duration_s), i(p.stimulus_time_s)
        base = sweep[on - i(p.holding_window_s) : on].mean()
        peak = np.min(sweep[on : on + i(p.test_pulse_peak_window_s)] - base)
        _ = p.test_pulse_amplitude_v / peak, p.test_pulse_amplitude_v / (sweep[off - i(0.02) : off].mean() - base)
        pol = -1.0 if h < 0 else 1.0
        end = p.ampa_peak_end_s if h < 0 else p.nmda_peak_end_s
        fit_end = p.ampa_decay_end_s if h < 0 else p.nmda_decay_end_s
        y = pol * (sweep - sweep[stim - i(p.baseline_window_s) : stim].mean())
        w = max(1, i(p.ampa_peak_smoothing_s if h < 0 else p.nmda_peak_smoothing_s))
        ys = np.convolve(y, np.ones(w) / w, mode="same")
        s0 = stim + i(p.artefact_blanking_s)
        k = s0 + int(np.argmax(ys[s0 : stim + i(end)]))
        pk = ys[k]
        seg = ys[k : stim + i(fit_end)]
        a = k + int(np.argmax(seg <= p.decay_fit_start_fraction * pk))
        b = k + int(np.argmax(seg <= p.decay_fit_end_fraction * pk))
        t = np.arange(b - a) / fs
        try:
            (_, tau), _ = curve_fit(lambda t, amp, tau: amp * np.exp(-t / tau), t, y[a:b], p0=(y[a], 0.01))
        except RuntimeError:
            tau = np.nan
        taus.append(tau)
    return np.array(taus)


def best_of(fn, repeats=3) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(n: int = 200) -> None:
    x, holding, fs, params = simulated_sweeps(n)
    fast = best_of(lambda: measure_sweeps(x, fs, holding, params))
    slow = best_of(lambda: naive(x, fs, holding, params))
    ours = measure_sweeps(x, fs, holding, params)["decay_tau_s"]
    theirs = naive(x, fs, holding, params)
    print(f"{len(x)} sweeps of {x.shape[1]} samples")
    print(f"measure_sweeps (vectorised): {len(x) / fast:10.0f} sweeps/s")
    print(f"per-sweep loop + curve_fit:  {len(x) / slow:10.0f} sweeps/s")
    print(f"ratio: {slow / fast:.1f}x")
    print(f"median |tau difference| between the two: {np.nanmedian(np.abs(ours / theirs - 1)):.2%}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
