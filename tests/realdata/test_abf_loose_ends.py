"""ABF loose ends on real files: cells mixing sampling rates, blank command units, all-NaN commands, bad dates.

None of the 11 real ABF files in ../shared/realdata has a blank command unit, a command pyabf cannot build
or an implausible header date (checked on every file and channel). Those three cases are reproduced on
copies of real files with one header field changed, as a rig or a writer leaves it:

- a blank ``sDACChannelUnit`` (ABF 1.x; pyabf's own ABF1 writer leaves it blank too);
- a DAC whose waveform comes from a stimulus file (``nWaveformSource`` 2) that is not next to the ABF:
  pyabf returns an all-NaN command for ABF2 files and raises for ABF1 files;
- ``lFileStartDate`` 0 (pyabf then silently takes the copy's creation time from the file system), an
  unparseable date (pyabf gives year 1) and a rig clock reset to 1980.

The mixed-rate cell uses two unchanged real files: 14o16001_vc_pair_step.abf (10 kHz) and model_vc_step.abf
(20 kHz), both voltage clamp in pA.
"""

import logging
import shutil
import struct
from datetime import UTC, datetime, timedelta

import numpy as np
import pyabf
import pytest
import yaml
from pynwb import NWBHDF5IO

from nwb_ketamine.analysis import EpscParameters, measure_sweeps
from nwb_ketamine.converters.abf import AbfSliceConverter
from nwb_ketamine.errors import ConversionError
from nwb_ketamine.metadata import load_study
from tests.conftest import write_slice_study
from tests.realdata.test_abf_realdata import verified

pytestmark = pytest.mark.realdata

ABF1_VC = "05210017_vc_abf1.abf"  # ABF 1.8.3, 6 sweeps, DAC 0 in mV
ABF2_VC = "171116sh_0011.abf"  # ABF 2.6, 20 sweeps, DAC 0 in mV
ABF1_DAC_UNIT = 1346  # sDACChannelUnit[0], 8 bytes
ABF1_START_DATE = 20  # lFileStartDate, int32 YYYYMMDD
ABF1_WAVEFORM_SOURCE = 2300  # nWaveformSource[0], int16
ABF2_DAC_SECTION = 108  # section map entry of the DAC section: block, entry size, entry count
ABF2_WAVEFORM_SOURCE = 42  # nWaveformSource in a DAC entry, int16
ABF2_START_DATE = 16  # uFileStartDate, uint32 YYYYMMDD


def patched_copy(realdata, tmp_path, name, offset, value: bytes, *, dac_section=False):
    """A copy of a verified real file with ``value`` written at ``offset`` (in DAC 0's entry if asked)."""
    source = verified(realdata, name)
    path = tmp_path / f"patched_{name}"
    shutil.copyfile(source, path)
    with open(path, "r+b") as f:
        if dac_section:
            f.seek(ABF2_DAC_SECTION)
            block, _, _ = struct.unpack("<IIq", f.read(16))
            offset += block * 512
        f.seek(offset)
        f.write(value)
    return path


def header_start(path):
    return pyabf.ABF(str(path), loadData=False).abfDateTime


def study_with(tmp_path, files, start):
    return load_study(write_slice_study(tmp_path, [{"start_time": start.isoformat(), "files": files}]))


def vc_file(path, **extra):
    return {"path": str(path), "protocol": "real", "holding_potential": "-70 mV", **extra}


def convert(study, tmp_path, analyse=False):
    return AbfSliceConverter(study, study.slice_sessions[0], analyse=analyse).run_conversion(tmp_path / "cell.nwb")


def where(study):
    """How messages name the first file of the first session: file, line and field path."""
    line = study.path.read_text().splitlines().index("  - path: " + str(study.slice_sessions[0].files[0].path)) + 1
    return f"study.yaml:{line} sessions[0].files[0]"


def refusal(study, tmp_path):
    with pytest.raises(ConversionError) as info:
        convert(study, tmp_path)
    assert not list(tmp_path.glob("*.nwb")) and not list(tmp_path.glob(".*partial"))
    message = str(info.value)
    assert "\n" not in message
    return message


