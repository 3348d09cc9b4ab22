"""Neuralynx ``.ntt`` tetrode spike files → :class:`~nwb_ketamine.converters.units.SortedUnits`.

Design decision: a small documented parser (numpy structured dtype), rather than neo's NeuralynxRawIO,
because the sorting is what matters here (the cell number of each spike, written by SpikeSort3D) and
neo wants a whole consistent Neuralynx folder. Format (Neuralynx file-format documentation): a 16 kB
text header of ``-Key value`` lines (``-SamplingFrequency``, ``-ADBitVolts`` one per channel), then
304-byte little-endian records::

    uint64 timestamp (µs), uint32 acquisition entity, uint32 cell number, 8 int32 features,
    32 x 4 int16 samples (sample-major)

Cell 0 is the unclassified spikes ('unsorted'); other cells 'good'. Samples times ``ADBitVolts`` are
volts. The file name ``TT<n>.ntt`` gives tetrode n. The clock origin is the first timestamp of the
session's ``.ncs`` files (0 without them); the spike time is its timestamp (the waveform's 8th sample
in Cheetah's default alignment).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nwb_ketamine.converters.units import (
    SortedUnits,
    label_of_cluster,
    neuralynx_clock_origin,
    tetrode_from_name,
)
from nwb_ketamine.errors import ConversionError

HEADER_BYTES = 16384
RECORD = np.dtype(
    [
        ("timestamp", "<u8"),
        ("entity", "<u4"),
        ("cell", "<u4"),
        ("features", "<i4", 8),
        ("samples", "<i2", (32, 4)),
    ]
)


def read_header(path: Path) -> dict[str, str]:
    """``-Key value`` lines of the 16 kB header."""
    with open(path, "rb") as f:
        raw = f.read(HEADER_BYTES)
    if len(raw) < HEADER_BYTES:
        raise ConversionError(f"{path}: shorter than the 16 kB Neuralynx header; not an .ntt file")
    out = {}
    for line in raw.rstrip(b"\x00").decode("latin-1").splitlines():
        line = line.strip()
        if line.startswith("-"):
            key, _, value = line[1:].partition(" ")
            out[key] = value.strip()
    return out


def read_ntt_file(path) -> dict:
    """Timestamps (µs), cell numbers, waveforms in uV (n, 32, 4) and sampling rate of one ``.ntt`` file."""
    path = Path(path)
    header = read_header(path)
    try:
        rate = float(header["SamplingFrequency"])
        bit_volts = np.array([float(v) for v in header["ADBitVolts"].split()], dtype=np.float64)
    except (KeyError, ValueError):
        raise ConversionError(f"{path}: header lacks -SamplingFrequency or -ADBitVolts") from None
    size = path.stat().st_size - HEADER_BYTES
    if size % RECORD.itemsize:
        raise ConversionError(f"{path}: records are not whole {RECORD.itemsize}-byte spikes; the file is truncated")
    data = np.fromfile(path, dtype=RECORD, offset=HEADER_BYTES)
    return {
        "timestamps_us": data["timestamp"].astype(np.int64),
        "cell": data["cell"].astype(np.int64),
        "waveforms_uv": data["samples"].astype(np.float64) * bit_volts * 1e6,
        "sampling_rate_hz": rate,
    }


def read_ntt(path, *, session=None, sampling_rate_hz: float | None = None) -> SortedUnits:
    """Read a folder of ``.ntt`` files (or one file): one unit per file and cell number."""
    path = Path(path)
    files = sorted(path.glob("*.[nN][tT][tT]")) if path.is_dir() else [path]
    if not files:
        raise ConversionError(f"{path}: no .ntt files")
    origin_us = neuralynx_clock_origin(session) or 0
    ids, spikes, labels, tetrodes, means, sds = [], [], [], [], [], []
    rate = sampling_rate_hz
    for file in files:
        content = read_ntt_file(file)
        rate = rate or content["sampling_rate_hz"]
        samples = np.rint((content["timestamps_us"] - origin_us) * 1e-6 * rate).astype(np.int64)
        tet = tetrode_from_name(file, r"(?:TT|Sc)(\d+)")
        for cell in np.unique(content["cell"]):
            sel = content["cell"] == cell
            ids.append(f"{file.stem}_{int(cell)}")
            spikes.append(samples[sel])
            labels.append(label_of_cluster(int(cell)))
            tetrodes.append(tet)
            w = content["waveforms_uv"][sel]
            means.append(w.mean(axis=0))
            sds.append(w.std(axis=0, ddof=1) if len(w) > 1 else np.full(w.shape[1:], np.nan))
    return SortedUnits(ids, spikes, float(rate), labels, tetrodes, np.stack(means), np.stack(sds))
