"""Slice patch-clamp: the ABF files of one cell → one NWB file with the full icephys table hierarchy.

Design decisions:

- The user states the clamp mode and the response/command channels (study file, per-file overrides).
  ABF headers do not reliably record the clamp mode, so the header is only *checked* against what the
  user said: a response channel in volts under voltage clamp is a contradiction and an error, never
  a silent guess.
- Data are stored as pyabf returns them (float32 in the file's own unit) with the exact SI
  ``conversion`` factor, so every stored value equals pyabf's and no precision is invented.
- Files go in time order, each sweep at its real start time relative to the session start (the ABF
  header's naive rig-clock time is read in the study's time zone). A header date that is missing,
  unreadable, before 1990 or in the future is refused unless the study file gives the file's
  ``recording_time``; the header's value then goes into the file's notes.
- A command is stored only when it is data: ``command: none`` in the study file means none was applied, a
  blank header unit needs the study file's ``command_unit``, and a command pyabf cannot build (all NaN,
  e.g. a stimulus file that is not next to the ABF) is left out with the reason logged and written into
  the response's description and the file's notes.
- The icephys tables are filled to the top: recordings → simultaneous (one per sweep) → sequential
  (one per protocol file, stimulus type = protocol) → repetitions (one per holding potential) →
  experimental conditions, whose rows carry labelled columns (region, drug, dose, stress, time since
  injection, holding potential) instead of NeuroConv's unlabelled ones.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

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

from nwb_ketamine.converters.base import SessionConverter
from nwb_ketamine.errors import ConversionError
from nwb_ketamine.metadata import (
    ABF_CURRENT_UNITS,
    ABF_VOLTAGE_UNITS,
    AbfFileInfo,
    SliceSession,
    Study,
    time_since_injection,
)
from nwb_ketamine.vocabulary import CCF_REGIONS

logger = logging.getLogger(__name__)

# One table of units for the study file's validator and the converter (metadata.py holds it).
CURRENT_UNITS = ABF_CURRENT_UNITS
VOLTAGE_UNITS = ABF_VOLTAGE_UNITS
#: What the response and the command of each clamp mode are measured in.
EXPECTED = {
    "voltage_clamp": {"response": ("current", CURRENT_UNITS), "command": ("voltage", VOLTAGE_UNITS)},
    "current_clamp": {"response": ("voltage", VOLTAGE_UNITS), "command": ("current", CURRENT_UNITS)},
}
SERIES = {
    "voltage_clamp": (VoltageClampSeries, VoltageClampStimulusSeries),
    "current_clamp": (CurrentClampSeries, CurrentClampStimulusSeries),
}
#: Header dates before this are taken for a reset rig clock: the ABF format itself dates from the 1990s.
EARLIEST_PLAUSIBLE_DATE = datetime(1990, 1, 1)
RECORDING_TIME_HINT = "write \"recording_time: 'YYYY-MM-DDTHH:MM:SS+HH:MM'\" (from the lab notebook)"


@dataclass
class AbfRecording:
    """The sweeps of one ABF file as the converter needs them (values in the file's units)."""

    path: Path
    start: datetime | None  # naive, rig clock; None when the header has no readable date
    rate_hz: float
    response: np.ndarray  # (n_sweeps, n_samples), float32, response_unit
    command: np.ndarray | None  # (n_sweeps, n_samples), float32 when lossless else float64, command_unit
    response_unit: str
    command_unit: str | None  # None when no sweep has a command
    sweep_starts_s: np.ndarray  # from the file start
    tags: list[tuple[float, str]]  # (seconds from the file start, comment)
    protocol_in_header: str
    version: str
    channel_name: str
    start_in_header: str = ""  # the header's date and time as text, for the notes when it is overridden
    #: Sweeps stored without a command, and why (``command_note``).
    command_missing: np.ndarray | None = None
    command_note: str = ""
    command_unit_from_study: bool = False

    def has_command(self, sweep: int) -> bool:
        return self.command is not None and not (self.command_missing is not None and self.command_missing[sweep])


def _check_unit(path, which, channel, unit, clamp_mode):
    kind, units = EXPECTED[clamp_mode][which]
    if unit in units:
        return units[unit]
    other = "voltage" if kind == "current" else "current"
    if unit in (VOLTAGE_UNITS if other == "voltage" else CURRENT_UNITS):
        raise ConversionError(
            f"{path}: {which}_channel {channel} is in {unit} ({other}) but the study says {clamp_mode}, where the "
            f"{which} is a {kind}; fix clamp_mode or {which}_channel in the study file"
        )
    raise ConversionError(f"{path}: {which}_channel {channel} has unknown unit {unit!r}; expected a {kind} unit")


def _text(value) -> str:
    """A header string without the NUL padding some writers leave in fixed-width fields."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return str(value).replace("\x00", "").strip()


def header_start(abf) -> tuple[datetime | None, str]:
    """The recording start the ABF header gives (naive, rig clock), or None, and the header's value as text.

    pyabf hides both failures of the header: an ABF1 ``lFileStartDate`` of 0 (no date stored) becomes the
    file system's creation time of the file (a copy's is the day it was copied), and an unreadable date
    becomes year 1. Both are None here, so that nothing but the header or the study file dates a file.
    """
    if abf.abfVersion["major"] == 1:
        header = abf._headerV1
        date, time, time_unit = header.lFileStartDate, header.lFileStartTime, "s"
        if date == 0:
            return None, "no date (lFileStartDate 0)"
    else:
        header = abf._headerV2
        date, time, time_unit = header.uFileStartDate, header.uFileStartTimeMS, "ms"
    if abf.abfDateTimeString == "ERROR":
        return None, f"unreadable date {date}, time {time} {time_unit}"
    return abf.abfDateTime, abf.abfDateTime.isoformat(timespec="milliseconds")


def implausible_start(start: datetime | None, text: str, tz) -> str | None:
    """Why a header start is implausible (the header's text and the reason), or None when it is plausible."""
    if start is None:
        return text
    if start < EARLIEST_PLAUSIBLE_DATE:
        return f"{text}, before {EARLIEST_PLAUSIBLE_DATE.year}"
    if start.replace(tzinfo=tz) > datetime.now(UTC):
        return f"{text}, in the future"
    return None


def _synthesise_command(abf, channel: int, n_sweeps: int, n: int) -> tuple[np.ndarray, np.ndarray, str]:
    """pyabf's command waveform of each sweep, which sweeps have none (all NaN), and pyabf's reason.

    pyabf builds the command from the protocol's epoch table, or reads it from a stimulus file; when it
    cannot (stimulus file not found, unknown waveform source) it returns NaN for ABF2 files and raises for
    ABF1 files, and says why in ``Stimulus.text`` and a warning.
    """
    command = np.full((n_sweeps, n), np.nan)
    said, failure = [], ""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            for sweep in range(n_sweeps):
                abf.setSweep(sweep, channel=channel)
                command[sweep] = abf.sweepC
        except Exception as exc:  # pyabf's ABF1 stimulus-file path fails with UnboundLocalError
            failure = f"{type(exc).__name__}: {exc}"
    for warning in caught:
        line = str(warning.message).splitlines()[0].strip()
        if line not in said:
            said.append(line)
    missing = np.isnan(command).all(axis=1)
    stimulus = getattr(abf, "stimulusByChannel", [None] * (channel + 1))[channel]
    detail = "; ".join(filter(None, [getattr(stimulus, "text", ""), *said, failure]))
    note = f"no command stored: pyabf cannot build the waveform of DAC {channel} ({detail})"
    return command, missing, note if failure else f"{note}, every value is NaN"


def _command_unit(path, abf, channel, stated, clamp_mode, where) -> str:
    """The command's unit: the header's, or the study file's ``command_unit`` when the header leaves it blank."""
    header = _text(abf.dacUnits[channel])
    units = EXPECTED[clamp_mode]["command"][1]
    if not header:
        if stated is None:
            examples = {"voltage_clamp": ("mV", "V, uV"), "current_clamp": ("pA", "nA, A")}[clamp_mode]
            raise ConversionError(
                f"{path}: the command (DAC {channel}) has no unit in the ABF header; state it in {where}: write "
                f"'command_unit: {examples[0]}' (or {examples[1]}), or 'command: none' when no command was applied"
            )
        return stated
    if stated is not None and units.get(stated) != units.get(header):
        raise ConversionError(
            f"{path}: the ABF header gives the command (DAC {channel}) in {header} but {where} says "
            f"'command_unit: {stated}'; remove command_unit (it is for headers that leave the unit blank)"
        )
    return header


def sweep_starts_s(abf, path: Path) -> np.ndarray:
    """Start of each sweep in seconds from the file start, from the ABF synch array.

    pyabf's ``sweepTimesSec`` assumes back-to-back sweeps in ABF1 files (``sweepIntervalSec`` is the
    sweep length there), which misplaces sweeps recorded with a longer start-to-start interval. The
    synch array records each sweep's real start, in ``fSynchTimeUnit`` microseconds, or in multiplexed
    samples when that unit is 0 (as pyabf treats tag times). Gap-free files have no synch array.
    """
    if abf.abfVersion["major"] == 1:
        header = abf._headerV1
        count, unit = header.lSynchArraySize, header.fSynchTimeUnit
        starts = np.fromfile(path, dtype="<i4", count=2 * count, offset=header.lSynchArrayPtr * 512)[::2]
    else:
        starts, unit = np.asarray(abf._synchArraySection.lStart), abf._protocolSection.fSynchTimeUnit
    if len(starts) < abf.sweepCount:
        return np.asarray(abf.sweepTimesSec, dtype=float)
    starts = starts[: abf.sweepCount].astype(float)
    seconds = starts * unit * 1e-6 if unit else starts / (abf.dataRate * abf.channelCount)
    if np.any(np.diff(seconds) < 0):
        raise ConversionError(f"{path}: the synch array's sweep start times go backwards; the header is corrupt")
    return seconds


def read_abf(
    path: str | Path,
    *,
    clamp_mode: str,
    response_channel: int = 0,
    command_channel: int = 0,
    max_sweeps=None,
    command_unit: str | None = None,
    has_command: bool = True,
    where: str = "the study file",
) -> AbfRecording:
    """Read one ABF file (ABF1 or ABF2, episodic or gap-free) with pyabf and check it against the user.

    Parameters
    ----------
    path
        The .abf file.
    clamp_mode
        'voltage_clamp' or 'current_clamp', as the user states it.
    response_channel, command_channel
        ADC channel of the response and DAC channel of the command.
    max_sweeps
        Read only the first sweeps (for quick previews).
    command_unit
        The command's unit for a header that leaves it blank (the study file's ``command_unit``).
    has_command
        False when the user says no command was applied: the command is not read at all.
    where
        Where the file is described in the study file, for messages (e.g. ``study.yaml:42 sessions[0].files[1]``).

    Raises
    ------
    ConversionError
        When pyabf cannot read the file, a channel does not exist, the header contradicts the clamp mode, or
        the command has no unit and the study file does not give one.
    """
    import pyabf

    path = Path(path)
    try:
        abf = pyabf.ABF(str(path))
    except Exception as exc:  # pyabf raises bare Exceptions, struct errors, ValueErrors...
        raise ConversionError(f"{path}: cannot read as an ABF file ({type(exc).__name__}: {exc})") from None
    if not 0 <= response_channel < abf.channelCount:
        raise ConversionError(
            f"{path}: response_channel {response_channel} does not exist; the file has {abf.channelCount} ADC "
            f"channel(s): {', '.join(abf.adcNames)}"
        )
    n_dacs = len(abf.dacUnits)
    if has_command and not 0 <= command_channel < n_dacs:
        raise ConversionError(
            f"{path}: command_channel {command_channel} does not exist; the file has {n_dacs} DAC channel(s)"
        )
    if has_command and command_channel >= abf.channelCount:
        # pyabf synthesises the command waveform only for DACs paired with a recorded ADC channel.
        raise ConversionError(
            f"{path}: command_channel {command_channel} cannot be read (pyabf gives command waveforms only for "
            f"DAC 0-{abf.channelCount - 1}); set command_channel to one of those"
        )
    response_unit = _text(abf.adcUnits[response_channel])
    _check_unit(path, "response", response_channel, response_unit, clamp_mode)

    n_sweeps = abf.sweepCount if max_sweeps is None else min(max_sweeps, abf.sweepCount)
    n = abf.sweepPointCount
    # abf.data holds every channel, sweeps end to end: slicing it is exact and avoids per-sweep copies.
    response = abf.data[response_channel, : n_sweeps * n].reshape(n_sweeps, n)
    command, unit, note = None, None, "no command: the study file says none was applied (command: none)"
    missing = np.ones(n_sweeps, dtype=bool)
    if has_command:
        command, missing, note = _synthesise_command(abf, command_channel, n_sweeps, n)
        if missing.all():
            # Nothing to scale: a unit is neither needed nor asked for, and NaN is not stored as data.
            command = None
            logger.warning("%s: %s", path, note)
        else:
            unit = _command_unit(path, abf, command_channel, command_unit, clamp_mode, where)
            _check_unit(path, "command", command_channel, unit, clamp_mode)
            if missing.any():
                logger.warning("%s: sweeps %s: %s", path, np.flatnonzero(missing).tolist(), note)
            if np.array_equal(command.astype(np.float32), command, equal_nan=True):  # steps usually are
                command = command.astype(np.float32)
    start, start_in_header = header_start(abf)
    return AbfRecording(
        path=path,
        start=start,
        rate_hz=float(abf.dataRate),
        response=np.asarray(response, dtype=np.float32),
        command=command,
        response_unit=response_unit,
        command_unit=unit,
        sweep_starts_s=sweep_starts_s(abf, path)[:n_sweeps],
        tags=[(float(time), _text(text)) for time, text in zip(abf.tagTimesSec, abf.tagComments, strict=True)],
        protocol_in_header=_text(abf.protocol),
        version=abf.abfVersionString,
        channel_name=_text(abf.adcNames[response_channel]),
        start_in_header=start_in_header,
        command_missing=missing,
        command_note=note if missing.any() else "",
        command_unit_from_study=unit is not None and not _text(abf.dacUnits[command_channel]),
    )


def _compressed(sweep: np.ndarray) -> H5DataIO:
    """gzip with shuffle, one chunk per sweep: readable by every HDF5 reader, and command steps shrink to nothing."""
    return H5DataIO(sweep, compression="gzip", compression_opts=4, shuffle=True, chunks=sweep.shape)


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

    Examples
    --------
    >>> study = load_study("study.yaml")  # doctest: +SKIP
    >>> AbfSliceConverter(study, study.slice_sessions[0]).run_conversion("cell.nwb")  # doctest: +SKIP
    """

    session_description = "Whole-cell patch-clamp recording of one neuron in an acute brain slice."
    STUB_SWEEPS = 2

    def __init__(self, study: Study, session: SliceSession, *, stub: bool = False, analyse: bool = True):
        super().__init__(study, session, stub=stub)
        self.analyse = analyse
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
        from nwb_ketamine.nwbfile import new_nwbfile

        bath = {}
        for info, _, offset in self.recordings():
            for drug_id in info.bath:
                bath.setdefault(drug_id, offset)
        nwbfile = new_nwbfile(self.study, self.session, session_description=self.session_description, bath=bath)
        if self.notes:
            nwbfile.notes = "\n".join(self.notes)
        return nwbfile

    def add_to_nwbfile(self, nwbfile: NWBFile) -> None:
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
        electrode = nwbfile.create_icephys_electrode(
            name="electrode",
            description=f"Whole-cell patch pipette; lab region label '{session.region}' ({region_name}).",
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

    def epsc_parameters(self):
        """The EPSC analysis parameters of the study file."""
        from nwb_ketamine.analysis.epsc import EpscParameters

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

    def _add_file(self, nwbfile, electrode, file_index, info, rec, offset) -> int:
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
                stimulus = stimulus_cls(
                    name=f"stimulus_{name}",
                    data=_compressed(rec.command[sweep]),
                    conversion=command_factor,
                    description=f"Command of {info.path.name} sweep {sweep}, as pyabf builds it from the protocol"
                    f"{unit_source}.",
                    **common,
                )
            else:
                without = f"; {rec.command_note}"
            response = response_cls(
                name=f"response_{name}",
                data=_compressed(rec.response[sweep]),
                conversion=response_factor,
                description=f"{info.path.name} sweep {sweep} ({rec.channel_name}); holding {info.holding_potential}"
                f"{without}",
                **common,
            )
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
        "hours_since_injection": "Hours from the in vivo injection to the session start (NaN without injection).",
        "holding_potential": "Holding potential of the recordings of this condition, in volts.",
        "bath_drugs": "Drugs in the bath during these recordings (comma-separated agents).",
    }

    def _add_conditions_columns(self, nwbfile):
        conditions = nwbfile.get_icephys_experimental_conditions()
        for name, description in self.CONDITION_COLUMNS.items():
            conditions.add_column(name=name, description=description)

    def _add_repetitions(self, nwbfile, repetitions: dict[float, list[int]]) -> None:
        session, study = self.session, self.study
        subject = study.subjects[session.subject]
        drug = study.drugs[session.injection.drug] if session.injection else None
        stress = study.stress_protocols[subject.stress].paradigm if subject.stress else "none"
        since = time_since_injection(session)
        files_by_holding = {}
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
                hours_since_injection=since.total_seconds() / 3600 if since is not None else float("nan"),
                holding_potential=holding,
                bath_drugs=", ".join(sorted(study.drugs[d].agent for d in files_by_holding[holding])),
            )

    @staticmethod
    def _add_tags(nwbfile, recordings) -> None:
        """pClamp comment tags as intervals: a tag (e.g. '+drug at 3min') announces a condition that holds
        until the next tag of the same file or the end of that file."""
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
