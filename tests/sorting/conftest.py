"""Simulated studies of the sorting tests: the shared tiny one, a small one (seed 1), and NWB helpers."""

from datetime import UTC, datetime

import numpy as np
import pytest

from nwb_ketamine.metadata import load_study
from nwb_ketamine.simulate import simulate_study


@pytest.fixture(scope="session")
def tiny_study(simulated_tiny):
    """(root folder, loaded Study) of the shared tiny simulated study, seed 0."""
    return simulated_tiny.parent, load_study(simulated_tiny)


@pytest.fixture
def small_study(tmp_path):
    """(root folder, loaded Study) of a small simulated study (seed 1), removed after its one test (1.7 GB)."""
    out = tmp_path / "small"
    path = simulate_study(out, seed=1, size="small", progress=False)
    return out, load_study(path)


class MemmapRaw:
    """The raw-recording interface add_units expects, over the simulator's continuous.dat."""

    def __init__(self, path, n_channels=16, gain_uv=0.195, rate=30_000.0):
        self.data = np.memmap(path, dtype=np.int16, mode="r").reshape(-1, n_channels)
        self.n_samples = self.data.shape[0]
        self.gain_uv = np.full(n_channels, gain_uv)
        self.sampling_rate_hz = rate

    def read(self, start, stop, channels):
        return np.asarray(self.data[start:stop][:, list(channels)])


def nwbfile_with_electrodes(session):
    """An NWBFile with one electrode group per tetrode; returns (nwbfile, rows of each tetrode)."""
    from pynwb.testing.mock.device import mock_Device
    from pynwb.testing.mock.file import mock_NWBFile

    nwbfile = mock_NWBFile(session_start_time=datetime(2024, 1, 1, tzinfo=UTC))
    device = mock_Device(name="tetrodes", nwbfile=nwbfile)
    rows = []
    for i, tetrode in enumerate(session.tetrodes):
        group = nwbfile.create_electrode_group(
            name=f"tetrode{i}", description="tetrode", location=tetrode.ccf_region, device=device
        )
        rows.append([])
        for _ in tetrode.channels:
            nwbfile.add_electrode(group=group, location=tetrode.ccf_region)
            rows[-1].append(len(nwbfile.electrodes) - 1)
    return nwbfile, rows


def tetrode_session(numbers, epochs=(), region="LHb", channels_per_tetrode=4):
    """A sorting-only InVivoSession whose tetrodes are the rig's ``numbers`` (channels of number n:
    4 (n - 1) ... 4 n - 1), without a raw folder."""
    from nwb_ketamine.metadata import Epoch, InVivoSession, Tetrode

    k = channels_per_tetrode
    tetrodes = tuple(Tetrode(channels=tuple(range(k * (n - 1), k * n)), region=region, number=n) for n in numbers)
    return InVivoSession(
        session_id="s1",
        subject="m01",
        start_time=datetime(2024, 1, 1, tzinfo=UTC),
        raw_path=None,
        tetrodes=tetrodes,
        epochs=tuple(Epoch(*e) for e in epochs),
    )
