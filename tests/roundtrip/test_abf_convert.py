"""Simulated slice cells → NWB: icephys hierarchy, labelled conditions, timing, metadata, validation."""

import csv
import json
import subprocess
import sys
from datetime import datetime, timedelta

import numpy as np
import pyabf
import pytest
from pynwb import NWBHDF5IO

from nwb_ketamine.analysis.epsc_parameters import EpscParameters
from nwb_ketamine.analysis.store import read_epsc_analysis
from nwb_ketamine.converters.abf import AbfSliceConverter
from nwb_ketamine.filelayout import nearest_time_point
from nwb_ketamine.metadata import load_study
from nwb_ketamine.simulate import simulate_study


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    root = tmp_path_factory.mktemp("abf")
    study = load_study(simulate_study(root / "sim", seed=3, size="tiny", progress=False))
    paths = {}
    for session in study.slice_sessions:
        paths[session.key] = AbfSliceConverter(study, session).run_conversion(root / f"{session.key}_icephys.nwb")
    return study, paths


def truth(study, name):
    with open(study.path.parent / "ground_truth" / name) as f:
        return list(csv.DictReader(f))


def test_every_sweep_is_stored_with_its_command_and_real_start_time(converted):
    study, paths = converted
    files = {row["path"]: row for row in truth(study, "slice_files.csv")}
    for session in study.slice_sessions:
        with NWBHDF5IO(paths[session.key], "r") as io:
            nwbfile = io.read()
            recordings = nwbfile.intracellular_recordings.to_dataframe()
            n_sweeps = sum(int(files[str(f.path.relative_to(study.path.parent))]["n_sweeps"]) for f in session.files)
            assert len(recordings) == n_sweeps
            for file_index, info in enumerate(session.files):
                row = files[str(info.path.relative_to(study.path.parent))]
                offset = (datetime.fromisoformat(row["start_time"]) - session.start_time).total_seconds()
                abf = pyabf.ABF(str(info.path))
                for sweep in range(abf.sweepCount):
                    abf.setSweep(sweep)
                    name = f"{info.protocol}_{file_index:02d}_{sweep:03d}"
                    response = nwbfile.acquisition[f"response_{name}"]
                    assert np.array_equal(response.data[:], abf.sweepY)
                    assert response.conversion == 1e-12 and response.unit == "amperes"
                    expected_start = offset + sweep * float(row["sweep_interval_s"])
                    assert response.starting_time == pytest.approx(expected_start)
                    assert nwbfile.stimulus[f"stimulus_{name}"].unit == "volts"


def test_icephys_hierarchy_and_labelled_conditions(converted):
    study, paths = converted
    session = study.slice_sessions[0]
    with NWBHDF5IO(paths[session.key], "r") as io:
        nwbfile = io.read()
        sequential = nwbfile.icephys_sequential_recordings.to_dataframe()
        assert list(sequential["stimulus_type"]) == [f.protocol for f in session.files]
        assert len(nwbfile.icephys_simultaneous_recordings) == len(nwbfile.intracellular_recordings)
        assert len(nwbfile.icephys_repetitions) == len({f.holding_potential_volts for f in session.files})
        conditions = nwbfile.icephys_experimental_conditions.to_dataframe()
        subject = study.subjects[session.subject]
        drug = study.drugs[session.injection.drug]
        hours = (session.start_time - session.injection.time).total_seconds() / 3600
        assert sorted(conditions["holding_potential"]) == pytest.approx([-0.070, 0.040])
        for _, row in conditions.iterrows():
            assert row["region"] == session.ccf_region and row["region_label"] == session.region
            assert row["drug"] == drug.agent and row["dose"] == drug.amount
            assert row["stress"] == study.stress_protocols[subject.stress].paradigm
            assert row["experimental_group"] == subject.group
            assert row["hours_since_injection"] == pytest.approx(hours)
            assert row["time_point"] == nearest_time_point(hours, study.time_points) == "1h"  # tiny: 1 h after
        description = nwbfile.icephys_experimental_conditions["time_point"].description
        assert "1h = 1 h, 24h = 24 h" in description and "log scale" in description
        electrode = nwbfile.icephys_electrodes["electrode"]
        assert electrode.location == session.ccf_region and electrode.cell_id == session.cell_id
        assert session.slice_id in electrode.slice


