"""RawRecording on neo's ExampleRawIO (fake data, several streams): any neo format by class name."""

import numpy as np
import pytest

from nwb_ketamine.converters.neo_raw import RawRecording, rawio_class_name
from nwb_ketamine.errors import ConversionError


@pytest.fixture
def fake(tmp_path):
    path = tmp_path / "rec.fake"
    path.write_text("")
    return path


def test_any_neo_class_by_name_picks_the_largest_stream(fake):
    rec = RawRecording(fake, "ExampleRawIO")
    streams = rec.rawio.header["signal_streams"]
    assert len(streams) > 1 and rec.n_channels == 8
    block = rec.read(10, 20, channels=[1, 3])
    assert block.shape == (10, 2) and block.dtype == np.int16
    assert rec.gain_uv.shape == (8,) and rec.events  # events in s from the first sample
    assert all(e.times_s.min() >= 0 for e in rec.events)


def test_stream_by_name_and_non_voltage_stream_is_refused(fake):
    names = [str(s["name"]) for s in RawRecording(fake, "ExampleRawIO").rawio.header["signal_streams"]]
    with pytest.raises(ConversionError, match="not voltages"):
        RawRecording(fake, "ExampleRawIO", stream=names[1])


def test_format_recognised_from_the_files(tmp_path):
    (tmp_path / "100_CH1.continuous").write_bytes(b"")
    assert rawio_class_name(tmp_path, None) == "OpenEphysRawIO"
    assert rawio_class_name(tmp_path, "neuralynx") == "NeuralynxRawIO"
