"""MClust ``.t`` cluster files → :class:`~nwb_ketamine.converters.units.SortedUnits`.

Design decision: a small parser of our own (neo does not read ``.t``). Format, as MClust's
``WriteTFiles`` writes it and ``LoadSpikes`` reads it: a text header from ``%%BEGINHEADER`` to a line
``%%ENDHEADER``, then the cluster's spike times as big-endian uint32 in units of 100 µs (0.1 ms) on the
Neuralynx clock. (The ``.t64`` variant, uint64 µs, is not handled.) MClust saves only accepted
clusters, so every unit is 'good'. The file name ``TT<n>_<k>.t`` gives tetrode n and cluster k.

The times have no sampling rate: the raw recording's rate must be given, and the clock origin is the
first timestamp of the session's ``.ncs`` files (0 without them). Times are converted to the nearest
sample, so they are exact only to 100 µs, as stored.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nwb_ketamine.converters.units import SortedUnits, neuralynx_clock_origin, tetrode_from_name
from nwb_ketamine.errors import ConversionError

END = b"%%ENDHEADER"
TICK_S = 1e-4


def read_t_file(path) -> np.ndarray:
    """Spike timestamps of one ``.t`` file, in 100 µs ticks (uint64 array)."""
    path = Path(path)
    data = path.read_bytes()
    end = data.find(END)
    if not data.startswith(b"%%BEGINHEADER") or end < 0:
        raise ConversionError(f"{path}: no MClust header ('%%BEGINHEADER' ... '%%ENDHEADER'); not a .t file")
    start = data.index(b"\n", end) + 1 if b"\n" in data[end:] else len(data)
    body = data[start:]
    if len(body) % 4:
        raise ConversionError(f"{path}: {len(body)} bytes after the header is not whole uint32 times; truncated")
    return np.frombuffer(body, dtype=">u4").astype(np.uint64)


def read_mclust(path, *, session=None, sampling_rate_hz: float | None = None) -> SortedUnits:
    """Read a folder of ``.t`` files (or one file); ``sampling_rate_hz`` is required."""
    path = Path(path)
    if sampling_rate_hz is None:
        raise ConversionError(f"{path}: MClust .t files carry no sampling rate; give the raw recording's rate")
    files = sorted(path.glob("*.t")) if path.is_dir() else [path]
    if not files:
        raise ConversionError(f"{path}: no .t files")
    origin_us = neuralynx_clock_origin(session) or 0
    ids, spikes, tetrodes = [], [], []
    for file in files:
        ticks = read_t_file(file)
        t_s = ticks.astype(np.float64) * TICK_S - origin_us * 1e-6
        ids.append(file.stem)
        spikes.append(np.rint(t_s * sampling_rate_hz).astype(np.int64))
        tetrodes.append(tetrode_from_name(file, r"(?:TT|Sc|tetrode)(\d+)"))
    return SortedUnits(ids, spikes, float(sampling_rate_hz), ["good"] * len(ids), tetrodes)
