"""The small base class every session converter follows (after NeuroConv's BaseDataInterface).

A converter is built from the study and one session, keeps its constructor arguments for provenance,
and offers three steps: ``create_nwbfile`` (metadata only), ``add_to_nwbfile`` (the data, abstract) and
``run_conversion`` (write). Writing is atomic (:func:`nwb_ketamine.atomic.atomic_path`): the file is
written under a temporary name in the target folder and renamed only when complete, so an interrupted run
never leaves a file that looks done; an existing file is replaced only when asked.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from pathlib import Path

from pynwb import NWBHDF5IO, NWBFile

from nwb_ketamine.atomic import atomic_path
from nwb_ketamine.metadata import Study


class SessionConverter(ABC):
    """Base class: converts one session of a study into one NWB file.

    Parameters
    ----------
    study
        The validated study.
    session
        The session of ``study`` to convert.
    stub
        Convert only a short preview of the data.

    Examples
    --------
    >>> study = load_study("study.yaml")  # doctest: +SKIP
    >>> InVivoConverter(study, study.invivo_sessions[0]).run_conversion("session.nwb")  # doctest: +SKIP
    >>> AbfSliceConverter(study, study.slice_sessions[0]).run_conversion("cell.nwb")  # doctest: +SKIP
    """

    #: Short description used when the study file gives none.
    session_description = "A recording session."
    #: The batch run's options this converter takes as keyword arguments (``include_raw``, ``workers``).
    RUN_OPTIONS: tuple[str, ...] = ()

    def __init__(self, study: Study, session, *, stub: bool = False):
        self.study = study
        self.session = session
        self.stub = stub

    def create_nwbfile(self) -> NWBFile:
        """An NWBFile with the session's metadata and no data."""
        from nwb_ketamine.nwbfile import new_nwbfile

        return new_nwbfile(self.study, self.session, session_description=self.session_description)

    @abstractmethod
    def add_to_nwbfile(self, nwbfile: NWBFile) -> None:
        """Add the session's data to ``nwbfile``; every check of the sources runs here, before any write.

        Parameters
        ----------
        nwbfile
            The file built by :meth:`create_nwbfile`.
        """

    def after_write(self, path: Path, progress=None) -> None:  # noqa: B027 - a hook: most converters need none
        """Write what pynwb's ``io.write`` cannot (e.g. streamed raw samples) into the closed file at ``path``.

        Parameters
        ----------
        path
            The written, closed file.
        progress
            Called with the number of samples written, or None.
        """

    def write_nwb(self, path: str | Path, nwbfile: NWBFile | None = None, *, progress=None) -> Path:
        """Convert the session and write it to ``path`` as it is (not atomically: see :meth:`run_conversion`).

        Parameters
        ----------
        path
            The file to write.
        nwbfile
            An NWBFile already filled (default: built with :meth:`create_nwbfile` and :meth:`add_to_nwbfile`).
        progress
            Called with the number of samples written, for long raw recordings.
        """
        path = Path(path)
        if nwbfile is None:
            nwbfile = self.create_nwbfile()
            self.add_to_nwbfile(nwbfile)
        with warnings.catch_warnings():
            # Temporary names deliberately do not end in .nwb, so no tool takes them for a finished file.
            warnings.filterwarnings("ignore", message="The file path provided: .* does not end in '.nwb'")
            with NWBHDF5IO(path, "w") as io:
                io.write(nwbfile)
        self.after_write(path, progress=progress)
        return path

    def run_conversion(
        self, path: str | Path, nwbfile: NWBFile | None = None, *, overwrite: bool = False, progress=None
    ) -> Path:
        """Convert the session and write it to ``path`` atomically; return the path.

        Parameters
        ----------
        path
            The NWB file to write.
        nwbfile
            An NWBFile already filled (default: built with :meth:`create_nwbfile` and :meth:`add_to_nwbfile`).
        overwrite
            Replace an existing file (default: refuse, before anything is read or written).
        progress
            Called with the number of samples written, for long raw recordings.
        """
        path = Path(path)
        with atomic_path(path, overwrite=overwrite) as partial:
            self.write_nwb(partial, nwbfile, progress=progress)
        return path
