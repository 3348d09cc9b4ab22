"""RawRecording on neo's ExampleRawIO (fake data, several streams and segments): any neo format by class name."""

import numpy as np
import pytest

from nwb_ketamine.converters.neo_raw import RawRecording
from nwb_ketamine.converters.neo_select import rawio_class_name
from nwb_ketamine.errors import ConversionError


@pytest.fixture
def fake(tmp_path):
    path = tmp_path / "rec.fake"
    path.write_text("")
    return path


def test_several_streams_and_none_named_is_refused_listing_them(fake):
    with pytest.raises(ConversionError) as info:
        RawRecording(fake, "ExampleRawIO")
    message = str(info.value)
    assert "\n" not in message and "raw.stream" in message
    assert "'stream 0' (id 0: 8 channels at 10000 Hz, uV)" in message and "'stream 1'" in message


def test_any_neo_class_by_name_reads_every_segment(fake):
    rec = RawRecording(fake, "ExampleRawIO", stream="stream 0")
    io = rec.rawio
    assert rec.segment_count == io.segment_count(0) > 1, "ExampleRawIO has several segments"
    sizes = [io.get_signal_size(0, k, 0) for k in range(rec.segment_count)]
    assert rec.segment_sizes == sizes and rec.n_samples == sum(sizes)
    # A read across the boundary is the concatenation of the segments, value for value.
    a, b = sizes[0] - 5, sizes[0] + 7
    expected = np.concatenate(
        [
            io.get_analogsignal_chunk(0, 0, a, sizes[0], 0, channel_indexes=[1, 3]),
            io.get_analogsignal_chunk(0, 1, 0, 7, 0, channel_indexes=[1, 3]),
        ]
    )
    assert np.array_equal(rec.read(a, b, channels=[1, 3]), expected)
    # Session times: each segment starts where neo says, relative to the first.
    t = rec.session_times([0, sizes[0]])
    assert t[1] == pytest.approx(io.get_signal_t_start(0, 1, 0) - io.get_signal_t_start(0, 0, 0))
    assert list(rec.samples_of_times(t)) == [0, sizes[0]]
    assert rec.gain_uv.shape == (8,) and rec.events
    assert "neo" in rec.reader and "ExampleRawIO(filename=" in rec.reader


def test_stream_by_name_and_non_voltage_stream_is_refused(fake):
    with pytest.raises(ConversionError, match="not voltages"):
        RawRecording(fake, "ExampleRawIO", stream="1")


def test_format_recognised_from_the_files(tmp_path):
    (tmp_path / "100_CH1.continuous").write_bytes(b"")
    assert rawio_class_name(tmp_path, None) == "OpenEphysRawIO"
    assert rawio_class_name(tmp_path, "neuralynx") == "NeuralynxRawIO"
