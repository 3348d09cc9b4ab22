"""Two runs on one archive, and a rerun after outputs were damaged (issue 16).

- Two real ``nwb-ketamine convert`` processes into one archive: the second refuses at once with one line
  naming the first (its PID), or with ``--wait`` waits and then finds everything converted; the first's
  files are complete and read back with pynwb.
- A rerun verifies every output against the manifest's size and sha256 and converts again exactly the
  files that were truncated, swapped or deleted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pynwb import NWBHDF5IO

from nwb_ketamine.archive.lock import lock_path
from nwb_ketamine.archive.manifest import sha256_of
from nwb_ketamine.cli import main as cli

OWNER = lock_path("x").name + ".owner"


def _convert_process(study: Path, archive: Path, *extra: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "nwb_ketamine.cli", "convert", str(study), str(archive), "--jobs", "1"]
    return subprocess.Popen(
        [*command, "--quiet", "--no-raw", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _wait_for(condition, process: subprocess.Popen, what: str, timeout_s: float = 300) -> None:
    """Poll ``condition`` until it holds; fail if ``process`` ends first or the timeout passes."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert process.poll() is None, f"the first run ended before {what}: {process.communicate()}"
        assert time.monotonic() < deadline, f"no {what} after {timeout_s} s"
        time.sleep(0.05)


def _nwb_files(archive: Path) -> list[Path]:
    return sorted(archive.rglob("*.nwb"))


def _reads(path: Path) -> None:
    with NWBHDF5IO(str(path), "r") as io:
        assert io.read().identifier


@pytest.mark.slow
def test_a_second_convert_refuses_naming_the_first_then_waits(simulated_tiny, tmp_path):
    archive = tmp_path / "archive"
    first = _convert_process(simulated_tiny, archive)
    _wait_for(lambda: (archive / OWNER).exists(), first, "lock owner file")
    owner = json.loads((archive / OWNER).read_text())
    assert owner["pid"] == first.pid

    second = subprocess.run(
        [sys.executable, "-m", "nwb_ketamine.cli", "convert", str(simulated_tiny), str(archive), "--quiet"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert second.returncode == 1, second
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and f"PID {first.pid}" in lines[0] and "--wait" in lines[0], second.stderr

    waiting = _convert_process(simulated_tiny, archive, "--wait")
    out, err = first.communicate(timeout=600)
    assert first.returncode == 0, err
    out, err = waiting.communicate(timeout=600)
    assert waiting.returncode == 0, err
    assert "0 converted, 3 unchanged (skipped), 0 failed" in out, out
    files = _nwb_files(archive)
    assert len(files) == 3
    for path in files:
        _reads(path)
    assert not (archive / OWNER).exists()
    assert not list(archive.rglob("*.partial"))


def _damage(archive: Path) -> dict[str, str]:
    """Truncate the ecephys file, swap the two icephys files; return what each relative path suffered."""
    files = _nwb_files(archive)
    ecephys = next(p for p in files if p.name.endswith("_ecephys.nwb"))
    icephys = [p for p in files if p.name.endswith("_icephys.nwb")]
    assert len(icephys) == 2
    with ecephys.open("r+b") as f:
        f.truncate(ecephys.stat().st_size // 2)
    a, b = icephys
    tmp = a.with_suffix(".swap")
    os.replace(a, tmp)
    os.replace(b, a)
    os.replace(tmp, b)
    return {
        ecephys.relative_to(archive).as_posix(): "bytes",
        a.relative_to(archive).as_posix(): "replaced",
        b.relative_to(archive).as_posix(): "replaced",
    }


def test_a_rerun_converts_again_exactly_the_damaged_outputs(simulated_tiny, tmp_path, capsys):
    archive = tmp_path / "archive"
    assert cli(["convert", str(simulated_tiny), str(archive), "--jobs", "1", "--quiet", "--no-raw"]) == 0
    capsys.readouterr()

    damaged = _damage(archive)
    assert cli(["convert", str(simulated_tiny), str(archive), "--jobs", "1", "--quiet", "--no-raw"]) == 0
    out = capsys.readouterr().out
    for path, reason in damaged.items():
        line = next((ln for ln in out.splitlines() if path in ln and "converting it again" in ln), None)
        assert line is not None and reason in line, out
    assert "3 converted, 0 unchanged" in out, out

    deleted = _nwb_files(archive)[0]
    deleted.unlink()
    assert cli(["convert", str(simulated_tiny), str(archive), "--jobs", "1", "--quiet", "--no-raw"]) == 0
    out = capsys.readouterr().out
    assert "is missing" in out and "1 converted, 2 unchanged" in out, out

    manifest = json.loads((archive / ".nwb-ketamine" / "manifest.json").read_text())
    for path in _nwb_files(archive):
        record = manifest["outputs"][path.relative_to(archive).as_posix()]
        assert record["size"] == path.stat().st_size and record["sha256"] == sha256_of(path)
        _reads(path)