# --------------------------------------------------------------------------------------------------
# A cell whose files differ in sampling rate


def test_cell_mixing_sampling_rates_is_analysed_per_file(realdata, tmp_path):
    slow, fast = verified(realdata, "14o16001_vc_pair_step.abf"), verified(realdata, "model_vc_step.abf")
    # The two files are three years apart (2014, 2017); here they stand for one cell recorded at two rates.
    start = min(header_start(slow), header_start(fast)).replace(tzinfo=UTC)
    files = [vc_file(slow), {**vc_file(fast), "holding_potential": "+40 mV"}]
    study = study_with(tmp_path, files, start)
    params = EpscParameters(**study.analysis["epsc"])
    expected = []
    for path, holding in ((slow, -0.07), (fast, 0.04)):
        abf = pyabf.ABF(str(path))
        current = abf.data[0].reshape(abf.sweepCount, -1).astype(np.float64) * 1e-12
        expected.append(measure_sweeps(current, abf.dataRate, np.full(abf.sweepCount, holding), params))
        if path == fast:  # the rate matters: measured as if at the other file's rate, Rs comes out otherwise
            wrong = measure_sweeps(current, 10_000.0, np.full(abf.sweepCount, holding), params)
            assert not np.allclose(wrong["series_resistance_ohm"], expected[-1]["series_resistance_ohm"])
    with NWBHDF5IO(convert(study, tmp_path, analyse=True), "r") as io:
        nwbfile = io.read()
        table = nwbfile.processing["icephys"]["epsc_sweeps"]
        assert len(table) == 13 + 20
        rows = np.cumsum([0, 13, 20])
        for measures, lo, hi in zip(expected, rows[:-1], rows[1:], strict=True):
            assert np.isfinite(measures["series_resistance_ohm"]).all()
            for name in ("holding_current_a", "series_resistance_ohm", "input_resistance_ohm", "peak_a", "decay_tau_s"):
                np.testing.assert_array_equal(table[name].data[lo:hi], measures[name], err_msg=name)
        rates = sorted({s.rate for s in nwbfile.acquisition.values()})
        assert rates == [10_000.0, 20_000.0]
        cell = nwbfile.processing["icephys"]["epsc_cell"]
        assert cell["n_sweeps"].data[0] == 33


# --------------------------------------------------------------------------------------------------
# An ABF 1.x file with a blank command unit


def test_blank_command_unit_is_refused_naming_the_study_field(realdata, tmp_path):
    path = patched_copy(realdata, tmp_path, ABF1_VC, ABF1_DAC_UNIT, b" " * 8)
    assert pyabf.ABF(str(path), loadData=False).dacUnits[0] == ""
    study = study_with(tmp_path, [vc_file(path)], datetime(2005, 2, 10, 15, 0, tzinfo=UTC))
    assert refusal(study, tmp_path) == (
        f"{path}: the command (DAC 0) has no unit in the ABF header; state it in {where(study)}: write "
        "'command_unit: mV' (or V, uV), or 'command: none' when no command was applied"
    )


def test_blank_command_unit_converts_with_the_stated_unit(realdata, tmp_path):
    path = patched_copy(realdata, tmp_path, ABF1_VC, ABF1_DAC_UNIT, b" " * 8)
    study = study_with(tmp_path, [vc_file(path, command_unit="mV")], datetime(2005, 2, 10, 15, 0, tzinfo=UTC))
    reference = pyabf.ABF(str(path))
    with NWBHDF5IO(convert(study, tmp_path), "r") as io:
        nwbfile = io.read()
        assert len(nwbfile.stimulus) == reference.sweepCount == 6
        for sweep in range(reference.sweepCount):
            reference.setSweep(sweep)
            stimulus = nwbfile.stimulus[f"stimulus_real_00_{sweep:03d}"]
            assert np.array_equal(stimulus.data[:], reference.sweepC)
            assert stimulus.conversion == 1e-3 and stimulus.unit == "volts"
            assert "command_unit" in stimulus.description


