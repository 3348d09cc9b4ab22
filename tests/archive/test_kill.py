"""kill -9 of `nwb-ketamine convert` at random moments leaves only complete, valid files; a rerun finishes."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
from pynwb import NWBHDF5IO, validate

from nwb_ketamine.archive.batch import PARTIAL_SUFFIXES
from nwb_ketamine.simulate import simulate_study

TRIALS = 10


@pytest.mark.slow
def test_kill_9_at_random_moments(tmp_path):
    """A kill -9 at random moments of a conversion leaves no file that looks complete.

    Parameters
    ----------
    tmp_path
        A fresh temporary folder.
    """
    study = simulate_study(tmp_path / "raw", seed=5, size="tiny", progress=False)
    archive = tmp_path / "archive"
    command = [sys.executable, "-m", "nwb_ketamine.cli", "convert", str(study), str(archive), "--jobs", "1", "--quiet"]
    rng = random.Random(1)
    finished_early = 0
    for trial in range(TRIALS):
        # A new process group, so SIGKILL takes the Dask workers down with the command, as killing the job would.
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        delay = rng.uniform(0.5, 12.0)
        try:
            process.wait(timeout=delay)
            finished_early += 1
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        time.sleep(0.2)
        for path in archive.rglob("*.nwb"):  # every file that looks complete is complete and valid
            assert not validate(path=str(path)), f"trial {trial}: {path} is not valid"
            with NWBHDF5IO(path, "r") as io:
                assert io.read().subject is not None
        manifest = archive / ".nwb-ketamine" / "manifest.json"
        if manifest.exists():
            json.loads(manifest.read_text())  # never half-written
    assert finished_early < TRIALS, "no run was interrupted; the kill times are too late"

    final = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert final.returncode == 0, final.stderr
    assert "0 failed" in final.stdout
    assert len(list(archive.rglob("*.nwb"))) == 3
    leftovers = [p for p in archive.rglob(".*") if p.is_file() and p.suffix in PARTIAL_SUFFIXES]
    assert leftovers == []
