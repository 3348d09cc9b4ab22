"""Raw tetrode recordings read through neo's RawIO classes: one signal stream, every segment.

Design decisions:

- neo's *RawIO* layer (not its object layer) is used: it returns the raw integer samples of any slice of
  samples and channels without loading the recording, which is what a bounded-memory writer needs.
- The user names the format in study.yaml (``raw.format``: a short name such as ``openephys_binary`` or
  any neo RawIO class name); without one the format is recognised from the files in the folder. A folder
  that neo cannot read is a :class:`~nwb_ketamine.errors.ConversionError` naming the folder.
- **Nothing is guessed.** One stream is converted: the only one, or the one the study names
  (``raw.stream``, a stream name or id); with several and none named the recording is refused with the
  list of streams (channel counts never decide: on Intan files the biggest stream can be the auxiliary
  inputs). The same holds for the recording file of formats read file by file (``raw.file``). Reader
  options that change segmentation (``raw.neo_options``, e.g. Neuralynx ``gap_tolerance_ms``) are passed
  to neo as given and recorded in :attr:`RawRecording.reader`. A channel whose header has no physical
  unit is refused unless the study gives ``raw.gain`` and ``raw.unit``.
- **Every segment.** neo splits a recording at gaps (Neuralynx, Blackrock) and at stop/restart (Open
  Ephys recordings) into segments. All are read: :meth:`RawRecording.read` addresses the *concatenation*
  of the segments (the sample axis a spike sorter such as Kilosort sees), :meth:`read_segment` one segment,
  and :meth:`session_times` maps concatenated sample indices to the session clock (the first segment's
  first sample is time 0; each later segment starts where neo says it starts).
- Samples stay int16. Formats storing offset-binary uint16 (Intan) are shifted to int16 and the shift is
  folded into the per-channel offset, so ``value_uv = gain_uv * sample + offset_uv`` always holds.
- Times: :attr:`RawRecording.first_sample_time_s` is the first sample's time in the acquisition clock;
  event times are in seconds *from the first sample*, the clock the converter maps to the session start.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nwb_ketamine.converters.registry import RAW_FORMATS
from nwb_ketamine.errors import ConversionError

#: Who makes the acquisition system each reader is for (the Device's manufacturer).
MANUFACTURERS = {
    "OpenEphysBinaryRawIO": "Open Ephys",
    "OpenEphysRawIO": "Open Ephys",
    "NeuralynxRawIO": "Neuralynx",
    "IntanRawIO": "Intan Technologies",
    "BlackrockRawIO": "Blackrock Microsystems",
    "PlexonRawIO": "Plexon",
    "Plexon2RawIO": "Plexon",
    "AxonaRawIO": "Axona",
    "SpikeGadgetsRawIO": "SpikeGadgets",
    "SpikeGLXRawIO": "IMEC / SpikeGLX",
    "TdtRawIO": "Tucker-Davis Technologies",
    "Spike2RawIO": "Cambridge Electronic Design",
}

#: File patterns that identify a format inside a folder, tried in order.
_SIGNATURES = (
    ("structure.oebin", "OpenEphysBinaryRawIO"),
    ("*.continuous", "OpenEphysRawIO"),
    ("*.ncs", "NeuralynxRawIO"),
    ("*.rhd", "IntanRawIO"),
    ("*.rhs", "IntanRawIO"),
    ("*.ns[1-6]", "BlackrockRawIO"),
    ("*.pl2", "Plexon2RawIO"),
    ("*.plx", "PlexonRawIO"),
    ("*.set", "AxonaRawIO"),
    ("*.rec", "SpikeGadgetsRawIO"),
    ("*.ap.bin", "SpikeGLXRawIO"),
    ("*.smrx", "Spike2RawIO"),
    ("*.smr", "Spike2RawIO"),
)

_UNIT_TO_UV = {"uV": 1.0, "µV": 1.0, "mV": 1e3, "V": 1e6}


@dataclass(frozen=True)
class Event:
    """One event channel: times in s from the recording's first sample, durations (or None) and labels."""

    name: str
    times_s: np.ndarray
    durations_s: np.ndarray | None
    labels: np.ndarray


