"""Simulated Neuralynx folders: neo's NeuralynxRawIO reads the streams, segments, values and events written."""

from datetime import datetime

import numpy as np
import pytest

from nwb_ketamine.simulate import neuralynx as nlx
from nwb_ketamine.simulate import neuralynx_events as nev
from tests.conftest import sha256

neo = pytest.importorskip("neo")
from neo.rawio.neuralynxrawio.nlxheader import NlxHeader  # noqa: E402

START = datetime(2024, 3, 15, 14, 0, 0)
T0_US = 12_345_678
TETRODE = [nlx.NcsChannel(f"CSC{i + 1}", i, 32_000, 1_000, 0.1, 9000, 64, 984) for i in range(4)]
LFP = nlx.NcsChannel("LFP1", 16, 2_000, 3_000, 0.1, 500, 256, 3984)
# 3 s recorded, a 2 s pause, then 2.25 s: sections end mid-record (partly valid last records).
SECTIONS = [(0, 96_000), (160_000, 72_000)]
REAL_NCS = {
    "LAHC1_3_gaps.ncs": "0f683fd00254c69109c708c3743beacf20211b1b25995ec535e37f8ee33aad72",
    "LAHC2_3_gaps.ncs": "4f1b1fc98d70e0df7ad776b621877fea22a8dc689858df328cc719a48454750d",
}


