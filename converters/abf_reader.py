"""Read one ABF file (ABF1 or ABF2, episodic or gap-free) with pyabf and check its header against the study file.

Design decisions:

- The user states the clamp mode and the response/command channels (study file, per-file overrides).
  ABF headers do not reliably record the clamp mode, so the header is only *checked* against what the
  user said: a response channel in volts under voltage clamp is a contradiction and an error, never
  a silent guess.
- Data are returned as pyabf returns them (float32 in the file's own unit), with the unit, so the
  converter stores every value equal to pyabf's with the exact SI ``conversion`` factor.
- The header's naive rig-clock start is returned as it is, or None when it is missing or unreadable
  (pyabf would put the file system's date or year 1 there); :func:`implausible_start` says why a date
  cannot be trusted.
- A command is read only when it is data: ``command: none`` in the study file means none was applied, a
  blank header unit needs the study file's ``command_unit``, and a command pyabf cannot build (all NaN,
  e.g. a stimulus file that is not next to the ABF) is left out with the reason logged and returned.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from nwb_ketamine.errors import ConversionError
from nwb_ketamine.metadata import ABF_CURRENT_UNITS, ABF_VOLTAGE_UNITS

logger = logging.getLogger(__name__)

# One table of units for the study file's validator and the converter (nwb_ketamine.metadata.values holds it).
CURRENT_UNITS = ABF_CURRENT_UNITS
VOLTAGE_UNITS = ABF_VOLTAGE_UNITS
#: What the response and the command of each clamp mode are measured in.
EXPECTED = {
    "voltage_clamp": {"response": ("current", CURRENT_UNITS), "command": ("voltage", VOLTAGE_UNITS)},
    "current_clamp": {"response": ("voltage", VOLTAGE_UNITS), "command": ("current", CURRENT_UNITS)},
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
        """Whether ``sweep`` has a command stored.

        Parameters
        ----------
        sweep
            The sweep index.
        """
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

    Parameters
    ----------
    abf
        The file opened with pyabf.
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
    """Why a header start is implausible (the header's text and the reason), or None when it is plausible.

    Parameters
    ----------
    start
        The header start, or None.
    text
        The header's value as text.
    tz
        The study's time zone, in which the naive start is read.
    """
    if start is None:
        return text
    if start < EARLIEST_PLAUSIBLE_DATE:
        return f"{text}, before {EARLIEST_PLAUSIBLE_DATE.year}"
    if start.replace(tzinfo=tz) > datetime.now(UTC):
        return f"{text}, in the future"
    return None


def _synthesise_command(abf, channel: int, n_sweeps: int, n: int) -> tuple[np.ndarray, np.ndarray, str]:
    """The command waveform pyabf builds for each sweep, which sweeps have none (all NaN), and pyabf's reason.

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

    Parameters
    ----------
    abf
        The file opened with pyabf.
    path
        The file, read for the ABF1 synch array and named in errors.
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
