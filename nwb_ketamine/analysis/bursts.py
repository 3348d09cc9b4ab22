"""Burst detection and per-epoch firing and burst statistics of spike trains.

Design decision: the detector is the classic sequential ISI rule (a burst starts at a spike preceded by
a long silence and followed quickly by the next spike, and continues while ISIs stay short), rewritten
without a loop over spikes. Spikes linked to their predecessor by an ISI of at most ``end_isi_s`` form
*segments*; scanning the rule spike by spike always starts a burst at the first spike of a segment that
satisfies the onset condition and ends it at the end of that segment, so detection is a handful of
array operations (``diff``, comparisons, ``cumsum``) and gives, for every parameter set, exactly what
the sequential rule gives. Every number that changes a result is a field of :class:`BurstParameters`,
stored as a table next to the results. Times are in seconds; no I/O here.

ISIs are compared with the thresholds with a tolerance of :data:`ISI_TOLERANCE_S` (1 ns): spike times
in float64 seconds carry a rounding error that grows with the time since the start (an ISI of exactly
600 samples at 30 kHz computes as 20.0000000004 ms 4115 s into a recording), so without it two equal
ISIs would be classified differently depending on when they occur. 1 ns is far below any acquisition
clock's tick (33 µs at 30 kHz, 1 µs for Neuralynx timestamps), so it never joins two distinct ISIs.

Conventions of :func:`burst_metrics`:

- An epoch is ``[start_s, stop_s)``; a spike belongs to it when its time is in it.
- A burst belongs to the epoch that holds its first spike; its size counts all its spikes.
- Detection runs on the whole train (the silence before a burst may lie in the previous epoch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nwb_ketamine.analysis.parameters import ParameterSet

#: ISIs within this of a threshold count as equal to it (float64 rounding of spike times, module docstring).
ISI_TOLERANCE_S = 1e-9

#: Keys of :func:`burst_metrics`, in table order, with their meaning.
METRICS = {
    "n_spikes": "Spikes in the epoch.",
    "firing_rate_hz": "Spikes in the epoch / epoch duration (Hz).",
    "n_bursts": "Bursts whose first spike is in the epoch.",
    "burst_rate_hz": "Bursts / epoch duration (Hz).",
    "percent_spikes_in_bursts": "100 x spikes of the epoch that belong to a burst / spikes of the epoch.",
    "mean_spikes_per_burst": "Mean number of spikes per burst (NaN without bursts).",
    "mean_intraburst_frequency_hz": "Mean over bursts of (spikes - 1) / (last - first spike time) (Hz).",
    "tonic_rate_hz": "Spikes of the epoch outside bursts / epoch duration (Hz).",
}


@dataclass(frozen=True)
class BurstParameters(ParameterSet):
    """The burst rule, with units in the field names.

    The defaults are conventions of the lateral habenula literature (e.g. Yang et al., Nature 2018 use
    20 ms onset/end ISIs and a preceding silence), and equal the simulator's ``BurstRule``. They are
    **not** confirmed values of Chen et al. 2024; state your own in the study file when they differ.

    Attributes
    ----------
    onset_isi_s
        A burst starts only where the ISI to the next spike is at most this (default 20 ms).
    end_isi_s
        A burst continues while ISIs are at most this; the first longer ISI ends it (default 20 ms).
    min_silence_s
        The first spike of a burst must follow at least this much silence (default 100 ms); the first
        spike of the train counts as preceded by infinite silence.
    min_spikes
        Candidate bursts with fewer spikes are not bursts (default 2).
    """

    LABEL = "burst analysis"

    onset_isi_s: float = 0.020
    end_isi_s: float = 0.020
    min_silence_s: float = 0.100
    min_spikes: int = 2

    def __post_init__(self):
        if self.onset_isi_s <= 0 or self.end_isi_s <= 0:
            raise ValueError("onset_isi_s and end_isi_s must be > 0")
        if self.min_silence_s < 0:
            raise ValueError(f"min_silence_s must be >= 0, got {self.min_silence_s}")
        if self.min_spikes < 2:
            raise ValueError(f"min_spikes must be >= 2, got {self.min_spikes}")


BurstParameters.DESCRIPTIONS = _DESCRIPTIONS = {
    "onset_isi_s": "a burst starts only where the ISI to the next spike is at most this",
    "end_isi_s": "a burst continues while ISIs are at most this",
    "min_silence_s": "the first spike of a burst follows at least this much silence",
    "min_spikes": "candidate bursts with fewer spikes are not bursts",
}


def burst_bounds(spike_times_s, params: BurstParameters) -> tuple[np.ndarray, np.ndarray]:
    """First and last spike index of every burst.

    Parameters
    ----------
    spike_times_s
        Spike times of one unit in s, sorted.
    params
        The burst rule.

    Returns
    -------
    first, last : ndarray of int64
        Index of the first and of the last spike of each burst, in time order.
    """
    t = np.asarray(spike_times_s, dtype=np.float64)
    empty = np.zeros(0, dtype=np.int64)
    if t.size < 2:
        return empty, empty
    isi = np.diff(t)
    # Segments: maximal runs of spikes linked by ISIs <= end_isi_s. Padding the link mask with False on
    # both sides makes its changes alternate: +1 where a segment starts, -1 after its last ISI.
    linked = np.zeros(isi.size + 2, dtype=np.int8)
    np.less_equal(isi, params.end_isi_s + ISI_TOLERANCE_S, out=linked[1:-1].view(bool))
    changes = np.flatnonzero(np.diff(linked))
    seg_first, seg_last = changes[0::2], changes[1::2]  # spike indices
    if seg_first.size == 0:
        return empty, empty
    if params.min_silence_s - ISI_TOLERANCE_S > params.end_isi_s + ISI_TOLERANCE_S:
        # A spike preceded by the silence is never linked to its predecessor: only a segment's first
        # spike can start a burst, so the onset condition is checked there only.
        before = np.where(seg_first > 0, isi[np.maximum(seg_first - 1, 0)], np.inf)
        ok = (before >= params.min_silence_s - ISI_TOLERANCE_S) & (
            isi[seg_first] <= params.onset_isi_s + ISI_TOLERANCE_S
        )
        first, last = seg_first[ok], seg_last[ok]
    else:
        # General case: the first spike of a segment that meets the onset condition starts the burst.
        onset = np.empty(t.size, dtype=bool)
        onset[0] = True
        np.greater_equal(isi, params.min_silence_s - ISI_TOLERANCE_S, out=onset[1:])
        onset[:-1] &= isi <= params.onset_isi_s + ISI_TOLERANCE_S
        onset[-1] = False
        candidates = np.flatnonzero(onset)
        k = np.searchsorted(candidates, seg_first)
        k_ok = k < candidates.size
        start = np.where(k_ok, candidates[np.minimum(k, candidates.size - 1)] if candidates.size else 0, -1)
        ok = k_ok & (start <= seg_last)
        first, last = start[ok], seg_last[ok]
    big = (last - first + 1) >= params.min_spikes
    return first[big].astype(np.int64), last[big].astype(np.int64)


def detect_bursts(spike_times_s, params: BurstParameters) -> np.ndarray:
    """Burst id of every spike: bursts numbered from 0 in time order, -1 for spikes outside bursts.

    Parameters
    ----------
    spike_times_s
        Spike times of one unit in s, sorted.
    params
        The burst rule.

    Returns
    -------
    ndarray of int64
        One id per spike.

    Examples
    --------
    >>> detect_bursts([0.0, 0.005, 0.010, 0.5, 1.0, 1.004], BurstParameters()).tolist()
    [0, 0, 0, -1, 1, 1]
    """
    t = np.asarray(spike_times_s, dtype=np.float64)
    first, last = burst_bounds(t, params)
    out = np.full(t.size, -1, dtype=np.int64)
    if first.size:
        # Index and id of every spike inside a burst, built from the burst extents (O(spikes in bursts)).
        sizes = last - first + 1
        offsets = np.cumsum(sizes) - sizes
        within = np.arange(int(sizes.sum()), dtype=np.int64) - np.repeat(offsets, sizes)
        out[np.repeat(first, sizes) + within] = np.repeat(np.arange(first.size, dtype=np.int64), sizes)
    return out


def burst_metrics(spike_times_s, start_s: float, stop_s: float, params: BurstParameters, burst_id=None) -> dict:
    """Firing and burst statistics of one unit in one epoch ``[start_s, stop_s)``.

    Parameters
    ----------
    spike_times_s
        All spike times of the unit in s, sorted (the whole train, so that the silence before a burst
        at the start of the epoch is seen).
    start_s, stop_s
        The epoch, in the same clock.
    params
        The burst rule.
    burst_id
        Burst id per spike from :func:`detect_bursts` on the same train, to avoid detecting again
        for every epoch.

    Returns
    -------
    dict
        The keys of :data:`METRICS`.
    """
    t = np.asarray(spike_times_s, dtype=np.float64)
    b = detect_bursts(t, params) if burst_id is None else np.asarray(burst_id)
    duration = float(stop_s) - float(start_s)
    if not duration > 0:
        raise ValueError(f"epoch [{start_s}, {stop_s}) is empty")
    lo, hi = np.searchsorted(t, [start_s, stop_s], side="left")
    te, be = t[lo:hi], b[lo:hi]
    n = int(te.size)
    in_burst = be >= 0
    n_in = int(np.count_nonzero(in_burst))
    # Bursts starting in the epoch: first spike of a burst id (the spike before has another id).
    starts = in_burst.copy()
    starts[1:] &= be[1:] != be[:-1]
    if lo > 0 and n and be[0] >= 0 and b[lo - 1] == be[0]:
        starts[0] = False
    ids = be[starts]
    if ids.size:
        # Bursts may end after the epoch: sizes and spans come from the whole train.
        first, last = _bounds_of(b, ids)
        sizes = last - first + 1
        spans = t[last] - t[first]
        mean_size = float(sizes.mean())
        intraburst = float(np.mean((sizes - 1) / spans))
    else:
        mean_size = intraburst = math.nan
    return {
        "n_spikes": n,
        "firing_rate_hz": n / duration,
        "n_bursts": int(ids.size),
        "burst_rate_hz": ids.size / duration,
        "percent_spikes_in_bursts": 100.0 * n_in / n if n else 0.0,
        "mean_spikes_per_burst": mean_size,
        "mean_intraburst_frequency_hz": intraburst,
        "tonic_rate_hz": (n - n_in) / duration,
    }


def _bounds_of(burst_id: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the first and last spike of bursts ``ids`` (sorted) in a train's burst ids."""
    # Burst ids are consecutive and in time order, so a sorted search finds their extents.
    in_burst = np.flatnonzero(burst_id >= 0)
    values = burst_id[in_burst]
    first = in_burst[np.searchsorted(values, ids, side="left")]
    last = in_burst[np.searchsorted(values, ids, side="right") - 1]
    return first, last


def epoch_burst_metrics(spike_times_s, epochs, params: BurstParameters) -> list[dict]:
    """:func:`burst_metrics` of one unit for each ``(name, start_s, stop_s)`` epoch, with ``epoch`` added.

    Bursts are detected once on the whole train.

    Parameters
    ----------
    spike_times_s
        The unit's spike times (s), sorted.
    epochs
        ``(name, start_s, stop_s)`` triples; each epoch is ``[start_s, stop_s)`` on the spike clock (s).
    params
        The burst rule.

    Returns
    -------
    list of dict
        One row per epoch: ``epoch``, ``start_s``, ``stop_s`` and the :data:`METRICS` keys.
    """
    t = np.asarray(spike_times_s, dtype=np.float64)
    b = detect_bursts(t, params)
    rows = []
    for name, start, stop in epochs:
        row = {"epoch": name, "start_s": float(start), "stop_s": float(stop)}
        row.update(burst_metrics(t, start, stop, params, burst_id=b))
        rows.append(row)
    return rows
