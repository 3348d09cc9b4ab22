"""No invented scale: a channel whose reader reports no physical unit is refused unless the study file gives
its gain and unit; then exactly that scale is stored.

The source is the one labs most often have without a header: the flat int16 ``.dat`` a Kilosort/phy
pipeline reads (here the simulated Open Ephys recording's continuous.dat), opened with neo's real
RawBinarySignalRawIO, whose channels have no unit. (neo's Open Ephys binary reader itself fills a blank
unit with µV, the Open Ephys convention for headstage channels, so that format cannot show the case.)
"""

import numpy as np
import pytest
from pynwb import NWBHDF5IO

from nwb_ketamine.converters.invivo import InVivoConverter
from nwb_ketamine.errors import ConversionError
from nwb_ketamine.metadata import load_study
from tests.conftest import write_invivo_study


@pytest.fixture
def flat_binary(tiny_study):
    _, study, _ = tiny_study
    session = study.invivo_sessions[0]
    (dat,) = session.raw_path.rglob("continuous.dat")
    tetrodes = [{"channels": list(t.channels), "region": t.region} for t in session.tetrodes]
    raw = {
        "path": str(dat.parent),
        "format": "RawBinarySignalRawIO",
        "file": "continuous.dat",
        "neo_options": {"dtype": "int16", "sampling_rate": 30000.0, "nb_channel": 16},
    }
    return raw, tetrodes, dat


def _convert(tmp_path, raw, tetrodes):
    session = {"session_id": "u1", "start_time": "2024-03-15T14:00:00+00:00", "tetrodes": tetrodes, "raw": raw}
    study = load_study(write_invivo_study(tmp_path, [session]))
    return InVivoConverter(study, study.invivo_sessions[0]).run_conversion(tmp_path / "u.nwb")


def test_unitless_channels_are_refused_naming_the_fields(flat_binary, tmp_path):
    raw, tetrodes, _ = flat_binary
    with pytest.raises(ConversionError) as info:
        _convert(tmp_path, raw, tetrodes)
    message = str(info.value)
    assert "\n" not in message and "no physical unit" in message and "raw.gain and raw.unit" in message
    assert not (tmp_path / "u.nwb").exists()


def test_the_study_files_gain_and_unit_are_stored(flat_binary, tmp_path):
    raw, tetrodes, dat = flat_binary
    path = _convert(tmp_path, {**raw, "gain": 0.195, "unit": "uV"}, tetrodes)
    samples = np.memmap(dat, dtype="<i2", mode="r").reshape(-1, 16)
    with NWBHDF5IO(path, "r") as io:
        series = io.read().acquisition["ElectricalSeries"]
        assert series.conversion == pytest.approx(0.195e-6) and series.offset == 0.0
        np.testing.assert_array_equal(series.data[:1000], samples[:1000])


def test_a_gain_for_channels_that_have_a_unit_is_refused(tiny_study, tmp_path):
    _, study, _ = tiny_study
    session = study.invivo_sessions[0]
    tetrodes = [{"channels": list(t.channels), "region": t.region} for t in session.tetrodes]
    raw = {"path": str(session.raw_path), "format": "openephys_binary", "gain": 0.195, "unit": "uV"}
    with pytest.raises(ConversionError, match="remove raw.gain and raw.unit"):
        _convert(tmp_path, raw, tetrodes)
