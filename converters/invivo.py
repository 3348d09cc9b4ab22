"""In vivo tetrode session: raw recording, electrodes, events, epochs and sorted units → one NWB file.

Design decisions:

- **Session clock.** Time 0 of the NWB file is the session's ``start_time`` in study.yaml, and the raw
  recording's first sample is at time 0: the study file's start time is the time recording started. The
  acquisition clock's own first sample time (Open Ephys starts counting when acquisition starts, not when
  recording starts) is kept in the ElectricalSeries description only. Events, spike times, the injection
  and the epochs are all on this one clock. A sorting-only session (no raw recording) has the sorting's
  own time 0 (Axona: the trial start).
- **Every segment, one ElectricalSeries each.** neo splits a recording at gaps and at stop/restart; each
  segment becomes its own ElectricalSeries (``ElectricalSeries`` when there is one segment, else
  ``ElectricalSeries_segment0`` ...) with the sampling rate and its own ``starting_time``, and the gaps
  between them go into the ``recording_gaps`` time-intervals table. Chosen over one series with
  timestamps because a rate keeps the file small (a float64 timestamp per sample is 4x the int16 sample
  of a single channel), NWB Inspector and ``dandi validate`` accept both while the inspector asks for a
  rate wherever the sampling is regular, a plain pynwb reader gets every segment's exact time from
  ``starting_time + i / rate``, and the explorer's raw-traces view joins the segments on the session
  clock with a visible break at each gap. ``recording_segments`` lists every series with the stream,
  the reader (neo class, version and options) and the source files it was made from.
- **Raw data** are stored as the int16 samples the system wrote, with ``conversion`` (V per bit; a
  ``channel_conversion`` column when the channels' gains differ) and ``offset`` — never inflated to float.
  pynwb writes the file's skeleton with empty, chunked, shuffle+gzip datasets; the samples are then
  streamed into them by :func:`nwb_ketamine.converters.chunked.fill_dataset` (parallel compression with
  the fastest gzip-compatible codec installed, ISA-L by default; direct chunk writes) before the file is
  renamed into place, so writing stays atomic.
- **Electrodes.** One ElectrodeGroup per tetrode of study.yaml with its Allen CCF acronym as location (and its
  implant, when the study file gives one, as position (AP, ML, DV) in mm, the atlas named in the description);
  only channels assigned to a tetrode are stored, in tetrode order. With no tetrodes in the study file,
  the stream's channels form consecutive groups of four with location 'unknown'. Without raw data the
  channel names come from the sorting's own files.
- **Events** of the recording (TTL lines, event strings) go to one core ``EventsTable`` per event channel
  (a time per event, a duration only when the system recorded one), times on the session clock. An event
  before the first sample keeps its negative time and the table's description says how many there are.
  The study's epochs go to the epochs table; epochs starting at or after the injection are tagged
  ``after injection of <drug> at <t> s``, and without epochs in the study file the injection splits the
  recording into ``baseline`` and ``post-injection``. The injection's time is in the drug administration
  object of the extension (relative to the session start) and, on most rigs, in the TTL events.
- **Units** are read by the sorting format's reader (:func:`nwb_ketamine.converters.registry.read_sorting`)
  and written by :func:`nwb_ketamine.converters.units.add_units`; the
  converter passes the raw recording so waveforms can be cut from it even when the raw series itself is
  not stored (``include_raw=False``, the ``--no-raw`` option). phy/Kilosort count samples of the
  concatenated segments; time-stamped formats (Neuralynx, MClust, Axona, Open Ephys .spikes) count time on
  the continuous clock: both are mapped to session time here.
"""

from __future__ import annotations

import dataclasses
from functools import cached_property
from pathlib import Path

import h5py
import numpy as np
from pynwb import NWBFile
from pynwb.ecephys import ElectricalSeries

