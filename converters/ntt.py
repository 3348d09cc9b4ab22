"""Neuralynx ``.ntt`` tetrode spike files → :class:`~nwb_ketamine.converters.sorted_units.SortedUnits`.

Design decision: our own small parser (a numpy structured dtype, the same record layout as neo's
``get_nse_or_ntt_dtype``), tested value for value against neo 0.14.6's ``NeuralynxRawIO`` on files
written in the tests (``tests/sorting/test_ntt_neo.py``: unit ids, timestamps, raw samples, gain and
scaled waveforms). We do not read through neo because ``NeuralynxRawIO`` reads a folder as one
recording: with ``.ncs`` files beside the ``.ntt`` it keeps only the spikes inside the ``.ncs``
segments (spikes in a gap would be dropped silently), its times are relative to a start that depends on
which other files are in the folder, and it refuses two ``.ntt`` files with the same ``-ADChannel``
ids. The sorting is the cell number of each record (written by SpikeSort3D or Cheetah's online
sorter), which needs none of that.

Format (Neuralynx file-format documentation): a 16 kB text header of ``-Key value`` lines, then
304-byte little-endian records::

    uint64 timestamp (µs), uint32 acquisition entity, uint32 cell number, 8 int32 features,
    32 x 4 int16 samples (sample-major)

Header keys used: ``-SamplingFrequency`` (waveform rate), ``-ADBitVolts`` (volts per count, one per
channel), ``-InputInverted`` (``True``: the amplifier inverted the input, so the scale is negated, as
neo does), ``-AcqEntName`` and ``-ADChannel`` (the channel names, ``TT6/AD20`` for entity TT6 on AD
channel 20). Cell 0 is the unclassified spikes ('unsorted'); other cells were cut by a person ('good').
The file name ``TT<n>.ntt`` gives tetrode n (the study tetrode with ``number: n``).

Clock: the origin is the first timestamp of the session's ``.ncs`` files (the raw recording's first
sample); without them it is the zero of the Neuralynx clock. Times are rounded to ``sampling_rate_hz``
(the raw recording's), else to ``-SamplingFrequency``. The spike time is the record's timestamp (the
waveform's 8th sample in Cheetah's default alignment). The files state no duration (``duration_s`` None).
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import numpy as np

from nwb_ketamine.converters.sorted_units import (
    SortedUnits,
    UnitCollector,
    neuralynx_clock_origin,
    tetrode_index,
    tetrode_number,
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
READER = "nwb_ketamine.converters.ntt (Neuralynx .ntt records; checked against neo 0.14.6 NeuralynxRawIO)"
NAME_PATTERN = r"(?:TT|Sc|Tet|tetrode)(\d+)"


def _read_header(path: Path) -> dict[str, str]:
    """``-Key value`` lines of the 16 kB header."""
    with open(path, "rb") as f:
        raw = f.read(HEADER_BYTES)
    if len(raw) < HEADER_BYTES:
        raise ConversionError(f"{path}: shorter than the 16 kB Neuralynx header; not an .ntt file, check sorting.path")
    out = {}
    for line in raw.rstrip(b"\x00").decode("latin-1").splitlines():
        line = line.strip()
        if line.startswith("-"):
            key, _, value = line[1:].partition(" ")
            out[key] = value.strip()
    return out


def _uv_per_count(header: dict[str, str], path) -> np.ndarray:
    """Microvolts per sample count of the four channels: ``ADBitVolts`` x 1e6, negated when ``InputInverted``."""
    try:
        bit_volts = np.array([float(v) for v in header["ADBitVolts"].split()], dtype=np.float64)
    except (KeyError, ValueError):
        raise ConversionError(f"{path}: header lacks -ADBitVolts; not a Cheetah .ntt file") from None
    if bit_volts.size == 1:
        bit_volts = np.repeat(bit_volts, 4)
    if bit_volts.size != 4:
        raise ConversionError(f"{path}: -ADBitVolts has {bit_volts.size} values for the 4 channels of a tetrode")
    inverted = header.get("InputInverted", "False").strip().lower() == "true"
    return bit_volts * 1e6 * (-1.0 if inverted else 1.0)


def _channel_names(header: dict[str, str], path) -> list[str]:
    """``<AcqEntName>/AD<ADChannel>`` of the four channels (``TT6/AD20``...), from the header."""
    entity = (header.get("AcqEntName") or Path(path).stem).split()[0]
    channels = header.get("ADChannel", "").split()
    if len(channels) != 4:
        return [f"{entity}/{i}" for i in range(4)]
    return [f"{entity}/AD{c}" for c in channels]


def read_ntt_file(path) -> dict:
    """Read one ``.ntt`` file.

    Parameters
    ----------
    path
        The ``.ntt`` file.

    Returns
    -------
    dict
        ``timestamps_us`` (int64), ``cell`` (int64), ``waveforms_uv`` (n, 32, 4 float64),
        ``sampling_rate_hz``, ``channel_names`` and ``header``.
    """
    path = Path(path)
    header = _read_header(path)
    try:
        rate = float(header["SamplingFrequency"])
    except (KeyError, ValueError):
        raise ConversionError(f"{path}: header lacks -SamplingFrequency; not a Cheetah .ntt file") from None
    scale = _uv_per_count(header, path)
    size = path.stat().st_size - HEADER_BYTES
    if size % RECORD.itemsize:
        raise ConversionError(
            f"{path}: {size} bytes of records is not whole {RECORD.itemsize}-byte spikes; the file is truncated"
        )
    data = np.fromfile(path, dtype=RECORD, offset=HEADER_BYTES)
    return {
        "timestamps_us": data["timestamp"].astype(np.int64),
        "cell": data["cell"].astype(np.int64),
        "waveforms_uv": data["samples"].astype(np.float64) * scale,
        "sampling_rate_hz": rate,
        "channel_names": _channel_names(header, path),
        "header": header,
    }


def read_ntt(path, *, session=None, sampling_rate_hz: float | None = None) -> SortedUnits:
    """Read a folder of ``.ntt`` files (or one file): one unit per file and cell number.

    Parameters
    ----------
    path
        A folder of ``TT<n>.ntt`` files or one of them.
    session
        The in vivo session: ``TT<n>.ntt`` belongs to its tetrode whose ``number`` is n; its raw
        ``.ncs`` files give the clock origin.
    sampling_rate_hz
        The raw recording's rate; None: the files' ``-SamplingFrequency``.
    """
    path = Path(path)
    files = sorted(path.glob("*.[nN][tT][tT]")) if path.is_dir() else [path]
    if not files:
        raise ConversionError(f"{path}: no .ntt files; check sorting.path")
    origin_us = neuralynx_clock_origin(session) or 0
    units = UnitCollector()
    names: dict[int, list[str]] = {}
    rate = sampling_rate_hz
    waveform_rate = None
    for file in files:
        content = read_ntt_file(file)
        rate = rate or content["sampling_rate_hz"]
        if waveform_rate is not None and content["sampling_rate_hz"] != waveform_rate:
            raise ConversionError(
                f"{file}: waveforms at {content['sampling_rate_hz']:g} Hz, other .ntt files at {waveform_rate:g} Hz; "
                "sorting.path must name one recording's files"
            )
        waveform_rate = content["sampling_rate_hz"]
        samples = np.rint((content["timestamps_us"] - origin_us) * 1e-6 * rate).astype(np.int64)
        tet = tetrode_index(session, tetrode_number(file, NAME_PATTERN), file)
        names[tet] = content["channel_names"]
        units.add_clusters(content["cell"], samples, content["waveforms_uv"], prefix=file.stem, tetrode=tet, file=file)
    means, sds = units.waveforms()
    return SortedUnits(
        units.ids,
        units.spikes,
        float(cast(float, rate)),  # files is not empty
        units.labels,
        units.tetrodes,
        means,
        sds,
        channel_names=names,
        duration_s=None,
        source_files=tuple(str(f) for f in files),
        reader=READER,
        waveform_rate_hz=waveform_rate,
        unit_files=units.unit_files,
    )
