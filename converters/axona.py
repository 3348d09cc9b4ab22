r"""Axona DacqUSB tetrode-mode sessions (``.set`` + tetrode files ``.1`` … ``.N`` + Tint ``.cut``) → SortedUnits.

Design decision: small parsers of our own. neo 0.14.6's ``AxonaRawIO`` is built around the continuous
``.bin`` file: on a tetrode-mode session (no ``.bin``) it finds no signal stream, and it looks for the
tetrode files ``.1``, ``.2``, … only until the first missing number, so a session with tetrodes 6 and 8
(the real one in ``../shared/realdata/axona_hafting``) gets no spike channel either; it also applies no
gain to spike waveforms. So this module is the reader of these sessions. Formats, as DacqUSB and Tint
write them (checked on that real session):

- ``<base>.<n>`` (tetrode n): ``key value`` header lines (``duration 402``, ``timebase 96000 hz``,
  ``bytes_per_timestamp 4``, ``samples_per_spike 50``, ``sample_rate 48000 hz``, ``bytes_per_sample 1``,
  ``num_chans 4``, ``num_spikes``), the bytes ``data_start``, then per spike ``num_chans`` blocks (one per
  channel) of a 4-byte big-endian timestamp in ``timebase`` ticks from the trial start plus 50 int8
  samples, and finally ``\\r\\ndata_end``. Every spike is kept; the timestamp of the first channel's
  block is the spike's (as neo does; the four are equal in DacqUSB's files).
- ``<base>_<n>.cut`` (or ``<base>.<n>.cut``): text whose ``Exact_cut_for: <base> spikes: <count>`` line is
  followed by the cluster id of every spike, whitespace separated.
- ``<base>.set``: ``ADC_fullscale_mv``, ``gain_ch_<k>`` and ``channame_ch_<k>`` for the 0-based channel
  ``k = 4 (n - 1) + i`` of tetrode n (i = 0…3). A waveform sample is in uV as
  ``sample x ADC_fullscale_mv x 1000 / (gain_ch_k x 128)``: the formula of neo's ``AxonaRawIO``
  (``_get_channel_gain``: ``1000 x ADC_fullscale_mv / (gain x 2 ** (8 x bytes_per_sample - 1))``, from
  pyxona) with 1 byte per sample. Without the ``.set`` no waveform is stored (the scale is unknown).

Tint's cluster 0 is labelled 'unsorted', not 'noise'. Tint starts every spike in cluster 0 and a person
moves spikes out of it by drawing clusters 1…30, so cluster 0 is whatever no cluster claimed: the real
noise together with spikes of cells that were not isolated (on tetrode 8 of the real session it holds
46 % of the spikes and its mean waveform is spike-shaped, ~60 counts peak-to-peak). 'noise' in our
vocabulary (phy's) is a curator's judgement that a cluster is not neural; nobody made that judgement
about cluster 0, so 'unsorted' is the honest label (the hafting-fyhn-tetrode analysis code and
gebaSpike's cut writer, "zero is the garbage cell that no one uses", both leave it out of the cells).
The other clusters were cut by a person: 'good'.

Clock: the trial start is the session start. With ``sampling_rate_hz`` None the spike times stay on the
96 kHz timebase (exact); with a raw rate they are rounded to that rate. ``duration_s`` is the header's
``duration`` (whole seconds, as DacqUSB writes it), and the waveform rate is the header's
``sample_rate``. Channel names are the ``.set``'s ``channame_ch_<k>`` when set, else neo's convention
for Axona channels (``6a``, ``6b``, ``6c``, ``6d`` for tetrode 6).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import cast

import numpy as np

from nwb_ketamine.converters.sorted_units import SortedUnits, UnitCollector, tetrode_index
from nwb_ketamine.errors import ConversionError

START, END = b"data_start", b"\r\ndata_end"
READER = "nwb_ketamine.converters.axona (Axona DacqUSB tetrode files + Tint .cut)"
LETTERS = "abcdefgh"
SPIKE_FILE = re.compile(r"(?P<base>.+)\.(?P<number>\d+)")


def _number(text: str) -> float:
    return float(text.split()[0])


def _read_header(text: str) -> dict[str, str]:
    """``key value`` lines of an Axona header or ``.set`` file (values stripped, may be empty)."""
    out = {}
    for line in text.splitlines():
        key, _, value = line.strip().partition(" ")
        if key:
            out[key] = value.strip()
    return out


def _read_set(path) -> dict[str, str]:
    """The ``key value`` lines of a ``.set`` file."""
    return _read_header(Path(path).read_text(encoding="latin-1"))


def _read_spike_file(path) -> dict:
    """Read one tetrode file.

    Returns
    -------
    dict
        ``header`` (key → value), ``timestamps`` (int64 ticks of ``timebase_hz`` from the trial start),
        ``timebase_hz``, ``sample_rate_hz`` (waveform rate, None when absent), ``duration_s`` (None when
        absent) and ``waveforms`` (int8, n_spikes x samples x channels).
    """
    path = Path(path)
    data = path.read_bytes()
    start = data.find(START)
    if start < 0:
        raise ConversionError(f"{path}: no 'data_start'; not an Axona tetrode file, point sorting.path at the .set")
    header = _read_header(data[:start].decode("latin-1"))
    try:
        n = int(_number(header["num_spikes"]))
        timebase = _number(header.get("timebase", "96000 hz"))
        n_samples = int(_number(header.get("samples_per_spike", "50")))
        n_channels = int(_number(header.get("num_chans", "4")))
        ts_bytes = int(_number(header.get("bytes_per_timestamp", "4")))
        sample_bytes = int(_number(header.get("bytes_per_sample", "1")))
    except (KeyError, ValueError, IndexError):
        raise ConversionError(f"{path}: header lacks num_spikes or has a malformed value; not a DacqUSB file") from None
    if ts_bytes != 4 or sample_bytes != 1:
        raise ConversionError(
            f"{path}: {ts_bytes}-byte timestamps and {sample_bytes}-byte samples; only DacqUSB's 4-byte "
            "timestamps and 1-byte samples are read"
        )
    block = np.dtype([("timestamp", ">u4"), ("samples", "i1", n_samples)])
    body = data[start + len(START) :]
    need = n * n_channels * block.itemsize
    if len(body) < need:
        raise ConversionError(f"{path}: {n} spikes announced but only {len(body)} bytes of data; the file is truncated")
    records = np.frombuffer(body[:need], dtype=block).reshape(n, n_channels)
    duration = None
    if header.get("duration"):
        try:
            duration = _number(header["duration"])
        except (ValueError, IndexError):
            duration = None
    return {
        "header": header,
        "timestamps": records["timestamp"][:, 0].astype(np.int64),
        "timebase_hz": timebase,
        "sample_rate_hz": _number(header["sample_rate"]) if header.get("sample_rate") else None,
        "duration_s": duration,
        "waveforms": records["samples"].transpose(0, 2, 1),  # (n, samples, channels)
    }


def _read_cut_file(path, n_spikes: int | None = None) -> np.ndarray:
    """Cluster id of every spike from a Tint ``.cut`` file."""
    path = Path(path)
    text = path.read_text(errors="replace")
    match = re.search(r"Exact_cut_for:\s*\S+\s+spikes:\s*(\d+)", text)
    if not match:
        raise ConversionError(f"{path}: no 'Exact_cut_for: ... spikes: N' line; not a Tint .cut file, cut it in Tint")
    try:
        ids = np.array(text[match.end() :].split(), dtype=np.int64)
    except ValueError:
        raise ConversionError(f"{path}: cluster ids are not all integers; cut again in Tint") from None
    expected = int(match.group(1))
    if ids.size != expected or (n_spikes is not None and ids.size != n_spikes):
        raise ConversionError(
            f"{path}: {ids.size} cluster ids for {n_spikes if n_spikes is not None else expected} spikes; "
            "the cut belongs to another file, cut the tetrode again in Tint"
        )
    return ids


def _channel_names(settings: dict[str, str], number: int, n_channels: int = 4) -> list[str]:
    """Names of tetrode ``number``'s channels: the ``.set``'s ``channame_ch_<k>``, else neo's ``6a``…``6d``."""
    first = n_channels * (number - 1)
    return [settings.get(f"channame_ch_{first + i}") or f"{number}{LETTERS[i]}" for i in range(n_channels)]


