"""Per-sweep EPSC measures from voltage-clamp sweeps: test-pulse resistances, AMPAR and NMDAR EPSCs.

Design decision: every measure is computed for all sweeps at once on a 2-D array (sweeps x samples)
with index arithmetic, masks and cumulative sums, never a Python loop over sweeps; the decay time
constant is a single-exponential least-squares fit done as a few vectorised Gauss-Newton steps started
from a weighted log-linear fit, and the weighted time constant comes from a two-exponential fit of the
same samples, batched Levenberg-Marquardt (the rule that keeps or drops its second component:
:mod:`~nwb_ketamine.analysis.decay`). Every number that changes a result (windows, the fixed latency of the
NMDA measure, fit range, QC thresholds, the holding potentials that say AMPA or NMDA) is a field of
:class:`EpscParameters`, which turns into a table (:meth:`EpscParameters.rows`) stored next to the
results, so a reader knows exactly which rule produced them. SI units throughout (A, V, Ohm, s).

Conventions:

- Times of windows are relative to the stimulus (EPSC) or to the test-pulse edges, in s.
- A sweep's kind follows its holding potential: near ``ampa_holding_v`` is ``'AMPA'`` (inward EPSC),
  near ``nmda_holding_v`` is ``'NMDA'`` (outward EPSC), anything else ``'other'``; the polarity of
  the EPSC of an ``'other'`` sweep follows the sign of its driving force (holding minus
  ``epsc_reversal_v``).
- Peaks are signed and relative to the mean current just before the stimulus.
- Rs and Rin are positive resistances: ``test_pulse_amplitude_v`` divided by the peak transient and by
  the steady-state current, both relative to the current just before the pulse.
"""

from __future__ import annotations

import math

import numpy as np

from nwb_ketamine.analysis.decay import fit_decay
from nwb_ketamine.analysis.epsc_parameters import EpscParameters

KINDS = ("AMPA", "NMDA", "other")
#: The float decay measures of each sweep (``decay_`` + a key of :func:`~nwb_ketamine.analysis.decay.fit_decay`).
_DECAY = ("decay_tau_s", "decay_tau_weighted_s", "decay_tau_fast_s", "decay_tau_slow_s", "decay_fast_fraction")


def classify_sweeps(holding_v, params: EpscParameters) -> np.ndarray:
    """Kind of each sweep from its holding potential.

    Parameters
    ----------
    holding_v
        Holding potential of each sweep, in V.
    params
        Supplies ``ampa_holding_v``, ``nmda_holding_v`` and ``holding_tolerance_v``.

    Returns
    -------
    ndarray of str
        ``'AMPA'``, ``'NMDA'`` or ``'other'`` per sweep.
    """
    h = np.asarray(holding_v, dtype=float)
    kind = np.full(h.shape, "other", dtype="<U5")
    kind[np.abs(h - params.ampa_holding_v) <= params.holding_tolerance_v] = "AMPA"
    kind[np.abs(h - params.nmda_holding_v) <= params.holding_tolerance_v] = "NMDA"
    return kind


