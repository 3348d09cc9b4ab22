"""Cross-checks of in vivo sources, run before anything is written: one function per kind of source.

A source that contradicts itself or the study file would otherwise convert into a silently wrong NWB
file (a 5 s ElectricalSeries with spikes up to 10 s, an injection TTL at -6 s). Each check raises a
one-line :class:`~nwb_ketamine.errors.ConversionError` naming the file and the field.

Design decisions:

- **Open Ephys binary** (:func:`check_openephys_binary`, run before neo parses the folder): for every
  ``structure.oebin``, its ``num_channels`` must equal the channels it lists; ``continuous.dat`` must hold
  whole frames (``num_channels`` int16 samples each), at least one, and exactly as many as
  ``sample_numbers.npy`` and ``timestamps.npy`` list; the sample numbers must strictly increase (gaps are
  allowed: the GUI can drop buffers; going back is not). These are invariants of every Open Ephys GUI
  binary recording (0.6 and later write ``sample_numbers.npy``; older ones have ``timestamps.npy`` only,
  which then holds the sample numbers and is checked the same way). The legacy ``.continuous`` format and
  the other neo formats are checked by neo's own readers.
- **Spike times** (:func:`check_spike_times`) must lie within the recording, with a tolerance of
  :data:`SPIKE_TOLERANCE_SAMPLES` samples (one sample) at either end: sorters place a spike at its peak
  sample, which is inside the recording, and a time-stamped format's rounding is below a sample. With
  several segments (Neuralynx gaps), spikes may fall in gaps between segments (the sorting has its own
  clock there), so only the span from the first sample to the last is enforced.
- **Session times** (:func:`check_session_times`): the injection must not lie after the recording's
  end, and every epoch of the study file must lie within the recording (up to the same one-sample
  tolerance). An injection *before* the start stays allowed: giving the drug and then starting the
  recording is a real design, and the extension stores it as a negative time (DESIGN section 3).
"""

from __future__ import annotations

import contextlib
import json
import mmap
from pathlib import Path

import numpy as np

from nwb_ketamine.errors import ConversionError

#: Spike times and epoch ends may lie this many samples outside the recording.
SPIKE_TOLERANCE_SAMPLES = 1
#: Bytes per sample in Open Ephys binary ``continuous.dat`` files (int16).
_SAMPLE_BYTES = 2
#: Sample numbers are checked in blocks of this many, to bound memory on long recordings.
_BLOCK = 1 << 20


