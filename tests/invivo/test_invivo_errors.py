"""User errors: unreadable folders and study files that contradict the recording give one line, no file."""

import dataclasses

import pytest

from nwb_ketamine.converters.invivo import InVivoConverter
from nwb_ketamine.converters.neo_raw import RawRecording
from nwb_ketamine.errors import ConversionError
from nwb_ketamine.metadata import Tetrode


def _session(study, **changes):
    return dataclasses.replace(study.invivo_sessions[0], **changes)


def _assert_nothing_written(folder):
    assert not list(folder.iterdir())


def test_unreadable_folder_is_one_line_naming_it(tiny_study, tmp_path):
    _, study, _ = tiny_study
    bad = tmp_path / "not_a_recording"
    bad.mkdir()
    (bad / "structure.oebin").write_text("{ not json")
    out = tmp_path / "out"
    out.mkdir()
    converter = InVivoConverter(study, _session(study, raw_path=bad, raw_format="openephys_binary"))
    with pytest.raises(ConversionError) as info:
        converter.run_conversion(out / "s.nwb")
    message = str(info.value)
    assert "\n" not in message and str(bad) in message
    _assert_nothing_written(out)


def test_unknown_format_and_unrecognised_folder(tmp_path):
    with pytest.raises(ConversionError, match="raw.format 'nosuch' is unknown"):
        RawRecording(tmp_path, "nosuch")
    with pytest.raises(ConversionError, match="no recording format recognised"):
        RawRecording(tmp_path)


def test_channel_missing_from_recording(tiny_study, tmp_path):
    _, study, _ = tiny_study
    tetrodes = (*study.invivo_sessions[0].tetrodes, Tetrode(channels=(16, 17, 18, 19), region="LHb"))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ConversionError) as info:
        InVivoConverter(study, _session(study, tetrodes=tetrodes)).run_conversion(out / "s.nwb")
    message = str(info.value)
    assert "\n" not in message and "tetrodes[4].channels [16, 17, 18, 19]" in message and "16 channels" in message
    _assert_nothing_written(out)


def test_unknown_stream(tiny_study):
    _, study, _ = tiny_study
    with pytest.raises(ConversionError, match="raw.stream 'LFP' does not exist"):
        RawRecording(study.invivo_sessions[0].raw_path, "openephys_binary", stream="LFP")
