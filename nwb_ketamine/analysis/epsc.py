"""Evoked EPSC measures from voltage-clamp sweeps: test-pulse resistances, AMPAR and NMDAR EPSCs, QC.

Design decision: every measure is computed for all sweeps at once on a 2-D array (sweeps x samples)
with index arithmetic, masks and cumulative sums, never a Python loop over sweeps; the decay time
constant is a single-exponential least-squares fit done as a few vectorised Gauss-Newton steps started
from a weighted log-linear fit. Every number that changes a result (windows, the fixed latency of the
NMDA measure, fit range, QC thresholds, the holding potentials that say AMPA or NMDA) is a field of
:class:`EpscParameters`, which turns into a table (:meth:`EpscParameters.rows`) stored next to the
results, so a reader knows exactly which rule produced them. SI units throughout (A, V, Ohm, s).

Conventions
-----------
- Times of windows are relative to the stimulus (EPSC) or to the test-pulse edges, in s.
- A sweep's kind follows its holding potential: near ``ampa_holding_v`` is ``'AMPA'`` (inward EPSC),
  near ``nmda_holding_v`` is ``'NMDA'`` (outward EPSC), anything else ``'other'``; the polarity of
  the EPSC of an ``'other'`` sweep follows the sign of its driving force (holding minus
  ``epsc_reversal_v``).
- Peaks are signed and relative to the mean current just before the stimulus.
- Rs and Rin are positive resistances: ``test_pulse_amplitude_v`` divided by the peak transient and by
  the steady-state current, both relative to the current just before the pulse.
- All sweeps of one cell go through :func:`quality_control` together, in recording order: the Rs
  change is measured from the first sweep of the cell (across protocol files), because the NMDA/AMPA
  ratio compares sweeps of different files and is only meaningful if access stayed the same.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from nwb_ketamine.analysis.parameters import ParameterSet

KINDS = ("AMPA", "NMDA", "other")


@dataclass(frozen=True)
class EpscParameters(ParameterSet):
    """Every parameter of the EPSC analysis, with its unit in its name.

    The four protocol fields have no default: they describe the recording, not a convention, and must
    be stated by the user (or read from the protocol). The other defaults are typical values used in
    slice electrophysiology labs, not values from any particular paper.

    Parameters
    ----------
    stimulus_time_s
        Time of the extracellular stimulus from the start of the sweep.
    test_pulse_start_s
        Start of the voltage step used to measure Rs and Rin, from the start of the sweep.
    test_pulse_duration_s
        Duration of that voltage step.
    test_pulse_amplitude_v
        Amplitude of the step (signed, e.g. -0.005 for a -5 mV step).
    holding_window_s
        Length of the window just before the test pulse whose mean is the holding current and the
        reference of the test-pulse currents.
    test_pulse_peak_window_s
        The peak capacitive transient is searched from the pulse onset for this long.
    test_pulse_steady_state_window_s
        The steady-state current is the mean over this long at the end of the pulse.
    baseline_window_s
        The EPSC baseline is the mean current over this long just before the stimulus.
    artefact_blanking_s
        Samples from the stimulus for this long are ignored (stimulus artefact); peak searches start
        after it.
    ampa_peak_end_s
        End of the AMPA (inward) peak search window, after the stimulus.
    nmda_peak_end_s
        End of the NMDA (outward) peak search window, after the stimulus.
    ampa_peak_smoothing_s, nmda_peak_smoothing_s
        Width of the moving average applied before the peak is located and read, so that noise does
        not inflate the peak (0 keeps single samples).
    nmda_latency_s
        The "amplitude at a fixed latency" rule: the current this long after the stimulus, where the
        AMPA component at +40 mV has decayed.
    latency_window_s
        Width of the window centred on ``nmda_latency_s`` whose mean is that value.
    decay_fit_start_fraction, decay_fit_end_fraction
        The single-exponential decay fit runs from the first sample after the peak below
        ``start_fraction * peak`` to the first sample below ``end_fraction * peak``.
    ampa_decay_end_s, nmda_decay_end_s
        The decay fit never extends past this time after the stimulus.
    min_decay_fit_points
        Fewer samples than this in the fit range give a NaN time constant.
    ampa_holding_v, nmda_holding_v, holding_tolerance_v
        A sweep held within the tolerance of ``ampa_holding_v`` is an AMPA sweep, of ``nmda_holding_v``
        an NMDA sweep.
    epsc_reversal_v
        Reversal potential of the glutamatergic EPSC; gives the polarity of ``'other'`` sweeps.
    rs_max_ohm
        Sweeps with a larger series resistance are rejected.
    rs_change_max
        Sweeps whose Rs differs from the cell's first sweep by more than this fraction are rejected.
    min_accepted_sweeps
        A cell fails QC if a kind it was recorded in has fewer accepted sweeps than this.
    """

    LABEL = "EPSC analysis"

    stimulus_time_s: float
    test_pulse_start_s: float
    test_pulse_duration_s: float
    test_pulse_amplitude_v: float
    holding_window_s: float = 0.01
    test_pulse_peak_window_s: float = 0.002
    test_pulse_steady_state_window_s: float = 0.02
    baseline_window_s: float = 0.01
    artefact_blanking_s: float = 0.001
    ampa_peak_end_s: float = 0.02
    nmda_peak_end_s: float = 0.1
    ampa_peak_smoothing_s: float = 0.0005
    nmda_peak_smoothing_s: float = 0.003
    nmda_latency_s: float = 0.05
    latency_window_s: float = 0.002
    decay_fit_start_fraction: float = 0.5
    decay_fit_end_fraction: float = 0.1
    ampa_decay_end_s: float = 0.05
    nmda_decay_end_s: float = 0.5
    min_decay_fit_points: int = 5
    ampa_holding_v: float = -0.07
    nmda_holding_v: float = 0.04
    holding_tolerance_v: float = 0.005
    epsc_reversal_v: float = 0.0
    rs_max_ohm: float = 25e6
    rs_change_max: float = 0.2
    min_accepted_sweeps: int = 3

    def __post_init__(self):
        if self.test_pulse_duration_s <= 0:
            raise ValueError(f"test_pulse_duration_s must be > 0, got {self.test_pulse_duration_s}")
        if self.test_pulse_amplitude_v == 0:
            raise ValueError("test_pulse_amplitude_v must not be 0: Rs and Rin are dV / dI")
        if not 0 < self.decay_fit_end_fraction < self.decay_fit_start_fraction <= 1:
            raise ValueError("need 0 < decay_fit_end_fraction < decay_fit_start_fraction <= 1")


EpscParameters.DESCRIPTIONS = _DESCRIPTIONS = {
    "stimulus_time_s": "time of the extracellular stimulus from the start of the sweep",
    "test_pulse_start_s": "start of the Rs/Rin voltage step from the start of the sweep",
    "test_pulse_duration_s": "duration of the Rs/Rin voltage step",
    "test_pulse_amplitude_v": "signed amplitude of the Rs/Rin voltage step",
    "holding_window_s": "holding current = mean over this window just before the test pulse",
    "test_pulse_peak_window_s": "peak transient searched from the pulse onset for this long",
    "test_pulse_steady_state_window_s": "steady-state current = mean over this window at the end of the pulse",
    "baseline_window_s": "EPSC baseline = mean over this window just before the stimulus",
    "artefact_blanking_s": "ignored after the stimulus (artefact); peak searches start after it",
    "ampa_peak_end_s": "end of the AMPA (inward) peak search after the stimulus",
    "nmda_peak_end_s": "end of the NMDA (outward) peak search after the stimulus",
    "ampa_peak_smoothing_s": "moving-average width before locating and reading the AMPA peak",
    "nmda_peak_smoothing_s": "moving-average width before locating and reading the NMDA peak",
    "nmda_latency_s": "fixed-latency rule: EPSC value this long after the stimulus",
    "latency_window_s": "fixed-latency value = mean over a window this wide centred on the latency",
    "decay_fit_start_fraction": "decay fit starts where the EPSC first falls below this fraction of its peak",
    "decay_fit_end_fraction": "decay fit ends where the EPSC first falls below this fraction of its peak",
    "ampa_decay_end_s": "AMPA decay fit never extends past this time after the stimulus",
    "nmda_decay_end_s": "NMDA decay fit never extends past this time after the stimulus",
    "min_decay_fit_points": "fewer samples in the fit range give no time constant",
    "ampa_holding_v": "holding potential of AMPA sweeps (inward EPSC)",
    "nmda_holding_v": "holding potential of NMDA sweeps (outward EPSC)",
    "holding_tolerance_v": "a sweep within this of a holding potential is of that kind",
    "epsc_reversal_v": "EPSC reversal potential; gives the polarity of other sweeps",
    "rs_max_ohm": "sweeps with a larger series resistance are rejected",
    "rs_change_max": "sweeps whose Rs differs from the cell's first sweep by more than this fraction are rejected",
    "min_accepted_sweeps": "a cell fails QC if a recorded kind has fewer accepted sweeps",
}


# --------------------------------------------------------------------------------------------------
# Per sweep


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
        ``value_at_latency_a`` (signed, from the baseline), ``decay_tau_s``. NaN where a measure cannot
        be made (window outside the sweep, no decay crossing, failed fit).

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

    def idx(t: float) -> int:
        return int(round(t * fs))

    # Test pulse: holding current just before it, peak transient after the onset, steady state at the end.
    on = idx(p.test_pulse_start_s)
    off = idx(p.test_pulse_start_s + p.test_pulse_duration_s)
    holding_current = _window_mean(x, on - max(1, idx(p.holding_window_s)), on)
    dv = p.test_pulse_amplitude_v
    sign_dv = math.copysign(1.0, dv)
    transient = _window(x, on, on + max(1, idx(p.test_pulse_peak_window_s))) - holding_current[:, None]
    peak_transient = sign_dv * _nanmax_rows(sign_dv * transient)
    steady = _window_mean(x, off - max(1, idx(p.test_pulse_steady_state_window_s)), off) - holding_current
    rs = _divide(dv, peak_transient)
    rin = _divide(dv, steady)

    # EPSC: baseline before the stimulus, then per polarity its own search and fit windows.
    stim = idx(p.stimulus_time_s)
    baseline = _window_mean(x, stim - max(1, idx(p.baseline_window_s)), stim)
    kind = classify_sweeps(holding, p)
    polarity = np.where(kind == "AMPA", -1.0, np.where(kind == "NMDA", 1.0, np.sign(holding - p.epsc_reversal_v)))
    polarity[polarity == 0] = 1.0

    peak = np.full(n_sweeps, np.nan)
    peak_time = np.full(n_sweeps, np.nan)
    tau = np.full(n_sweeps, np.nan)
    half = idx(p.latency_window_s / 2)
    centre = stim + idx(p.nmda_latency_s)
    value_at_latency = _window_mean(x, centre - half, centre + half + 1) - baseline

    # Two groups (inward and outward EPSCs), each measured for all its sweeps at once.
    for pol, peak_end, smoothing, decay_end in (
        (-1.0, p.ampa_peak_end_s, p.ampa_peak_smoothing_s, p.ampa_decay_end_s),
        (1.0, p.nmda_peak_end_s, p.nmda_peak_smoothing_s, p.nmda_decay_end_s),
    ):
        rows = np.flatnonzero(polarity == pol)
        if rows.size == 0:
            continue
        start = stim + idx(p.artefact_blanking_s)
        stop = stim + idx(max(decay_end, peak_end)) + 1
        if start < 0 or stop > n_samples or stop - start < 3:
            continue
        y = pol * (x[rows, start:stop] - baseline[rows, None])  # the EPSC made positive
        ys = _moving_average(y, max(1, idx(smoothing)))
        n_peak = min(stop, stim + idx(peak_end) + 1) - start
        ipk = _nanargmax_rows(ys[:, :n_peak])
        ok = ipk >= 0
        pk = np.where(ok, ys[np.arange(rows.size), np.clip(ipk, 0, None)], np.nan)
        peak[rows] = pol * pk
        peak_time[rows] = np.where(ok, (start + ipk - stim) / fs, np.nan)
        tau[rows] = _fit_decay(y, ys, ipk, pk, fs, p)
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
        "decay_tau_s": tau,
    }


def fit_exponential_decay(t_s, y, weights=None, iterations: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares fit of ``y = A exp(-t / tau)`` to every row at once.

    A weighted log-linear fit (weights ``y**2``, the inverse variance of ``log y`` for constant noise)
    gives the start; Gauss-Newton steps on the residuals in linear units then remove the bias the
    logarithm adds to noisy tails.

    Parameters
    ----------
    t_s
        Times, shape (n_samples,) or (n_rows, n_samples), in s.
    y
        Values to fit, shape (n_rows, n_samples); positive decaying signals.
    weights
        0/1 (or any non-negative) weight per sample, same shape as ``y``; NaN samples are ignored.
    iterations
        Gauss-Newton steps.

    Returns
    -------
    amplitude, tau_s : ndarray, shape (n_rows,)
        Fitted amplitude at ``t = 0`` and time constant; NaN where the fit is undefined or not decaying.
    """
    y = np.atleast_2d(np.asarray(y, dtype=float))
    t = np.broadcast_to(np.asarray(t_s, dtype=float), y.shape)
    w = np.ones_like(y) if weights is None else np.broadcast_to(np.asarray(weights, dtype=float), y.shape).copy()
    w = np.where(np.isfinite(y) & np.isfinite(t), w, 0.0)
    y = np.where(w > 0, y, 0.0)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        # Log-linear start on the positive samples: log y = a - k t.
        pos = y > 0
        wl = np.where(pos, w * y**2, 0.0)
        ly = np.log(np.where(pos, y, 1.0))
        a0, k0 = _weighted_line(t, ly, wl)
        amp, k = np.exp(a0), k0
        for _ in range(iterations):
            e = np.exp(-k[:, None] * t)
            r = y - amp[:, None] * e
            ja, jk = e, -amp[:, None] * t * e  # d model / d A, d model / d k
            wja, wjk = w * ja, w * jk
            saa = (wja * ja).sum(1)
            sak = (wja * jk).sum(1)
            skk = (wjk * jk).sum(1)
            ra = (wja * r).sum(1)
            rk = (wjk * r).sum(1)
            det = saa * skk - sak * sak
            da = (skk * ra - sak * rk) / det
            dk = (saa * rk - sak * ra) / det
            good = np.isfinite(da) & np.isfinite(dk)
            amp = np.where(good, amp + da, amp)
            k = np.where(good, k + dk, k)
            if not np.any(good & (np.abs(dk) > 1e-12 * np.abs(k))):
                break
        tau = 1.0 / k
    bad = ~np.isfinite(tau) | (tau <= 0) | ~np.isfinite(amp)
    return np.where(bad, np.nan, amp), np.where(bad, np.nan, tau)


