"""Raw tetrode recordings read through neo's RawIO classes, one signal stream at a time.

Design decisions:

- neo's *RawIO* layer (not its object layer) is used: it returns the raw integer samples of any slice of
  samples and channels without loading the recording, which is what a bounded-memory writer needs.
- The user names the format in study.yaml (``raw.format``: a short name such as ``openephys_binary`` or
  any neo RawIO class name); without one the format is recognised from the files in the folder. A folder
  that neo cannot read is a :class:`~nwb_ketamine.errors.ConversionError` naming the folder.
- Only one stream is converted: the one the study names (``raw.stream``, a stream name or id) or else the
  stream with the most channels (Neuralynx folders mixing sampling rates give one stream per rate).
  Only the first segment is read; a recording with several segments says so in the error message.
- Samples stay int16. Formats storing offset-binary uint16 (Intan) are shifted to int16 and the shift is
  folded into the per-channel offset, so ``value_uv = gain_uv * sample + offset_uv`` always holds.
- Times: :attr:`RawRecording.first_sample_time_s` is the first sample's time in the acquisition clock, and
  event times in :attr:`RawRecording.events` are in seconds *from the first sample*, the clock the
  converter maps to the session start.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nwb_ketamine.errors import ConversionError

#: Short names accepted in study.yaml's ``raw.format`` → neo RawIO class name.
FORMATS = {
    "openephys_binary": "OpenEphysBinaryRawIO",
    "openephys_legacy": "OpenEphysRawIO",
    "openephys": "OpenEphysBinaryRawIO",
    "neuralynx": "NeuralynxRawIO",
    "intan": "IntanRawIO",
    "blackrock": "BlackrockRawIO",
    "plexon": "PlexonRawIO",
    "plexon2": "Plexon2RawIO",
    "axona": "AxonaRawIO",
    "spikegadgets": "SpikeGadgetsRawIO",
    "spikeglx": "SpikeGLXRawIO",
    "tdt": "TdtRawIO",
    "spike2": "Spike2RawIO",
}

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

_UNIT_TO_UV = {"uV": 1.0, "µV": 1.0, "mV": 1e3, "V": 1e6, "": 1.0}


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
        name = FORMATS.get(fmt.lower(), fmt)
        if not hasattr(neo.rawio, name):
            raise ConversionError(
                f"{path}: raw.format {fmt!r} is unknown; use one of {', '.join(FORMATS)} or a neo RawIO class name"
            )
        return name
    folder = path if path.is_dir() else path.parent
    for pattern, name in _SIGNATURES:
        if (path.is_file() and path.match(pattern)) or any(folder.rglob(pattern)):
            return name
    raise ConversionError(f"{path}: no recording format recognised from the files; set raw.format in the study file")


def _source_argument(cls, path: Path) -> dict:
    """The constructor argument neo's class wants: the folder itself, or the recording file inside it."""
    params = inspect.signature(cls.__init__).parameters
    if "dirname" in params:
        return {"dirname": str(path if path.is_dir() else path.parent)}
    if path.is_file():
        return {"filename": str(path)}
    extensions = [e.lower() for e in getattr(cls, "extensions", [])]
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lstrip(".").lower() in extensions)
    if not files:
        raise ConversionError(f"{path}: no {cls.__name__} file ({', '.join(extensions)}) in this folder")
    return {"filename": str(files[0])}


