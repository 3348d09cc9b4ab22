"""The sorting-reader contract for MClust .t/.t64/._t files written here; numpy reads their big-endian ticks."""

import numpy as np
import pytest

from tests.sorting.conftest import tetrode_session
from tests.sorting.contract import SortingCase, SortingReaderContract
from tests.sorting.test_spike_files import write_t

TICKS = {"TT6_01.t": ([10, 25, 1000], 32), "TT6_02.t64": ([5, 70_000_000], 64), "TT8_03._t": ([7, 8], 32)}


def _ticks(path, dtype):
    data = path.read_bytes()
    return np.frombuffer(data[data.index(b"%%ENDHEADER\n") + 12 :], dtype=dtype).astype(np.int64)


def _no_header_end(tmp_path):
    write_t(tmp_path / "TT6_09.t", [1, 2], header=False)
    return tmp_path / "TT6_09.t", "%%ENDHEADER"


class TestMclust(SortingReaderContract):
    """The contract for the mclust reader."""

    fmt = "mclust"

    @pytest.fixture
    def case(self, tmp_path):
        """The files and their independent reading."""
        folder = tmp_path / "mclust"
        folder.mkdir()
        for name, (ticks, bits) in TICKS.items():
            write_t(folder / name, ticks, bits=bits)
        ids = {"TT6_01.t": "TT6_01", "TT6_02.t64": "TT6_02", "TT8_03._t": "TT8_03_t"}
        dtypes = {"TT6_01.t": ">u4", "TT6_02.t64": ">u8", "TT8_03._t": ">u4"}
        return SortingCase(
            path=folder,
            session=tetrode_session([6, 8]),
            sampling_rate_hz=None,
            reference={ids[n]: _ticks(folder / n, dtypes[n]) for n in TICKS},  # 10 kHz ticks, Neuralynx zero
            labels={"TT6_01": "good", "TT6_02": "good", "TT8_03_t": "mua"},
            channel_names=None,
            duration_s=None,
            files=list(TICKS),
            bad_input=_no_header_end,
        )
