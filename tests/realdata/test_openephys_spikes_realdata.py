"""The eight stereotrode .spikes files of the Open Ephys GUI 0.6.7 recording in ../shared/realdata
(neo 0.14 reads 0 spikes from them): counts consistent with the file sizes and the MANIFEST, increasing
timestamps, plausible uV waveforms."""

import numpy as np
import pytest

from nwb_ketamine.converters.openephys_spikes import read_openephys_spikes, read_spikes_file
from tests.conftest import sha256

FOLDER = "openephys_legacy/Record Node 105"
MANIFEST = {
    "Stereotrode1_example-data.spikes": "b58feccdc1aacdc8513dcdf879ee6f85a10f3827a077e9634cda7010926ef8d6",
    "Stereotrode2_example-data.spikes": "39fd36387a0a6b42329dabf3f938c3ac7e21e36fb795581aa82a05a1b19df01f",
    "Stereotrode3_example-data.spikes": "c434016044e4406678658ef009aef96cefa9a2dea0307c33b2eeac4c28f94ff4",
    "Stereotrode4_example-data.spikes": "ad2ab0962cb964265f6d9cf6bb83565e7ccd3b739aaf10d95f04d52a0a3b38c6",
    "Stereotrode5_example-data.spikes": "9428bdce031682e3b4bf14f894e28ee2d073386cc84a0547d943b8b14a1294a4",
    "Stereotrode6_example-data.spikes": "049c74b0e592497a7e405196f608c6b4a9096d11c51950cfbecb356c9f4434ee",
    "Stereotrode7_example-data.spikes": "99ae7387287e55cf018785d470926cfc05c48dc508d352402762f4d23e47f466",
    "Stereotrode8_example-data.spikes": "cd5539fbf224f63f6144f1cdd65762259fb405ff728bff50f2f8057511397d17",
}
RECORD_BYTES = 216  # 42 + 2 x 2 x 40 samples + 2 x 4 gains + 2 x 2 thresholds + 2 recording number


@pytest.fixture
def folder(realdata):
    path = realdata / FOLDER
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    for name, digest in MANIFEST.items():
        assert sha256(path / name) == digest, name
    return path


@pytest.mark.realdata
def test_each_file(folder):
    for name in MANIFEST:
        path = folder / name
        content = read_spikes_file(path)
        n = content["timestamps"].size
        assert n == (path.stat().st_size - 1024) // RECORD_BYTES and 138 <= n <= 180
        assert np.all(np.diff(content["timestamps"]) > 0)
        assert content["sampling_rate_hz"] == 40_000.0
        w = content["waveforms_uv"]
        assert w.shape == (n, 40, 2)
        # Detected at a -50 uV threshold: the troughs cross it, the values stay within a few hundred uV.
        assert np.all(content["thresholds_uv"] == -50.0)
        assert np.median(w.min(axis=(1, 2))) < -50.0 and np.abs(w).max() < 500.0


@pytest.mark.realdata
def test_as_units(folder):
    units = read_openephys_spikes(folder)
    assert [s.size for s in units.spike_samples] == [174, 170, 168, 160, 180, 167, 166, 138]
    assert units.tetrode == list(range(8)) and set(units.labels) == {"unsorted"}
    assert units.sampling_rate_hz == 40_000.0 and units.waveforms_mean_uv.shape == (8, 40, 2)