def _fit_decay(y, ys, ipk, pk, fs, p: EpscParameters) -> np.ndarray:
    """Decay tau of positive EPSCs ``y`` (rows), between the fractions of the peak found on ``ys``."""
    n_rows, n = y.shape
    col = np.arange(n)[None, :]
    after = col >= ipk[:, None]
    with np.errstate(invalid="ignore"):
        below_start = after & (ys <= p.decay_fit_start_fraction * pk[:, None])
        below_end = after & (ys <= p.decay_fit_end_fraction * pk[:, None])
    i0 = np.where(below_start.any(1), below_start.argmax(1), n)
    below_end &= col >= i0[:, None]
    i1 = np.where(below_end.any(1), below_end.argmax(1), -1)  # no crossing: no fit
    length = np.where((ipk >= 0) & (pk > 0), np.clip(i1 - i0, 0, None), 0)
    # Gather each row's fit range to the front of a (rows, longest range) block: the fit then touches
    # only the samples it uses, whatever the search window.
    offsets = np.arange(max(1, int(length.max(initial=0))))[None, :]
    mask = offsets < length[:, None]
    taken = np.take_along_axis(y, np.clip(i0[:, None] + offsets, 0, n - 1), axis=1)
    _, tau = fit_exponential_decay(offsets / fs, taken, mask)
    return np.where(length >= p.min_decay_fit_points, tau, np.nan)


