"""Meaningful ranges of the study file's analysis parameters, as JSON Schema keywords.

They go into the study file's JSON Schema (``analysis.epsc`` and ``analysis.bursts``), so ``nwb-ketamine
check`` refuses a value outside its range naming the field, before anything is converted, and editors
that read the schema mark it. Only ranges that follow from what a parameter *is* are given: a duration or
a window is positive (a latency of -1 s is before the stimulus), a fraction of the peak lies in (0, 1], a
significance level in (0, 1), a holding potential within +-200 mV; no range is a convention of this
study. Kept apart from :mod:`nwb_ketamine.analysis` so the metadata layer does not import the analysis.
"""

from __future__ import annotations

_POSITIVE = {"exclusiveMinimum": 0}
_NON_NEGATIVE = {"minimum": 0}
_FRACTION = {"exclusiveMinimum": 0, "maximum": 1}
_ALPHA = {"exclusiveMinimum": 0, "exclusiveMaximum": 1}
_POTENTIAL_V = {"minimum": -0.2, "maximum": 0.2}

#: ``analysis.epsc`` (names and meanings: :class:`nwb_ketamine.analysis.epsc_parameters.EpscParameters`).
EPSC_RANGES: dict[str, dict] = {
    "stimulus_time_s": _NON_NEGATIVE,
    "test_pulse_start_s": _NON_NEGATIVE,
    "test_pulse_duration_s": _POSITIVE,
    "test_pulse_amplitude_v": {"not": {"const": 0}, **_POTENTIAL_V},
    "holding_window_s": _POSITIVE,
    "test_pulse_peak_window_s": _POSITIVE,
    "test_pulse_steady_state_window_s": _POSITIVE,
    "baseline_window_s": _POSITIVE,
    "artefact_blanking_s": _NON_NEGATIVE,
    "ampa_peak_end_s": _POSITIVE,
    "nmda_peak_end_s": _POSITIVE,
    "ampa_peak_smoothing_s": _NON_NEGATIVE,
    "nmda_peak_smoothing_s": _NON_NEGATIVE,
    "nmda_latency_s": _POSITIVE,
    "latency_window_s": _POSITIVE,
    "decay_fit_start_fraction": _FRACTION,
    "decay_fit_end_fraction": _FRACTION,
    "ampa_decay_end_s": _POSITIVE,
    "nmda_decay_end_s": _POSITIVE,
    "min_decay_fit_points": {"minimum": 2},
    "decay_biexp_screen_alpha": _ALPHA,
    "decay_biexp_min_tau_ratio": {"minimum": 1},
    "decay_biexp_max_tau_window_ratio": _POSITIVE,
    "decay_biexp_alpha": _ALPHA,
    "ampa_holding_v": _POTENTIAL_V,
    "nmda_holding_v": _POTENTIAL_V,
    "holding_tolerance_v": _POSITIVE,
    "epsc_reversal_v": _POTENTIAL_V,
    "rs_max_ohm": _POSITIVE,
    "rs_change_max": _POSITIVE,
    "min_accepted_sweeps": {"minimum": 1},
}

#: ``analysis.bursts`` (:class:`nwb_ketamine.analysis.bursts.BurstParameters`).
BURST_RANGES: dict[str, dict] = {
    "onset_isi_s": _POSITIVE,
    "end_isi_s": _POSITIVE,
    "min_silence_s": _NON_NEGATIVE,
    "min_spikes": {"minimum": 2},
}


def ranges_schema(ranges: dict[str, dict]) -> dict:
    """JSON Schema ``properties`` giving each parameter its type and range.

    Parameters
    ----------
    ranges
        Parameter name to range keywords.

    Returns
    -------
    dict
        ``{"properties": {name: {"type": "number", ...}}}``.
    """
    return {"properties": {name: {"type": "number", **keywords} for name, keywords in ranges.items()}}