def measure_sweeps(current_a, rate_hz: float, holding_v, params: EpscParameters) -> dict[str, np.ndarray]:
    """Measure every sweep: holding current, Rs, Rin, EPSC peak, value at a fixed latency, decay tau.

    Parameters
    ----------
    current_a
        Membrane current in A, shape (n_sweeps, n_samples); sweep time 0 is sample 0. Sweeps of unequal
        length may be right-padded with NaN as long as every window lies in the recorded part.
    rate_hz
        Sampling rate in Hz.
    holding_v
        Holding potential of each sweep in V, shape (n_sweeps,).
    params
        Windows and rules; see :class:`EpscParameters`.

    Returns
    -------
    dict of str to ndarray, each of shape (n_sweeps,)
        ``kind`` ('AMPA', 'NMDA', 'other'), ``holding_potential_v``, ``holding_current_a``,
        ``series_resistance_ohm``, ``input_resistance_ohm``, ``baseline_a`` (mean before the
        stimulus), ``peak_a`` (signed, from the baseline), ``peak_time_s`` (from the stimulus),
        ``value_at_latency_a`` (signed, from the baseline), ``decay_tau_s`` (single exponential),
        ``decay_tau_weighted_s``, ``decay_tau_fast_s``, ``decay_tau_slow_s``, ``decay_fast_fraction``
        and ``decay_components`` (int: 2, 1, 0 without a fit), the two-exponential results of
        :func:`~nwb_ketamine.analysis.decay.fit_decay`. NaN where a measure cannot be made (window
        outside the sweep, no decay crossing, failed fit).

    Examples
    --------
    >>> import numpy as np
    >>> p = EpscParameters(stimulus_time_s=0.3, test_pulse_start_s=0.05, test_pulse_duration_s=0.1,
    ...                    test_pulse_amplitude_v=-0.005)
    >>> m = measure_sweeps(np.zeros((2, 10_000)), 10_000.0, [-0.07, 0.04], p)
    >>> m["kind"].tolist()
    ['AMPA', 'NMDA']
    """
    x = np.atleast_2d(np.asarray(current_a, dtype=float))
    holding = np.asarray(holding_v, dtype=float).reshape(-1)
    if holding.shape[0] != x.shape[0]:
        raise ValueError(f"holding_v has {holding.shape[0]} values for {x.shape[0]} sweeps")
    if rate_hz <= 0:
        raise ValueError(f"rate_hz must be > 0, got {rate_hz}")
    n_sweeps, n_samples = x.shape
    fs = float(rate_hz)
    p = params

    def _idx(t: float) -> int:
        return int(round(t * fs))

    # Test pulse: holding current just before it, peak transient after the onset, steady state at the end.
    on = _idx(p.test_pulse_start_s)
    off = _idx(p.test_pulse_start_s + p.test_pulse_duration_s)
    holding_current = _window_mean(x, on - max(1, _idx(p.holding_window_s)), on)
    dv = p.test_pulse_amplitude_v
    sign_dv = math.copysign(1.0, dv)
    transient = _window(x, on, on + max(1, _idx(p.test_pulse_peak_window_s))) - holding_current[:, None]
    peak_transient = sign_dv * _nanmax_rows(sign_dv * transient)
    steady = _window_mean(x, off - max(1, _idx(p.test_pulse_steady_state_window_s)), off) - holding_current
    rs = _divide(dv, peak_transient)
    rin = _divide(dv, steady)

    # EPSC: baseline before the stimulus, then per polarity its own search and fit windows.
    stim = _idx(p.stimulus_time_s)
    baseline = _window_mean(x, stim - max(1, _idx(p.baseline_window_s)), stim)
    kind = classify_sweeps(holding, p)
    polarity = np.where(kind == "AMPA", -1.0, np.where(kind == "NMDA", 1.0, np.sign(holding - p.epsc_reversal_v)))
    polarity[polarity == 0] = 1.0

    peak = np.full(n_sweeps, np.nan)
    peak_time = np.full(n_sweeps, np.nan)
    decay = {key: np.full(n_sweeps, np.nan) for key in _DECAY}
    decay["decay_components"] = np.zeros(n_sweeps, dtype=int)
    half = _idx(p.latency_window_s / 2)
    centre = stim + _idx(p.nmda_latency_s)
    value_at_latency = _window_mean(x, centre - half, centre + half + 1) - baseline

    # Two groups (inward and outward EPSCs), each measured for all its sweeps at once.
    for pol, peak_end, smoothing, decay_end in (
        (-1.0, p.ampa_peak_end_s, p.ampa_peak_smoothing_s, p.ampa_decay_end_s),
        (1.0, p.nmda_peak_end_s, p.nmda_peak_smoothing_s, p.nmda_decay_end_s),
    ):
        rows = np.flatnonzero(polarity == pol)
        if rows.size == 0:
            continue
        start = stim + _idx(p.artefact_blanking_s)
        stop = stim + _idx(max(decay_end, peak_end)) + 1
        if start < 0 or stop > n_samples or stop - start < 3:
            continue
        y = pol * (x[rows, start:stop] - baseline[rows, None])  # the EPSC made positive
        ys = _moving_average(y, max(1, _idx(smoothing)))
        n_peak = min(stop, stim + _idx(peak_end) + 1) - start
        ipk = _nanargmax_rows(ys[:, :n_peak])
        ok = ipk >= 0
        pk = np.where(ok, ys[np.arange(rows.size), np.clip(ipk, 0, None)], np.nan)
        peak[rows] = pol * pk
        peak_time[rows] = np.where(ok, (start + ipk - stim) / fs, np.nan)
        for key, value in fit_decay(y, ys, ipk, pk, fs, p).items():
            decay[f"decay_{key}"][rows] = value
    return {
        "kind": kind,
        "holding_potential_v": holding.copy(),
        "holding_current_a": holding_current,
        "series_resistance_ohm": rs,
        "input_resistance_ohm": rin,
        "baseline_a": baseline,
        "peak_a": peak,
        "peak_time_s": peak_time,
        "value_at_latency_a": value_at_latency,
        **decay,
    }


# Vectorised helpers


def _window(x: np.ndarray, i0: int, i1: int) -> np.ndarray:
    """Columns [i0, i1) of x; an all-NaN column block if the window is not inside the sweep."""
    if i0 < 0 or i1 > x.shape[1] or i1 <= i0:
        return np.full((x.shape[0], max(1, i1 - i0)), np.nan)
    return x[:, i0:i1]


def _window_mean(x: np.ndarray, i0: int, i1: int) -> np.ndarray:
    return _window(x, i0, i1).mean(axis=1)


def _nanmax_rows(a: np.ndarray) -> np.ndarray:
    i = _nanargmax_rows(a)
    return np.where(i >= 0, a[np.arange(a.shape[0]), np.clip(i, 0, None)], np.nan)


def _nanargmax_rows(a: np.ndarray) -> np.ndarray:
    """Index of the row maximum ignoring NaN; -1 for all-NaN rows."""
    finite = np.isfinite(a)
    i = np.where(finite, a, -np.inf).argmax(axis=1)
    return np.where(finite.any(axis=1), i, -1)


def _moving_average(y: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average along rows by cumulative sums; edges average what is available."""
    if width <= 1:
        return y
    n = y.shape[1]
    c = np.concatenate([np.zeros((y.shape[0], 1)), np.cumsum(y, axis=1)], axis=1)
    lo = np.clip(np.arange(n) - width // 2, 0, n)
    hi = np.clip(lo + width, 0, n)
    return (c[:, hi] - c[:, lo]) / (hi - lo)


def _divide(num: float, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    return np.where(np.isfinite(out) & (out > 0), out, np.nan)
