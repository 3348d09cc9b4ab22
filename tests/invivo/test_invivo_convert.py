"""Round trip of a simulated in vivo session: raw samples, scaling, electrodes, epochs, events, validity."""

import subprocess
import sys

import h5py
import numpy as np
import pytest
from pynwb import NWBHDF5IO

from nwb_ketamine.converters.invivo import InVivoConverter
from nwb_ketamine.converters.neo_raw import RawRecording


def test_raw_samples_equal_neo_int16(tiny_nwb, tiny_study):
    path, converter = tiny_nwb
    _, _, truth = tiny_study
    rawio = converter.raw.rawio
    expected = rawio.get_analogsignal_chunk(0, 0, None, None, stream_index=converter.raw.stream_index)
    with NWBHDF5IO(path, "r") as io:
        series = io.read().acquisition["ElectricalSeries"]
        data = series.data[:]
        assert series.data.dtype == np.int16
        assert series.starting_time == 0.0
        assert series.rate == 30_000.0
    assert data.shape == (int(truth["n_samples"]), 16)
    np.testing.assert_array_equal(data, expected)


def test_dataset_declares_gzip_and_shuffle(tiny_nwb):
    path, _ = tiny_nwb
    with h5py.File(path, "r") as f:
        dset = f["acquisition/ElectricalSeries/data"]
        assert dset.compression == "gzip" and dset.shuffle
        assert dset.chunks[1] == 16
        assert 1.6e6 < dset.chunks[0] * 16 * 2 <= 2.1 * 2**20  # about 2 MiB (chunked.CHUNK_BYTES)
        assert dset.id.get_storage_size() < dset.size * 2  # really compressed


def test_conversion_gives_neo_microvolts(tiny_nwb):
    path, converter = tiny_nwb
    rawio = converter.raw.rawio
    raw = rawio.get_analogsignal_chunk(0, 0, 0, 1000, stream_index=0)
    neo_uv = rawio.rescale_signal_raw_to_float(raw, dtype="float64", stream_index=0)
    with NWBHDF5IO(path, "r") as io:
        series = io.read().acquisition["ElectricalSeries"]
        volts = series.data[:1000] * series.conversion + series.offset
    np.testing.assert_allclose(volts * 1e6, neo_uv, rtol=1e-12, atol=1e-9)


def test_electrodes_and_groups_follow_the_study(tiny_nwb, tiny_study):
    path, converter = tiny_nwb
    session = converter.session
    with NWBHDF5IO(path, "r") as io:
        nwb = io.read()
        assert sorted(nwb.electrode_groups) == [f"tetrode{j}" for j in range(len(session.tetrodes))]
        table = nwb.electrodes.to_dataframe()
        for j, tetrode in enumerate(session.tetrodes):
            rows = table[table["tetrode"] == j]
            assert list(rows["channel_name"]) == [converter.raw.channel_names[c] for c in tetrode.channels]
            assert set(rows["location"]) == {tetrode.ccf_region}
            assert nwb.electrode_groups[f"tetrode{j}"].location == tetrode.ccf_region
        assert nwb.devices["OpenEphysBinary"].model.manufacturer == "Open Ephys"


def test_epochs_events_and_injection_match_ground_truth(tiny_nwb, tiny_study):
    path, converter = tiny_nwb
    _, _, truth = tiny_study
    injection_s = float(truth["injection_s"])
    with NWBHDF5IO(path, "r") as io:
        nwb = io.read()
        epochs = nwb.epochs.to_dataframe()
        assert list(epochs["tags"].map(lambda t: t[0])) == [e.name for e in converter.session.epochs]
        assert list(epochs["start_time"]) == [e.start for e in converter.session.epochs]
        post = epochs[epochs["start_time"] >= injection_s]
        assert all(any("after injection" in t for t in tags) for tags in post["tags"])
        assert "events" not in (nwb.intervals or {}), "events are instants, not zero-length intervals"
        (table,) = nwb.events.values()
        events = table.to_dataframe()
        assert events["timestamp"].iloc[0] == pytest.approx(injection_s, abs=1 / 30_000)
        assert events["duration"].iloc[0] == pytest.approx(float(truth["ttl_duration_s"]))
        segments = nwb.intervals["recording_segments"].to_dataframe()
        assert list(segments["series_name"]) == ["ElectricalSeries"]
        assert "OpenEphysBinaryRawIO" in segments["reader"].iloc[0] and "structure.oebin" in segments["source_files"][0]
        drug = next(iter(nwb.lab_meta_data.values()))
        (administration,) = drug.drug_administrations.values()
        assert administration.administration_time == pytest.approx(injection_s)


