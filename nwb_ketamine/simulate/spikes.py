"""Spike trains of lateral habenula units: bursts and tonic spikes, with their ground truth.

Design decision: a train is a sequence of *events*, each a single spike or a burst, generated epoch by
epoch with the epoch's burst probability (stress raises it, ketamine lowers it after the injection).
Every gap is drawn with a floor that makes the burst structure unambiguous for the detector in
``BurstRule``: intraburst ISIs stay far below the onset/end ISI, a burst always follows a long silence
and every other ISI stays above the onset ISI. Burst membership and statistics are therefore taken
from the generated structure, not re-detected, and a detector with the documented rule recovers them
exactly. Times are quantised to the sampling clock before the truth is computed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .parameters import SpikeParameters


@dataclass(frozen=True)
class SpikeTrain:
    """Spike samples of one unit with burst membership (``burst_id`` is -1 for spikes outside bursts)."""

    samples: np.ndarray  # int64, sample index from the start of the recording
    burst_id: np.ndarray  # int64, one per spike


@dataclass(frozen=True)
class Epoch:
    """A stretch of the recording with constant firing statistics."""

    name: str
    start_s: float
    stop_s: float
    burst_probability: float


def _event_train(
    rng: np.random.Generator,
    start_s: float,
    stop_s: float,
    event_rate_hz: float,
    burst_probability: float,
    params: SpikeParameters,
) -> tuple[np.ndarray, np.ndarray]:
    """Spike times and event index (per spike) of one epoch; bursts are events with more than one spike."""
    duration = stop_s - start_s
    lo, hi = params.burst_spikes_range
    mean_size = 1 + burst_probability * (lo - 1 + (1 - params.burst_size_geometric_p) / params.burst_size_geometric_p)
    mean_isi = np.mean(params.intraburst_isi_s)
    mean_floor = burst_probability * params.pre_burst_silence_s + (1 - burst_probability) * params.min_nonburst_isi_s
    mean_extra = max(float(1.0 / event_rate_hz - mean_floor - (mean_size - 1) * mean_isi), 0.005)
    n_events = int(duration * event_rate_hz * 2 + 20)
    while True:
        is_burst = rng.random(n_events) < burst_probability
        extra = np.minimum(rng.geometric(params.burst_size_geometric_p, n_events) - 1, hi - lo)
        size = np.where(is_burst, lo + extra, 1)
        floor = np.where(is_burst, params.pre_burst_silence_s, params.min_nonburst_isi_s)
        gap = floor + rng.exponential(mean_extra, n_events)
        isi = rng.uniform(*params.intraburst_isi_s, size.sum())
        first = np.cumsum(size) - size
        isi[first] = 0.0
        within = np.cumsum(isi)
        within -= np.repeat(within[first], size)
        duration_of = within[np.cumsum(size) - 1]
        # onset_i = start + sum_{j<=i} gap_j + sum_{j<i} duration_j
        onset = start_s + np.cumsum(gap) + np.concatenate(([0.0], np.cumsum(duration_of)[:-1]))
        end = onset + duration_of
        if end[-1] > stop_s:
            break
        n_events *= 2
    keep = end < stop_s
    n_keep = int(keep.sum())
    n_spikes = int(size[:n_keep].sum())
    times = (np.repeat(onset, size) + within)[:n_spikes]
    event = np.repeat(np.arange(n_events), size)[:n_spikes]
    return times, event


def generate_unit(
    rng: np.random.Generator,
    epochs: list[Epoch],
    event_rate_hz: float,
    sampling_rate_hz: float,
    params: SpikeParameters,
) -> SpikeTrain:
    """Generate one unit's spike train over consecutive epochs.

    Parameters
    ----------
    rng
        Random generator.
    epochs
        Consecutive epochs; each has its own burst probability (0 for a tonic unit).
    event_rate_hz
        Events (single spikes or bursts) per second.
    sampling_rate_hz
        Clock the spike times are quantised to.
    params
        Burst shape and gap floors.

    Returns
    -------
    SpikeTrain
        Spike samples and burst ids (bursts numbered from 0 in time order).
    """
    all_times, all_burst = [], []
    next_burst = 0
    for epoch in epochs:
        times, event = _event_train(rng, epoch.start_s, epoch.stop_s, event_rate_hz, epoch.burst_probability, params)
        counts = np.bincount(event, minlength=event.max() + 1 if event.size else 0)
        in_burst = counts[event] > 1
        burst_events = np.flatnonzero(counts > 1)
        ids = np.full(counts.size, -1, dtype=np.int64)
        ids[burst_events] = next_burst + np.arange(burst_events.size)
        next_burst += burst_events.size
        all_times.append(times)
        all_burst.append(np.where(in_burst, ids[event], -1))
    times = np.concatenate(all_times) if all_times else np.zeros(0)
    burst = np.concatenate(all_burst) if all_burst else np.zeros(0, dtype=np.int64)
    samples = np.rint(times * sampling_rate_hz).astype(np.int64)
    return SpikeTrain(samples=samples, burst_id=burst.astype(np.int64))


def poisson_train(
    rng: np.random.Generator, duration_s: float, rate_hz: float, refractory_s: float, sampling_rate_hz: float
) -> np.ndarray:
    """Spike samples of a Poisson process with a dead time (multi-unit activity, artefacts).

    Parameters
    ----------
    rng
        Random generator.
    duration_s
        Length of the train, in s.
    rate_hz
        Mean rate, in Hz.
    refractory_s
        Dead time after each spike, in s.
    sampling_rate_hz
        Sampling rate the spike times are rounded to, in Hz.
    """
    n = int(duration_s * rate_hz * 1.5 + 20)
    gaps = refractory_s + rng.exponential(max(1.0 / rate_hz - refractory_s, 1e-4), n)
    times = np.cumsum(gaps)
    times = times[times < duration_s - 0.01]
    return np.rint(times * sampling_rate_hz).astype(np.int64)


def position_in_burst(burst_id: np.ndarray) -> np.ndarray:
    """0 for the first spike of a burst and for spikes outside bursts, 1 for the second spike, and so on.

    Expects the burst ids of one train in time order.

    Parameters
    ----------
    burst_id
        Burst id of each spike (-1 outside bursts), in time order.
    """
    starts = np.ones(burst_id.size, dtype=bool)
    starts[1:] = burst_id[1:] != burst_id[:-1]
    index = np.arange(burst_id.size)
    first = np.maximum.accumulate(np.where(starts, index, 0))
    return np.where(burst_id >= 0, index - first, 0)


def burst_table(train: SpikeTrain, sampling_rate_hz: float) -> list[dict]:
    """One row per burst: id, first and last spike time (s), number of spikes, intraburst frequency (Hz).

    Parameters
    ----------
    train
        The spike train.
    sampling_rate_hz
        Sampling rate of the train's samples, in Hz.
    """
    in_burst = train.burst_id >= 0
    ids, first, sizes = np.unique(train.burst_id[in_burst], return_index=True, return_counts=True)
    t = train.samples[in_burst] / sampling_rate_hz
    last = first + sizes - 1
    return [
        {
            "burst_id": int(b),
            "first_spike_s": float(t[f]),
            "last_spike_s": float(t[la]),
            "n_spikes": int(n),
            "intraburst_frequency_hz": float((n - 1) / (t[la] - t[f])),
        }
        for b, f, la, n in zip(ids, first, last, sizes, strict=True)
    ]


def burst_statistics(
    train: SpikeTrain,
    start_s: float,
    stop_s: float,
    sampling_rate_hz: float,
    gaps: tuple[tuple[float, float], ...] = (),
) -> dict:
    """Firing and burst statistics of the spikes in ``[start_s, stop_s)``.

    A burst belongs to the epoch that holds its first spike (the generator never lets a burst cross an
    epoch boundary). Definitions: ``percent_spikes_in_bursts`` = 100 x spikes in bursts / spikes;
    ``burst_rate_hz`` = bursts / epoch duration; ``mean_spikes_per_burst``; ``mean_intraburst_frequency_hz``
    = mean over bursts of (spikes - 1) / (last - first spike time); ``tonic_rate_hz`` = spikes outside
    bursts / epoch duration. The epoch duration excludes ``gaps`` (pauses of recording, ``(start, stop)``
    in s): rates are per recorded second.

    Parameters
    ----------
    train
        The spike train.
    start_s, stop_s
        The epoch, in s on the train's clock.
    sampling_rate_hz
        Sampling rate of the train's samples, in Hz.
    gaps
        Pauses of recording, ``(start, stop)`` in s; excluded from the epoch duration.
    """
    t = train.samples / sampling_rate_hz
    sel = (t >= start_s) & (t < stop_s)
    t, b = t[sel], train.burst_id[sel]
    duration = stop_s - start_s - sum(max(0.0, min(g1, stop_s) - max(g0, start_s)) for g0, g1 in gaps)
    in_burst = b >= 0
    ids, first_idx, sizes = np.unique(b[in_burst], return_index=True, return_counts=True)
    tb = t[in_burst]
    last_idx = first_idx + sizes - 1
    spans = tb[last_idx] - tb[first_idx] if ids.size else np.zeros(0)
    n = int(t.size)
    return {
        "n_spikes": n,
        "firing_rate_hz": n / duration,
        "n_bursts": int(ids.size),
        "burst_rate_hz": ids.size / duration,
        "percent_spikes_in_bursts": 100.0 * int(in_burst.sum()) / n if n else 0.0,
        "mean_spikes_per_burst": float(sizes.mean()) if ids.size else float("nan"),
        "mean_intraburst_frequency_hz": float(np.mean((sizes - 1) / spans)) if ids.size else float("nan"),
        "tonic_rate_hz": int((~in_burst).sum()) / duration,
    }