def test_blank_command_unit_converts_without_command_when_the_study_says_none(realdata, tmp_path):
    path = patched_copy(realdata, tmp_path, ABF1_VC, ABF1_DAC_UNIT, b" " * 8)
    study = study_with(tmp_path, [vc_file(path, command="none")], datetime(2005, 2, 10, 15, 0, tzinfo=UTC))
    reference = pyabf.ABF(str(path))
    with NWBHDF5IO(convert(study, tmp_path), "r") as io:
        nwbfile = io.read()
        assert len(nwbfile.stimulus) == 0
        assert len(nwbfile.intracellular_recordings) == 6
        for sweep in range(reference.sweepCount):
            reference.setSweep(sweep)
            response = nwbfile.acquisition[f"response_real_00_{sweep:03d}"]
            assert np.array_equal(response.data[:], reference.sweepY)
            assert "no command: the study file says none was applied" in response.description


# --------------------------------------------------------------------------------------------------
# An all-NaN command


def test_all_nan_command_is_not_stored_and_the_reason_is_logged(realdata, tmp_path, caplog):
    path = patched_copy(realdata, tmp_path, ABF2_VC, ABF2_WAVEFORM_SOURCE, np.int16(2).tobytes(), dac_section=True)
    with pytest.warns(UserWarning, match="Could not locate stimulus file"):  # pyabf's own word for it
        reference = pyabf.ABF(str(path))
        reference.setSweep(0)
        assert np.isnan(reference.sweepC).all()
    study = study_with(tmp_path, [vc_file(path)], datetime(2017, 11, 16, 14, 0, tzinfo=UTC))
    with caplog.at_level(logging.WARNING, logger="nwb_ketamine.converters.abf"):
        out = convert(study, tmp_path)
    reason = (
        "no command stored: pyabf cannot build the waveform of DAC 0 (DAC waveform is controlled by custom file; "
        "Could not locate stimulus file for channel 0.), every value is NaN"
    )
    assert [r.getMessage() for r in caplog.records] == [f"{path}: {reason}"]
    with NWBHDF5IO(out, "r") as io:
        nwbfile = io.read()
        assert len(nwbfile.stimulus) == 0
        assert len(nwbfile.intracellular_recordings) == 20
        assert f"{path.name}: {reason}" in nwbfile.notes
        for sweep in range(20):
            reference.setSweep(sweep)
            response = nwbfile.acquisition[f"response_real_00_{sweep:03d}"]
            assert np.array_equal(response.data[:], reference.sweepY)
            assert reason in response.description


def test_abf1_command_pyabf_fails_to_build_is_not_stored(realdata, tmp_path, caplog):
    """The same stimulus-file case in an ABF1 file: pyabf 2.3.8 raises instead of returning NaN."""
    path = patched_copy(realdata, tmp_path, ABF1_VC, ABF1_WAVEFORM_SOURCE, np.int16(2).tobytes())
    reference = pyabf.ABF(str(path))
    with pytest.raises(UnboundLocalError):
        reference.sweepC  # noqa: B018 - the property is what fails
    study = study_with(tmp_path, [vc_file(path)], datetime(2005, 2, 10, 15, 0, tzinfo=UTC))
    with caplog.at_level(logging.WARNING, logger="nwb_ketamine.converters.abf"):
        out = convert(study, tmp_path)
    (record,) = caplog.records
    assert record.getMessage().startswith(
        f"{path}: no command stored: pyabf cannot build the waveform of DAC 0 (DAC waveform is controlled by custom "
        "file; UnboundLocalError: "
    )
    with NWBHDF5IO(out, "r") as io:
        nwbfile = io.read()
        assert len(nwbfile.stimulus) == 0 and len(nwbfile.acquisition) == 6
        assert "UnboundLocalError" in nwbfile.notes


# --------------------------------------------------------------------------------------------------
# An implausible header date


