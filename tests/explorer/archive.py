"""A tiny simulated archive with its catalog, built once per test session (explorer and browser tests)."""

from pathlib import Path

from nwb_ketamine.cli import main as cli


def build_tiny_archive(folder: Path) -> Path:
    """Simulate the tiny study, convert it (which builds the catalog) and return the archive folder."""
    raw, archive = folder / "raw", folder / "archive"
    assert cli(["simulate", str(raw), "--size", "tiny", "--quiet"]) == 0
    assert cli(["convert", str(raw / "study.yaml"), str(archive), "--jobs", "1", "--quiet"]) == 0
    return archive
