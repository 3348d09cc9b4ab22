"""Slice patch-clamp: the ABF files of one cell → one NWB file with the full icephys table hierarchy.

Design decisions:

- Each file is read and checked against the study file by :mod:`nwb_ketamine.converters.abf_reader`;
  data are stored as pyabf returns them (float32 in the file's own unit) with the exact SI
  ``conversion`` factor, so every stored value equals pyabf's and no precision is invented.
- Files go in time order, each sweep at its real start time relative to the session start (the ABF
  header's naive rig-clock time is read in the study's time zone). A header date that is missing,
  unreadable, before 1990 or in the future is refused unless the study file gives the file's
  ``recording_time``; the header's value then goes into the file's notes.
- A command pyabf cannot build is left out; the reason goes into the response's description and the
  file's notes.
- The icephys tables are filled to the top: recordings → simultaneous (one per sweep) → sequential
  (one per protocol file, stimulus type = protocol) → repetitions (one per holding potential) →
  experimental conditions, whose rows carry labelled columns (region, drug, dose, stress, time since
  injection, holding potential) instead of NeuroConv's unlabelled ones.
- The condition's ``time_point`` is the study's own: the hours from the injection to the session start,
  binned into the nearest of the study file's ``time_points`` on a log scale
  (:func:`~nwb_ketamine.filelayout.nearest_time_point`; the default points when the file names none), with
  the rule and the points in the column's description. It is the catalog's time group, so the groups come
  from the stored times, not from the experimental group's name.
- Every sweep is one shuffle + gzip chunk. pynwb writes the datasets empty (shape, dtype, chunk and
  filters declared); :meth:`AbfSliceConverter.after_write` then stores each sweep's chunk compressed by
  libdeflate (``deflate`` package) when installed, else zlib, with ``write_direct_chunk``
  (:func:`~nwb_ketamine.converters.chunked.write_single_chunk`): the same standard gzip datasets, the
  level recorded in the filter. ``benchmarks/bench_codec.py --sources abf`` on the 166 sweeps of the 11
  real ABF files (float32): libdeflate level 2 is 2.1-2.6x zlib level 4's speed at 4.8 % *smaller* size,
  whereas ISA-L, the raw tetrode writer's codec, is 9x faster but 11 % larger on float32 sweeps
  (over the 3 % budget), so it is not used here.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import h5py
import numpy as np
from hdmf.backends.hdf5 import H5DataIO
from pynwb import NWBFile
from pynwb.epoch import TimeIntervals
from pynwb.icephys import (
    CurrentClampSeries,
    CurrentClampStimulusSeries,
    VoltageClampSeries,
    VoltageClampStimulusSeries,
)

from nwb_ketamine.converters.abf_reader import (
    CURRENT_UNITS,
    EXPECTED,
    RECORDING_TIME_HINT,
    AbfRecording,
    implausible_start,
    read_abf,
)
from nwb_ketamine.converters.base import SessionConverter
from nwb_ketamine.converters.chunked import resolve_codec, write_single_chunk
from nwb_ketamine.errors import ConversionError
from nwb_ketamine.filelayout import (
    DEFAULT_TIME_POINTS,
    HOLDING_POTENTIAL_COLUMN,
    HOURS_SINCE_INJECTION_COLUMN,
    TIME_POINT_COLUMN,
    nearest_time_point,
    time_point_description,
)
from nwb_ketamine.metadata import AbfFileInfo, SliceSession, Study, time_since_injection
from nwb_ketamine.methods import INTERNAL_SOLUTION, line, slices_text, stimulus_notes_text
from nwb_ketamine.vocabulary import CCF_REGIONS

SERIES = {
    "voltage_clamp": (VoltageClampSeries, VoltageClampStimulusSeries),
    "current_clamp": (CurrentClampSeries, CurrentClampStimulusSeries),
}


#: The codecs the slice converter's ``"auto"`` tries: libdeflate compresses float32 sweeps best (module docstring).
ABF_CODECS = ("libdeflate", "zlib")


def _compressed(sweep: np.ndarray, level: int, deferred: bool) -> H5DataIO:
    """Gzip with shuffle, one chunk per sweep: any HDF5 reader reads it, and command steps shrink to nothing.

    ``deferred``: declare the dataset empty (shape, dtype, chunk, filters), for the converter to write its
    chunk after pynwb wrote the file.
    """
    if not deferred:
        return H5DataIO(sweep, compression="gzip", compression_opts=level, shuffle=True, chunks=sweep.shape)
    return H5DataIO(shape=sweep.shape, dtype=sweep.dtype, compression="gzip", compression_opts=level, shuffle=True,
                    chunks=sweep.shape)  # fmt: skip


class AbfSliceConverter(SessionConverter):
    """One slice cell: its ABF files, the electrode, the icephys tables and the EPSC analysis.

    Parameters
    ----------
    study, session
        The validated study and the slice session (one cell) to convert.
    stub
        Keep only the first two sweeps of each file (a quick preview of the metadata).
    analyse
        Run the EPSC analysis and store its results and parameters in the file.
    codec
        The sweeps' compressor (:func:`~nwb_ketamine.converters.chunked.resolve_codec`; ``"auto"``:
        libdeflate when installed, else zlib, each at its default level); always a standard gzip dataset.

    """

    session_description = "Whole-cell patch-clamp recording of one neuron in an acute brain slice."
    STUB_SWEEPS = 2

    def __init__(
        self, study: Study, session: SliceSession, *, stub: bool = False, analyse: bool = True, codec: str = "auto"
    ):
        super().__init__(study, session, stub=stub)
        self.analyse = analyse
        self.codec, self.gzip_level = resolve_codec(codec, order=ABF_CODECS)
        #: (series name, sweep) of the datasets pynwb writes empty and :meth:`after_write` fills.
        self._pending: list[tuple[str, np.ndarray]] = []
        self._recordings: list[tuple[AbfFileInfo, AbfRecording, float]] | None = None
        #: Lines for the NWB file's notes: overridden header dates, commands left out and why.
        self.notes: list[str] = []

    def recordings(self) -> list[tuple[AbfFileInfo, AbfRecording, float]]:
        """Each file with its data and its start in seconds from the session start, in time order."""
        if self._recordings is None:
            tz = ZoneInfo(self.study.timezone)
            out, notes = [], []
            for info in self.session.files:
                where = info.where or f"{self.study.path.name} {info.path.name}"
                rec = read_abf(
                    info.path,
                    clamp_mode=info.clamp_mode,
                    response_channel=info.response_channel,
                    command_channel=info.command_channel,
                    max_sweeps=self.STUB_SWEEPS if self.stub else None,
                    command_unit=info.command_unit,
                    has_command=info.has_command,
                    where=where,
                )
                if info.recording_time is not None:
                    start = info.recording_time
                    notes.append(
                        f"{info.path.name}: recorded at {start.isoformat()} (study file recording_time); the ABF "
                        f"header says {rec.start_in_header}"
                    )
                else:
                    why = implausible_start(rec.start, rec.start_in_header, tz)
                    if why is not None:
                        raise ConversionError(
                            f"{info.path}: the ABF header's recording date is implausible ({why}); state when the file "
                            f"was recorded in {where}: {RECORDING_TIME_HINT}"
                        )
                    start = rec.start.replace(tzinfo=tz)
                offset = (start - self.session.start_time).total_seconds()
                if offset < 0:
                    raise ConversionError(
                        f"{info.path}: recorded at {start.isoformat()}, {-offset:.0f} s before the session start_time "
                        f"{self.session.start_time.isoformat()}; fix start_time or timezone, or if the rig clock was "
                        f"wrong give the file's recording_time in {where}"
                    )
                if rec.command_note and info.has_command:
                    notes.append(f"{info.path.name}: {rec.command_note}")
                out.append((info, rec, offset))
            self._recordings = sorted(out, key=lambda item: item[2])
            self.notes = notes
        return self._recordings

    def create_nwbfile(self) -> NWBFile:
        """An NWBFile with the cell's metadata, the bath drugs at their first file's start, and the notes."""
        from nwb_ketamine.nwbfile import new_nwbfile

        bath: dict[str, float] = {}
        for info, _, offset in self.recordings():
            for drug_id in info.bath:
                bath.setdefault(drug_id, offset)
        nwbfile = new_nwbfile(
            self.study, self.session, session_description=self.session_description, bath=bath,
            identifier=self.identifier,
        )  # fmt: skip
        if self.notes:
            nwbfile.notes = "\n".join(self.notes)
        methods = self.session.methods
        # the study file's slice methods, in the core text fields made for them (nwb_ketamine.methods)
        slices = slices_text(methods)
        if slices is not None:
            nwbfile.slices = slices
        notes = stimulus_notes_text(methods.stimulation_site)
        if notes is not None:
            nwbfile.stimulus_notes = notes
        return nwbfile

    def add_to_nwbfile(self, nwbfile: NWBFile) -> None:
        """Add the electrode, every sweep with its icephys tables, the pClamp tags and the EPSC analysis.

        Parameters
        ----------
        nwbfile
            The file built by :meth:`create_nwbfile`.
        """
        from ndx_dandi_icephys import DandiIcephysMetadata

        session = self.session
        # dandi organize reads slice_id and cell_id from this object to name the file ..._slice-X_cell-Y_...
        nwbfile.add_lab_meta_data(DandiIcephysMetadata(slice_id=session.slice_id, cell_id=session.cell_id))
        recordings = self.recordings()
        first = recordings[0][1]
        device = nwbfile.create_device(
            name="amplifier",
            description=f"Patch-clamp amplifier and Axon digitizer (Molecular Devices); pClamp, ABF {first.version}.",
        )
        region_name = CCF_REGIONS[session.ccf_region]
        internal = session.methods.internal_solution
        electrode = nwbfile.create_icephys_electrode(
            name="electrode",
            description=f"Whole-cell patch pipette; lab region label '{session.region}' ({region_name})."
            + ("" if internal is None else "\n" + line(INTERNAL_SOLUTION, internal)),
            device=device,
            location=session.ccf_region,
            slice=f"Slice {session.slice_id}"
            + (f", cut at {session.slicing_time.isoformat()}" if session.slicing_time else ""),
            cell_id=session.cell_id,
        )
        self._add_conditions_columns(nwbfile)
        repetitions: dict[float, list[int]] = {}
        rows_per_file = []
        for file_index, (info, rec, offset) in enumerate(recordings):
            sequential, rows = self._add_file(nwbfile, electrode, file_index, info, rec, offset)
            repetitions.setdefault(info.holding_potential_volts, []).append(sequential)
            rows_per_file.append(rows)
        self._add_repetitions(nwbfile, repetitions)
        self._add_tags(nwbfile, recordings)
        if self.analyse:
            self._add_analysis(nwbfile, rows_per_file)

    def _series(self, cls, name: str, sweep: np.ndarray, conversion, description: str, common: dict):
        """One sweep as an icephys series of ``cls``, its data written after the file (:meth:`after_write`)."""
        deferred = sweep.size > 0  # HDF5 has no chunk of size 0: an empty sweep is written by pynwb itself
        if deferred:
            self._pending.append((name, sweep))
        data = _compressed(sweep, self.gzip_level, deferred)
        return cls(name=name, data=data, conversion=conversion, description=description, **common)

    def after_write(self, path, progress=None) -> None:
        """Write every sweep's compressed chunk into the empty datasets pynwb wrote.

        Parameters
        ----------
        path
            The temporary file just written by pynwb.
        progress
            Unused (slice files are small).
        """
        if not self._pending:
            return
        with h5py.File(path, "r+") as f:
            for name, sweep in self._pending:
                group = f["acquisition"].get(name) or f["stimulus/presentation"].get(name)
                if group is None:
                    raise ConversionError(f"{path}: series {name} was not written")
                write_single_chunk(group["data"], sweep, self.codec)
        self._pending.clear()

    def epsc_parameters(self):
        """The EPSC analysis parameters of the study file."""
        from nwb_ketamine.analysis.epsc_parameters import EpscParameters

        try:
            return EpscParameters(**self.study.analysis.get("epsc", {}))
        except (TypeError, ValueError) as exc:
            raise ConversionError(f"{self.study.path}: analysis.epsc: {exc}") from None

    def _add_analysis(self, nwbfile, rows_per_file) -> None:
        from nwb_ketamine.analysis.store import add_epsc_analysis

        sweeps, rows = [], []
        for (info, rec, _), file_rows in zip(self.recordings(), rows_per_file, strict=True):
            if info.clamp_mode != "voltage_clamp":
                continue
            factor = CURRENT_UNITS[rec.response_unit]
            sweeps.append(
                dict(
                    current_a=rec.response.astype(np.float64) * factor,
                    rate_hz=rec.rate_hz,
                    holding_v=info.holding_potential_volts,
                    file=info.path.name,
                )
            )
            rows.extend(file_rows)
        if sweeps:
            add_epsc_analysis(nwbfile, sweeps, rows, self.epsc_parameters())

    def _add_file(self, nwbfile, electrode, file_index, info, rec, offset) -> tuple[int, list[int]]:
        response_cls, stimulus_cls = SERIES[info.clamp_mode]
        response_factor = EXPECTED[info.clamp_mode]["response"][1][rec.response_unit]
        command_factor = EXPECTED[info.clamp_mode]["command"][1].get(rec.command_unit)
        unit_source = (
            f"; unit {rec.command_unit} from the study file's command_unit (the ABF header leaves it blank)"
            if rec.command_unit_from_study
            else ""
        )
        simultaneous, rows = [], []
        for sweep in range(rec.response.shape[0]):
            name = f"{info.protocol}_{file_index:02d}_{sweep:03d}"
            common = dict(
                rate=rec.rate_hz,
                starting_time=offset + float(rec.sweep_starts_s[sweep]),
                electrode=electrode,
                gain=1.0,
                stimulus_description=info.protocol,
                sweep_number=np.uint32(file_index * 10_000 + sweep),
            )
            stimulus, without = None, ""
            if rec.has_command(sweep):
                what = f"Command of {info.path.name} sweep {sweep}, as pyabf builds it from the protocol{unit_source}."
                stimulus = self._series(stimulus_cls, f"stimulus_{name}", rec.command[sweep], command_factor, what,
                                        common)  # fmt: skip
            else:
                without = f"; {rec.command_note}"
            what = f"{info.path.name} sweep {sweep} ({rec.channel_name}); holding {info.holding_potential}{without}"
            response = self._series(response_cls, f"response_{name}", rec.response[sweep], response_factor, what,
                                    common)  # fmt: skip
            index = nwbfile.add_intracellular_recording(electrode=electrode, stimulus=stimulus, response=response)
            rows.append(index)
            simultaneous.append(nwbfile.add_icephys_simultaneous_recording(recordings=[index]))
        sequential = nwbfile.add_icephys_sequential_recording(
            simultaneous_recordings=simultaneous, stimulus_type=info.protocol
        )
        return sequential, rows

    CONDITION_COLUMNS = {
        "region": "Allen CCF acronym of the recorded region.",
        "region_label": "The lab's own label of the region.",
        "experimental_group": "Experimental group of the subject.",
        "drug": "Agent injected in vivo before slicing ('none' without injection).",
        "dose": "Dose (or volume for vehicle) of the in vivo injection, with unit.",
        "stress": "Stress paradigm of the subject ('none' without stress protocol).",
        HOURS_SINCE_INJECTION_COLUMN: "Hours from the in vivo injection to the session start (NaN without injection).",
        HOLDING_POTENTIAL_COLUMN: "Holding potential of the recordings of this condition, in volts.",
        "bath_drugs": "Drugs in the bath during these recordings (comma-separated agents).",
    }

    def _time_points(self) -> dict[str, float]:
        """The study's time points (name → hours), or the defaults when the study file names none."""
        return self.study.time_points or DEFAULT_TIME_POINTS

    def _add_conditions_columns(self, nwbfile):
        conditions = nwbfile.get_icephys_experimental_conditions()
        for name, description in self.CONDITION_COLUMNS.items():
            conditions.add_column(name=name, description=description)
        description = time_point_description(self._time_points(), declared=bool(self.study.time_points))
        conditions.add_column(name=TIME_POINT_COLUMN, description=description)

    def _add_repetitions(self, nwbfile, repetitions: dict[float, list[int]]) -> None:
        session, study = self.session, self.study
        subject = study.subjects[session.subject]
        drug = study.drugs[session.injection.drug] if session.injection else None
        stress = study.stress_protocols[subject.stress].paradigm if subject.stress else "none"
        since = time_since_injection(session)
        hours = since.total_seconds() / 3600 if since is not None else float("nan")
        files_by_holding: dict[float, set[str]] = {}
        for info, _, _ in self.recordings():
            files_by_holding.setdefault(info.holding_potential_volts, set()).update(info.bath)
        for holding, sequentials in repetitions.items():
            repetition = nwbfile.add_icephys_repetition(sequential_recordings=sequentials)
            nwbfile.add_icephys_experimental_condition(
                repetitions=[repetition],
                region=session.ccf_region,
                region_label=session.region,
                experimental_group=subject.group,
                drug=drug.agent if drug else "none",
                dose=drug.amount if drug else "",
                stress=stress,
                bath_drugs=", ".join(sorted(study.drugs[d].agent for d in files_by_holding[holding])),
                **{
                    HOURS_SINCE_INJECTION_COLUMN: hours,
                    HOLDING_POTENTIAL_COLUMN: holding,
                    TIME_POINT_COLUMN: nearest_time_point(hours, self._time_points()),
                },
            )

    @staticmethod
    def _add_tags(nwbfile, recordings) -> None:
        """Add the pClamp comment tags as intervals.

        A tag (e.g. '+drug at 3min') announces a condition that holds until the next tag of the same file or
        the end of that file.
        """
        rows = []
        for info, rec, offset in recordings:
            if not rec.tags:
                continue
            end = offset + float(rec.sweep_starts_s[-1]) + rec.response.shape[1] / rec.rate_hz
            times = [offset + t for t, _ in rec.tags]
            for (start, (_, comment)), stop in zip(zip(times, rec.tags, strict=True), times[1:] + [end], strict=True):
                rows.append((start, stop, comment, info.path.name))
        if not rows:
            return
        table = TimeIntervals(
            name="abf_tags",
            description="Comment tags set in pClamp; each lasts until the next tag of its file or the file's end.",
        )
        table.add_column(name="comment", description="The tag's text, e.g. '+drug at 3min'.")
        table.add_column(name="source_file", description="ABF file the tag was set in.")
        for start, stop, comment, source in sorted(rows):
            table.add_row(start_time=start, stop_time=stop, comment=comment, source_file=source)
        nwbfile.add_time_intervals(table)
