"""Our NWB Inspector check for times outside the recording, on the tiny archive's in vivo file and damaged copies."""

from __future__ import annotations

import re
import shutil

import h5py
import pytest
from pynwb import NWBHDF5IO

from nwb_ketamine.archive.extent_checks import check_times_within_recording


def _messages(path):
    with NWBHDF5IO(str(path), "r") as io:
        return [m.message for m in check_times_within_recording(io.read()) or []]


@pytest.fixture
def ecephys(tiny_archive, tmp_path):
    (found,) = tiny_archive.glob("sub-*/*_ecephys.nwb")
    return shutil.copy(found, tmp_path / found.name)


def test_converted_file_passes(ecephys):
    assert _messages(ecephys) == []


@pytest.mark.parametrize(
    ("dataset", "index", "value", "expected"),
    [
        ("units/spike_times", -1, 1000.0, r"units: spike times .*\.\.1000 s lie outside the recording \(0\.\.10 s"),
        ("units/spike_times", 0, -0.5, r"units: spike times -0\.5\.\..* lie outside the recording"),
        ("intervals/epochs/stop_time", -1, 60.0, r"epochs: 0\.\.60 s lie outside the recording \(0\.\.10 s\)"),
        ("intervals/epochs/start_time", 0, -5.0, r"epochs: -5\.\..* lie outside the recording"),
    ],
)
def test_damaged_file_is_reported(ecephys, dataset, index, value, expected):
    with h5py.File(ecephys, "r+") as h5:
        h5[dataset][index] = value
    messages = _messages(ecephys)
    assert len(messages) == 1
    assert re.search(expected, messages[0]), messages