# --------------------------------------------------------------------------------------------------
# Quality control and cell summary


def quality_control(measures: dict[str, np.ndarray], params: EpscParameters) -> tuple[np.ndarray, np.ndarray]:
    """Accept or reject each sweep of one cell from its series resistance.

    A sweep is rejected when Rs cannot be measured, when Rs > ``rs_max_ohm``, or when Rs differs from
    the cell's first measurable sweep by more than ``rs_change_max`` (relative). Pass every sweep of
    the cell, all protocol files concatenated in recording order (see :func:`concatenate_measures`).

    Parameters
    ----------
    measures
        Output of :func:`measure_sweeps` (needs ``series_resistance_ohm``).
    params
        Supplies ``rs_max_ohm`` and ``rs_change_max``.

    Returns
    -------
    accepted : ndarray of bool, shape (n_sweeps,)
    reasons : ndarray of str, shape (n_sweeps,)
        Why each rejected sweep was rejected, reasons joined by ``'; '``; ``''`` when accepted.
    """
    rs = np.asarray(measures["series_resistance_ohm"], dtype=float)
    finite = np.isfinite(rs) & (rs > 0)
    ref = rs[np.argmax(finite)] if finite.any() else np.nan
    with np.errstate(invalid="ignore"):
        change = np.abs(rs - ref) / ref
        too_high = finite & (rs > params.rs_max_ohm)
        drifted = finite & (change > params.rs_change_max)
    reasons = []
    for r, c, bad, high, drift in zip(rs, change, ~finite, too_high, drifted, strict=True):
        why = []
        if bad:
            why.append("Rs not measurable")
        if high:
            why.append(f"Rs {r / 1e6:.1f} MOhm > {params.rs_max_ohm / 1e6:g} MOhm")
        if drift:
            why.append(f"Rs changed {100 * c:.0f}% from the first sweep > {100 * params.rs_change_max:g}%")
        reasons.append("; ".join(why))
    accepted = finite & ~too_high & ~drifted
    return accepted, np.array(reasons, dtype=str) if reasons else np.array([], dtype="<U1")


