"""The real Open Ephys legacy recording (GUI 0.6.7) converts: 16 channels at 40 kHz, values equal to neo's."""

import re

import h5py
import numpy as np
import pytest
import yaml
from neo.rawio import OpenEphysRawIO
from pynwb import NWBHDF5IO

from nwb_ketamine.converters.invivo import InVivoConverter
from nwb_ketamine.metadata import load_study
from tests.conftest import sha256

pytestmark = pytest.mark.realdata
FOLDER = "openephys_legacy/Record Node 105"


def manifest_hashes(realdata) -> dict[str, str]:
    """sha256 of every file of the legacy recording, from ../shared/realdata/MANIFEST.md."""
    text = (realdata / "MANIFEST.md").read_text()
    return dict(re.findall(r"^\| Record Node 105/(\S[^|]*?) \| \d+ \| ([0-9a-f]{64}) \|$", text, flags=re.M))


@pytest.fixture(scope="module")
def legacy(tmp_path_factory):
    from tests.conftest import REALDATA

    if not REALDATA.is_dir():
        pytest.skip(f"real recordings not available at {REALDATA}")
    folder = REALDATA / FOLDER
    hashes = manifest_hashes(REALDATA)
    continuous = sorted(folder.glob("*.continuous"))
    assert len(continuous) == 16 and all(p.name in hashes for p in continuous)
    for path in [*continuous, folder / "settings.xml", folder / "structure.openephys"]:
        assert sha256(path) == hashes[path.name], f"{path} differs from the MANIFEST"
    tmp = tmp_path_factory.mktemp("legacy")
    study = {
        "format_version": 1,
        "study": {
            "title": "Open Ephys legacy example",
            "description": "A real Open Ephys GUI 0.6.7 legacy-format recording converted as an in vivo session.",
            "institution": "Test institution",
            "lab": "Test lab",
            "experimenters": ["Doe, Jane"],
            "license": "CC-BY-4.0",
        },
        "timezone": "UTC",
        "data_roots": [str(REALDATA)],  # the recordings stay in shared/realdata
        "subjects": [{"id": "m01", "species": "Mus musculus", "sex": "U", "age": "P8W", "group": "control"}],
        "sessions": [
            {
                "type": "invivo",
                "session_id": "oe-legacy",
                "subject": "m01",
                "start_time": "2025-04-03T13:38:45+00:00",
                "raw": {"path": str(folder), "format": "openephys_legacy"},
                "tetrodes": [{"channels": list(range(4 * j, 4 * j + 4)), "region": "LHb"} for j in range(4)],
            }
        ],
    }
    (tmp / "study.yaml").write_text(yaml.safe_dump(study, sort_keys=False))
    loaded = load_study(tmp / "study.yaml")
    converter = InVivoConverter(loaded, loaded.invivo_sessions[0])
    path = converter.run_conversion(tmp / "legacy.nwb")
    return folder, path, converter


def test_sixteen_channels_at_40khz_equal_to_neo(legacy):
    folder, path, _ = legacy
    rawio = OpenEphysRawIO(dirname=str(folder))
    rawio.parse_header()
    expected = rawio.get_analogsignal_chunk(0, 0, None, None, stream_index=0)
    with NWBHDF5IO(path, "r") as io:
        series = io.read().acquisition["ElectricalSeries"]
        assert series.rate == 40_000.0
        data = series.data[:]
        uv = data[:100] * series.conversion * 1e6 + series.offset * 1e6
    assert data.shape == (133_120, 16) and data.dtype == np.int16
    np.testing.assert_array_equal(data, expected)
    np.testing.assert_allclose(uv, rawio.rescale_signal_raw_to_float(expected[:100], dtype="float64"), atol=1e-9)


def test_file_is_valid_and_compressed(legacy):
    _, path, _ = legacy
    from nwbinspector import Importance, inspect_nwbfile, load_config
    from pynwb.validation import validate

    errors = validate(path=str(path))
    assert not (errors[0] if isinstance(errors, tuple) else errors)
    messages = inspect_nwbfile(nwbfile_path=str(path), config=load_config("dandi"))
    bad = [m for m in messages if m.importance in (Importance.CRITICAL, Importance.BEST_PRACTICE_VIOLATION)]
    assert not bad, [(m.check_function_name, m.message) for m in bad]
    with h5py.File(path, "r") as f:
        dset = f["acquisition/ElectricalSeries/data"]
        assert dset.compression == "gzip" and dset.shuffle


def test_device_from_the_header(legacy):
    _, path, _ = legacy
    with NWBHDF5IO(path, "r") as io:
        device = io.read().devices["OpenEphys"]
        assert "openephys_version: 0.6" in device.description
        assert device.model.manufacturer == "Open Ephys"
