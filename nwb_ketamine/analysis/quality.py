"""Quality metrics of sorted units (ISI violations, presence ratio, waveform SNR) and their parameters.

Pure functions on spike times and waveforms, with known inputs in the tests. Every number that changes
a stored metric is a field of :class:`UnitsParameters`, stored next to the metrics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nwb_ketamine.analysis.parameters import ParameterSet


@dataclass(frozen=True)
class UnitsParameters(ParameterSet):
    """Parameters of the quality metrics and of the waveforms taken from raw data.

    Attributes
    ----------
    refractory_period_s
        ISIs shorter than this are violations (default 1.5 ms, a common convention).
    presence_bin_s
        The recording is cut into bins this long; presence ratio = fraction of bins with a spike
        (default 60 s, as SpikeInterface).
    waveform_before_s, waveform_after_s
        Raw waveform window around each spike sample (default 0.5 ms before, 1.1 ms after).
    max_waveform_spikes
        At most this many spikes per unit (evenly spread over the recording) are averaged.
    """

    LABEL = "units"

    refractory_period_s: float = 0.0015
    presence_bin_s: float = 60.0
    waveform_before_s: float = 0.0005
    waveform_after_s: float = 0.0011
    max_waveform_spikes: int = 500


UnitsParameters.DESCRIPTIONS = {
    "refractory_period_s": "ISIs shorter than this count as refractory-period violations",
    "presence_bin_s": "presence ratio = fraction of bins of this length holding at least one spike",
    "waveform_before_s": "raw waveform window starts this long before the spike sample",
    "waveform_after_s": "raw waveform window ends this long after the spike sample",
    "max_waveform_spikes": "at most this many spikes per unit, evenly spread, are averaged for the waveform",
}


def isi_violations_fraction(spike_times_s, refractory_period_s: float) -> float:
    """Fraction of ISIs shorter than the refractory period (NaN with fewer than two spikes).

    Parameters
    ----------
    spike_times_s
        Sorted spike times (s).
    refractory_period_s
        The refractory period.
    """
    t = np.asarray(spike_times_s, dtype=np.float64)
    if t.size < 2:
        return math.nan
    return float(np.count_nonzero(np.diff(t) < refractory_period_s) / (t.size - 1))


def presence_ratio(spike_times_s, start_s: float, stop_s: float, bin_s: float) -> float:
    """Fraction of the bins of ``[start_s, stop_s)`` (``bin_s`` long, the last one may be shorter) with a spike.

    Parameters
    ----------
    spike_times_s
        Spike times (s).
    start_s, stop_s
        The recording span.
    bin_s
        Bin length.
    """
    duration = stop_s - start_s
    if duration <= 0:
        return math.nan
    n_bins = max(1, math.ceil(duration / bin_s - 1e-9))
    t = np.asarray(spike_times_s, dtype=np.float64)
    t = t[(t >= start_s) & (t < stop_s)]
    occupied = np.unique(np.minimum(((t - start_s) // bin_s).astype(np.int64), n_bins - 1))
    return occupied.size / n_bins


def waveform_snr(mean_uv, sd_uv) -> float:
    """Peak |mean waveform| on the best channel / median SD of the waveform on that channel.

    The SD across spikes of a waveform is the background noise plus the amplitude jitter, so this is
    a conservative signal-to-noise ratio that needs no raw data. NaN without an SD.

    Parameters
    ----------
    mean_uv, sd_uv
        Mean and SD waveform (samples, channels) in uV, or None.
    """
    if mean_uv is None or sd_uv is None:
        return math.nan
    mean = np.asarray(mean_uv, dtype=np.float64)
    sd = np.asarray(sd_uv, dtype=np.float64)
    if not np.isfinite(mean).any():
        return math.nan
    best = int(np.nanargmax(np.nanmax(np.abs(mean), axis=0)))
    noise = float(np.nanmedian(sd[:, best]))
    return float(np.nanmax(np.abs(mean[:, best])) / noise) if noise > 0 else math.nan
