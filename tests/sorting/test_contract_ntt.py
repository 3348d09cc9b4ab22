"""The sorting-reader contract for Neuralynx .ntt, on a Cheetah-style file; neo's NeuralynxRawIO is the reference."""

import warnings

import numpy as np
import pytest

from tests.sorting.conftest import tetrode_session
from tests.sorting.contract import SortingCase, SortingReaderContract
from tests.sorting.test_ntt_neo import RECORD, cheetah_header

neo_rawio = pytest.importorskip("neo.rawio")


def _neo_units(folder):
    """Spike samples at 32 kHz per ``TT6_<cell>``, as neo reads the folder."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # neo's warnings about the folder layout are not under test
        neo = neo_rawio.NeuralynxRawIO(dirname=str(folder))
        neo.parse_header()
    out = {}
    for index, channel in enumerate(neo.header["spike_channels"]):
        _, _, cell = channel["name"].split("#")
        out[f"TT6_{cell}"] = np.rint(neo.get_spike_timestamps(0, 0, index, None, None) * 1e-6 * 32_000)
    return out


def _truncated(tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "TT6.ntt").write_bytes(cheetah_header(False)[:1000])
    return tmp_path / "bad", "shorter than the 16 kB"


class TestNtt(SortingReaderContract):
    """The contract for the ntt reader."""

    fmt = "ntt"

    @pytest.fixture
    def case(self, tmp_path):
        """The files and their independent reading."""
        rng = np.random.default_rng(0)
        records = np.zeros(200, dtype=RECORD)
        records["timestamp"] = np.sort(rng.choice(np.arange(10_000_000, 400_000_000), 200, replace=False))
        records["cell"] = rng.integers(0, 4, 200)
        (tmp_path / "ntt").mkdir()
        (tmp_path / "ntt" / "TT6.ntt").write_bytes(cheetah_header(True) + records.tobytes())
        reference = _neo_units(tmp_path / "ntt")
        return SortingCase(
            path=tmp_path / "ntt",
            session=tetrode_session([6]),
            sampling_rate_hz=None,
            reference=reference,
            labels={u: "unsorted" if u.endswith("_0") else "good" for u in reference},
            channel_names={0: [f"TT6/AD{c}" for c in (20, 21, 22, 23)]},
            duration_s=None,
            files=["TT6.ntt"],
            bad_input=_truncated,
        )
