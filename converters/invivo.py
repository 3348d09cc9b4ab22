"""In vivo tetrode session: raw recording, electrodes, events, epochs and sorted units → one NWB file.

Design decisions:

- **Session clock.** Time 0 of the NWB file is the session's ``start_time`` in study.yaml, and the raw
  recording's first sample is at time 0 (``first_sample_time_s = 0``): the study file's start time is
  the time recording started. The acquisition clock's own first sample time (Open Ephys starts counting
  when acquisition starts, not when recording starts) is kept in the ElectricalSeries description only.
  Events, spike times, the injection and the epochs are all on this one clock.
- **Raw data** are stored as the int16 samples the system wrote, with ``conversion`` (V per bit; a
  ``channel_conversion`` column when the channels' gains differ) and ``offset`` — never inflated to float.
  pynwb writes the file's skeleton with an empty, chunked, shuffle+gzip dataset; the samples are then
  streamed into it by :func:`nwb_ketamine.converters.chunked.fill_dataset` (parallel compression,
  direct chunk writes) before the file is renamed into place, so writing stays atomic.
- **Electrodes.** One ElectrodeGroup per tetrode of study.yaml with its Allen CCF acronym as location;
  only channels assigned to a tetrode are stored, in tetrode order. With no tetrodes in the study file,
  the stream's channels form consecutive groups of four with location 'unknown'.
- **Events** of the recording (TTL lines) go to a TimeIntervals table ``events`` (start, stop = start +
  duration, channel, label). The study's epochs go to the epochs table; epochs starting at or after the
  injection are tagged ``after injection of <drug> at <t> s``, and without epochs in the study file the
  injection splits the recording into ``baseline`` and ``post-injection``. The injection itself is not a
  zero-length epoch (NWB Inspector flags those): its time is in the drug administration object of the
  extension (relative to the session start) and, on most rigs, in the TTL events.
- **Units** come from the sorting developer's :mod:`nwb_ketamine.converters.units` (``read_sorting`` and
  ``add_units``); the converter passes the raw recording so waveforms can be cut from it even when the
  raw series itself is not stored (``include_raw=False``, the ``--no-raw`` option).
"""

from __future__ import annotations

import warnings

import numpy as np
from pynwb import NWBHDF5IO, NWBFile
from pynwb.ecephys import ElectricalSeries
from pynwb.epoch import TimeIntervals

from nwb_ketamine.converters.base import SessionConverter
from nwb_ketamine.converters.chunked import GZIP_LEVEL, fill_dataset, int16_dataset
from nwb_ketamine.converters.neo_raw import RawRecording
from nwb_ketamine.errors import ConversionError
from nwb_ketamine.metadata import InVivoSession, Study, Tetrode
from nwb_ketamine.vocabulary import CCF_REGIONS

RAW_SERIES_NAME = "ElectricalSeries"


