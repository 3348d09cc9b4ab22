"""Our .ntt parser against neo's NeuralynxRawIO, value for value, on a Cheetah-style file written here:
unit ids, every spike's timestamp, raw samples, and the scale to uV (ADBitVolts per channel, negated by
InputInverted). No .ntt file written by Cheetah was available, so the file follows the Neuralynx header
and record layout that neo parses."""

import warnings

import numpy as np
import pytest

from nwb_ketamine.converters.ntt import HEADER_BYTES, RECORD, read_ntt, read_ntt_file
from tests.sorting.conftest import tetrode_session

neo_rawio = pytest.importorskip("neo.rawio")

BIT_VOLTS = (0.000000015259254, 0.000000015259254, 0.000000030518509, 0.000000015259254)


def cheetah_header(inverted: bool) -> bytes:
    lines = [
        "######## Neuralynx Data File Header",
        "-FileType Spike",
        "-FileVersion 3.4",
        "-RecordSize 304",
        '-OriginalFileName "C:\\CheetahData\\2024-01-01_12-00-00\\TT6.ntt"',
        "-TimeCreated 2024/01/01 12:00:00",
        "-TimeClosed 2024/01/01 12:10:00",
        '-ApplicationName Cheetah "6.4.1"',
        "-AcquisitionSystem AcqSystem1 DigitalLynxSX",
        "-AcqEntName TT6",
        "-ADMaxValue 32767",
        "-NumADChannels 4",
        "-ADChannel 20 21 22 23",
        "-ADBitVolts " + " ".join(f"{v:.15f}" for v in BIT_VOLTS),
        "-InputRange 500 500 1000 500",
        f"-InputInverted {inverted}",
        "-SamplingFrequency 32000",
        "-WaveformLength 32",
        "-AlignmentPt 8",
        "",
    ]
    return "\r\n".join(lines).encode().ljust(HEADER_BYTES, b"\0")


@pytest.fixture(params=[True, False], ids=["inverted", "not-inverted"])
def ntt_file(request, tmp_path):
    rng = np.random.default_rng(0)
    n = 200
    records = np.zeros(n, dtype=RECORD)
    records["timestamp"] = np.sort(rng.choice(np.arange(10_000_000, 400_000_000), n, replace=False))
    records["cell"] = rng.integers(0, 4, n)
    records["samples"] = rng.integers(-2000, 2000, (n, 32, 4))
    path = tmp_path / "TT6.ntt"
    path.write_bytes(cheetah_header(request.param) + records.tobytes())
    return path, records


def test_ntt_equals_neo(ntt_file):
    path, records = ntt_file
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # neo's warnings about the folder layout are not under test
        neo = neo_rawio.NeuralynxRawIO(dirname=str(path.parent))
        neo.parse_header()
    channels = neo.header["spike_channels"]
    # neo: one spike channel per (AD channel, cell), named ch<AcqEntName>#<ADChannel>#<cell>.
    ours = read_ntt(path, session=tetrode_session([6]))  # no raw: times on the Neuralynx clock, no origin
    content = read_ntt_file(path)
    assert [int(i.rsplit("_", 1)[1]) for i in ours.ids] == sorted({int(c["id"]) for c in channels})
    assert ours.channel_names == {0: [f"TT6/AD{c}" for c in (20, 21, 22, 23)]}
    total = 0
    for index, channel in enumerate(channels):
        _, ad, cell = channel["name"].split("#")
        k = ("20", "21", "22", "23").index(ad)
        timestamps = neo.get_spike_timestamps(0, 0, index, None, None)
        raw = neo.get_spike_raw_waveforms(0, 0, index, None, None)  # (n, 4 channels, 32 samples)
        sel = content["cell"] == int(cell)
        np.testing.assert_array_equal(content["timestamps_us"][sel], timestamps.astype(np.int64))
        np.testing.assert_array_equal(records["samples"][sel].transpose(0, 2, 1), raw)
        # Our uV = neo's raw x neo's gain of that AD channel (InputInverted included), exactly.
        np.testing.assert_allclose(content["waveforms_uv"][sel][:, :, k], raw[:, k, :] * channel["wf_gain"], rtol=1e-12)
        unit = ours.ids.index(f"TT6_{cell}")
        np.testing.assert_array_equal(ours.spike_samples[unit], np.rint(timestamps * 1e-6 * 32_000).astype(np.int64))
        np.testing.assert_allclose(
            ours.waveforms_mean_uv[unit][:, k], (raw[:, k, :] * channel["wf_gain"]).mean(axis=0), rtol=1e-12
        )
        if k == 0:
            total += timestamps.size
    assert total == len(records)  # neo and we both keep every record
