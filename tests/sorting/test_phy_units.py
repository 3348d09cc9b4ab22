"""phy folders of the simulated study: spikes, labels and tetrodes equal the ground truth; the Units
table and the burst metrics survive a round trip through a file and equal the simulator's statistics;
a phy folder without its .dat reads (rate from params.py, channels from channel_map.npy) and its
templates are stored as templates, never as waveform_mean."""

import csv
import math
import shutil

import numpy as np
import pytest
from pynwb import NWBHDF5IO

from nwb_ketamine.analysis.burst_store import read_burst_metrics
from nwb_ketamine.analysis.bursts import METRICS, BurstParameters
from nwb_ketamine.converters.registry import read_sorting
from nwb_ketamine.converters.units import add_units
from nwb_ketamine.errors import ConversionError
from tests.sorting.conftest import MemmapRaw, nwbfile_with_electrodes


def _csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _truth(root, session):
    folder = root / "ground_truth" / "invivo" / f"{session.subject}-{session.session_id}"
    units = {int(r["cluster_id"]): r for r in _csv(folder / "units.csv")}
    spikes = _csv(folder / "spikes.csv")
    return units, spikes


def _check_phy(root, study):
    for session in study.invivo_sessions:
        units = read_sorting(session.sorting_path, "phy", session=session, sampling_rate_hz=30_000.0)
        truth, spikes = _truth(root, session)
        assert sorted(int(i) for i in units.ids) == sorted(truth)
        cluster = np.array([int(s["cluster_id"]) for s in spikes])
        sample = np.array([int(s["sample"]) for s in spikes])
        columns = (units.ids, units.spike_samples, units.labels, units.tetrode)
        for uid, samples, label, tetrode in zip(*columns, strict=True):
            row = truth[int(uid)]
            assert label == row["label"]
            assert tetrode + 1 == int(row["tetrode"])  # the ground truth numbers tetrodes from 1
            assert samples.size == int(row["n_spikes"])
            np.testing.assert_array_equal(samples, np.sort(sample[cluster == int(uid)]))
        # Templates are not in a known unit: kept apart from the uV waveforms.
        assert units.waveforms_mean_uv is None and units.templates.shape[::2] == (len(units), 4)
        assert "not uV" in units.templates_description
        assert units.channel_names == {i: [f"ch{c}" for c in t.channels] for i, t in enumerate(session.tetrodes)}
        assert units.reader.startswith("nwb_ketamine.converters.phy") and "the .dat was found" in units.reader
        assert any(f.endswith("spike_times.npy") for f in units.source_files)
        # The simulated .dat is next to the folder: its length is the recording's.
        dat = next(root.rglob("continuous.dat"))
        n_channels = sum(len(t.channels) for t in session.tetrodes)
        assert units.duration_s == pytest.approx(dat.stat().st_size / 2 / n_channels / 30_000.0)


def test_phy_matches_ground_truth_tiny(tiny_study):
    _check_phy(*tiny_study)


@pytest.mark.slow
def test_phy_matches_ground_truth_small(small_study):
    _check_phy(*small_study)


