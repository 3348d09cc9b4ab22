"""The tiny simulated study converted once per test process, for the detail-view and reader tests."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

import pandas as pd


@lru_cache(maxsize=1)
def tiny_archive() -> tuple[Path, Path]:
    """Simulate the tiny study, convert it with raw data and catalog it; return (archive, study.yaml)."""
    from nwb_ketamine.archive.catalog import build_catalog
    from nwb_ketamine.converters.abf import AbfSliceConverter
    from nwb_ketamine.converters.invivo import InVivoConverter
    from nwb_ketamine.metadata import load_study
    from nwb_ketamine.simulate import simulate_study

    root = Path(tempfile.mkdtemp(prefix="explorer-detail-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    study_path = simulate_study(root / "raw", seed=0, size="tiny", progress=False)
    study = load_study(study_path)
    archive = root / "archive"
    for s in study.slice_sessions:
        AbfSliceConverter(study, s).run_conversion(archive / f"sub-{s.subject}" / f"{s.key}_icephys.nwb")
    for s in study.invivo_sessions:
        InVivoConverter(study, s, include_raw=True, workers=1).run_conversion(
            archive / f"sub-{s.subject}" / f"{s.key}_ecephys.nwb"
        )
    build_catalog(archive, progress=False)
    return archive, study_path


class StubStore:
    """The part of the core developer's ArchiveStore that the detail views use, over the catalog tables."""

    def __init__(self, archive: Path):
        from nwb_ketamine.archive.catalog import load_catalog

        self.archive = Path(archive)
        tables = load_catalog(archive)
        self.sessions, self.cells, self.units = tables["sessions"], tables["cells"], tables["units"]

    def cell(self, cell_key: str) -> pd.Series:
        return self.cells.set_index("cell_key").loc[cell_key]

    def unit(self, unit_key: str) -> pd.DataFrame:
        return self.units[self.units["unit_key"] == unit_key].reset_index(drop=True)

    def session(self, file_key: str) -> pd.Series:
        return self.sessions.set_index("file").loc[file_key]

    def path_of(self, file_key: str) -> Path:
        if file_key not in set(self.sessions["file"]):
            raise KeyError(file_key)
        return self.archive / file_key