def _uv_per_count(settings: dict[str, str], number: int, n_channels: int = 4) -> np.ndarray | None:
    """Microvolts per int8 count of tetrode ``number``'s channels, from ``ADC_fullscale_mv`` and ``gain_ch_<k>``."""
    first = n_channels * (number - 1)
    try:
        fullscale = float(settings["ADC_fullscale_mv"])
        gains = np.array([float(settings[f"gain_ch_{first + i}"]) for i in range(n_channels)])
    except (KeyError, ValueError):
        return None
    if not np.all(gains > 0):
        return None
    return fullscale * 1000.0 / (gains * 128.0)


def _parts(path: Path) -> tuple[str, int]:
    """Base name and tetrode number of a tetrode file name that :data:`SPIKE_FILE` matches."""
    match = SPIKE_FILE.fullmatch(path.name)
    if match is None:
        raise ConversionError(f"{path}: not an Axona tetrode file (<base>.<n>); set sorting.path to the .set file")
    return match["base"], int(match["number"])


def _spike_files(path: Path) -> tuple[list[Path], Path | None]:
    """The tetrode files to read and the ``.set`` file of their trial."""
    if not path.exists() and Path(f"{path}.set").exists():
        path = Path(f"{path}.set")  # the trial's base name, as Tint and DacqUSB call it
    if path.is_dir():
        files = sorted((p for p in path.iterdir() if SPIKE_FILE.fullmatch(p.name)), key=lambda p: p.name)
        bases = sorted({_parts(p)[0] for p in files})
        if len(bases) > 1:
            raise ConversionError(
                f"{path}: tetrode files of {len(bases)} trials ({', '.join(bases)}); set sorting.path to one "
                "trial's .set file"
            )
        if not files:
            raise ConversionError(
                f"{path}: no Axona tetrode files (<base>.1 ... <base>.N); set sorting.path to the trial's .set file"
            )
        base = bases[0]
        set_path = path / f"{base}.set"
    elif path.suffix.lower() == ".set":
        base = path.stem
        files = sorted(
            (p for p in path.parent.iterdir() if (m := SPIKE_FILE.fullmatch(p.name)) and m["base"] == base),
            key=lambda p: _parts(p)[1],
        )
        if not files:
            raise ConversionError(f"{path}: no tetrode files {base}.1 ... {base}.N next to the .set file")
        set_path = path
    else:
        match = SPIKE_FILE.fullmatch(path.name)
        if not match:
            raise ConversionError(f"{path}: not an Axona tetrode file (<base>.<n>); set sorting.path to the .set file")
        files = [path]
        set_path = path.with_name(f"{match['base']}.set")
    files.sort(key=lambda p: _parts(p)[1])
    return files, set_path if set_path.exists() else None


