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

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nwb_ketamine.converters.neo_select import (
    channel_scale,
    check_options,
    choose_stream,
    rawio_class_name,
    source_argument,
    source_files,
)
from nwb_ketamine.converters.source_checks import check_openephys_binary
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


@dataclass(frozen=True)
class Event:
    """One event channel: times in s from the recording's first sample, durations (or None) and labels."""

    name: str
    times_s: np.ndarray
    durations_s: np.ndarray | None
    labels: np.ndarray


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
        check_options(cls, self.path, self.neo_options)
        source = source_argument(cls, self.path, file)
        if self.format == "OpenEphysBinaryRawIO":  # before neo reads it: neo trusts the header and the lengths
            check_openephys_binary(self.path)
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
        self.source_files = source_files(cls, source)
        header = self.rawio.header
        streams = header["signal_streams"]
        if len(streams) == 0:
            raise ConversionError(f"{self.path}: {self.format} finds no continuous signals in this recording")
        channels_all = header["signal_channels"]
        self.stream_index = choose_stream(self.path, streams, channels_all, stream)
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
        self.gain_uv, self.offset_uv = channel_scale(self.path, chans, self.stream_name, gain, unit)
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

    @property
    def n_channels(self) -> int:
        """Channels of the stream."""
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
        """Who makes the acquisition system the reader is for ('unknown' when not listed)."""
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
        """Raw int16 samples ``[start, stop)`` of one segment (indices within it) and ``channels``.

        Parameters
        ----------
        segment
            The segment index.
        start, stop
            Sample range within the segment.
        channels
            Channel indices of the stream (all when None).
        """
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

        Parameters
        ----------
        start, stop
            Sample range of the concatenated segments.
        channels
            Channel indices of the stream (all when None).
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
        """Segment of each concatenated sample index.

        Parameters
        ----------
        samples
            Concatenated sample indices.
        """
        return np.searchsorted(self._bounds, np.asarray(samples, dtype=np.int64), side="right") - 1

    def session_times(self, samples) -> np.ndarray:
        """Session-clock times (s) of concatenated sample indices (segment start + position in it).

        Parameters
        ----------
        samples
            Concatenated sample indices.
        """
        samples = np.asarray(samples, dtype=np.int64)
        seg = np.clip(self.segment_of(samples), 0, self.segment_count - 1)
        offsets = np.asarray(self.segment_offsets_s)
        return offsets[seg] + (samples - self._bounds[seg]) / self.sampling_rate_hz

    def samples_of_times(self, times_s) -> np.ndarray:
        """Concatenated sample index nearest each session-clock time; -1 for a time in a gap or outside.

        Parameters
        ----------
        times_s
            Session-clock times (s).
        """
        t = np.asarray(times_s, dtype=np.float64)
        offsets = np.asarray(self.segment_offsets_s)
        seg = np.clip(np.searchsorted(offsets, t, side="right") - 1, 0, self.segment_count - 1)
        within = np.rint((t - offsets[seg]) * self.sampling_rate_hz).astype(np.int64)
        ok = (within >= 0) & (within < np.asarray(self.segment_sizes)[seg])
        return np.where(ok, self._bounds[seg] + within, -1)

    def to_uv(self, samples: np.ndarray, channels=None) -> np.ndarray:
        """Samples from :meth:`read` in microvolts (float32), as neo's gain and offset say.

        Parameters
        ----------
        samples
            Raw samples, (samples, channels).
        channels
            The channels they were read from (all when None).
        """
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
    """Open the raw recording of an in vivo session as its study entry describes it.

    Parameters
    ----------
    session
        The :class:`~nwb_ketamine.metadata.InVivoSession` (its ``raw_*`` fields).
    """
    return RawRecording(
        session.raw_path,
        session.raw_format,
        stream=session.raw_stream,
        file=session.raw_file,
        neo_options=dict(session.raw_neo_options),
        gain=session.raw_gain,
        unit=session.raw_unit,
    )