def concatenate_measures(parts) -> dict[str, np.ndarray]:
    """Join the :func:`measure_sweeps` outputs of several files of one cell, in the given order.

    Parameters
    ----------
    parts
        Iterable of measure dicts with the same keys.
    """
    parts = list(parts)
    if not parts:
        raise ValueError("no measures to concatenate")
    return {key: np.concatenate([np.asarray(m[key]) for m in parts]) for key in parts[0]}


def summarize_cell(
    measures: dict[str, np.ndarray],
    accepted,
    current_a,
    rate_hz: float,
    params: EpscParameters,
    *,
    kind_params: Mapping[str, EpscParameters] | None = None,
) -> dict:
    """Cell-level results: means over accepted sweeps, NMDA/AMPA ratios, decay taus, QC.

    Parameters
    ----------
    measures
        Output of :func:`measure_sweeps` (or :func:`concatenate_measures`) for all sweeps of the cell.
    accepted
        Boolean per sweep, from :func:`quality_control` (or any other rule).
    current_a
        The sweeps the measures came from, shape (n_sweeps, n_samples), in A; used to fit the decay of
        the average of the accepted sweeps of each kind. Sweeps of unequal length: right-pad with NaN.
    rate_hz
        Sampling rate in Hz: one for every sweep, or one per sweep (shape (n_sweeps,)) when the files of
        the cell were recorded at different rates. The average sweep of a kind is only formed from sweeps
        sampled at one rate: when the accepted sweeps of a kind differ in rate, its
        ``*_decay_tau_average_s`` is NaN (averaging them would need resampling, which invents samples).
    params
        The parameters used for the measures (QC counts, and the fit of the average sweeps).
    kind_params
        Parameters per kind (``'AMPA'``, ``'NMDA'``) for the fit of the average sweep, when the files
        of the two kinds were recorded with different timing (e.g. another stimulus time).

    Returns
    -------
    dict
        Floats (NaN where a kind has no accepted sweep): ``ampa_peak_a``, ``nmda_peak_a``,
        ``nmda_value_at_latency_a``, ``nmda_ampa_ratio`` (NMDA peak / abs AMPA peak),
        ``nmda_ampa_ratio_latency`` (NMDA value at the latency / abs AMPA peak), ``ampa_decay_tau_s``
        and ``nmda_decay_tau_s`` (mean of per-sweep fits), ``ampa_decay_tau_average_s`` and
        ``nmda_decay_tau_average_s`` (fit of the average sweep), ``ampa_holding_current_a``,
        ``nmda_holding_current_a``, ``series_resistance_ohm``, ``input_resistance_ohm`` (means over
        accepted sweeps), ``rs_change_max`` (largest relative Rs change from the first sweep, all
        sweeps); ints ``n_sweeps``, ``n_accepted``, ``n_ampa``, ``n_ampa_accepted``, ``n_nmda``,
        ``n_nmda_accepted``; ``accepted`` (bool, the cell-level QC flag) and ``qc_reasons`` (str, ''
        when accepted).
    """
    accepted = np.asarray(accepted, dtype=bool)
    kind = np.asarray(measures["kind"])
    if accepted.shape != kind.shape:
        raise ValueError(f"accepted has shape {accepted.shape}, measures have {kind.shape[0]} sweeps")
    x = np.atleast_2d(np.asarray(current_a, dtype=float))
    rates = np.broadcast_to(np.asarray(rate_hz, dtype=float), kind.shape)
    out: dict = {}
    reasons = []
    for name in ("AMPA", "NMDA"):
        key = name.lower()
        of_kind = kind == name
        use = of_kind & accepted
        out[f"n_{key}"] = int(of_kind.sum())
        out[f"n_{key}_accepted"] = int(use.sum())
        out[f"{key}_peak_a"] = _mean(measures["peak_a"], use)
        out[f"{key}_decay_tau_s"] = _mean(measures["decay_tau_s"], use)
        out[f"{key}_holding_current_a"] = _mean(measures["holding_current_a"], use)
        kind_rates = np.unique(rates[use])
        if kind_rates.size == 1:
            average = x[use].mean(axis=0, keepdims=True)
            holding = [float(np.mean(measures["holding_potential_v"][use]))]
            kparams = (kind_params or {}).get(name, params)
            tau = measure_sweeps(average, float(kind_rates[0]), holding, kparams)["decay_tau_s"][0]
            out[f"{key}_decay_tau_average_s"] = float(tau)
        else:
            out[f"{key}_decay_tau_average_s"] = math.nan
        if of_kind.any() and use.sum() < params.min_accepted_sweeps:
            reasons.append(f"{name}: {int(use.sum())} accepted sweeps < {params.min_accepted_sweeps}")
    nmda = kind == "NMDA"
    out["nmda_value_at_latency_a"] = _mean(measures["value_at_latency_a"], nmda & accepted)
    ampa_abs = abs(out["ampa_peak_a"])
    out["nmda_ampa_ratio"] = out["nmda_peak_a"] / ampa_abs if ampa_abs > 0 else math.nan
    out["nmda_ampa_ratio_latency"] = out["nmda_value_at_latency_a"] / ampa_abs if ampa_abs > 0 else math.nan
    out["series_resistance_ohm"] = _mean(measures["series_resistance_ohm"], accepted)
    out["input_resistance_ohm"] = _mean(measures["input_resistance_ohm"], accepted)
    rs = np.asarray(measures["series_resistance_ohm"], dtype=float)
    finite = np.isfinite(rs)
    out["rs_change_max"] = float(np.max(np.abs(rs[finite] / rs[finite][0] - 1))) if finite.any() else math.nan
    out["n_sweeps"] = int(kind.size)
    out["n_accepted"] = int(accepted.sum())
    if not (kind != "other").any():
        reasons.insert(0, "no AMPA or NMDA sweeps")
    elif not accepted.any():
        reasons.insert(0, "no accepted sweeps")
    out["accepted"] = not reasons
    out["qc_reasons"] = "; ".join(reasons)
    return out


# --------------------------------------------------------------------------------------------------
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


def _weighted_line(t: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row weighted least squares ``y = a - k t``; returns (a, k)."""
    sw = w.sum(1)
    mt = (w * t).sum(1) / sw
    my = (w * y).sum(1) / sw
    dt = t - mt[:, None]
    slope = (w * dt * (y - my[:, None])).sum(1) / (w * dt * dt).sum(1)
    return my - slope * mt, -slope


def _divide(num: float, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    return np.where(np.isfinite(out) & (out > 0), out, np.nan)


def _mean(values, mask) -> float:
    v = np.asarray(values, dtype=float)[np.asarray(mask, dtype=bool)]
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else math.nan