def _chunks(signal, size):
    for i in range(0, signal.shape[0], size):
        yield i, signal[i : i + size]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A folder with 4 channels at 32 kHz, 1 at 2 kHz, one pause, a TTL pulse; and the float signals written."""
    root = tmp_path_factory.mktemp("nlx") / "2024-03-15_14-00-00"
    rng = np.random.default_rng(3)
    n = sum(k for _, k in SECTIONS)
    tetrode = rng.normal(0, 60, (n, 4))
    lfp = rng.normal(0, 300, (n // 16, 1))
    nlx.write_ncs_files(root, TETRODE, _chunks(tetrode, 10_000), SECTIONS, T0_US, START)
    nlx.write_ncs_files(root, [LFP], _chunks(lfp, 5_000), [(a // 16, k // 16) for a, k in SECTIONS], T0_US, START)
    stretches = [(T0_US + a * 1_000_000 // 32_000, T0_US + (a + k - 1) * 1_000_000 // 32_000) for a, k in SECTIONS]
    events = nev.recording_events(stretches) + nev.ttl_events(T0_US + 1_000_000, T0_US + 1_500_000)
    nev.write_nev(root / "Events.nev", events, START, START)
    return root, tetrode, lfp


def _reader(root, **options):
    reader = neo.rawio.NeuralynxRawIO(dirname=str(root), **options)
    reader.parse_header()
    return reader


def test_two_streams_by_rate_with_the_names_the_simulator_predicts(folder):
    root, _, _ = folder
    reader = _reader(root, gap_tolerance_ms=1.0)
    streams = reader.header["signal_streams"]
    names = nlx.neo_stream_names([*TETRODE, LFP])
    assert list(streams["name"]) == [names["CSC1"], names["LFP1"]]
    assert list(streams["name"]) == ["stream0_32000Hz_1mVRange_DSPFilter0", "stream1_2000Hz_3mVRange_DSPFilter1"]
    channels = reader.header["signal_channels"]
    assert list(channels["name"]) == ["CSC1", "CSC2", "CSC3", "CSC4", "LFP1"]
    assert list(channels["id"]) == ["0", "1", "2", "3", "16"]
    assert list(channels["units"]) == ["uV"] * 5
    # Inverted inputs: neo's gain is negative, -InputRange / 32767.
    np.testing.assert_allclose(channels["gain"], [c.gain_uv for c in [*TETRODE, LFP]])
    assert channels["gain"][0] == pytest.approx(-1000 / 32767)


def test_the_gap_gives_two_segments_with_their_sizes_and_t_starts(folder):
    root, _, _ = folder
    reader = _reader(root, gap_tolerance_ms=1.0)
    assert reader.segment_count(0) == 2
    for seg, (start, n) in enumerate(SECTIONS):
        for stream, step in ((0, 1), (1, 16)):
            assert reader.get_signal_size(0, seg, stream) == n // step
            assert reader.get_signal_t_start(0, seg, stream) == pytest.approx(start / 32_000)


def test_without_gap_tolerance_neo_refuses_the_folder(folder):
    root, _, _ = folder
    with pytest.raises(ValueError, match="Detected 1 timestamp gaps") as info:
        _reader(root)
    assert "2000.000" in str(info.value)  # the gap report gives the pause in ms
    assert "gap_tolerance_ms" in str(info.value)


def test_samples_are_the_codes_written_and_rescale_to_the_signal(folder):
    root, tetrode, lfp = folder
    reader = _reader(root, gap_tolerance_ms=1.0)
    offset = 0
    for seg, (_, n) in enumerate(SECTIONS):
        for stream, signal, channels, step in ((0, tetrode, TETRODE, 1), (1, lfp, [LFP], 16)):
            expected = signal[offset // step : (offset + n) // step]
            raw = reader.get_analogsignal_chunk(0, seg, None, None, stream)
            codes = np.stack([c.codes(expected[:, j]) for j, c in enumerate(channels)], axis=1)
            np.testing.assert_array_equal(raw, codes)
            seen = reader.rescale_signal_raw_to_float(raw, dtype="float64", stream_index=stream)
            np.testing.assert_allclose(seen, expected, atol=abs(channels[0].gain_uv) / 2 * 1.0001)
            # A window that starts inside a record.
            part = reader.get_analogsignal_chunk(0, seg, 700 // step, 1900 // step, stream)
            np.testing.assert_array_equal(part, codes[700 // step : 1900 // step])
        offset += n


def test_records_are_as_cheetah_writes_them(folder):
    root, _, _ = folder
    data = np.fromfile(root / "CSC1.ncs", dtype=nlx.NCS_DTYPE, offset=nlx.HEADER_SIZE)
    assert nlx.NCS_DTYPE.itemsize == 1044
    assert (root / "CSC1.ncs").stat().st_size == nlx.HEADER_SIZE + 1044 * data.size
    assert set(data["sample_rate"]) == {32_000} and set(data["channel_id"]) == {0}
    # 96,000 samples = 187 full records + 256; 72,000 = 140 full records + 320.
    assert data.size == 188 + 141
    assert data["nb_valid"][187] == 256 and data["nb_valid"][-1] == 320
    assert set(np.delete(data["nb_valid"], [187, 328])) == {512}
    steps = np.diff(data["timestamp"].astype(np.int64))
    assert set(np.delete(steps, 187)) == {16_000}
    assert steps[187] == 5_000_000 - 187 * 16_000  # the pause: the second section starts at 5 s
    assert data["timestamp"][0] == T0_US


def test_events_mark_the_ttl_and_the_recording_stops(folder):
    root, _, _ = folder
    reader = _reader(root, gap_tolerance_ms=1.0)
    names = list(reader.header["event_channels"]["name"])
    assert names == ["Events event_id=11 ttl=0", "Events event_id=11 ttl=1", "Events event_id=19 ttl=0"]
    times, _, labels = reader.get_event_timestamps(0, 0, 1)
    assert reader.rescale_event_timestamp(times, dtype="float64") == pytest.approx([1.0])
    assert list(labels) == ["TTL Input on AcqSystem1_0 board 0 port 0 value (0x0001)."]
    times, _, labels = reader.get_event_timestamps(0, 0, 0)
    assert reader.rescale_event_timestamp(times, dtype="float64") == pytest.approx([1.5])
    for seg, (start, n) in enumerate(SECTIONS):
        times, _, labels = reader.get_event_timestamps(0, seg, 2)
        assert list(labels) == ["Starting Recording", "Stopping Recording"]
        expected = [start / 32_000, (start + n - 1) / 32_000]
        assert reader.rescale_event_timestamp(times, dtype="float64") == pytest.approx(expected, abs=1e-6)


def test_header_is_read_like_a_real_one(folder, realdata):
    """Our header gives neo the same keys as a real Pegasus file, and types it the same way."""
    root, _, _ = folder
    real_dir = realdata / "neuralynx_gaps"
    for name, digest in REAL_NCS.items():
        assert sha256(real_dir / name) == digest, name
    real = NlxHeader(str(real_dir / "LAHC1_3_gaps.ncs"))
    ours = NlxHeader(str(root / "CSC1.ncs"))
    assert set(real) <= set(ours)
    for key in real:
        assert type(ours[key]) is type(real[key]), key
    assert ours["sampling_rate"] == 32_000.0 and ours["channel_names"] == ["CSC1"] and ours["channel_ids"] == [0]
    assert ours["bit_to_microVolt"] == pytest.approx([1000 / 32767])
    assert ours["input_inverted"] is True and ours["DspFilterDelay_µs"] == 984
    assert ours["recording_opened"] == START
    assert ours.type_of_recording().name == "DIGITALLYNXSX"
    text = (root / "CSC1.ncs").read_bytes()[: nlx.HEADER_SIZE]
    assert text.startswith(b"######## Neuralynx Data File Header\r\n") and text.endswith(b"\x00")


def test_sections_off_the_microsecond_grid_are_refused(tmp_path):
    with pytest.raises(ValueError, match="whole microsecond"):
        nlx.write_ncs_files(tmp_path, TETRODE[:1], iter([(0, np.zeros((100, 1)))]), [(0, 33), (99, 67)], 0, START)
    with pytest.raises(ValueError, match="share a sampling rate"):
        nlx.write_ncs_files(tmp_path, [TETRODE[0], LFP], iter([]), [(0, 32)], 0, START)


def test_chunks_must_cover_the_sections(tmp_path):
    with pytest.raises(ValueError, match="expected 64"):
        nlx.write_ncs_files(tmp_path, TETRODE[:1], iter([(0, np.zeros((32, 1)))]), [(0, 32), (64, 32)], 0, START)
    with pytest.raises(ValueError, match="more than"):
        nlx.write_ncs_files(tmp_path, TETRODE[:1], iter([(0, np.zeros((96, 1)))]), [(0, 32), (64, 32)], 0, START)
