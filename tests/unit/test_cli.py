"""The command line: exit codes, one-line errors, nothing written on bad arguments."""

import subprocess
import sys

from tests.conftest import EXAMPLE_STUDY


def nwb_ketamine(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "nwb_ketamine.cli", *map(str, args)], capture_output=True, text=True, cwd=cwd
    )


def test_help_lists_the_registered_commands():
    result = nwb_ketamine("--help")
    assert result.returncode == 0
    assert "check" in result.stdout and "simulate" in result.stdout


def test_check_reports_problems_one_per_line_with_exit_1(tmp_path):
    bad = tmp_path / "study.yaml"
    bad.write_text(EXAMPLE_STUDY.read_text().replace("sex: M\n    date_of_birth", "sex: male\n    date_of_birth"))
    result = nwb_ketamine("check", bad, "--no-files")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("study.yaml:") and "subjects[0].sex: 'male' is not one of M, F, U, O" in lines[0]
    assert lines[-1] == "1 problem(s) found; fix them and run the command again."
    assert "Traceback" not in result.stderr


def test_simulate_then_check(tmp_path):
    result = nwb_ketamine("simulate", tmp_path / "sim", "--size", "tiny", "--quiet")
    assert result.returncode == 0, result.stderr
    assert "2 slice cells, 1 in vivo sessions" in result.stdout
    assert nwb_ketamine("check", tmp_path / "sim" / "study.yaml").returncode == 0


def test_simulate_into_a_non_empty_folder_is_a_one_line_error(tmp_path):
    (tmp_path / "keep.txt").write_text("data")
    result = nwb_ketamine("simulate", tmp_path, "--size", "tiny", "--quiet")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: OUT {tmp_path} exists and is not an empty folder; choose a new folder"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]