def test_passes_pynwb_validation(tiny_nwb):
    path, _ = tiny_nwb
    result = subprocess.run([sys.executable, "-m", "pynwb.validation_cli", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_nwbinspector_dandi_has_no_violations(tiny_nwb):
    from nwbinspector import Importance, inspect_nwbfile, load_config

    path, _ = tiny_nwb
    messages = list(inspect_nwbfile(nwbfile_path=str(path), config=load_config("dandi")))
    bad = [m for m in messages if m.importance in (Importance.CRITICAL, Importance.BEST_PRACTICE_VIOLATION)]
    assert not bad, [(m.check_function_name, m.location, m.message) for m in bad]


def test_no_raw_writes_no_electrical_series(tiny_study, tmp_path):
    _, study, _ = tiny_study
    path = InVivoConverter(study, study.invivo_sessions[0], include_raw=False).run_conversion(tmp_path / "s.nwb")
    with NWBHDF5IO(path, "r") as io:
        nwb = io.read()
        assert not [o for o in nwb.objects.values() if type(o).__name__ == "ElectricalSeries"]
        assert len(nwb.electrodes) == 16 and len(nwb.epochs) == 2
    assert path.stat().st_size < 1_000_000


def test_stub_keeps_a_few_seconds(tiny_study, tmp_path):
    _, study, _ = tiny_study
    converter = InVivoConverter(study, study.invivo_sessions[0], stub=True)
    path = converter.run_conversion(tmp_path / "s.nwb")
    with NWBHDF5IO(path, "r") as io:
        data = io.read().acquisition["ElectricalSeries"].data
        assert data.shape == (int(InVivoConverter.STUB_SECONDS * 30_000), 16)
        np.testing.assert_array_equal(data[-100:], converter.raw.read(data.shape[0] - 100, data.shape[0]))


def test_raw_recording_reads_only_what_is_asked(tiny_nwb):
    _, converter = tiny_nwb
    raw = converter.raw
    assert isinstance(raw, RawRecording)
    block = raw.read(1000, 1100, channels=[4, 5, 6, 7])
    assert block.shape == (100, 4) and block.dtype == np.int16
    np.testing.assert_array_equal(block, raw.read(0, 2000)[1000:1100, 4:8])
    assert raw.gain_uv.shape == (16,) and np.all(raw.gain_uv == 0.195) and np.all(raw.offset_uv == 0)
    assert raw.first_sample_time_s > 0  # Open Ephys counts from acquisition start


def test_units_end_to_end_on_the_session_clock(tiny_nwb, tiny_study):
    pytest.importorskip("nwb_ketamine.converters.units")
    import pandas as pd

    path, _ = tiny_nwb
    study_path, _, truth = tiny_study
    folder = study_path.parent / "ground_truth" / "invivo" / truth["session"]
    spikes = pd.read_csv(folder / "spikes.csv")
    with NWBHDF5IO(path, "r") as io:
        units = io.read().units.to_dataframe()
    assert len(units) == int(truth["n_clusters"])
    for name, times in zip(units["unit_name"], units["spike_times"], strict=True):
        expected = spikes.loc[spikes["cluster_id"] == int(name), "sample"].to_numpy() / 30_000.0
        np.testing.assert_allclose(np.sort(times), np.sort(expected), atol=1e-9)


def test_burst_parameters_of_the_study_are_used_and_stored(tiny_study, tmp_path):
    import dataclasses

    from nwb_ketamine.analysis.burst_store import read_burst_metrics
    from nwb_ketamine.analysis.bursts import BurstParameters

    _, study, _ = tiny_study
    custom = {"onset_isi_s": 0.01, "end_isi_s": 0.015, "min_silence_s": 0.2, "min_spikes": 3}
    study = dataclasses.replace(study, analysis={**study.analysis, "bursts": custom})
    path = InVivoConverter(study, study.invivo_sessions[0], include_raw=False).run_conversion(tmp_path / "b.nwb")
    with NWBHDF5IO(path, "r") as io:
        _, stored = read_burst_metrics(io.read())
    assert stored == BurstParameters(**custom)