def test_a_study_without_time_points_bins_into_the_default_points(converted, tmp_path):
    from dataclasses import replace

    from nwb_ketamine.filelayout import DEFAULT_TIME_POINTS

    study, _ = converted
    study = replace(study, time_points={})
    session = study.slice_sessions[0]
    # hours 1.6: nearest on a log scale is 2h of the defaults (1.6 > sqrt(2)); the study's own 1h otherwise
    session = replace(session, injection=replace(session.injection, time=session.start_time - timedelta(hours=1.6)))
    path = AbfSliceConverter(study, session, analyse=False).run_conversion(tmp_path / "cell_icephys.nwb")
    with NWBHDF5IO(path, "r") as io:
        conditions = io.read().icephys_experimental_conditions
        assert set(conditions["time_point"].data[:]) == {nearest_time_point(1.6, DEFAULT_TIME_POINTS)} == {"2h"}
        assert "default time points (the study file names none)" in conditions["time_point"].description


def test_subject_and_drug_stress_metadata(converted):
    study, paths = converted
    session = study.slice_sessions[0]
    with NWBHDF5IO(paths[session.key], "r") as io:
        nwbfile = io.read()
        assert nwbfile.subject.subject_id == session.subject
        metadata = nwbfile.lab_meta_data["drug_stress"]
        injection = metadata.drug_administrations[session.injection.drug]
        since = (session.start_time - session.injection.time).total_seconds()
        assert injection.administration_time == pytest.approx(-since)
        assert metadata.experimental_group == study.subjects[session.subject].group
        assert study.drugs[session.injection.drug].agent in nwbfile.pharmacology
        dandi = nwbfile.lab_meta_data["DandiIcephysMetadata"]
        assert (dandi.slice_id, dandi.cell_id) == (session.slice_id, session.cell_id)


def test_dandi_names_the_files_with_slice_and_cell(converted):
    from dandi.metadata.nwb import get_metadata
    from dandi.organize import create_unique_filenames_from_metadata

    study, paths = converted
    records = [{**get_metadata(path), "path": str(path)} for path in paths.values()]
    named = create_unique_filenames_from_metadata(records, required_fields=["slice_id", "cell_id"])
    got = sorted(record["dandi_path"] for record in named)
    expected = sorted(
        f"sub-{s.subject}/sub-{s.subject}_ses-{s.session_id}_slice-{s.slice_id}_cell-{s.cell_id}_icephys.nwb"
        for s in study.slice_sessions
    )
    assert got == expected


