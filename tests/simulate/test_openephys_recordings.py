"""Open Ephys sessions in several recordings: neo reads one segment per recording on one clock."""

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from nwb_ketamine.simulate import openephys
from nwb_ketamine.simulate.parameters import InVivoParameters

neo = pytest.importorskip("neo")

START = datetime(2024, 3, 15, 14, 0, tzinfo=timezone(timedelta(hours=8)))
PARAMS = InVivoParameters()
FS = PARAMS.sampling_rate_hz


def _chunks(signal, size):
    for i in range(0, signal.shape[0], size):
        yield i, signal[i : i + size]


def _write(root, recordings, ttl=(), chunk=7000, n_channels=3):
    n = sum(k for _, k in recordings)
    signal = np.random.default_rng(0).normal(0, 40, (n, n_channels)).astype(np.float32)
    openephys.write_openephys(
        root, _chunks(signal, chunk), n, n_channels, 123_456, list(ttl), START, PARAMS, recordings=recordings
    )
    return signal


def test_two_recordings_are_two_segments_on_one_clock(tmp_path):
    recordings = [(0, 21_000), (21_000 + 45_000, 9_000)]  # a 1.5 s pause
    signal = _write(tmp_path / "s", recordings, ttl=[(3_000, 4_500), (70_000, 70_300)])
    reader = neo.rawio.OpenEphysBinaryRawIO(str(tmp_path / "s"))
    reader.parse_header()
    assert reader.block_count() == 1 and reader.segment_count(0) == 2
    offset = 0
    for seg, (start, n) in enumerate(recordings):
        assert reader.get_signal_size(0, seg, 0) == n
        assert reader.get_signal_t_start(0, seg, 0) == pytest.approx((123_456 + start) / FS)
        raw = reader.get_analogsignal_chunk(0, seg, 0, n, 0)
        expected = np.clip(np.rint(signal[offset : offset + n] / np.float32(PARAMS.bit_volts)), -32768, 32767)
        np.testing.assert_array_equal(raw, expected.astype(np.int16))
        numbers = np.load(openephys.stream_folder(tmp_path / "s", seg + 1) / "sample_numbers.npy")
        np.testing.assert_array_equal(numbers, 123_456 + start + np.arange(n))
        offset += n
    # Each TTL pulse is in the recording that holds it, at its acquisition-clock time.
    for seg, rising in ((0, 3_000), (1, 70_000)):
        times, durations, _ = reader.get_event_timestamps(0, seg, 0)
        assert reader.rescale_event_timestamp(times, dtype="float64") == pytest.approx([(123_456 + rising) / FS])
    sync = (openephys.recording_folder(tmp_path / "s", 2) / "sync_messages.txt").read_text()
    assert f"@ {int(FS)} Hz: {123_456 + 66_000}" in sync
    assert str(int(START.timestamp() * 1000) + 2200) in sync


def test_one_recording_by_default(tmp_path):
    signal = np.zeros((10_000, 2), dtype=np.float32)
    openephys.write_openephys(tmp_path / "s", _chunks(signal, 3_000), 10_000, 2, 0, [], START, PARAMS)
    assert not openephys.recording_folder(tmp_path / "s", 2).exists()
    reader = neo.rawio.OpenEphysBinaryRawIO(str(tmp_path / "s"))
    reader.parse_header()
    assert reader.segment_count(0) == 1 and reader.get_signal_size(0, 0, 0) == 10_000


@pytest.mark.parametrize(
    ("recordings", "ttl", "match"),
    [
        ([(10, 100)], (), "start at 0"),
        ([(0, 100), (50, 100)], (), "before the previous"),
        ([(0, 100), (300, 100)], [(90, 110)], "not inside one recording"),
    ],
)
def test_inconsistent_recordings_are_refused(tmp_path, recordings, ttl, match):
    with pytest.raises(ValueError, match=match):
        _write(tmp_path / "s", recordings, ttl=ttl)


def test_too_few_samples_are_refused(tmp_path):
    signal = np.zeros((150, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="expected 200"):
        openephys.write_openephys(
            tmp_path / "s", _chunks(signal, 64), 200, 2, 0, [], START, PARAMS, recordings=[(0, 100), (150, 100)]
        )


def test_concatenated_samples_map_to_the_session_clock():
    recordings = [(0, 100), (150, 50), (400, 10)]
    concatenated = np.arange(160)
    session = openephys.concatenated_to_session(concatenated, recordings)
    expected = np.concatenate([np.arange(100), 150 + np.arange(50), 400 + np.arange(10)])
    np.testing.assert_array_equal(session, expected)
    np.testing.assert_array_equal(openephys.session_to_concatenated(session, recordings), concatenated)
    with pytest.raises(ValueError):
        openephys.concatenated_to_session(np.array([160]), recordings)
    with pytest.raises(ValueError):
        openephys.session_to_concatenated(np.array([120]), recordings)
