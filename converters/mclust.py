"""MClust cluster files (``.t``, ``.t32``, ``.t64``, ``._t``…) → :class:`.sorted_units.SortedUnits`.

Design decision: a small parser of our own (neo does not read MClust output). Formats, as MClust writes
them (``MClustData.WriteTfiles`` of MClust 4, ``WriteTFiles`` of MClust 3) and reads them
(``LoadSpikes``): a text header from a line ``%%BEGINHEADER`` to a line ``%%ENDHEADER`` (MClust's
``WriteHeader``), then the cluster's spike times as big-endian unsigned integers in units of 0.1 ms
(100 µs) on the Neuralynx clock, one per spike:

- 32-bit (uint32): ``.t`` (MClust 3.x, and MClust 4 with ``tEXT = 't'``), ``.t32``;
- 64-bit (uint64): ``.t64`` (MClust 4 with ``tEXT = 't64'``; still in 0.1 ms units, although the header
  line MClust writes says "uint32").

The width is taken from the extension, as ``LoadSpikes`` does, and checked against the content: MClust
saves a cluster's times sorted, so a ``.t`` file whose uint32 reading goes backwards (or whose every
other word is zero: the high halves of uint64 values) but whose uint64 reading is sorted is a 64-bit file
with a 32-bit name (the BNT toolbox reports such files) and is read as 64-bit; a file sorted under
neither reading is refused. ``.raw32``/``.raw64`` (times in whole seconds) are refused: they cannot give
spike times. The format read is stated in ``SortedUnits.reader``.

Labels: MClust saves only the clusters a person kept, so a ``.t`` unit is 'good'; ``._t`` files are the
clusters MClust's "Which clusters should be saved with an '_t' extension?" dialog set apart (labs use it
for clusters not clean enough to call single units): 'mua'. The file name ``TT<n>_<k>.t`` (MClust's
``TfileBaseName``: the tetrode file's name, ``_`` and the cluster number) gives tetrode n and cluster k.

Clock: the times have no sampling rate. With ``sampling_rate_hz`` (the raw recording's) they are rounded
to it; without, they stay on MClust's own 10 kHz tick clock (exact). The origin is the first timestamp of
the session's ``.ncs`` files (the raw recording's first sample); without them it is the zero of the
Neuralynx clock. The files state no duration (``duration_s`` None).

Waveforms and channel names: MClust writes its ``.t`` files next to the tetrode file it cut, so when
``<tetrode file name>.ntt`` sits beside a ``.t`` file its header gives the channel names and each ``.t``
spike is matched to the ``.ntt`` record at the same time (within ±50 µs, the rounding of the 0.1 ms
tick); the unit's mean and SD waveforms are those records' samples in uV. A unit with a spike no record
matches gets no waveform. Without the ``.ntt`` there are neither.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nwb_ketamine.converters.sorted_units import (
    SortedUnits,
    mean_and_sd,
    neuralynx_clock_origin,
    tetrode_index,
    tetrode_number,
)
from nwb_ketamine.errors import ConversionError

BEGIN, END = b"%%BEGINHEADER", b"%%ENDHEADER"
TICK_S = 1e-4
TICKS_PER_S = 10_000.0
#: extension → bits, as MClust's LoadSpikes reads them.
WIDTH = {".t": 32, ".t32": 32, "._t": 32, "._t32": 32, ".t64": 64, "._t64": 64}
READER = "nwb_ketamine.converters.mclust (MClust .t/.t64 cluster files, 0.1 ms big-endian ticks)"
NAME_PATTERN = r"(?:TT|Sc|tetrode|Tet)(\d+)"


def _extension(path: Path) -> str:
    name = path.name
    for ext in sorted(WIDTH, key=len, reverse=True):
        if name.endswith(ext):
            return ext
    return path.suffix


def _body(path: Path) -> bytes:
    data = path.read_bytes()
    end = data.find(END)
    if not data.startswith(BEGIN) or end < 0:
        raise ConversionError(
            f"{path}: no MClust header ('%%BEGINHEADER' ... '%%ENDHEADER'); not an MClust .t file, write the "
            "clusters again from MClust"
        )
    newline = data.find(b"\n", end)
    return data[newline + 1 :] if newline >= 0 else b""


def _sorted(values: np.ndarray) -> bool:
    return bool(np.all(np.diff(values.astype(np.int64)) >= 0)) if values.size > 1 else True


def read_t_file(path) -> tuple[np.ndarray, int]:
    """Spike times of one MClust file in 0.1 ms ticks (uint64) and the integer width read (32 or 64).

    Parameters
    ----------
    path
        The MClust cluster file.

    Raises
    ------
    ConversionError
        No MClust header, a body that is not whole integers, times not sorted in either width, or a
        ``.raw32``/``.raw64`` file.
    """
    path = Path(path)
    ext = _extension(path)
    if ext in (".raw32", ".raw64", "._raw32", "._raw64"):
        raise ConversionError(
            f"{path}: MClust {ext} files hold whole seconds, not spike times; write the clusters as .t or .t64"
        )
    body = _body(path)
    bits = WIDTH.get(ext, 32)
    as32 = np.frombuffer(body[: len(body) // 4 * 4], dtype=">u4").astype(np.uint64)
    as64 = np.frombuffer(body[: len(body) // 8 * 8], dtype=">u8")
    if bits == 32:
        if len(body) % 4:
            raise ConversionError(f"{path}: {len(body)} bytes after the header is not whole uint32 times; truncated")
        high_words_zero = as32.size >= 2 and as32.size % 2 == 0 and not np.any(as32[0::2])
        if (not _sorted(as32) or high_words_zero) and len(body) % 8 == 0 and _sorted(as64):
            return as64.astype(np.uint64), 64
        if not _sorted(as32):
            raise ConversionError(f"{path}: spike times are not sorted as uint32 or uint64; not an MClust .t file")
        return as32, 32
    if len(body) % 8:
        raise ConversionError(f"{path}: {len(body)} bytes after the header is not whole uint64 times; truncated")
    if not _sorted(as64):
        raise ConversionError(f"{path}: spike times are not sorted as uint64; not an MClust .t64 file")
    return as64.astype(np.uint64), 64


def _files(path: Path) -> list[Path]:
    if not path.is_dir():
        return [path]
    return sorted(p for p in path.iterdir() if p.is_file() and _extension(p) in WIDTH)


def _ntt_for(t_file: Path) -> Path | None:
    """The tetrode file MClust cut to write ``t_file`` (``TT6_01.t`` → ``TT6.ntt``), when it is beside it."""
    stem = t_file.name[: -len(_extension(t_file))]
    base = stem.rsplit("_", 1)[0]
    for candidate in (t_file.with_name(f"{base}.ntt"), t_file.with_name(f"{base}.NTT")):
        if candidate.exists():
            return candidate
    return None


def read_mclust(path, *, session=None, sampling_rate_hz: float | None = None) -> SortedUnits:
    """Read a folder of MClust cluster files (or one file); see the module docstring for the rules.

    Parameters
    ----------
    path
        A folder of ``.t``/``.t64``/``._t`` files or one of them.
    session
        The in vivo session: ``TT<n>_<k>.t`` belongs to its tetrode whose ``number`` is n; its raw
        ``.ncs`` files give the clock origin.
    sampling_rate_hz
        The raw recording's rate; None keeps MClust's 10 kHz tick clock.
    """
    from nwb_ketamine.converters.ntt import read_ntt_file

    path = Path(path)
    files = _files(path)
    if not files:
        raise ConversionError(f"{path}: no MClust .t, .t64 or ._t files; check sorting.path")
    origin_us = neuralynx_clock_origin(session) or 0
    rate = float(sampling_rate_hz) if sampling_rate_hz is not None else TICKS_PER_S
    ids, spikes, labels, tetrodes, unit_files, widths = [], [], [], [], [], set()
    waveforms: list[tuple[np.ndarray, np.ndarray] | None] = []
    names: dict[int, list[str]] = {}
    sources, ntt_cache = [], {}
    waveform_rate = None
    for file in files:
        ticks, bits = read_t_file(file)
        widths.add(bits)
        tet = tetrode_index(session, tetrode_number(file, NAME_PATTERN), file)
        if sampling_rate_hz is None:
            samples = ticks.astype(np.int64) - int(round(origin_us / 100.0))
        else:
            samples = np.rint((ticks.astype(np.float64) * TICK_S - origin_us * 1e-6) * rate).astype(np.int64)
        ext = _extension(file)
        ids.append(file.name[: -len(ext)] + ("_t" if ext.startswith("._") else ""))
        spikes.append(samples)
        labels.append("mua" if ext.startswith("._") else "good")
        tetrodes.append(tet)
        unit_files.append(str(file))
        sources.append(str(file))
        ntt = _ntt_for(file)
        pair = None
        if ntt is not None:
            if ntt not in ntt_cache:
                ntt_cache[ntt] = read_ntt_file(ntt)
                sources.append(str(ntt))
            content = ntt_cache[ntt]
            names[tet] = content["channel_names"]
            waveform_rate = waveform_rate or content["sampling_rate_hz"]
            pair = _matched_waveforms(ticks, content)
        waveforms.append(pair)
    pairs = [p for p in waveforms if p is not None]
    have = bool(waveforms) and len(pairs) == len(waveforms)
    width = " and ".join(f"{b}-bit" for b in sorted(widths))
    return SortedUnits(
        ids,
        spikes,
        rate,
        labels,
        tetrodes,
        np.stack([p[0] for p in pairs]) if have else None,
        np.stack([p[1] for p in pairs]) if have else None,
        channel_names=names or None,
        duration_s=None,
        source_files=tuple(sources),
        reader=f"{READER}; read as {width}" + ("; waveforms from the .ntt records" if have else ""),
        waveform_rate_hz=waveform_rate if have else None,
        unit_files=unit_files,
    )


def _matched_waveforms(ticks: np.ndarray, content: dict) -> tuple[np.ndarray, np.ndarray] | None:
    """Mean and SD (uV) of the ``.ntt`` records at the ``.t`` spike times, or None if one has no record."""
    ts = content["timestamps_us"]
    if ticks.size == 0 or ts.size == 0:
        return None
    want = ticks.astype(np.int64) * 100
    right = np.clip(np.searchsorted(ts, want), 0, ts.size - 1)
    left = np.clip(right - 1, 0, ts.size - 1)
    nearest = np.where(np.abs(ts[left] - want) <= np.abs(ts[right] - want), left, right)
    if np.any(np.abs(ts[nearest] - want) > 50):
        return None
    return mean_and_sd(content["waveforms_uv"][nearest])