class RawRecording:
    """One signal stream of a raw recording, read lazily through neo.

    Parameters
    ----------
    path
        The recording folder (or file).
    fmt
        Format short name (see :data:`FORMATS`) or neo RawIO class name; recognised from the files when None.
    stream
        Stream name or id; by default the stream with the most channels (then the highest rate).

    Raises
    ------
    ConversionError
        When the folder cannot be read, the stream does not exist, or the samples are not 16-bit.

    Examples
    --------
    >>> rec = RawRecording("2024-03-15_14-00-00", "openephys_binary")  # doctest: +SKIP
    >>> rec.read(0, 30_000, channels=[0, 1, 2, 3]).shape  # doctest: +SKIP
    (30000, 4)
    """

    def __init__(self, path: str | Path, fmt: str | None = None, *, stream: str | None = None):
        import neo.rawio

        self.path = Path(path)
        if not self.path.exists():
            raise ConversionError(f"{self.path}: the raw recording does not exist; fix raw.path in the study file")
        self.format = rawio_class_name(self.path, fmt)
        cls = getattr(neo.rawio, self.format)
        try:
            self.rawio = cls(**_source_argument(cls, self.path))
            self.rawio.parse_header()
        except ConversionError:
            raise
        except Exception as exc:  # neo raises anything from KeyError to struct.error on files it cannot parse
            message = str(exc).splitlines()[0] if str(exc) else ""
            raise ConversionError(
                f"{self.path}: cannot read as {self.format} ({type(exc).__name__}: {message}); "
                "check raw.path and raw.format in the study file"
            ) from None
        header = self.rawio.header
        streams = header["signal_streams"]
        if len(streams) == 0:
            raise ConversionError(f"{self.path}: {self.format} finds no continuous signals in this recording")
        channels_all = header["signal_channels"]
        self.stream_index = self._choose_stream(streams, channels_all, stream)
        self.stream_name = str(streams[self.stream_index]["name"])
        stream_id = streams[self.stream_index]["id"]
        chans = channels_all[channels_all["stream_id"] == stream_id]
        self.segment_count = self.rawio.segment_count(0)
        self.sampling_rate_hz = float(chans["sampling_rate"][0])
        self.n_samples = int(self.rawio.get_signal_size(0, 0, self.stream_index))
        self.channel_ids = [str(c) for c in chans["id"]]
        self.channel_names = [str(c) for c in chans["name"]]
        dtype = np.dtype(chans["dtype"][0])
        scale = np.array([_UNIT_TO_UV.get(str(u), np.nan) for u in chans["units"]])
        if np.isnan(scale).any():
            raise ConversionError(f"{self.path}: channel units {sorted(set(chans['units']))} are not voltages")
        self.gain_uv = chans["gain"].astype(float) * scale
        self.offset_uv = chans["offset"].astype(float) * scale
        if dtype == np.uint16:  # offset binary: sample_int16 = sample_uint16 - 32768
            self._shift = 32768
            self.offset_uv = self.offset_uv + 32768 * self.gain_uv
        elif dtype == np.int16:
            self._shift = 0
        else:
            raise ConversionError(
                f"{self.path}: samples are {dtype}, not 16-bit integers; this converter stores int16 only"
            )
        self.first_sample_time_s = float(self.rawio.get_signal_t_start(0, 0, self.stream_index))

    def _choose_stream(self, streams, channels, wanted) -> int:
        if wanted is not None:
            for i, s in enumerate(streams):
                if wanted in (str(s["name"]), str(s["id"])):
                    return i
            names = ", ".join(repr(str(s["name"])) for s in streams)
            raise ConversionError(f"{self.path}: raw.stream {wanted!r} does not exist; the streams are {names}")
        sizes = [
            (
                int((channels["stream_id"] == s["id"]).sum()),
                float(channels["sampling_rate"][channels["stream_id"] == s["id"]].max()),
            )
            for s in streams
        ]
        return max(range(len(streams)), key=lambda i: sizes[i])

    @property
    def n_channels(self) -> int:
        return len(self.channel_ids)

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.sampling_rate_hz

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

    def read(self, start: int, stop: int, channels=None) -> np.ndarray:
        """Raw int16 samples ``[start, stop)`` of ``channels`` (indices into this stream; all when None).

        Returns an array of shape (samples, channels); only the requested part is read from disk.
        """
        start, stop = max(0, int(start)), min(self.n_samples, int(stop))
        if channels is not None:
            channels = np.asarray(channels, dtype=int)
            if channels.size == self.n_channels and np.array_equal(channels, np.arange(self.n_channels)):
                channels = None
        if stop <= start:
            width = self.n_channels if channels is None else len(channels)
            return np.zeros((0, width), dtype=np.int16)
        data = self.rawio.get_analogsignal_chunk(
            block_index=0,
            seg_index=0,
            i_start=start,
            i_stop=stop,
            stream_index=self.stream_index,
            channel_indexes=channels,
        )
        if self._shift:
            return (data.astype(np.int32) - self._shift).astype(np.int16)
        return np.ascontiguousarray(data, dtype=np.int16)

    def to_uv(self, samples: np.ndarray, channels=None) -> np.ndarray:
        """Samples from :meth:`read` in microvolts (float32), as neo's gain and offset say."""
        idx = slice(None) if channels is None else np.asarray(channels, dtype=int)
        return (samples * self.gain_uv[idx] + self.offset_uv[idx]).astype(np.float32)

    @property
    def events(self) -> list[Event]:
        """Every event channel of the first segment, times in s from the first sample."""
        out = []
        header = self.rawio.header
        for i, ch in enumerate(header["event_channels"]):
            try:
                times, durations, labels = self.rawio.get_event_timestamps(0, 0, i)
            except Exception:  # some readers list channels they cannot read; skip rather than fail the session
                continue
            if times is None or len(times) == 0:
                continue
            times_s = self.rawio.rescale_event_timestamp(times, dtype="float64", event_channel_index=i)
            dur_s = None
            if durations is not None:
                dur_s = self.rawio.rescale_epoch_duration(durations, dtype="float64", event_channel_index=i)
            out.append(
                Event(
                    name=str(ch["name"]),
                    times_s=np.asarray(times_s) - self.first_sample_time_s,
                    durations_s=None if dur_s is None else np.asarray(dur_s),
                    labels=np.asarray(labels).astype(str),
                )
            )
        return out

    def __repr__(self) -> str:
        return (
            f"RawRecording({str(self.path)!r}, {self.format}, {self.n_channels} ch, "
            f"{self.sampling_rate_hz:g} Hz, {self.n_samples} samples)"
        )


def open_raw(path: str | Path, fmt: str | None = None, *, stream: str | None = None) -> RawRecording:
    """Open one stream of a raw recording (see :class:`RawRecording`)."""
    return RawRecording(path, fmt, stream=stream)