# -- Open Ephys binary -------------------------------------------------------------------------------
def check_openephys_binary(folder: Path) -> None:
    """Check every recording of an Open Ephys binary folder against its own header and sample numbers.

    Parameters
    ----------
    folder
        The recording folder given as ``raw.path`` (any level above ``structure.oebin``).

    Raises
    ------
    ConversionError
        On the first contradiction, naming the file and the field.
    """
    folder = Path(folder)
    headers = [folder] if folder.name == "structure.oebin" else sorted(folder.rglob("structure.oebin"))
    for oebin in headers:
        try:
            header = json.loads(oebin.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConversionError(f"{oebin}: not a readable structure.oebin ({type(exc).__name__}: {exc})") from None
        for i, stream in enumerate(header.get("continuous") or []):
            _check_stream(oebin, i, stream)


def _check_stream(oebin: Path, i: int, stream: dict) -> None:
    field = f"continuous[{i}]"
    listed = stream.get("channels")
    claimed = stream.get("num_channels")
    if not isinstance(claimed, int) or claimed < 1:
        raise ConversionError(f"{oebin}: {field}.num_channels is {claimed!r}, not a positive number of channels")
    if isinstance(listed, list) and len(listed) != claimed:
        raise ConversionError(
            f"{oebin}: {field}.num_channels is {claimed} but {field}.channels lists {len(listed)}; "
            "the header contradicts itself: restore the file the GUI wrote"
        )
    data_dir = oebin.parent / "continuous" / str(stream.get("folder_name", "")).strip("/")
    dat = data_dir / "continuous.dat"
    if not dat.is_file():
        raise ConversionError(f"{dat}: missing; {oebin} lists {field}.folder_name {stream.get('folder_name')!r}")
    size = dat.stat().st_size
    frame = claimed * _SAMPLE_BYTES
    if size == 0:
        raise ConversionError(f"{dat}: empty (0 bytes); the recording holds no samples: restore it or remove it")
    if size % frame:
        raise ConversionError(
            f"{dat}: {size} bytes is not a whole number of frames of {claimed} channels ({frame} bytes each); "
            "the file is truncated or its structure.oebin num_channels is wrong"
        )
    frames = size // frame
    clocks = [data_dir / name for name in ("sample_numbers.npy", "timestamps.npy") if (data_dir / name).is_file()]
    for clock in clocks:
        try:
            values = np.load(clock, mmap_mode="r")
        except (OSError, ValueError) as exc:
            raise ConversionError(f"{clock}: not a readable .npy file ({exc})") from None
        if values.ndim != 1 or len(values) != frames:
            raise ConversionError(
                f"{clock}: lists {len(values)} samples but continuous.dat holds {frames} frames of {claimed} "
                "channels; one of them is truncated"
            )
    if clocks:
        _check_increasing(clocks[0])


def _release(values: np.ndarray) -> None:
    """Unmap the pages of a read-only ``np.load(mmap_mode="r")`` array that were read (they stay in the page cache).

    Without it every page read stays in the process's resident memory until the array is dropped: the whole
    ``sample_numbers.npy`` (8 bytes a sample, 144 MB for 10 minutes of 16 channels at 30 kHz) at the peak of
    the conversion that follows the check.
    """
    mapped = getattr(values, "_mmap", None)
    if isinstance(mapped, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
        with contextlib.suppress(OSError, ValueError):  # closed, or not a mapping madvise accepts: leave it
            mapped.madvise(mmap.MADV_DONTNEED)


def _check_increasing(path: Path) -> None:
    values = np.load(path, mmap_mode="r")
    for start in range(0, len(values), _BLOCK):
        block = np.array(values[start : start + _BLOCK + 1])
        _release(values)
        steps = np.diff(block)
        bad = np.flatnonzero(steps <= 0)
        if bad.size:
            at = start + int(bad[0])
            raise ConversionError(
                f"{path}: sample numbers go back at index {at + 1} ({values[at]} then {values[at + 1]}); "
                "they must strictly increase: the file is damaged"
            )


# -- spike sortings ----------------------------------------------------------------------------------
def check_spike_times(
    source: Path | str, unit_ids, times_s, start_s: float, end_s: float, sampling_rate_hz: float
) -> None:
    """Every unit's spikes must lie within ``[start_s, end_s]``, give or take one sample.

    Parameters
    ----------
    source
        The sorting (named in the message).
    unit_ids
        Unit ids, parallel to ``times_s``.
    times_s
        Spike times per unit on the session clock (s).
    start_s, end_s
        The recording's first sample and end on that clock.
    sampling_rate_hz
        Sampling rate, for the tolerance.

    Raises
    ------
    ConversionError
        Naming the sorting, the unit and its first and last spike.
    """
    tol = SPIKE_TOLERANCE_SAMPLES / float(sampling_rate_hz)
    for uid, t in zip(unit_ids, times_s, strict=True):
        t = np.asarray(t, dtype=np.float64)
        if not t.size:
            continue
        lo, hi = float(np.min(t)), float(np.max(t))
        if not np.all(np.isfinite(t)):
            raise ConversionError(f"{source}: unit {uid}: spike times are not all finite numbers")
        if lo < start_s - tol or hi > end_s + tol:
            raise ConversionError(
                f"{source}: unit {uid}: spike times {lo:.6g}..{hi:.6g} s lie outside the recording "
                f"({start_s:.6g}..{end_s:.6g} s, tolerance one sample); check sorting.path and raw.path"
            )


# -- study file against the recording ---------------------------------------------------------------
def tetrode_channel_problems(tetrodes, n_channels: int) -> list[tuple[tuple, str]]:
    """The study file's tetrode channels that the recording does not have (channels are 0 to ``n_channels - 1``).

    Parameters
    ----------
    tetrodes
        The study's tetrodes (objects with ``channels``).
    n_channels
        The recording's channel count.

    Returns
    -------
    list of (tuple, str)
        The field's path within the session (``("tetrodes", j, "channels")``) and a message.
    """
    problems: list[tuple[tuple, str]] = []
    for j, tetrode in enumerate(tetrodes):
        bad = [c for c in tetrode.channels if not 0 <= c < n_channels]
        if bad:
            problems.append(
                (
                    ("tetrodes", j, "channels"),
                    f"{bad} do not exist; the recording has {n_channels} channels (0-{n_channels - 1}); "
                    "fix tetrodes in the study file",
                )
            )
    return problems


def session_time_problems(injection_s: float | None, epochs, end_s: float, rate_hz: float) -> list[tuple[tuple, str]]:
    """The study file's injection and epochs that do not fit the recording ``[0, end_s]``.

    The injection must not be after the recording's end; every epoch must lie within the recording.

    Parameters
    ----------
    injection_s
        Injection time relative to the session start (s), or None.
    epochs
        The study's epochs (objects with ``name``, ``start``, ``stop`` in s).
    end_s
        The recording's end on the session clock (s).
    rate_hz
        Sampling rate, for the one-sample tolerance.

    Returns
    -------
    list of (tuple, str)
        The field's path within the session (``("injection", "time")``, ``("epochs", j)``) and a message.
    """
    tol = SPIKE_TOLERANCE_SAMPLES / float(rate_hz)
    problems: list[tuple[tuple, str]] = []
    if injection_s is not None and injection_s > end_s + tol:
        problems.append(
            (
                ("injection", "time"),
                f"{injection_s:g} s after start_time, after the end of the {end_s:g} s recording; "
                "fix injection.time or start_time",
            )
        )
    for j, epoch in enumerate(epochs):
        if epoch.start < -tol or epoch.stop > end_s + tol:
            problems.append(
                (
                    ("epochs", j),
                    f"{epoch.name} ({epoch.start:g}..{epoch.stop:g} s) is not within the {end_s:g} s recording; "
                    "fix epochs",
                )
            )
    return problems


def check_session_times(study_file, key: str, injection_s: float | None, epochs, end_s: float, rate_hz: float) -> None:
    """Raise on the first problem of :func:`session_time_problems`.

    Parameters
    ----------
    study_file
        The study file (named in the message).
    key
        The session's key (``subject/session_id``), to say which session.
    injection_s, epochs, end_s, rate_hz
        As for :func:`session_time_problems`.

    Raises
    ------
    ConversionError
        Naming the study file, the session and the field.
    """
    for path, message in session_time_problems(injection_s, epochs, end_s, rate_hz):
        field = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in path).replace(".[", "[")
        raise ConversionError(f"{study_file}: session {key}: {field}: {message}")
