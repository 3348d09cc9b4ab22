"""Mean and SD spike waveforms cut from a raw recording, in bounded memory.

A bounded subsample of each unit's spikes is read, one short window at a time, so memory does not grow
with the recording.
"""

from __future__ import annotations

import numpy as np

from nwb_ketamine.analysis.quality import UnitsParameters


def raw_waveforms(raw, samples: np.ndarray, channels, params: UnitsParameters) -> tuple[np.ndarray, np.ndarray]:
    """Mean and SD waveform (uV) of a unit on ``channels`` from raw data, over a subsample of spikes.

    Each window has its per-channel median removed first (the slow LFP and offsets are not part of the
    spike). Windows that would cross the ends of the recording are skipped.

    Parameters
    ----------
    raw
        The raw recording (``read(start, stop, channels)``, ``gain_uv``, ``sampling_rate_hz``, ``n_samples``).
    samples
        The unit's spike samples.
    channels
        The unit's tetrode channels.
    params
        The window and the number of spikes averaged.
    """
    rate = float(raw.sampling_rate_hz)
    before = int(round(params.waveform_before_s * rate))
    width = before + int(round(params.waveform_after_s * rate))
    channels = list(channels)
    samples = np.asarray(samples, dtype=np.int64)
    samples = samples[(samples - before >= 0) & (samples - before + width <= raw.n_samples)]
    if samples.size == 0:
        nan = np.full((width, len(channels)), np.nan)
        return nan, nan.copy()
    if samples.size > params.max_waveform_spikes:
        samples = samples[np.linspace(0, samples.size - 1, params.max_waveform_spikes).round().astype(np.int64)]
    gain = np.asarray(raw.gain_uv, dtype=np.float64)
    gain = gain[channels] if gain.ndim and gain.size > 1 else np.full(len(channels), float(gain))
    total = np.zeros((width, len(channels)))
    total_sq = np.zeros((width, len(channels)))
    for s in samples:
        w = np.asarray(raw.read(int(s - before), int(s - before + width), channels), dtype=np.float64) * gain
        w -= np.median(w, axis=0)
        total += w
        total_sq += w * w
    n = samples.size
    mean = total / n
    sd = np.sqrt(np.maximum(total_sq / n - mean * mean, 0.0) * (n / max(n - 1, 1)))
    return mean, sd


def stack_padded(arrays: list[np.ndarray]) -> np.ndarray:
    """Stack per-unit (samples, channels) waveforms, NaN-padding tetrodes with fewer channels.

    Parameters
    ----------
    arrays
        One (samples, channels) array per unit; the sample counts are equal.

    Returns
    -------
    ndarray
        (units, samples, most channels).
    """
    width = max(a.shape[1] for a in arrays)
    return np.stack([np.pad(a, ((0, 0), (0, width - a.shape[1])), constant_values=np.nan) for a in arrays])
