"""The sorting-reader contract for Open Ephys .spikes on the real GUI 0.6.7 stereotrode files; numpy reads them."""

import numpy as np
import pytest

from nwb_ketamine.converters.openephys_spikes import record_dtype
from tests.realdata.test_openephys_spikes_realdata import FOLDER, MANIFEST
from tests.sorting.conftest import tetrode_session
from tests.sorting.contract import SortingCase, SortingReaderContract

pytestmark = pytest.mark.realdata


def _truncated(folder, tmp_path):
    name = next(iter(MANIFEST))
    (tmp_path / name).write_bytes((folder / name).read_bytes()[:-7])
    return tmp_path / name, "truncated"


class TestOpenEphysSpikes(SortingReaderContract):
    """The contract for the openephys_spikes reader."""

    fmt = "openephys_spikes"

    @pytest.fixture
    def case(self, realdata):
        """The files and their independent reading."""
        folder = realdata / FOLDER
        if not folder.is_dir():
            pytest.skip(f"{folder} is absent")
        continuous = sorted(folder.glob("*.continuous"))[0].read_bytes()
        origin = int(np.frombuffer(continuous[1024:1032], "<i8")[0])  # first sample of the raw recording
        reference = {}
        for name in MANIFEST:
            records = np.fromfile(folder / name, dtype=record_dtype(2, 40), offset=1024)
            for sid in np.unique(records["sorted_id"]):
                reference[f"{name.split('_')[0]}_{sid}"] = records["timestamp"][records["sorted_id"] == sid] - origin
        return SortingCase(
            path=folder,
            session=tetrode_session(range(1, 9), channels_per_tetrode=2),
            sampling_rate_hz=40_000.0,
            reference=reference,
            labels={u: "unsorted" if u.endswith("_0") else "good" for u in reference},
            channel_names={k: [f"CH{2 * k + 1}", f"CH{2 * k + 2}"] for k in range(8)},
            duration_s=None,
            files=[*MANIFEST, "settings.xml"],
            bad_input=lambda tmp_path: _truncated(folder, tmp_path),
        )
