"""Fixtures of the catalog tests: the shared tiny study converted into an archive without a catalog."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


def make_archive(root: Path, study_path: Path, *, include_raw: bool = False) -> tuple[Path, Path]:
    """Convert the simulated study at ``study_path`` into ``root/archive``; return (archive, ground_truth).

    Parameters
    ----------
    root
        Where to create ``archive``.
    study_path
        The study file of a simulated study.
    include_raw
        Store the in vivo raw data.
    """
    from nwb_ketamine.converters.abf import AbfSliceConverter
    from nwb_ketamine.converters.invivo import InVivoConverter
    from nwb_ketamine.metadata import load_study

    archive = root / "archive"
    study = load_study(study_path)
    for s in study.slice_sessions:
        AbfSliceConverter(study, s).run_conversion(archive / f"sub-{s.subject}" / f"{s.key}_icephys.nwb")
    for s in study.invivo_sessions:
        InVivoConverter(study, s, include_raw=include_raw).run_conversion(
            archive / f"sub-{s.subject}" / f"{s.key}_ecephys.nwb"
        )
    return archive, study_path.parent / "ground_truth"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, simulated_tiny):
    """The shared tiny study converted without raw data (and without a catalog): (archive, ground_truth).

    Parameters
    ----------
    tmp_path_factory
        pytest's factory of temporary folders.
    simulated_tiny
        The study file of the shared tiny simulated study.
    """
    return make_archive(tmp_path_factory.mktemp("catalog"), simulated_tiny)


@pytest.fixture
def archive_copy(tiny, tmp_path):
    """A copy of the tiny archive that a test may change.

    Parameters
    ----------
    tiny
        The tiny archive and its ground-truth folder.
    tmp_path
        A fresh temporary folder.
    """
    return Path(shutil.copytree(tiny[0], tmp_path / "archive", ignore=shutil.ignore_patterns(".nwb-ketamine")))
