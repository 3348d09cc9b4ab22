"""The small base class every session converter follows (after NeuroConv's BaseDataInterface).

A converter is built from the study and one session, keeps its constructor arguments for provenance,
and offers three steps: ``create_nwbfile`` (metadata only), ``add_to_nwbfile`` (the data) and
``run_conversion`` (write). Writing is atomic: the file is written under a temporary name in the
target folder and renamed only when complete, so an interrupted run never leaves a file that looks done.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from pynwb import NWBHDF5IO, NWBFile

from nwb_ketamine.metadata import Study


class SessionConverter:
    """Base class: converts one session of a study into one NWB file."""

    #: Short description used when the study file gives none.
    session_description = "A recording session."

    def __init__(self, study: Study, session, *, stub: bool = False):
        self.study = study
        self.session = session
        self.stub = stub

    def create_nwbfile(self) -> NWBFile:
        """An NWBFile with the session's metadata and no data."""
        from nwb_ketamine.nwbfile import new_nwbfile

        return new_nwbfile(self.study, self.session, session_description=self.session_description)

    def add_to_nwbfile(self, nwbfile: NWBFile) -> None:
        raise NotImplementedError

    def after_write(self, io: NWBHDF5IO, progress=None) -> None:
        """Write what pynwb's ``io.write`` cannot (e.g. streamed raw samples) into the still-open file."""

    def run_conversion(self, path: str | Path, nwbfile: NWBFile | None = None, *, progress=None) -> Path:
        """Convert the session and write it to ``path`` atomically; return the path.

        Every check runs in ``add_to_nwbfile``, before anything is written.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if nwbfile is None:
            nwbfile = self.create_nwbfile()
            self.add_to_nwbfile(nwbfile)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        try:
            with warnings.catch_warnings():
                # The temporary name deliberately does not end in .nwb, so no tool takes it for a finished file.
                warnings.filterwarnings("ignore", message="The file path provided: .* does not end in '.nwb'")
                with NWBHDF5IO(partial, "w") as io:
                    io.write(nwbfile)
                    self.after_write(io, progress=progress)
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
        return path