def rawio_class_name(path: Path, fmt: str | None) -> str:
    """The neo RawIO class name for ``fmt`` (a short name or a class name), or recognised from ``path``."""
    import neo.rawio

    if fmt:
        name = RAW_FORMATS.get(fmt.lower(), fmt)
        if not hasattr(neo.rawio, name):
            raise ConversionError(
                f"{path}: raw.format {fmt!r} is unknown; use one of {', '.join(RAW_FORMATS)} or a neo RawIO class name"
            )
        return name
    folder = path if path.is_dir() else path.parent
    for pattern, name in _SIGNATURES:
        if (path.is_file() and path.match(pattern)) or any(folder.rglob(pattern)):
            return name
    raise ConversionError(f"{path}: no recording format recognised from the files; set raw.format in the study file")


def _source_argument(cls, path: Path, file: str | None) -> dict:
    """The constructor argument neo's class wants: the folder itself, or the one recording file in it."""
    params = inspect.signature(cls.__init__).parameters
    if "dirname" in params and file is None:
        return {"dirname": str(path if path.is_dir() else path.parent)}
    if path.is_file():
        return {"filename": str(path)}
    if file is not None:
        target = path / file
        if not target.is_file():
            raise ConversionError(f"{path}: raw.file {file!r} is not in this folder; fix raw.file in the study file")
        return {"filename": str(target)}
    # Readers of one file: the recording files are those with the reader's first (main) extension.
    main = getattr(cls, "extensions", [""])[0].lower()
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lstrip(".").lower() == main)
    if not files:
        raise ConversionError(f"{path}: no {cls.__name__} file (.{main}) in this folder")
    if len(files) > 1:
        names = ", ".join(str(f.relative_to(path)) for f in files)
        raise ConversionError(
            f"{path}: {len(files)} recordings in this folder ({names}); name one with raw.file in the study file"
        )
    return {"filename": str(files[0])}


def _check_options(cls, path: Path, options: dict) -> None:
    params = inspect.signature(cls.__init__).parameters
    unknown = sorted(set(options) - set(params) - {"self"})
    if unknown:
        known = ", ".join(n for n in params if n not in ("self", "dirname", "filename", "kargs", "kwargs"))
        raise ConversionError(
            f"{path}: raw.neo_options {unknown} are not options of neo's {cls.__name__} (its options: {known})"
        )


def describe_streams(streams, channels) -> str:
    """One phrase per stream: ``'name' (id 0: 4 channels at 32000 Hz, uV)``."""
    out = []
    for s in streams:
        chans = channels[channels["stream_id"] == s["id"]]
        rates = sorted({float(r) for r in chans["sampling_rate"]})
        units = sorted({str(u) or "no unit" for u in chans["units"]})
        out.append(
            f"{str(s['name'])!r} (id {s['id']}: {len(chans)} channels at {'/'.join(f'{r:g}' for r in rates)} Hz, "
            f"{'/'.join(units)})"
        )
    return ", ".join(out)


