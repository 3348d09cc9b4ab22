"""The sorting-reader contract for Axona on the real DacqUSB session; numpy decodes the tetrode and .cut files."""

import shutil

import numpy as np
import pytest

from tests.conftest import sha256
from tests.realdata.test_axona_realdata import BASE, DURATION_S, FOLDER, MANIFEST
from tests.sorting.conftest import tetrode_session
from tests.sorting.contract import SortingCase, SortingReaderContract

pytestmark = pytest.mark.realdata


def _decoded(trial, number):
    """(timestamps in 96 kHz ticks, Tint cluster) of every spike of tetrode ``number``, from the bytes."""
    data = (trial / f"{BASE}.{number}").read_bytes()
    start = data.index(b"data_start") + len(b"data_start")
    n = int(data[data.index(b"num_spikes") :].split(b"\r\n", 1)[0].split()[1])
    block = np.dtype([("timestamp", ">u4"), ("samples", "i1", 50)])
    stamps = np.frombuffer(data[start : start + n * 4 * block.itemsize], dtype=block).reshape(n, 4)["timestamp"][:, 0]
    cut = (trial / f"{BASE}_{number}.cut").read_text()
    clusters = np.array(cut[cut.index(f"spikes: {n}") + len(f"spikes: {n}") :].split(), dtype=int)
    return stamps.astype(np.int64), clusters


def _without_cut(trial, tmp_path):
    shutil.copy(trial / f"{BASE}.6", tmp_path / f"{BASE}.6")
    return tmp_path / f"{BASE}.6", "no Tint cut file"


@pytest.fixture
def trial(realdata):
    """The real trial folder, checked against the MANIFEST."""
    path = realdata / FOLDER
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    assert all(sha256(path / name) == digest for name, digest in MANIFEST.items())
    return path


class TestAxona(SortingReaderContract):
    """The contract for the axona reader."""

    fmt = "axona"

    @pytest.fixture
    def case(self, trial):
        """The files and their independent reading."""
        reference = {}
        for number in (6, 8):
            stamps, clusters = _decoded(trial, number)
            reference |= {f"{BASE}.{number}_{c}": stamps[clusters == c] for c in np.unique(clusters)}
        return SortingCase(
            path=trial / f"{BASE}.set",
            session=tetrode_session([6, 8]),
            sampling_rate_hz=None,
            reference=reference,
            labels={u: "unsorted" if u.endswith("_0") else "good" for u in reference},
            channel_names={0: ["6a", "6b", "6c", "6d"], 1: ["8a", "8b", "8c", "8d"]},
            duration_s=DURATION_S,
            files=[f"{BASE}.set", f"{BASE}.6", f"{BASE}_6.cut", f"{BASE}.8", f"{BASE}_8.cut"],
            bad_input=lambda tmp_path: _without_cut(trial, tmp_path),
        )
