"""Spike trains of lateral habenula units: bursts and tonic spikes, with their ground truth.

Design decision: a train is a sequence of *events*, each a single spike or a burst, generated epoch by
epoch with the epoch's burst probability (stress raises it, ketamine lowers it after the injection).
Every gap is drawn with a floor that makes the burst structure unambiguous for the detector in
``BurstRule``: intraburst ISIs stay far below the onset/end ISI, a burst always follows a long silence
and every other ISI stays above the onset ISI. Burst membership and statistics are therefore taken
from the generated structure, not re-detected, and a detector with the documented rule recovers them
exactly. Times are quantised to the sampling clock before the truth is computed.

Edge probes (:func:`add_edge_probes`) are the deliberate exception: short patterns whose ISIs sit just
under, at and just over the rule's thresholds, each written on the sampling clock and isolated from the
unit's other spikes, so their burst membership is known by construction (:data:`EDGE_PROBES`) for the
simulator's ``BurstRule`` only. ``generate_unit`` never writes them: its trains stay unambiguous.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import NwbKetamineError
from .parameters import BurstRule, SpikeParameters

#: Edge probes: name -> (ISIs, in-burst flag of each spike). An ISI is ``(threshold, side)``: a threshold
#: of the ``BurstRule`` (``onset``, ``end``, ``silence``) with -1, 0 or +1 for ``edge_probe_offset_s``
#: under it, at it or over it, or ``("intra", 0)`` for ``edge_probe_intraburst_isi_s``. The flags follow
#: from the rule's text for an isolated pattern (no other spike within ``pre_burst_silence_s``) under the
#: conditions :func:`probe_isis` checks; "at most" and "at least" include the threshold itself.
EDGE_PROBES: dict[str, tuple[tuple[tuple[str, int], ...], tuple[int, ...]]] = {
    "onset_under": ((("onset", -1),), (1, 1)),
    "onset_at": ((("onset", 0),), (1, 1)),
    "onset_over": ((("onset", 1),), (0, 0)),
    "end_under": ((("intra", 0), ("end", -1)), (1, 1, 1)),
    "end_at": ((("intra", 0), ("end", 0)), (1, 1, 1)),
    "end_over": ((("intra", 0), ("end", 1)), (1, 1, 0)),
    "silence_under": ((("silence", -1), ("intra", 0)), (0, 0, 0)),
    "silence_at": ((("silence", 0), ("intra", 0)), (0, 1, 1)),
    "silence_over": ((("silence", 1), ("intra", 0)), (0, 1, 1)),
}


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


def probe_isis(rule: BurstRule, params: SpikeParameters, sampling_rate_hz: float) -> dict[str, tuple[list[int], tuple]]:
    """The ISIs (in samples) and in-burst flags of every edge probe at one sampling rate.

    A probe whose "at" ISI is not a whole number of samples is left out (its threshold is not on the
    clock, so no ISI can equal it).

    Parameters
    ----------
    rule
        The burst rule the flags hold for.
    params
        Offsets and intraburst ISI of the probes, and the silence that isolates them.
    sampling_rate_hz
        The clock the ISIs are written on, in Hz.

    Returns
    -------
    dict
        Probe name to (ISIs in samples, in-burst flag of each spike).

    Raises
    ------
    NwbKetamineError
        When the rule and the probe parameters do not make the flags of :data:`EDGE_PROBES` true.
    """
    fs = sampling_rate_hz
    o, e, s = rule.onset_isi_s, rule.end_isi_s, rule.min_silence_s
    d, intra = params.edge_probe_offset_s, params.edge_probe_intraburst_isi_s
    problems = []
    if rule.min_spikes != 2:
        problems.append("min_spikes must be 2 (two-spike probes are bursts)")
    if not intra < min(o, e):
        problems.append("edge_probe_intraburst_isi_s must be under the onset and end ISIs")
    if round(d * fs) < 1:
        problems.append("edge_probe_offset_s must be at least one sample")
    if not max(o, e) + d < s - d:
        problems.append("onset/end ISI + offset must stay under min_silence - offset")
    if params.pre_burst_silence_s < s or params.pre_burst_silence_s <= max(o, e) + d:
        problems.append("pre_burst_silence_s must be at least min_silence_s and over the onset/end ISIs")
    if problems:
        raise NwbKetamineError("edge probes do not fit the burst rule: " + "; ".join(problems))
    thresholds = {"onset": o, "end": e, "silence": s}
    out = {}
    for name, (isis, flags) in EDGE_PROBES.items():
        samples = []
        for threshold, side in isis:
            if threshold == "intra":
                samples.append(int(round(intra * fs)))
                continue
            at = thresholds[threshold] * fs
            if side == 0 and not math.isclose(at, round(at), abs_tol=1e-6):
                break
            samples.append(int(round(at + side * d * fs)))
        else:
            out[name] = (samples, flags)
    return out


def add_edge_probes(
    rng: np.random.Generator,
    train: SpikeTrain,
    windows: list[tuple[float, float]],
    rule: BurstRule,
    params: SpikeParameters,
    sampling_rate_hz: float,
) -> tuple[SpikeTrain, list[dict]]:
    """Write every edge probe ``params.edge_probe_repeats`` times into a train, each isolated.

    Each probe goes at a random place inside one of ``windows`` with ``pre_burst_silence_s`` of room on
    both sides; the train's events (single spikes and whole bursts) with a spike in that room are left
    out, which keeps the burst membership of every other spike. A probe that finds no room is left out.

    Parameters
    ----------
    rng
        Random generator (of the probes only).
    train
        The unit's train.
    windows
        ``(start_s, stop_s)`` stretches a probe may lie in (each inside one epoch and one recorded stretch).
    rule
        The burst rule the probes' flags hold for.
    params
        Probe parameters.
    sampling_rate_hz
        The train's clock, in Hz.

    Returns
    -------
    train : SpikeTrain
        The train with the probes, bursts renumbered from 0 in time order.
    probes : list of dict
        One per probe written: ``probe``, ``first_sample``, ``isis_samples``, ``in_burst`` (flags per spike).
    """
    fs = sampling_rate_hz
    patterns = [(name, *p) for name, p in probe_isis(rule, params, fs).items()] * params.edge_probe_repeats
    pad = int(math.ceil(params.pre_burst_silence_s * fs)) + 1
    bounds = [(int(math.ceil(a * fs)), int(math.floor(b * fs))) for a, b in windows]
    placed: list[tuple[int, int]] = []  # padded (first, last) of each probe
    probes: list[dict] = []
    for name, isis, flags in patterns:
        span = int(sum(isis))
        room = np.array([max(0, b - a - 2 * pad - span) for a, b in bounds], dtype=float)
        if not room.any():
            continue
        for _ in range(100):
            w = int(rng.choice(len(bounds), p=room / room.sum()))
            first = bounds[w][0] + pad + int(rng.integers(0, int(room[w]) + 1))
            lo, hi = first - pad, first + span + pad
            if all(hi < p0 or lo > p1 for p0, p1 in placed):
                placed.append((lo, hi))
                probes.append({"probe": name, "first_sample": first, "isis_samples": isis, "in_burst": flags})
                break
    samples, burst = train.samples, train.burst_id
    drop = np.zeros(samples.size, dtype=bool)
    for lo, hi in placed:
        drop |= (samples >= lo) & (samples <= hi)
    drop |= np.isin(burst, burst[drop & (burst >= 0)])  # whole bursts go
    samples, burst = samples[~drop], burst[~drop]
    next_id = int(burst.max()) + 1 if burst.size and burst.max() >= 0 else 0
    parts, ids = [samples], [burst]
    for p in probes:
        offsets = np.concatenate(([0], np.cumsum(np.asarray(p["isis_samples"], dtype=np.int64))))
        member = np.asarray(p["in_burst"], dtype=bool)
        parts.append((p["first_sample"] + offsets).astype(np.int64))
        ids.append(np.where(member, next_id, -1).astype(np.int64))
        next_id += int(member.any())
    samples, burst = np.concatenate(parts), np.concatenate(ids)
    order = np.argsort(samples, kind="stable")
    samples, burst = samples[order], burst[order]
    # Renumber bursts from 0 in the order of their first spike.
    in_burst = burst >= 0
    old, first_index = np.unique(burst[in_burst], return_index=True)
    rank = np.empty(old.size, dtype=np.int64)
    rank[np.argsort(first_index)] = np.arange(old.size)
    burst[in_burst] = rank[np.searchsorted(old, burst[in_burst])]
    return SpikeTrain(samples=samples, burst_id=burst), sorted(probes, key=lambda p: p["first_sample"])
