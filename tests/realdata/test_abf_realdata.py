"""Every ABF in ../shared/realdata converts when given its clamp mode, with every value equal to pyabf's."""

import numpy as np
import pyabf
import pytest
from neo.rawio import AxonRawIO
from pynwb import NWBHDF5IO

from nwb_ketamine.converters.abf import AbfSliceConverter
from nwb_ketamine.errors import ConversionError
from nwb_ketamine.metadata import load_study
from tests.conftest import sha256, write_slice_study

# From ../shared/realdata/MANIFEST.md: file, sha256, clamp mode ('mode' there is a guess from the ADC unit).
MANIFEST = {
    "05210017_vc_abf1.abf": ("417cc985caac74ab6e4a3374cde9e172dada602b6cf1b02fc472c3a5dd03f8f8", "voltage_clamp"),
    "14o16001_vc_pair_step.abf": ("f09e2cc56efa3eafcfaba765bbd4e545585343e8ebc3b5d218577fd5f34779d2", "voltage_clamp"),
    "171116sh_0011.abf": ("19836cf43719e9004419d69f9a4a4e6dc35e4044720fea5da8e6fea49fbed70e", "voltage_clamp"),
    "171116sh_0013.abf": ("97cc2ccedcf0fddfff30e887732612467ddc4e1635834ec0f68f371492c72704", "voltage_clamp"),
    "171116sh_0018.abf": ("9042a1162d18a47fbbe83ea1c0817142d3ae21f6f6060195ff18d35358f6e8c7", "current_clamp"),
    "17o05027_ic_ramp.abf": ("2091b84556502965203c926ee12b38db1e361507d0a062b52b98b3687a9d4955", "current_clamp"),
    "190619B_0003.abf": ("2e4720329fd0e48f37c84f7692098f2a4542630a2e3ec5934cbd8e6774dca659", "current_clamp"),
    "2018_12_09_pCLAMP11_0001.abf": (
        "835ecd5f5b7be5d5d73297fa0a213ab5624b7b07b4df6f485a6678feea1599f4",
        "voltage_clamp",
    ),
    "2019_07_24_0055_fsi.abf": ("4666e82da3e0cc33b579fea285901a7f48b54a8c0cb8143b9c539d65172709b6", "current_clamp"),
    "File_axon_5.abf": ("bfcf4434ef686fb8ab3d40db4405f2dc9bcbe6649158ff55760de57a43043174", "current_clamp"),
    "model_vc_step.abf": ("8ab03d41f0446ab5946c95defc9e8b149e734497b1e65f76eb4a38ab4ecff517", "voltage_clamp"),
}
SI = {"pA": 1e-12, "A": 1.0, "mV": 1e-3}
# The second input of this file is recorded without a command of its own (DAC 1 is in mV under current
# clamp): the user names DAC 0 as its command, as a scientist who knows the rig would.
COMMAND_CHANNEL = {("190619B_0003.abf", 1): 0}


def verified(realdata, name):
    path = realdata / "abf" / name
    if not path.exists():
        pytest.skip(f"{path} is absent")
    assert sha256(path) == MANIFEST[name][0], f"{path} does not match the MANIFEST sha256"
    return path


def study_for(tmp_path, path, clamp_mode, channel, command_channel=None):
    abf = pyabf.ABF(str(path), loadData=False)
    start = abf.abfDateTime.isoformat() + "+00:00"
    file = {"path": str(path), "protocol": "real", "holding_potential": "-70 mV", "clamp_mode": clamp_mode}
    file.update(response_channel=channel, command_channel=channel if command_channel is None else command_channel)
    return load_study(write_slice_study(tmp_path, [{"start_time": start, "files": [file]}]))


@pytest.mark.realdata
@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_real_abf_converts_with_every_value_equal(realdata, tmp_path, name):
    path = verified(realdata, name)
    clamp_mode = MANIFEST[name][1]
    reference = pyabf.ABF(str(path))
    # neo reads the sweep start times from the synch array independently of our code (pyabf assumes
    # back-to-back sweeps in ABF1 files, which is wrong for 05210017: 3 s sweeps every 60 s).
    neo_reader = AxonRawIO(filename=str(path))
    neo_reader.parse_header()
    starts = [neo_reader.segment_t_start(0, seg) for seg in range(neo_reader.segment_count(0))]
    for channel in range(reference.channelCount):
        command_channel = COMMAND_CHANNEL.get((name, channel), channel)
        study = study_for(tmp_path, path, clamp_mode, channel, command_channel)
        out = AbfSliceConverter(study, study.slice_sessions[0], analyse=False).run_conversion(
            tmp_path / f"ch{channel}.nwb"
        )
        with NWBHDF5IO(out, "r") as io:
            nwbfile = io.read()
            responses = sorted(
                (s for s in nwbfile.acquisition.values() if s.name.startswith("response_")), key=lambda s: s.name
            )
            assert len(responses) == reference.sweepCount
            assert len(nwbfile.intracellular_recordings) == reference.sweepCount
            for sweep, series in enumerate(responses):
                reference.setSweep(sweep, channel=channel)
                assert series.rate == reference.dataRate
                assert series.conversion == SI[reference.sweepUnitsY]
                assert np.array_equal(series.data[:], reference.sweepY), f"{name} channel {channel} sweep {sweep}"
                assert series.starting_time == pytest.approx(starts[sweep])
                reference.setSweep(sweep, channel=command_channel)
                stimulus = nwbfile.stimulus[series.name.replace("response_", "stimulus_")]
                assert np.array_equal(stimulus.data[:], reference.sweepC)
                assert stimulus.conversion == SI[reference.sweepUnitsC]


@pytest.mark.realdata
def test_wrong_clamp_mode_is_a_one_line_reason(realdata, tmp_path):
    path = verified(realdata, "171116sh_0018.abf")  # a current-clamp file: the response is in mV
    study = study_for(tmp_path, path, "voltage_clamp", 0)
    with pytest.raises(ConversionError) as info:
        AbfSliceConverter(study, study.slice_sessions[0]).run_conversion(tmp_path / "x.nwb")
    message = str(info.value)
    assert "\n" not in message
    assert message == (
        f"{path.resolve()}: response_channel 0 is in mV (voltage) but the study says voltage_clamp, where the "
        "response is a current; fix clamp_mode or response_channel in the study file"
    )
    assert not list(tmp_path.glob("*.nwb")) and not list(tmp_path.glob(".*partial"))


@pytest.mark.realdata
def test_missing_channel_is_a_one_line_reason(realdata, tmp_path):
    path = verified(realdata, "171116sh_0011.abf")
    study = study_for(tmp_path, path, "voltage_clamp", 1)
    with pytest.raises(
        ConversionError, match=r"response_channel 1 does not exist; the file has 1 ADC channel\(s\): IN 0"
    ):
        AbfSliceConverter(study, study.slice_sessions[0]).run_conversion(tmp_path / "x.nwb")
