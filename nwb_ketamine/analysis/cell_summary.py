"""Sweep quality control and the per-cell EPSC summary (means over accepted sweeps, NMDA/AMPA ratios).

All sweeps of one cell go through :func:`quality_control` together, in recording order: the Rs change
is measured from the first sweep of the cell (across protocol files), because the NMDA/AMPA ratio
compares sweeps of different files and is only meaningful if access stayed the same.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from nwb_ketamine.analysis.epsc import measure_sweeps
from nwb_ketamine.analysis.epsc_parameters import EpscParameters

#: Cell columns (after the kind's prefix) from the fit of the average sweep, and their per-sweep measure.
_AVERAGE_DECAY = {
    "decay_tau_average_s": "decay_tau_s",
    "decay_tau_weighted_average_s": "decay_tau_weighted_s",
    "decay_tau_fast_average_s": "decay_tau_fast_s",
    "decay_tau_slow_average_s": "decay_tau_slow_s",
    "decay_fast_fraction_average": "decay_fast_fraction",
}


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
    rate_hz: float | np.ndarray,
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
        ``nmda_decay_tau_average_s`` (fit of the average sweep), the weighted taus of the
        two-exponential rule (:mod:`~nwb_ketamine.analysis.decay`) ``*_decay_tau_weighted_s`` (mean
        per sweep) and ``*_decay_tau_weighted_average_s`` (average sweep), the NMDA components of the
        average sweep ``nmda_decay_tau_fast_average_s``, ``nmda_decay_tau_slow_average_s``,
        ``nmda_decay_fast_fraction_average`` (NaN when one component is kept), ``ampa_holding_current_a``,
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
        out[f"{key}_decay_tau_weighted_s"] = _mean(measures["decay_tau_weighted_s"], use)
        out[f"{key}_holding_current_a"] = _mean(measures["holding_current_a"], use)
        kind_rates = np.unique(rates[use])
        average_fit = dict.fromkeys(_AVERAGE_DECAY, math.nan)
        if kind_rates.size == 1:
            average = x[use].mean(axis=0, keepdims=True)
            holding = [float(np.mean(measures["holding_potential_v"][use]))]
            kparams = (kind_params or {}).get(name, params)
            fit = measure_sweeps(average, float(kind_rates[0]), holding, kparams)
            average_fit = {column: float(fit[source][0]) for column, source in _AVERAGE_DECAY.items()}
        out[f"{key}_decay_tau_average_s"] = average_fit["decay_tau_average_s"]
        out[f"{key}_decay_tau_weighted_average_s"] = average_fit["decay_tau_weighted_average_s"]
        if name == "NMDA":  # the components of the NMDAR decay (AMPAR decays are one exponential)
            for column in ("decay_tau_fast_average_s", "decay_tau_slow_average_s", "decay_fast_fraction_average"):
                out[f"nmda_{column}"] = average_fit[column]
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


def _mean(values, mask) -> float:
    v = np.asarray(values, dtype=float)[np.asarray(mask, dtype=bool)]
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else math.nan