IMPLAUSIBLE = [
    # (file, offset, value, what pyabf makes of it, the header's value as the notes give it, why implausible)
    (ABF1_VC, ABF1_START_DATE, np.int32(0), "the file's creation time", "no date (lFileStartDate 0)", ""),
    (ABF1_VC, ABF1_START_DATE, np.int32(20051399), datetime(1, 1, 1), "unreadable date 20051399, time 57175 s", ""),
    (
        ABF2_VC,
        ABF2_START_DATE,
        np.uint32(19800101),
        datetime(1980, 1, 1, 14, 4, 45, 776000),
        "1980-01-01T14:04:45.776",
        ", before 1990",
    ),
]
CASES = "name, offset, value, pyabf_reads, header, why"


@pytest.mark.parametrize(CASES, IMPLAUSIBLE, ids=["zero", "unreadable", "1980"])
def test_implausible_header_date_is_refused(realdata, tmp_path, name, offset, value, pyabf_reads, header, why):
    path = patched_copy(realdata, tmp_path, name, offset, value.tobytes())
    got = header_start(path)
    if isinstance(pyabf_reads, datetime):
        assert got == pyabf_reads
    else:  # pyabf silently puts the file system's time in place of the missing date
        assert abs(got - datetime.fromtimestamp(path.stat().st_ctime)) < timedelta(seconds=2)
    study = study_with(tmp_path, [vc_file(path)], datetime(1970, 1, 2, tzinfo=UTC))
    assert refusal(study, tmp_path) == (
        f"{path}: the ABF header's recording date is implausible ({header}{why}); state when the file was recorded "
        f"in {where(study)}: write \"recording_time: 'YYYY-MM-DDTHH:MM:SS+HH:MM'\" (from the lab notebook)"
    )


@pytest.mark.parametrize(CASES, IMPLAUSIBLE, ids=["zero", "unreadable", "1980"])
def test_recording_time_overrides_an_implausible_header_date(
    realdata, tmp_path, name, offset, value, pyabf_reads, header, why
):
    path = patched_copy(realdata, tmp_path, name, offset, value.tobytes())
    start = datetime.fromisoformat("2024-03-15T10:00:00+08:00")
    recorded = "2024-03-15T10:20:00+08:00"
    study = study_with(tmp_path, [vc_file(path, recording_time=recorded)], start)
    with NWBHDF5IO(convert(study, tmp_path), "r") as io:
        nwbfile = io.read()
        first = nwbfile.acquisition["response_real_00_000"]
        assert first.starting_time == pytest.approx(1200.0)
        assert (
            f"{path.name}: recorded at {recorded} (study file recording_time); the ABF header says {header}"
            in nwbfile.notes
        )


def test_recording_time_overrides_a_plausible_header_date_too(realdata, tmp_path):
    """A rig clock an hour off looks plausible; the user knows better, and the header value is kept."""
    path = verified(realdata, ABF2_VC)
    start = datetime.fromisoformat("2017-11-16T13:00:00+00:00")
    study = study_with(tmp_path, [vc_file(path, recording_time="2017-11-16T13:04:45.776+00:00")], start)
    with NWBHDF5IO(convert(study, tmp_path), "r") as io:
        nwbfile = io.read()
        assert nwbfile.acquisition["response_real_00_000"].starting_time == pytest.approx(285.776)
        assert "the ABF header says 2017-11-16T14:04:45.776" in nwbfile.notes


def test_study_yaml_fields_round_trip_through_the_loader(realdata, tmp_path):
    """The three fields as a user writes them by hand in YAML (not through yaml.safe_dump)."""
    path = verified(realdata, ABF2_VC)
    study_path = write_slice_study(tmp_path, [{"start_time": "2017-11-16T13:00:00+00:00", "files": [vc_file(path)]}])
    text = study_path.read_text().replace(
        "    holding_potential: -70 mV\n",
        "    holding_potential: -70 mV\n    command_unit: mV\n    recording_time: 2017-11-16T14:04:45+00:00\n",
    )
    study_path.write_text(text)
    (info,) = load_study(study_path).slice_sessions[0].files
    assert yaml.safe_load(text)["sessions"][0]["files"][0]["command_unit"] == "mV"
    assert info.command_unit == "mV" and info.recording_time == datetime.fromisoformat("2017-11-16T14:04:45+00:00")
