"""The extracellular signal of a tetrode session, chunk by chunk and independent of the file format.

Design decision: the signal is produced chunk by chunk (``InVivoParameters.chunk_s``) so memory stays
bounded whatever the duration; only the low-rate LFP and the spike table are held for the whole
session. The Open Ephys and Neuralynx writers take the same chunks, so a session's signal is the same
whichever format it is written in.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from .parameters import InVivoParameters


@dataclass(frozen=True)
class SpikeTable:
    """Every spike to embed, sorted by sample: which cluster, how large, with per-cluster waveforms."""

    samples: np.ndarray  # int64, from the first recorded sample
    cluster: np.ndarray  # int64 index into templates
    scale: np.ndarray  # float32 amplitude factor (1 = the template)
    templates_uv: np.ndarray  # float32 (n_clusters, n_waveform_samples, n_channels)


def make_lfp(rng: np.random.Generator, duration_s: float, params: InVivoParameters) -> np.ndarray:
    """Low-rate LFP in uV sampled at ``params.lfp_rate_hz``: theta with slow modulation plus brown noise.

    Parameters
    ----------
    rng
        Random generator.
    duration_s
        Length of the signal, in s.
    params
        The in vivo parameters (LFP rate, theta frequency, amplitude).
    """
    n = int(np.ceil(duration_s * params.lfp_rate_hz)) + 2
    # float32 and in place: a 1 h session is 3.6 M samples, and this must stay small next to the chunks.
    lfp = np.arange(n, dtype=np.float32)
    lfp *= np.float32(2 * np.pi * params.lfp_theta_hz / params.lfp_rate_hz)
    lfp += np.float32(rng.uniform(0, 2 * np.pi))
    np.sin(lfp, out=lfp)
    envelope = np.arange(n, dtype=np.float32)
    envelope *= np.float32(2 * np.pi * 0.1 / params.lfp_rate_hz)
    envelope += np.float32(rng.uniform(0, 2 * np.pi))
    np.sin(envelope, out=envelope)
    envelope *= np.float32(0.4)
    envelope += np.float32(1.0)
    lfp *= envelope
    del envelope
    brown = lfilter([1.0], [1.0, -0.99], rng.standard_normal(n, dtype=np.float32)).astype(np.float32)
    brown /= max(float(brown.std()), 1e-12)
    lfp += brown
    lfp *= np.float32(0.5 * params.lfp_uv)
    return lfp


def signal_chunks(
    rng: np.random.Generator,
    n_samples: int,
    lfp: np.ndarray,
    channel_gain: np.ndarray,
    spikes: SpikeTable,
    params: InVivoParameters,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(first_sample, signal)`` chunks of the extracellular signal in uV, shape (n, n_channels).

    Parameters
    ----------
    rng
        Generator of the background noise. The noise of each chunk and channel is a random stretch of
        one table of ``params.noise_table_samples`` Gaussian samples: eight times faster than fresh
        draws, and nothing downstream can tell.
    n_samples
        Length of the recording.
    lfp
        LFP at ``params.lfp_rate_hz``, shared by all channels.
    channel_gain
        Per-channel LFP gain, shape (n_channels,).
    spikes
        Spikes to embed.
    params
        Sampling rate, noise level and chunk size.
    """
    fs = params.sampling_rate_hz
    chunk = int(params.chunk_s * fs)
    width = spikes.templates_uv.shape[1]
    peak = params.waveform_peak_index
    offsets = np.arange(width)
    table = rng.standard_normal(max(params.noise_table_samples, chunk + 1), dtype=np.float32)
    table *= np.float32(params.noise_uv)
    windows = np.lib.stride_tricks.sliding_window_view(table, chunk)
    for c0 in range(0, n_samples, chunk):
        c1 = min(c0 + chunk, n_samples)
        n = c1 - c0
        data = windows[rng.integers(0, windows.shape[0], channel_gain.size), :n].T.copy()
        # Linear interpolation of the low-rate LFP at this chunk's samples.
        x = np.arange(c0, c1) * (params.lfp_rate_hz / fs)
        i = x.astype(np.int64)
        frac = (x - i).astype(np.float32)
        local_lfp = lfp[i] * (1 - frac) + lfp[i + 1] * frac
        data += local_lfp[:, None] * channel_gain[None, :].astype(np.float32)
        lo = np.searchsorted(spikes.samples, c0 - (width - peak))
        hi = np.searchsorted(spikes.samples, c1 + peak)
        if hi > lo:
            idx = spikes.samples[lo:hi, None] - peak + offsets[None, :] - c0
            wf = spikes.scale[lo:hi, None, None] * spikes.templates_uv[spikes.cluster[lo:hi]]
            valid = (idx >= 0) & (idx < n)
            np.add.at(data, idx[valid], wf[valid])
        yield c0, data