class RawRecording:
    """One signal stream of a raw recording, every segment, read lazily through neo.

    Parameters
    ----------
    path
        The recording folder (or file).
    fmt
        Format short name (:data:`.registry.RAW_FORMATS`) or neo RawIO class name; recognised from the files when None.
    stream
        Stream name or id; required when the recording has several streams.
    file
        The recording file inside ``path`` for readers of one file; required when the folder holds several.
    neo_options
        Keyword arguments of the neo RawIO class (e.g. ``{"gap_tolerance_ms": 1.0}`` for Neuralynx).
    gain, unit
        Gain per count (in ``unit``: uV, mV or V) of channels whose header gives no physical unit.

    Raises
    ------
    ConversionError
        When the folder cannot be read, a choice the study must make is missing, the stream does not exist,
        a channel has no unit, or the samples are not 16-bit.

    Examples
    --------
    >>> rec = RawRecording("2024-03-15_14-00-00", "openephys_binary")  # doctest: +SKIP
    >>> rec.read(0, 30_000, channels=[0, 1, 2, 3]).shape  # doctest: +SKIP
    (30000, 4)
    """

    def __init__(
        self,
        path: str | Path,
        fmt: str | None = None,
        *,
        stream: str | None = None,
        file: str | None = None,
        neo_options: dict | None = None,
        gain: float | None = None,
        unit: str | None = None,
    ):
        import neo
        import neo.rawio

        self.path = Path(path)
        if not self.path.exists():
            raise ConversionError(f"{self.path}: the raw recording does not exist; fix raw.path in the study file")
        self.format = rawio_class_name(self.path, fmt)
        cls = getattr(neo.rawio, self.format)
        self.neo_options = dict(neo_options or {})
        _check_options(cls, self.path, self.neo_options)
        source = _source_argument(cls, self.path, file)
        try:
            self.rawio = cls(**source, **self.neo_options)
            self.rawio.parse_header()
        except ConversionError:
            raise
        except Exception as exc:  # neo raises anything from KeyError to struct.error on files it cannot parse
            message = str(exc).splitlines()[0] if str(exc) else ""
            hint = "check raw.path and raw.format in the study file"
            if "gap_tolerance_ms" in str(exc):
                hint = "to keep every part, set raw.neo_options.gap_tolerance_ms in the study file (e.g. 1.0)"
            raise ConversionError(
                f"{self.path}: cannot read as {self.format} ({type(exc).__name__}: {message}); {hint}"
            ) from None
        arguments = ", ".join(f"{k}={v!r}" for k, v in {**source, **self.neo_options}.items())
        #: What produced the samples, for provenance: ``neo 0.14.6 NeuralynxRawIO(dirname=..., ...)``.
        self.reader = f"neo {neo.__version__} {self.format}({arguments})"
        self.source_files = self._source_files(cls, source)
        header = self.rawio.header
        streams = header["signal_streams"]
        if len(streams) == 0:
            raise ConversionError(f"{self.path}: {self.format} finds no continuous signals in this recording")
        channels_all = header["signal_channels"]
        self.stream_index = self._choose_stream(streams, channels_all, stream)
        self.stream_name = str(streams[self.stream_index]["name"])
        self.stream_id = str(streams[self.stream_index]["id"])
        chans = channels_all[channels_all["stream_id"] == streams[self.stream_index]["id"]]
        self.segment_count = self.rawio.segment_count(0)
        rates = sorted({float(r) for r in chans["sampling_rate"]})
        if len(rates) > 1:
            raise ConversionError(f"{self.path}: stream {self.stream_name!r} mixes sampling rates {rates} Hz")
        self.sampling_rate_hz = rates[0]
        self.segment_sizes = [
            int(self.rawio.get_signal_size(0, k, self.stream_index)) for k in range(self.segment_count)
        ]
        #: First sample of each segment in the acquisition clock (s).
        self.segment_starts_s = [
            float(self.rawio.get_signal_t_start(0, k, self.stream_index)) for k in range(self.segment_count)
        ]
        self._bounds = np.concatenate([[0], np.cumsum(self.segment_sizes)]).astype(np.int64)
        self.n_samples = int(self._bounds[-1])
        self.channel_ids = [str(c) for c in chans["id"]]
        self.channel_names = [str(c) for c in chans["name"]]
        self.units = [str(u) for u in chans["units"]]
        dtype = np.dtype(chans["dtype"][0])
        self.gain_uv, self.offset_uv = self._scale(chans, gain, unit)
        if dtype == np.uint16:  # offset binary: sample_int16 = sample_uint16 - 32768
            self._shift = 32768
            self.offset_uv = self.offset_uv + 32768 * self.gain_uv
        elif dtype == np.int16:
            self._shift = 0
        else:
            raise ConversionError(
                f"{self.path}: samples are {dtype}, not 16-bit integers; this converter stores int16 only"
            )
        self.first_sample_time_s = self.segment_starts_s[0]

    def _scale(self, chans, gain, unit) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel gain and offset in µV: from the header, or from the study for channels with no unit."""
        units = [str(u) for u in chans["units"]]
        unitless = [n for n, u in zip(self.channel_names, units, strict=True) if not u.strip()]
        if gain is not None and not unitless:
            raise ConversionError(
                f"{self.path}: the header gives every channel a unit ({', '.join(sorted(set(units)))}); "
                "remove raw.gain and raw.unit from the study file"
            )
        if unitless and gain is None:
            raise ConversionError(
                f"{self.path}: channels {unitless[:8]}{' ...' if len(unitless) > 8 else ''} of stream "
                f"{self.stream_name!r} have no physical unit; give raw.gain and raw.unit (e.g. 0.195 and uV) "
                "in the study file, or choose another raw.stream"
            )
        bad = sorted({u for u in units if u.strip() and u not in _UNIT_TO_UV})
        if bad:
            raise ConversionError(f"{self.path}: channel units {bad} are not voltages; choose another raw.stream")
        gain_uv = np.empty(len(units))
        offset_uv = np.empty(len(units))
        for i, u in enumerate(units):
            if u.strip():
                gain_uv[i] = float(chans["gain"][i]) * _UNIT_TO_UV[u]
                offset_uv[i] = float(chans["offset"][i]) * _UNIT_TO_UV[u]
            else:
                # The header's gain is a placeholder (usually 1) when it has no unit; the study's gain replaces it.
                gain_uv[i] = float(gain) * _UNIT_TO_UV[unit]
                offset_uv[i] = 0.0
        return gain_uv, offset_uv

    def _source_files(self, cls, source: dict) -> list[str]:
        """The files the reader opens: the one file, or the folder's files with the reader's extensions."""
        if "filename" in source:
            return [str(source["filename"])]
        extensions = {e.lower() for e in getattr(cls, "extensions", [])}
        folder = Path(source["dirname"])
        return sorted(str(p) for p in folder.rglob("*") if p.is_file() and p.suffix.lstrip(".").lower() in extensions)

    def _choose_stream(self, streams, channels, wanted) -> int:
        if wanted is not None:
            for i, s in enumerate(streams):
                if str(wanted) in (str(s["name"]), str(s["id"])):
                    return i
            raise ConversionError(
                f"{self.path}: raw.stream {wanted!r} does not exist; the streams are "
                f"{describe_streams(streams, channels)}"
            )
        if len(streams) == 1:
            return 0
        raise ConversionError(
            f"{self.path}: {len(streams)} signal streams, {describe_streams(streams, channels)}; "
            "name the tetrode stream with raw.stream in the study file"
        )

    @property
    def n_channels(self) -> int:
        return len(self.channel_ids)

    @property
    def duration_s(self) -> float:
        """Recorded time: the samples of every segment (the gaps excluded)."""
        return self.n_samples / self.sampling_rate_hz

    @property
    def segment_offsets_s(self) -> list[float]:
        """Start of each segment in the session clock (the first segment's first sample is 0)."""
        return [t - self.segment_starts_s[0] for t in self.segment_starts_s]

    @property
    def end_s(self) -> float:
        """End of the last segment in the session clock."""
        return self.segment_offsets_s[-1] + self.segment_sizes[-1] / self.sampling_rate_hz

    @property
    def manufacturer(self) -> str:
        return MANUFACTURERS.get(self.format, "unknown")

    def describe(self) -> str:
        """One line about the acquisition system, from the header, for the Device description."""
        parts = [f"{self.manufacturer} acquisition system, read with neo {self.format}"]
        ann = getattr(self.rawio, "raw_annotations", None) or {}
        try:
            seg = ann["blocks"][0]["segments"][0]
        except (KeyError, IndexError, TypeError):
            seg = {}
        for key in ("GUI version", "openephys_version", "version", "date_created", "acquisition_software"):
            for source in (ann, ann.get("blocks", [{}])[0] if ann.get("blocks") else {}, seg):
                if isinstance(source, dict) and source.get(key):
                    parts.append(f"{key}: {source[key]}")
                    break
        parts.append(f"stream {self.stream_name!r}: {self.n_channels} channels at {self.sampling_rate_hz:g} Hz")
        return "; ".join(dict.fromkeys(parts)) + "."

    def _channels(self, channels):
        if channels is None:
            return None
        channels = np.asarray(channels, dtype=int)
        if channels.size == self.n_channels and np.array_equal(channels, np.arange(self.n_channels)):
            return None
        return channels

    def read_segment(self, segment: int, start: int, stop: int, channels=None) -> np.ndarray:
        """Raw int16 samples ``[start, stop)`` of one segment (indices within it) and ``channels``."""
        start, stop = max(0, int(start)), min(self.segment_sizes[segment], int(stop))
        channels = self._channels(channels)
        if stop <= start:
            width = self.n_channels if channels is None else len(channels)
            return np.zeros((0, width), dtype=np.int16)
        data = self.rawio.get_analogsignal_chunk(
            block_index=0,
            seg_index=segment,
            i_start=start,
            i_stop=stop,
            stream_index=self.stream_index,
            channel_indexes=channels,
        )
        if self._shift:
            return (data.astype(np.int32) - self._shift).astype(np.int16)
        return np.ascontiguousarray(data, dtype=np.int16)

    def read(self, start: int, stop: int, channels=None) -> np.ndarray:
        """Raw int16 samples ``[start, stop)`` of the concatenated segments and ``channels`` (all when None).

        Returns an array of shape (samples, channels); only the requested part is read from disk.
        """
        start, stop = max(0, int(start)), min(self.n_samples, int(stop))
        if self.segment_count == 1 or stop <= start:
            return self.read_segment(0, start, stop, channels)
        parts = []
        first = int(np.searchsorted(self._bounds, start, side="right")) - 1
        for k in range(first, self.segment_count):
            a, b = self._bounds[k], self._bounds[k + 1]
            if a >= stop:
                break
            parts.append(self.read_segment(k, max(start, a) - a, min(stop, b) - a, channels))
        return np.concatenate(parts)

    def segment_of(self, samples) -> np.ndarray:
        """Segment of each concatenated sample index."""
        return np.searchsorted(self._bounds, np.asarray(samples, dtype=np.int64), side="right") - 1

    def session_times(self, samples) -> np.ndarray:
        """Session-clock times (s) of concatenated sample indices (segment start + position in it)."""
        samples = np.asarray(samples, dtype=np.int64)
        seg = np.clip(self.segment_of(samples), 0, self.segment_count - 1)
        offsets = np.asarray(self.segment_offsets_s)
        return offsets[seg] + (samples - self._bounds[seg]) / self.sampling_rate_hz

    def samples_of_times(self, times_s) -> np.ndarray:
        """Concatenated sample index nearest each session-clock time; -1 for a time in a gap or outside."""
        t = np.asarray(times_s, dtype=np.float64)
        offsets = np.asarray(self.segment_offsets_s)
        seg = np.clip(np.searchsorted(offsets, t, side="right") - 1, 0, self.segment_count - 1)
        within = np.rint((t - offsets[seg]) * self.sampling_rate_hz).astype(np.int64)
        ok = (within >= 0) & (within < np.asarray(self.segment_sizes)[seg])
        return np.where(ok, self._bounds[seg] + within, -1)

    def to_uv(self, samples: np.ndarray, channels=None) -> np.ndarray:
        """Samples from :meth:`read` in microvolts (float32), as neo's gain and offset say."""
        idx = slice(None) if channels is None else np.asarray(channels, dtype=int)
        return (samples * self.gain_uv[idx] + self.offset_uv[idx]).astype(np.float32)

    @property
    def events(self) -> list[Event]:
        """Every event channel over all segments, times in s from the first segment's first sample."""
        out = []
        header = self.rawio.header
        for i, ch in enumerate(header["event_channels"]):
            times, durations, labels = [], [], []
            for k in range(self.segment_count):
                try:
                    t, d, lab = self.rawio.get_event_timestamps(0, k, i)
                except Exception:  # some readers list channels they cannot read; skip rather than fail the session
                    continue
                if t is None or len(t) == 0:
                    continue
                times.append(self.rawio.rescale_event_timestamp(t, dtype="float64", event_channel_index=i))
                if d is not None:
                    durations.append(self.rawio.rescale_epoch_duration(d, dtype="float64", event_channel_index=i))
                labels.append(np.asarray(lab).astype(str))
            if not times:
                continue
            out.append(
                Event(
                    name=str(ch["name"]),
                    times_s=np.concatenate(times) - self.first_sample_time_s,
                    durations_s=np.concatenate(durations) if len(durations) == len(times) else None,
                    labels=np.concatenate(labels),
                )
            )
        return out

    def __repr__(self) -> str:
        return (
            f"RawRecording({str(self.path)!r}, {self.format}, {self.n_channels} ch, "
            f"{self.sampling_rate_hz:g} Hz, {self.segment_count} segment(s), {self.n_samples} samples)"
        )


def open_raw(session) -> RawRecording:
    """Open the raw recording of an in vivo session as its study entry describes it."""
    return RawRecording(
        session.raw_path,
        session.raw_format,
        stream=session.raw_stream,
        file=session.raw_file,
        neo_options=dict(session.raw_neo_options),
        gain=session.raw_gain,
        unit=session.raw_unit,
    )