class InVivoConverter(SessionConverter):
    """One in vivo tetrode session: raw recording, electrodes, events, epochs and units.

    Parameters
    ----------
    study, session
        The validated study and the in vivo session to convert.
    include_raw
        Store the raw ElectricalSeries (False: only units, waveforms and events, for light sharing).
    stub
        Keep only the first :attr:`STUB_SECONDS` seconds of the recording (a quick preview).
    gzip_level
        Compression level of the raw data.
    workers
        Threads compressing raw chunks (default: all cores).

    Examples
    --------
    >>> study = load_study("study.yaml")  # doctest: +SKIP
    >>> InVivoConverter(study, study.invivo_sessions[0]).run_conversion("session.nwb")  # doctest: +SKIP
    """

    session_description = "Tetrode recording of single units in a freely moving mouse."
    STUB_SECONDS = 2.0

    def __init__(
        self,
        study: Study,
        session: InVivoSession,
        *,
        include_raw: bool = True,
        stub: bool = False,
        gzip_level: int = GZIP_LEVEL,
        workers: int | None = None,
    ):
        super().__init__(study, session, stub=stub)
        self.include_raw = include_raw
        self.gzip_level = gzip_level
        self.workers = workers
        self._raw: RawRecording | None = None
        self._pending: tuple[str, list[int], int] | None = None

    # -- sources --------------------------------------------------------------------------------------
    @property
    def raw(self) -> RawRecording:
        """The raw recording (opened on first use)."""
        if self._raw is None:
            s = self.session
            self._raw = RawRecording(s.raw_path, s.raw_format, stream=s.raw_stream)
        return self._raw

    @property
    def n_samples(self) -> int:
        """Samples converted: the whole recording, or the first seconds with ``stub``."""
        n = self.raw.n_samples
        return min(n, int(round(self.STUB_SECONDS * self.raw.sampling_rate_hz))) if self.stub else n

    def tetrodes(self) -> list[Tetrode]:
        """The study's tetrodes, checked against the recording; by default consecutive groups of four."""
        raw = self.raw
        if not self.session.tetrodes:
            return [
                Tetrode(channels=tuple(range(i, min(i + 4, raw.n_channels))), region="unknown")
                for i in range(0, raw.n_channels, 4)
            ]
        for j, tetrode in enumerate(self.session.tetrodes):
            bad = [c for c in tetrode.channels if not 0 <= c < raw.n_channels]
            if bad:
                raise ConversionError(
                    f"{self.session.raw_path}: tetrodes[{j}].channels {bad} do not exist; the recording has "
                    f"{raw.n_channels} channels (0-{raw.n_channels - 1}); fix tetrodes in the study file"
                )
        return list(self.session.tetrodes)

    def check(self) -> None:
        """Open the sources and check them against the study file, before anything is written."""
        self.tetrodes()
        if self.raw.segment_count > 1:
            warnings.warn(
                f"{self.session.raw_path}: {self.raw.segment_count} recordings (segments); only the first is converted",
                stacklevel=2,
            )

    # -- NWB content ---------------------------------------------------------------------------------
    def add_to_nwbfile(self, nwbfile: NWBFile) -> None:
        """Add device, electrodes, raw series placeholder, events, epochs and units.

        The raw samples are written by :meth:`write_raw` once the file skeleton exists
        (:meth:`run_conversion` does both).
        """
        self.check()
        raw = self.raw
        model = nwbfile.create_device_model(
            name=f"{raw.manufacturer} system ({raw.format.removesuffix('RawIO')} format)",
            manufacturer=raw.manufacturer,
            description="Acquisition system as identified from the recording's format and header.",
        )
        device = nwbfile.create_device(name=raw.format.removesuffix("RawIO"), description=raw.describe(), model=model)
        tetrodes = self.tetrodes()
        nwbfile.add_electrode_column("channel_name", "channel name in the acquisition system")
        nwbfile.add_electrode_column("channel_id", "channel id in the acquisition system")
        nwbfile.add_electrode_column("tetrode", "index of the tetrode in the study file")
        rows_of_tetrode: list[list[int]] = []
        channels: list[int] = []
        for j, tetrode in enumerate(tetrodes):
            location = tetrode.ccf_region if tetrode.region != "unknown" else "unknown"
            region_name = CCF_REGIONS.get(location, "location not given in the study file")
            group = nwbfile.create_electrode_group(
                name=f"tetrode{j}",
                description=f"Tetrode {j}, channels {list(tetrode.channels)}; lab region label "
                f"'{tetrode.region}' ({region_name}).",
                location=location,
                device=device,
            )
            rows = []
            for c in tetrode.channels:
                rows.append(len(nwbfile.electrodes) if nwbfile.electrodes is not None else 0)
                nwbfile.add_electrode(
                    group=group,
                    location=location,
                    channel_name=raw.channel_names[c],
                    channel_id=raw.channel_ids[c],
                    tetrode=j,
                )
                channels.append(c)
            rows_of_tetrode.append(rows)
        self._rows_of_tetrode = rows_of_tetrode
        if self.include_raw:
            self._add_raw_series(nwbfile, channels)
        self._add_events(nwbfile)
        self._add_epochs(nwbfile)
        self._add_units(nwbfile, rows_of_tetrode)

    def _add_raw_series(self, nwbfile: NWBFile, channels: list[int]) -> None:
        raw = self.raw
        gains, offsets = raw.gain_uv[channels], raw.offset_uv[channels]
        if not np.allclose(offsets, offsets[0]):
            raise ConversionError(
                f"{self.session.raw_path}: channels have different offsets ({sorted(set(offsets))} uV); NWB stores "
                "one offset per series, so convert these channels as separate streams"
            )
        same_gain = np.all(gains == gains[0])
        region = nwbfile.create_electrode_table_region(list(range(len(channels))), "the tetrode channels")
        n = self.n_samples
        series = ElectricalSeries(
            name=RAW_SERIES_NAME,
            description=(
                f"Raw wide-band signal as recorded ({raw.format}, stream {raw.stream_name!r}), int16 samples; "
                f"the first sample (acquisition clock {raw.first_sample_time_s:.6f} s) is at the session start."
            ),
            data=int16_dataset(n, len(channels), level=self.gzip_level),
            electrodes=region,
            rate=raw.sampling_rate_hz,
            starting_time=0.0,
            conversion=float(gains[0]) * 1e-6 if same_gain else 1e-6,
            channel_conversion=None if same_gain else [float(g) for g in gains],
            offset=float(offsets[0]) * 1e-6,
        )
        nwbfile.add_acquisition(series)
        self._pending = (RAW_SERIES_NAME, channels, n)

    def _add_events(self, nwbfile: NWBFile) -> None:
        events = [e for e in self.raw.events if len(e.times_s)]
        if not events:
            return
        table = TimeIntervals(
            name="events", description=f"Events recorded by the acquisition system ({self.raw.format})."
        )
        table.add_column("channel", "event channel of the acquisition system")
        table.add_column("label", "event label or TTL line")
        rows = []
        for event in events:
            durations = event.durations_s if event.durations_s is not None else np.zeros(len(event.times_s))
            for t, d, label in zip(event.times_s, durations, event.labels, strict=True):
                rows.append((float(t), float(t + max(d, 0.0)), event.name, str(label)))
        for start, stop, channel, label in sorted(rows):
            if self.stub and start >= self.n_samples / self.raw.sampling_rate_hz:
                continue
            table.add_interval(start_time=start, stop_time=stop, channel=channel, label=label)
        if len(table):
            nwbfile.add_time_intervals(table)

    def _add_epochs(self, nwbfile: NWBFile) -> None:
        session = self.session
        end = self.n_samples / self.raw.sampling_rate_hz
        injection = None
        if session.injection is not None:
            injection = (session.injection.time - session.start_time).total_seconds()
        epochs = [(e.start, e.stop, e.name) for e in session.epochs]
        if not epochs and injection is not None and 0 < injection < end:
            epochs = [(0.0, injection, "baseline"), (injection, end, "post-injection")]
        for start, stop, name in sorted(epochs):
            tags = [name]
            if injection is not None and start >= injection:
                tags.append(f"after injection of {session.injection.drug} at {injection:g} s")
            nwbfile.add_epoch(start_time=float(start), stop_time=float(stop), tags=tags)

    def _add_units(self, nwbfile: NWBFile, rows_of_tetrode: list[list[int]]) -> None:
        from nwb_ketamine.analysis.bursts import BurstParameters
        from nwb_ketamine.converters import units as units_module

        session = self.session
        if session.sorting_path is None:
            return
        units = units_module.read_sorting(
            session.sorting_path,
            session.sorting_format,
            session=session,
            sampling_rate_hz=self.raw.sampling_rate_hz,
        )
        units_module.add_units(
            nwbfile,
            units,
            session=session,
            electrode_rows_of_tetrode=rows_of_tetrode,
            raw=self.raw,
            first_sample_time_s=0.0,
            burst_parameters=BurstParameters(**self.study.analysis.get("bursts", {})),
        )

    # -- writing ----------------------------------------------------------------------------------------
    def write_raw(self, io: NWBHDF5IO, progress=None) -> None:
        """Stream the raw samples into the placeholder dataset of a file just written by ``io``."""
        if self._pending is None:
            return
        name, channels, _ = self._pending
        dset = io._file[f"acquisition/{name}/data"]
        contiguous = channels == list(range(self.raw.n_channels))
        selection = None if contiguous else channels
        fill_dataset(dset, lambda a, b: self.raw.read(a, b, selection), workers=self.workers, progress=progress)

    def after_write(self, io: NWBHDF5IO, progress=None) -> None:
        """Stream the raw samples into the temporary file before the base class renames it into place."""
        self.write_raw(io, progress=progress)
