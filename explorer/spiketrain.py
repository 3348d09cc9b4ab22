"""Statistics of one spike train that the unit view plots: ISI histogram, autocorrelogram, binned rates.

Each works on spike times alone (seconds, sorted) and is vectorised, so the unit view recomputes them
live when its parameters change.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def isi_histogram(spike_times_s, bins_per_decade: int = 20, lo_s: float = 1e-3, hi_s: float = 10.0):
    """Counts of ISIs in log-spaced bins from ``lo_s`` to ``hi_s``: (edges_s, counts).

    Parameters
    ----------
    spike_times_s
        Sorted spike times (s).
    bins_per_decade
        Resolution of the logarithmic bins.
    lo_s, hi_s
        Range of the bins (s); shorter and longer ISIs count in the first and last bin.

    Returns
    -------
    tuple of ndarray
        (bin edges in s, counts).
    """
    isi = np.diff(np.asarray(spike_times_s, dtype=float))
    edges = np.logspace(math.log10(lo_s), math.log10(hi_s), int(bins_per_decade * math.log10(hi_s / lo_s)) + 1)
    counts, _ = np.histogram(np.clip(isi, lo_s, hi_s * 0.999999), edges)
    return edges, counts


def autocorrelogram(spike_times_s, window_s: float = 0.1, bin_s: float = 0.001):
    """Counts of spike-time differences in ``[-window_s, window_s]`` (zero lag excluded): (edges_s, counts).

    Only pairs within the window are formed (a sorted search bounds each spike's partners), so the cost
    grows with the number of close pairs, not with the square of the train.

    Parameters
    ----------
    spike_times_s
        Sorted spike times (s).
    window_s
        Half-width of the lags counted (s).
    bin_s
        Bin width (s).

    Returns
    -------
    tuple of ndarray
        (bin edges in s, counts).
    """
    t = np.asarray(spike_times_s, dtype=float)
    n_bins = int(round(window_s / bin_s))
    edges = np.arange(-n_bins, n_bins + 1) * bin_s
    if t.size < 2:
        return edges, np.zeros(edges.size - 1, dtype=np.int64)
    stop = np.searchsorted(t, t + window_s, side="right")
    counts = np.zeros(edges.size - 1, dtype=np.int64)
    lag = 1
    # Lag k: differences between each spike and its k-th successor; stop once none is in the window.
    while True:
        ok = np.arange(t.size - lag)[stop[: t.size - lag] > np.arange(lag, t.size)]
        if ok.size == 0:
            break
        d = t[ok + lag] - t[ok]
        h, _ = np.histogram(np.concatenate([d, -d]), edges)
        counts += h
        lag += 1
    return edges, counts


def binned_rates(spike_times_s, burst_id, start_s: float, stop_s: float, bin_s: float) -> pd.DataFrame:
    """Firing rate (Hz) and % spikes in bursts per time bin: columns start_s, rate_hz, percent_in_bursts.

    Parameters
    ----------
    spike_times_s
        Spike times (s).
    burst_id
        Burst of each spike (-1 outside bursts), as :func:`nwb_ketamine.analysis.bursts.detect_bursts` gives.
    start_s, stop_s
        Span binned (s).
    bin_s
        Bin width (s).

    Returns
    -------
    pandas.DataFrame
        One row per bin.
    """
    t = np.asarray(spike_times_s, dtype=float)
    edges = np.arange(start_s, stop_s + bin_s * 0.5, bin_s)
    if edges.size < 2:
        edges = np.array([start_s, stop_s])
    counts, _ = np.histogram(t, edges)
    in_burst, _ = np.histogram(t[np.asarray(burst_id) >= 0], edges)
    with np.errstate(invalid="ignore", divide="ignore"):
        percent = np.where(counts > 0, 100.0 * in_burst / counts, np.nan)
    return pd.DataFrame({"start_s": edges[:-1], "rate_hz": counts / np.diff(edges), "percent_in_bursts": percent})