def read_axona(path, *, session=None, sampling_rate_hz: float | None = None) -> SortedUnits:
    """Read an Axona trial's tetrode files and their Tint cuts; see the module docstring for the rules.

    Parameters
    ----------
    path
        The trial's ``.set`` file, its base name (``<folder>/<base>``), a folder holding one trial, or one
        tetrode file ``<base>.<n>``.
    session
        The in vivo session: tetrode n belongs to its tetrode whose ``number`` is n. None: index n - 1.
    sampling_rate_hz
        The raw recording's rate; spike times are rounded to it. None: the 96 kHz timebase, exact.
    """
    path = Path(path)
    files, set_path = _spike_files(path)
    settings = _read_set(set_path) if set_path is not None else {}
    units = UnitCollector()
    names: dict[int, list[str]] = {}
    sources = [str(set_path)] if set_path is not None else []
    rate = sampling_rate_hz
    timebase = waveform_rate = duration = None
    with_waveforms = set_path is not None
    for file in files:
        base, number = _parts(file)
        candidates = (file.with_name(f"{base}_{number}.cut"), file.with_name(f"{file.name}.cut"))
        cut = next((c for c in candidates if c.exists()), None)
        if cut is None:
            raise ConversionError(
                f"{file}: no Tint cut file ({base}_{number}.cut); cut the tetrode in Tint, or set sorting.path "
                "to the tetrode files that were cut"
            )
        tet = tetrode_index(session, number, file)
        content = _read_spike_file(file)
        clusters = _read_cut_file(cut, content["timestamps"].size)
        sources += [str(file), str(cut)]
        if timebase is None:
            timebase, waveform_rate, duration = content["timebase_hz"], content["sample_rate_hz"], content["duration_s"]
        elif content["timebase_hz"] != timebase or content["duration_s"] != duration:
            raise ConversionError(
                f"{file}: timebase {content['timebase_hz']:g} Hz and duration {content['duration_s']} s differ from "
                f"{files[0].name}'s; sorting.path must name one trial"
            )
        ticks = content["timestamps"]
        samples = ticks if rate is None else np.rint(ticks * (float(rate) / timebase)).astype(np.int64)
        n_channels = content["waveforms"].shape[2]
        names[tet] = _channel_names(settings, number, n_channels)
        scale = _uv_per_count(settings, number, n_channels)
        with_waveforms &= scale is not None
        waveforms_uv = content["waveforms"].astype(np.float64) * scale if scale is not None else None
        units.add_clusters(clusters, samples, waveforms_uv, prefix=f"{base}.{number}", tetrode=tet, file=file)
    if session is not None and settings:
        # The .set names every channel of the rig: give the names of the study's other tetrodes too.
        for i, tetrode in enumerate(session.tetrodes):
            names.setdefault(i, _channel_names(settings, getattr(tetrode, "number", 0) or i + 1, len(tetrode.channels)))
    if set_path is not None and settings.get("duration"):
        try:
            set_duration = _number(settings["duration"])
        except (ValueError, IndexError):
            set_duration = None
        if duration is not None and set_duration is not None and set_duration != duration:
            raise ConversionError(
                f"{set_path}: duration {set_duration:g} s but the tetrode files say {duration:g} s; "
                "sorting.path must name one trial"
            )
        duration = duration if duration is not None else set_duration
    means, sds = units.waveforms() if with_waveforms else (None, None)
    return SortedUnits(
        units.ids,
        units.spikes,
        float(rate if rate is not None else cast(float, timebase)),  # files is not empty
        units.labels,
        units.tetrodes,
        means,
        sds,
        channel_names=names,
        duration_s=duration if duration else None,
        source_files=tuple(sources),
        reader=READER,
        waveform_rate_hz=waveform_rate,
        unit_files=units.unit_files,
    )
