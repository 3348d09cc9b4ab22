"""The one table of every format the converters read: format name → the module and reader that read it.

Three kinds of format, each named as the study file names it:

- sorting formats (``sorting.format``: phy, ntt, mclust, axona, openephys_spikes) → the reader function
  of their module, which returns a :class:`~nwb_ketamine.converters.sorted_units.SortedUnits`, with the
  acquisition system a sorting-only session's Device names and the clock the spike samples count;
- raw in vivo formats (``raw.format``) → the neo RawIO class that reads them
  (:mod:`nwb_ketamine.converters.neo_raw`);
- session kinds (abf slice cells, in vivo tetrode sessions) → their session converter class.

A new format is a module and one entry here: nothing else dispatches on a format name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

from nwb_ketamine.converters.axona import read_axona
from nwb_ketamine.converters.mclust import read_mclust
from nwb_ketamine.converters.ntt import read_ntt
from nwb_ketamine.converters.openephys_spikes import read_openephys_spikes
from nwb_ketamine.converters.phy import read_phy
from nwb_ketamine.converters.sorted_units import SortedUnits
from nwb_ketamine.errors import ConversionError


@dataclass(frozen=True)
class SortingFormat:
    """One spike-sorting format: its reader and what the files tell about the recording.

    Attributes
    ----------
    reader
        ``reader(path, *, session, sampling_rate_hz) -> SortedUnits``.
    manufacturer
        Who made the acquisition system the format comes from ('unknown' when the files do not say).
    system
        What the files are, for the Device of a session without raw data.
    concatenated_clock
        The spike samples count the concatenated raw segments (the file the sorter read), not time on the
        acquisition system's continuous clock.
    """

    reader: Callable[..., SortedUnits]
    manufacturer: str
    system: str
    concatenated_clock: bool = False


SORTING_FORMATS: dict[str, SortingFormat] = {
    "phy": SortingFormat(read_phy, "unknown", "phy/Kilosort sorting (the raw .dat was not kept)", True),
    "ntt": SortingFormat(read_ntt, "Neuralynx", "Neuralynx tetrode spike files (.ntt)"),
    "mclust": SortingFormat(read_mclust, "Neuralynx", "MClust cluster files (.t) of a Neuralynx recording"),
    "axona": SortingFormat(read_axona, "Axona", "Axona DacqUSB tetrode spike files"),
    "openephys_spikes": SortingFormat(read_openephys_spikes, "Open Ephys", "Open Ephys spike files (.spikes)"),
}

#: Short names accepted in study.yaml's ``raw.format`` → neo RawIO class name.
RAW_FORMATS: dict[str, str] = {
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

#: Session type (the study file's ``sessions[].type``) → (module, class) of its converter; imported on use
#: (the converters import this table).
CONVERTERS: dict[str, tuple[str, str]] = {
    "slice": ("nwb_ketamine.converters.abf", "AbfSliceConverter"),
    "invivo": ("nwb_ketamine.converters.invivo", "InVivoConverter"),
}


def converter_class(kind: str) -> type:
    """The session converter class of a session type ('slice' or 'invivo').

    Parameters
    ----------
    kind
        A key of :data:`CONVERTERS`.

    Returns
    -------
    type
        The :class:`~nwb_ketamine.converters.base.SessionConverter` subclass.
    """
    module, name = CONVERTERS[kind]
    return getattr(import_module(module), name)


def sorting_format(fmt: str | None, path) -> SortingFormat:
    """The registry entry of a sorting format.

    Parameters
    ----------
    fmt
        The study file's ``sorting.format``.
    path
        The sorting, named in the error.

    Raises
    ------
    ConversionError
        The format is not in :data:`SORTING_FORMATS`.
    """
    entry = SORTING_FORMATS.get(fmt or "")
    if entry is None:
        raise ConversionError(f"{path}: unknown sorting format {fmt!r}; use one of {', '.join(SORTING_FORMATS)}")
    return entry


def read_sorting(path, fmt: str | None, *, session, sampling_rate_hz: float | None) -> SortedUnits:
    """Read a spike sorting in any format of :data:`SORTING_FORMATS`.

    Parameters
    ----------
    path
        The sorting folder or file (phy folder; folder of .ntt / .t / Axona / .spikes files, or one file).
    fmt
        One of the keys of :data:`SORTING_FORMATS`.
    session
        The :class:`~nwb_ketamine.metadata.InVivoSession`; its tetrodes map files and channels to
        tetrodes, its raw folder gives the clock origin of time-stamped formats.
    sampling_rate_hz
        Rate of the raw recording; spike times are converted to its samples. None: the sorting's own.

    Returns
    -------
    SortedUnits
        The units, their spike samples and what the files say about the recording.

    Raises
    ------
    ConversionError
        Unreadable or inconsistent files, with one line naming the file.
    """
    path = Path(path)
    axona_base = fmt == "axona" and Path(f"{path}.set").exists()  # a trial named by its base name
    if not path.exists() and not axona_base:
        raise ConversionError(f"{path}: sorting not found; check sorting.path in the study file")
    units = sorting_format(fmt, path).reader(path, session=session, sampling_rate_hz=sampling_rate_hz)
    if session is not None:
        n = len(session.tetrodes)
        for uid, tet in zip(units.ids, units.tetrode, strict=True):
            if not 0 <= tet < n:
                raise ConversionError(
                    f"{path}: unit {uid} is on tetrode index {tet} but the study file declares {n} tetrodes; "
                    "add its tetrode to tetrodes"
                )
    return units
