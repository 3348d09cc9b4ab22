"""The pipeline through the command line: simulate → convert → validate → catalog, with exit codes."""

import json
import subprocess
import sys

import pytest


def nwb_ketamine(*args):
    """Run the ``nwb-ketamine`` command in a subprocess.

    Parameters
    ----------
    *args
        The command's arguments.
    """
    return subprocess.run(
        [sys.executable, "-m", "nwb_ketamine.cli", *map(str, args)], capture_output=True, text=True, timeout=900
    )


@pytest.mark.slow
def test_pipeline_commands(tmp_path):
    """The commands one after another: simulate, check, convert, validate, catalog.

    Parameters
    ----------
    tmp_path
        A fresh temporary folder.
    """
    raw, archive = tmp_path / "raw", tmp_path / "archive"
    assert nwb_ketamine("simulate", raw, "--size", "tiny", "--quiet").returncode == 0
    converted = nwb_ketamine("convert", raw / "study.yaml", archive, "--jobs", "2", "--quiet")
    assert converted.returncode == 0, converted.stderr
    assert "3 converted, 0 unchanged (skipped), 0 failed" in converted.stdout
    assert "catalog refreshed" in converted.stdout

    validated = nwb_ketamine("validate", archive, "--json", tmp_path / "report.json", "--quiet")
    assert validated.returncode == 0, validated.stdout
    assert validated.stdout.splitlines()[0].endswith("PASSED")
    report = json.loads((tmp_path / "report.json").read_text())
    assert len(report["files"]) == 3

    catalogued = nwb_ketamine("catalog", archive, "--quiet")
    assert catalogued.returncode == 0 and "3 unchanged" in catalogued.stdout

    # A file that breaks a domain rule makes validate fail with exit 1 and name the file.
    import h5py

    cell = sorted(archive.rglob("*_icephys.nwb"))[0]
    with h5py.File(cell, "r+") as f:
        electrode = f["general/intracellular_ephys/electrode"]
        del electrode["location"]
        electrode.create_dataset("location", data="habenula")  # not an Allen CCF acronym
    broken = nwb_ketamine("validate", archive, "--quiet")
    assert broken.returncode == 1
    assert "FAILED" in broken.stdout.splitlines()[0] and cell.name in broken.stdout


def test_validate_of_a_missing_folder_is_one_line(tmp_path):
    """``validate`` of a missing folder is a one-line error.

    Parameters
    ----------
    tmp_path
        A fresh temporary folder.
    """
    result = nwb_ketamine("validate", tmp_path / "nope")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'nope'}: not a folder; give the archive folder that convert wrote"
    ]