def test_units_round_trip_and_burst_metrics_equal_ground_truth(tiny_study, tmp_path):
    root, study = tiny_study
    session = study.invivo_sessions[0]
    units = read_sorting(session.sorting_path, "phy", session=session, sampling_rate_hz=30_000.0)
    nwbfile, rows = nwbfile_with_electrodes(session)
    raw = MemmapRaw(next(root.rglob("continuous.dat")))
    add_units(nwbfile, units, session=session, electrode_rows_of_tetrode=rows, raw=raw)
    path = tmp_path / "units.nwb"
    with NWBHDF5IO(path, "w") as io:
        io.write(nwbfile)
    truth, _ = _truth(root, session)
    with NWBHDF5IO(path, "r") as io:
        f = io.read()
        table = f.units
        assert len(table) == len(units)
        for i, uid in enumerate(units.ids):
            np.testing.assert_array_equal(table["spike_times"][i], units.spike_samples[i] / 30_000.0)
            assert table["curation_label"][i] == truth[int(uid)]["label"]
            assert table["brain_area"][i] == "LH"
            assert list(table["electrodes"][i].index) == rows[units.tetrode[i]]
            assert table["electrode_group"][i].name == f"tetrode{units.tetrode[i]}"
            mean = np.asarray(table["waveform_mean"][i]) * 1e6
            best = int(truth[int(uid)]["best_channel"]) - 4 * units.tetrode[i]
            # The raw mean waveform's peak matches the embedded unit's peak (noise, LFP and jitter allowed).
            if truth[int(uid)]["label"] == "good" and int(truth[int(uid)]["n_spikes"]) >= 20:
                peak = float(truth[int(uid)]["peak_uv"])
                assert np.abs(mean[:, best]).max() == pytest.approx(peak, rel=0.25)
                assert table["snr"][i] > 3
        metrics, params = read_burst_metrics(f)
    assert params == BurstParameters()
    expected = _csv(root / "ground_truth" / "invivo_unit_epochs.csv")
    assert expected
    for row in expected:
        unit = units.ids.index(row["cluster_id"])
        k = np.flatnonzero((metrics["unit"] == unit) & (metrics["epoch"] == row["epoch"]))
        assert k.size == 1
        for name in METRICS:
            want, got = float(row[name]), float(metrics[name][k[0]])
            assert (math.isnan(want) and math.isnan(got)) or got == pytest.approx(want, rel=1e-12, abs=0), name


def test_units_without_raw_store_templates_apart(tiny_study, tmp_path):
    root, study = tiny_study
    session = study.invivo_sessions[0]
    units = read_sorting(session.sorting_path, "phy", session=session, sampling_rate_hz=None)
    nwbfile, rows = nwbfile_with_electrodes(session)
    add_units(nwbfile, units, session=session, electrode_rows_of_tetrode=rows)
    path = tmp_path / "templates.nwb"
    with NWBHDF5IO(path, "w") as io:
        io.write(nwbfile)
    with NWBHDF5IO(path, "r") as io:
        table = io.read().units
        assert "waveform_mean" not in table.colnames and "template_waveform" in table.colnames
        assert "not uV" in table["template_waveform"].description
        np.testing.assert_array_equal(table["template_waveform"][0], units.templates[0])
        assert np.asarray(table["template_waveform"].data).shape == (len(units), 48, 4)
        assert math.isnan(table["snr"][0])
    # In the simulator amplitudes.npy is the peak in uV, so here (only here) the template peak is that peak.
    truth, _ = _truth(root, session)
    for i, uid in enumerate(units.ids):
        peak = float(truth[int(uid)]["peak_uv"])
        assert np.nanmax(np.abs(units.templates[i])) == pytest.approx(peak, rel=0.35)


def test_phy_without_dat(tiny_study, tmp_path):
    _, study = tiny_study
    session = study.invivo_sessions[0]
    folder = tmp_path / "phy"
    shutil.copytree(session.sorting_path, folder)  # the .dat stays behind
    assert not (folder / "continuous.dat").exists()
    units = read_sorting(folder, "phy", session=session, sampling_rate_hz=None)
    reference = read_sorting(session.sorting_path, "phy", session=session, sampling_rate_hz=None)
    assert units.sampling_rate_hz == 30_000.0 and units.duration_s is None
    assert units.ids == reference.ids and units.labels == reference.labels
    for a, b in zip(units.spike_samples, reference.spike_samples, strict=True):
        np.testing.assert_array_equal(a, b)
    assert units.channel_names == reference.channel_names and "without the .dat" in units.reader
    # params.py without sample_rate: refused with one line naming the file and what to write.
    text = (folder / "params.py").read_text().replace("sample_rate", "sampling")
    (folder / "params.py").write_text(text)
    with pytest.raises(ConversionError) as err:
        read_sorting(folder, "phy", session=session, sampling_rate_hz=None)
    assert "params.py" in str(err.value) and "sample_rate = " in str(err.value) and "\n" not in str(err.value)


def test_wrong_rate_and_unknown_format(tiny_study):
    _, study = tiny_study
    session = study.invivo_sessions[0]
    with pytest.raises(ConversionError, match="sample_rate"):
        read_sorting(session.sorting_path, "phy", session=session, sampling_rate_hz=20_000.0)
    with pytest.raises(ConversionError, match="unknown sorting format"):
        read_sorting(session.sorting_path, "kwik", session=session, sampling_rate_hz=None)