from nwb_ketamine.converters.base import SessionConverter
from nwb_ketamine.converters.chunked import DEFAULT_CODEC, fill_dataset, int16_dataset
from nwb_ketamine.converters.neo_raw import RawRecording, open_raw
from nwb_ketamine.converters.recording_tables import add_events, add_segments
from nwb_ketamine.converters.registry import SORTING_FORMATS, read_sorting, sorting_format
from nwb_ketamine.converters.source_checks import check_session_times, check_spike_times, tetrode_channel_problems
from nwb_ketamine.converters.units import add_units
from nwb_ketamine.errors import ConversionError
from nwb_ketamine.filelayout import ELECTRODE_COLUMNS, raw_series_names
from nwb_ketamine.metadata import InVivoSession, Study, Tetrode
from nwb_ketamine.methods import implant_text
from nwb_ketamine.vocabulary import CCF_REGIONS


class InVivoConverter(SessionConverter):
    """One in vivo tetrode session: raw recording, electrodes, events, epochs and units.

    Parameters
    ----------
    study, session
        The validated study and the in vivo session to convert.
    include_raw
        Store the raw ElectricalSeries (False: only units, waveforms and events, for light sharing).
    stub
        Keep only the first :attr:`STUB_SECONDS` seconds of each segment (a quick preview).
    gzip_level
        Compression level of the raw data (default: the codec's default level, 2 for ISA-L, 4 for zlib).
    codec
        The raw data's compressor (:func:`~nwb_ketamine.converters.chunked.resolve_codec`): ``"auto"``
        (the fastest installed), ``"isal"``, ``"libdeflate"`` or ``"zlib"``; the file is the same
        standard gzip dataset whichever writes it.
    workers
        Threads compressing raw chunks (default: all cores).

    """

    session_description = "Tetrode recording of single units in a freely moving mouse."
    RUN_OPTIONS = ("include_raw", "workers")
    STUB_SECONDS = 2.0

    def __init__(
        self,
        study: Study,
        session: InVivoSession,
        *,
        include_raw: bool = True,
        stub: bool = False,
        gzip_level: int | None = None,
        codec: str = DEFAULT_CODEC,
        workers: int | None = None,
    ):
        super().__init__(study, session, stub=stub)
        if session.raw_path is None and session.sorting_path is None:
            raise ConversionError(f"session {session.key}: neither raw nor sorting; give raw or sorting in the study")
        self.include_raw = include_raw and session.raw_path is not None
        self.gzip_level = gzip_level
        self.codec = codec
        self.workers = workers
        self._pending: list[tuple[str, int, list[int], int]] = []

    # -- sources --------------------------------------------------------------------------------------
    @cached_property
    def raw(self) -> RawRecording | None:
        """The raw recording (opened on first use), or None for a sorting-only session."""
        return None if self.session.raw_path is None else open_raw(self.session)

    @cached_property
    def sorting(self):
        """The session's spike sorting (:class:`~nwb_ketamine.converters.sorted_units.SortedUnits`), or None."""
        s = self.session
        if s.sorting_path is None:
            return None
        rate = self.raw.sampling_rate_hz if self.raw is not None else None
        return read_sorting(s.sorting_path, s.sorting_format, session=s, sampling_rate_hz=rate)

    @property
    def _raw(self) -> RawRecording:
        """The raw recording, for the steps that run only when there is one."""
        if self.raw is None:
            raise ConversionError(f"session {self.session.key}: no raw recording; give raw in the study file")
        return self.raw

    def segment_samples(self) -> list[int]:
        """Samples converted per segment: all of them, or the first seconds of each with ``stub``."""
        sizes = self._raw.segment_sizes
        if not self.stub:
            return list(sizes)
        return [min(n, int(round(self.STUB_SECONDS * self._raw.sampling_rate_hz))) for n in sizes]

    def recording_end_s(self) -> float:
        """End of the converted recording on the session clock."""
        if self.raw is not None:
            rate = self.raw.sampling_rate_hz
            return self.raw.segment_offsets_s[-1] + self.segment_samples()[-1] / rate
        units = self.sorting
        if units.duration_s:
            return float(units.duration_s)
        last = [float(t[-1]) / units.sampling_rate_hz for t in units.spike_samples if t.size]
        return max([*last, *(e.stop for e in self.session.epochs)], default=0.0)

    def tetrodes(self) -> list[Tetrode]:
        """The study's tetrodes, checked against the recording; by default consecutive groups of four."""
        raw = self.raw
        if not self.session.tetrodes:
            if raw is None:
                raise ConversionError(f"session {self.session.key}: no tetrodes; list them in the study file")
            return [
                Tetrode(channels=tuple(range(i, min(i + 4, raw.n_channels))), region="unknown", number=i // 4 + 1)
                for i in range(0, raw.n_channels, 4)
            ]
        if raw is not None:
            problems = tetrode_channel_problems(self.session.tetrodes, raw.n_channels)
            if problems:
                (_, j, field), message = problems[0]
                raise ConversionError(f"{self.session.raw_path}: tetrodes[{j}].{field} {message}")
        return list(self.session.tetrodes)

    def check(self) -> None:
        """Open the sources and check them against each other and the study file, before anything is written.

        The checks themselves are in :mod:`nwb_ketamine.converters.source_checks`.
        """
        self.tetrodes()
        session, raw = self.session, self.raw
        if raw is not None:
            end, rate = raw.end_s, raw.sampling_rate_hz
        elif self.sorting is not None and self.sorting.duration_s:
            end, rate = float(self.sorting.duration_s), float(self.sorting.sampling_rate_hz)
        else:
            end, rate = np.inf, 1.0
        if self.sorting is not None:
            times = self.spike_times  # maps (and checks) the sorting's clock once, before anything is written
            check_spike_times(session.sorting_path, self.sorting.ids, times, 0.0, end, rate)
        if np.isfinite(end):
            injection = None
            if session.injection is not None:
                injection = (session.injection.time - session.start_time).total_seconds()
            check_session_times(self.study.path, session.key, injection, session.epochs, end, rate)

    # -- NWB content ---------------------------------------------------------------------------------
    def add_to_nwbfile(self, nwbfile: NWBFile) -> None:
        """Add device, electrodes, raw series placeholders, segments, events, epochs and units.

        The raw samples are written by :meth:`write_raw` once the file skeleton exists
        (:meth:`run_conversion` does both).

        Parameters
        ----------
        nwbfile
            The file built by :meth:`create_nwbfile`.
        """
        self.check()
        device = self._add_device(nwbfile)
        rows_of_tetrode, channels = self._add_electrodes(nwbfile, device)
        if self.raw is not None:
            self._add_segments(nwbfile, channels)
            add_events(nwbfile, self.raw, self.recording_end_s(), self.stub)
        self._add_epochs(nwbfile)
        self._add_units(nwbfile, rows_of_tetrode)

    def _add_device(self, nwbfile: NWBFile):
        raw = self.raw
        if raw is not None:
            manufacturer, name = raw.manufacturer, raw.format.removesuffix("RawIO")
            model_name = f"{manufacturer} system ({name} format)"
            description = raw.describe()
        else:
            entry = SORTING_FORMATS.get(self.session.sorting_format or "")
            manufacturer, what = (entry.manufacturer, entry.system) if entry else ("unknown", "spike sorting")
            name = model_name = f"{manufacturer} system" if manufacturer != "unknown" else "acquisition system"
            description = f"Acquisition system known only from the sorting: {what}; no raw recording was kept."
        model = nwbfile.create_device_model(
            name=model_name,
            manufacturer=manufacturer,
            description="Acquisition system as identified from the recording's format and header.",
        )
        return nwbfile.create_device(name=name, description=description, model=model)

    def _channel_names(self, tetrode_index: int, tetrode: Tetrode) -> list[str]:
        if self.raw is not None:
            return [self.raw.channel_names[c] for c in tetrode.channels]
        names = (self.sorting.channel_names or {}).get(tetrode_index)
        return list(names) if names else [f"channel {c}" for c in tetrode.channels]

    def _add_electrodes(self, nwbfile: NWBFile, device) -> tuple[list[list[int]], list[int]]:
        for name, description in ELECTRODE_COLUMNS.items():
            nwbfile.add_electrode_column(name, description)
        rows_of_tetrode: list[list[int]] = []
        channels: list[int] = []
        for j, tetrode in enumerate(self.tetrodes()):
            location = tetrode.ccf_region if tetrode.region != "unknown" else "unknown"
            region_name = CCF_REGIONS.get(location, "location not given in the study file")
            implant = tetrode.implant
            # the implant's (AP, ML, DV) in mm from bregma in the group's position (x, y, z); the text says so
            group = nwbfile.create_electrode_group(
                name=f"tetrode{j}",
                description=f"Tetrode {j} (rig number {tetrode.number}), channels {list(tetrode.channels)}; lab "
                f"region label '{tetrode.region}' ({region_name})."
                + ("" if implant is None else "\n" + implant_text(implant)),
                location=location,
                device=device,
                position=None if implant is None else (implant.ap_mm, implant.ml_mm, implant.dv_mm),
            )
            rows = []
            names = self._channel_names(j, tetrode)
            for c, name in zip(tetrode.channels, names, strict=True):
                rows.append(len(nwbfile.electrodes) if nwbfile.electrodes is not None else 0)
                nwbfile.add_electrode(
                    group=group,
                    location=location,
                    channel_name=name,
                    channel_id=self.raw.channel_ids[c] if self.raw is not None else str(c),
                    tetrode=j,
                    tetrode_number=int(tetrode.number),
                    lab_region=tetrode.region,
                )
                channels.append(c)
            rows_of_tetrode.append(rows)
        return rows_of_tetrode, channels

    def _add_segments(self, nwbfile: NWBFile, channels: list[int]) -> None:
        """The raw series of every segment (when stored), the segments table and the gaps between them."""
        names = raw_series_names(self._raw.segment_count)
        sizes = self.segment_samples()
        add_segments(nwbfile, self._raw, names, sizes, self.include_raw)
        if self.include_raw:
            self._add_raw_series(nwbfile, channels, names, sizes)

    def _add_raw_series(self, nwbfile: NWBFile, channels: list[int], names: list[str], sizes: list[int]) -> None:
        raw = self._raw
        gains, offsets = raw.gain_uv[channels], raw.offset_uv[channels]
        if not np.allclose(offsets, offsets[0]):
            raise ConversionError(
                f"{self.session.raw_path}: channels have different offsets ({sorted(set(offsets))} uV); NWB stores "
                "one offset per series, so convert these channels as separate streams"
            )
        same_gain = np.all(gains == gains[0])
        region = nwbfile.create_electrode_table_region(list(range(len(channels))), "the tetrode channels")
        for k, (name, n) in enumerate(zip(names, sizes, strict=True)):
            where = "" if len(names) == 1 else f", segment {k} of {len(names)} (0-based)"
            series = ElectricalSeries(
                name=name,
                description=(
                    f"Raw wide-band signal as recorded (stream {raw.stream_name!r}{where}), int16 samples, read "
                    f"with {raw.reader}; the first sample of the recording (acquisition clock "
                    f"{raw.first_sample_time_s:.6f} s) is at the session start."
                ),
                data=int16_dataset(n, len(channels), level=self.gzip_level, codec=self.codec),
                electrodes=region,
                rate=raw.sampling_rate_hz,
                starting_time=float(raw.segment_offsets_s[k]),
                conversion=float(gains[0]) * 1e-6 if same_gain else 1e-6,
                channel_conversion=None if same_gain else [float(g) for g in gains],
                offset=float(offsets[0]) * 1e-6,
            )
            nwbfile.add_acquisition(series)
            self._pending.append((name, k, channels, n))

    def _add_epochs(self, nwbfile: NWBFile) -> None:
        session = self.session
        end = self.recording_end_s()
        injection = None
        if session.injection is not None:
            injection = (session.injection.time - session.start_time).total_seconds()
        epochs = [(e.start, e.stop, e.name) for e in session.epochs]
        if not epochs and injection is not None and 0 < injection < end:
            epochs = [(0.0, injection, "baseline"), (injection, end, "post-injection")]
        elif not epochs and self.raw is None and end > 0:
            # Without raw series nothing else in the file says how long the recording ran (the last spike is earlier).
            epochs = [(0.0, end, "recording")]
        for start, stop, name in sorted(epochs):
            tags = [name]
            if injection is not None and start >= injection:
                tags.append(f"after injection of {session.injection.drug} at {injection:g} s")
            nwbfile.add_epoch(start_time=float(start), stop_time=float(stop), tags=tags)

    @cached_property
    def spike_times(self) -> list[np.ndarray]:
        """Every unit's spike times on the session clock (s), mapped from the sorting's own clock."""
        units = self.sorting
        rate = float(units.sampling_rate_hz)
        raw = self.raw
        if raw is not None and self._concatenated_clock:
            for uid, s in zip(units.ids, units.spike_samples, strict=True):
                if s.size and (s.min() < 0 or s.max() >= raw.n_samples):
                    first, last = s.min(), s.max()
                    raise ConversionError(
                        f"{self.session.sorting_path}: unit {uid} has spikes at samples {first}..{last}, outside the "
                        f"{raw.n_samples} samples of the raw recording; check sorting.path and raw.path"
                    )
            return [raw.session_times(s) for s in units.spike_samples]
        return [s / rate for s in units.spike_samples]

    @property
    def _concatenated_clock(self) -> bool:
        """The sorting's samples count the concatenated raw segments (not the continuous clock)."""
        return sorting_format(self.session.sorting_format, self.session.sorting_path).concatenated_clock

    def _add_units(self, nwbfile: NWBFile, rows_of_tetrode: list[list[int]]) -> None:
        from nwb_ketamine.analysis.bursts import BurstParameters

        units = self.sorting
        if units is None:
            return
        times = self.spike_times
        raw = self.raw
        if raw is not None and raw.segment_count > 1 and not self._concatenated_clock:
            # Raw waveforms are cut at samples of the concatenated segments; time-stamped spikes are mapped there.
            units = dataclasses.replace(units, spike_samples=[raw.samples_of_times(t) for t in times])
        add_units(
            nwbfile,
            units,
            session=self.session,
            electrode_rows_of_tetrode=rows_of_tetrode,
            raw=raw,
            first_sample_time_s=0.0,
            burst_parameters=BurstParameters(**self.study.analysis.get("bursts", {})),
            spike_times_s=times,
        )

    # -- writing ----------------------------------------------------------------------------------------
    def write_raw(self, path: Path, progress=None) -> None:
        """Stream the raw samples of every segment into the placeholder datasets of the file just written.

        Parameters
        ----------
        path
            The file just written by pynwb.
        progress
            Called with the number of samples written, or None.
        """
        if not self._pending:
            return
        with h5py.File(path, "r+") as f:
            for name, segment, channels, _ in self._pending:
                contiguous = channels == list(range(self._raw.n_channels))
                selection = None if contiguous else channels

                def read(a, b, segment=segment, selection=selection):
                    return self._raw.read_segment(segment, a, b, selection)

                fill_dataset(
                    f[f"acquisition/{name}/data"], read, codec=self.codec, workers=self.workers, progress=progress
                )

    def after_write(self, path: Path, progress=None) -> None:
        """Stream the raw samples into the temporary file before the base class renames it into place.

        Parameters
        ----------
        path
            The temporary file just written by pynwb.
        progress
            Called with the number of samples written, or None.
        """
        self.write_raw(path, progress=progress)