def test_files_pass_pynwb_validation_and_inspector(converted):
    from nwbinspector import Importance, inspect_nwbfile, load_config

    _, paths = converted
    for path in paths.values():
        result = subprocess.run(
            [sys.executable, "-m", "pynwb.validation_cli", str(path)], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr
        messages = list(inspect_nwbfile(nwbfile_path=str(path), config=load_config("dandi")))
        serious = [m for m in messages if m.importance in (Importance.CRITICAL, Importance.BEST_PRACTICE_VIOLATION)]
        assert serious == [], [f"{m.check_function_name}: {m.message}" for m in serious]


def test_stub_keeps_two_sweeps_per_file(converted, tmp_path):
    study, _ = converted
    session = study.slice_sessions[0]
    path = AbfSliceConverter(study, session, stub=True, analyse=False).run_conversion(tmp_path / "stub.nwb")
    with NWBHDF5IO(path, "r") as io:
        assert len(io.read().intracellular_recordings) == 2 * len(session.files)


def test_analysis_stored_with_parameters_recovers_ground_truth(converted):
    study, paths = converted
    cells = {(row["subject"], row["slice_id"], row["cell_id"]): row for row in truth(study, "slice_cells.csv")}
    for session in study.slice_sessions:
        expected = cells[(session.subject, session.slice_id, session.cell_id)]
        with NWBHDF5IO(paths[session.key], "r") as io:
            nwbfile = io.read()
            sweeps, summary, params = read_epsc_analysis(nwbfile)
            assert params == EpscParameters(**study.analysis["epsc"])
            assert len(sweeps["kind"]) == len(nwbfile.intracellular_recordings)
            assert summary["accepted"], summary["qc_reasons"]
            for key, truth_key in [
                ("ampa_peak_a", "ampa_amplitude_pa"),
                ("nmda_peak_a", "nmda_amplitude_pa"),
                ("nmda_value_at_latency_a", "nmda_value_at_fixed_latency_pa"),
            ]:
                assert summary[key] * 1e12 == pytest.approx(float(expected[truth_key]), rel=0.05), key
            assert summary["nmda_decay_tau_s"] * 1e3 == pytest.approx(float(expected["nmda_decay_tau_ms"]), rel=0.10)
            assert summary["series_resistance_ohm"] / 1e6 == pytest.approx(float(expected["rs_mohm"]), rel=0.10)
            links = nwbfile.processing["icephys"]["epsc_sweeps"]["intracellular_recording"].data[:]
            assert list(links) == list(range(len(nwbfile.intracellular_recordings)))


def test_abf_tags_become_a_time_intervals_table(converted):
    study, paths = converted
    files = {row["path"]: row for row in truth(study, "slice_files.csv")}
    session = study.slice_sessions[0]
    expected = []
    for info in session.files:
        row = files[str(info.path.relative_to(study.path.parent))]
        offset = (datetime.fromisoformat(row["start_time"]) - session.start_time).total_seconds()
        expected += [(offset + time_s, text, info.path.name) for time_s, text in json.loads(row["tags"])]
    assert expected, "the simulator tags the NMDA file"
    with NWBHDF5IO(paths[session.key], "r") as io:
        tags = io.read().intervals["abf_tags"].to_dataframe()
        got = list(zip(tags["start_time"], tags["comment"], tags["source_file"], strict=True))
    assert [(pytest.approx(t), c, f) for t, c, f in expected] == got


def test_gap_free_abf_converts_as_one_sweep(tmp_path):
    """A gap-free (nOperationMode 3) file, written by pyabf's own ABF1 writer and marked gap-free."""
    from pyabf.abfWriter import writeABF1

    from tests.conftest import write_slice_study

    data = np.random.default_rng(0).normal(0, 5, (1, 50_000)).astype(np.float32)
    path = tmp_path / "gapfree.abf"
    writeABF1(data, str(path), 10_000.0, units="pA")
    with open(path, "r+b") as f:
        f.seek(8)
        f.write(np.int16(3).tobytes())  # nOperationMode: gap-free
        f.seek(1346)
        f.write(b"mV".ljust(8))  # sDACChannelUnit[0]: pyabf's writer leaves it empty, pClamp does not
    abf = pyabf.ABF(str(path))
    assert abf.nOperationMode == 3
    # pyabf's writer stores no date (lFileStartDate 0; pyabf's reader then shows the file's creation time):
    # the study file says when the file was recorded.
    file = {"path": str(path), "protocol": "gap-free", "holding_potential": "-70 mV"}
    start, file["recording_time"] = "2024-03-15T10:00:00+00:00", "2024-03-15T10:01:00+00:00"
    study = load_study(write_slice_study(tmp_path, [{"start_time": start, "files": [file]}]))
    out = AbfSliceConverter(study, study.slice_sessions[0], analyse=False).run_conversion(tmp_path / "g.nwb")
    with NWBHDF5IO(out, "r") as io:
        nwbfile = io.read()
        (series,) = [s for s in nwbfile.acquisition.values()]
        assert np.array_equal(series.data[:], abf.sweepY) and len(series.data) == 50_000


def _pyabf_written_abf1(tmp_path):
    """An ABF 1.x file from pyabf's own writer, which leaves the command unit (sDACChannelUnit) blank.

    The writer puts the data at byte 2048, inside the 6 kB ABF 1.8 header, so the header fields from there
    on (the DAC waveform source at byte 2300...) are the first samples: zero samples leave the DAC waveform
    disabled, and pyabf's command is then the holding level.
    """
    from pyabf.abfWriter import writeABF1

    data = np.random.default_rng(1).normal(0, 5, (3, 5_000)).astype(np.float32)
    data[0, :2048] = 0
    path = tmp_path / "written.abf"
    writeABF1(data, str(path), 10_000.0, units="pA")
    abf = pyabf.ABF(str(path))
    assert abf.dacUnits[0].strip("\x00 ") == ""  # NUL-padded
    abf.setSweep(0)
    assert np.all(abf.sweepC == 0) and abf.stimulusByChannel[0].text == "DAC waveform is not enabled"
    return path, abf


def _study_of(tmp_path, path, abf, **fields):
    from tests.conftest import write_slice_study

    # pyabf's writer stores no date either: the study file says when the file was recorded.
    start, recorded = "2024-03-15T10:00:00+00:00", "2024-03-15T10:01:00+00:00"
    file = {"path": str(path), "protocol": "written", "holding_potential": "-70 mV", "recording_time": recorded}
    file.update(fields)
    return load_study(write_slice_study(tmp_path, [{"start_time": start, "files": [file]}]))


def test_blank_command_unit_of_a_pyabf_written_file(tmp_path):
    from nwb_ketamine.errors import ConversionError

    path, abf = _pyabf_written_abf1(tmp_path)
    study = _study_of(tmp_path, path, abf)
    with pytest.raises(ConversionError, match=r"has no unit in the ABF header; .* write 'command_unit: mV'"):
        AbfSliceConverter(study, study.slice_sessions[0], analyse=False).run_conversion(tmp_path / "w.nwb")
    study = _study_of(tmp_path, path, abf, command_unit="mV")
    out = AbfSliceConverter(study, study.slice_sessions[0], analyse=False).run_conversion(tmp_path / "w.nwb")
    with NWBHDF5IO(out, "r") as io:
        nwbfile = io.read()
        for sweep in range(3):
            abf.setSweep(sweep)
            stimulus = nwbfile.stimulus[f"stimulus_written_00_{sweep:03d}"]
            assert np.array_equal(stimulus.data[:], abf.sweepC) and stimulus.conversion == 1e-3


def test_file_without_command_is_valid_nwb(tmp_path):
    """command: none gives intracellular recordings with a response only; pynwb and the Inspector accept them."""
    from nwbinspector import Importance, inspect_nwbfile, load_config

    path, abf = _pyabf_written_abf1(tmp_path)
    study = _study_of(tmp_path, path, abf, command="none")
    out = AbfSliceConverter(study, study.slice_sessions[0], analyse=False).run_conversion(tmp_path / "w.nwb")
    with NWBHDF5IO(out, "r") as io:
        nwbfile = io.read()
        assert len(nwbfile.stimulus) == 0 and len(nwbfile.intracellular_recordings) == 3
        assert "command" not in nwbfile.notes  # the user said there was none: nothing to explain
        assert (
            "no command: the study file says none was applied"
            in nwbfile.acquisition["response_written_00_000"].description
        )
    result = subprocess.run([sys.executable, "-m", "pynwb.validation_cli", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    messages = list(inspect_nwbfile(nwbfile_path=str(out), config=load_config("dandi")))
    serious = [m for m in messages if m.importance in (Importance.CRITICAL, Importance.BEST_PRACTICE_VIOLATION)]
    assert serious == [], [f"{m.check_function_name}: {m.message}" for m in serious]


def test_sweeps_are_gzip_chunks_written_by_libdeflate_that_plain_zlib_reads(converted, tmp_path):
    """Every sweep (response and command) is one shuffle + gzip chunk at libdeflate's level, decoded by
    plain zlib after unshuffling to what h5py returns; the same cell written with zlib holds the same values
    in a larger file; the file passes pynwb validation."""
    import zlib

    import h5py

    from nwb_ketamine.gzipcodec import get_codec, installed_codecs, unshuffle
    from nwb_ketamine.schema_validation import schema_errors

    assert "libdeflate" in installed_codecs(), "the deflate package (extra 'fast') is missing"
    study, paths = converted
    session = study.slice_sessions[0]
    path = paths[session.key]
    assert schema_errors(path) == []
    by_zlib = AbfSliceConverter(study, session, codec="zlib").run_conversion(tmp_path / "zlib.nwb")
    n = 0
    with h5py.File(path, "r") as f, h5py.File(by_zlib, "r") as z:
        for where in ("acquisition", "stimulus/presentation"):
            for name, group in f[where].items():
                dset = group["data"]
                assert (dset.compression, dset.compression_opts, dset.shuffle) == ("gzip", 2, True)
                assert dset.chunks == dset.shape and z[where][name]["data"].compression_opts == 4
                mask, payload = dset.id.read_direct_chunk((0,))
                values = unshuffle(zlib.decompress(payload), dset.dtype, dset.shape)
                np.testing.assert_array_equal(values, dset[()])
                np.testing.assert_array_equal(values, z[where][name]["data"][()])
                assert bytes(payload) != z[where][name]["data"].id.read_direct_chunk((0,))[1]
                n += 1
    assert n >= 2 * len(session.files)
    assert path.stat().st_size < by_zlib.stat().st_size
    assert get_codec("libdeflate").default_level == 2
