"""Tetrode recordings and sortings: neo opens them and sees what was simulated."""

import csv

import numpy as np
import pytest

from nwb_ketamine.simulate import openephys
from nwb_ketamine.simulate.invivo import session_signal, session_units, spike_table

neo = pytest.importorskip("neo")


def _gt(path, session, name):
    folder = path.parent / "ground_truth" / "invivo" / f"{session.animal.subject}-{session.session_id}"
    with open(folder / name) as f:
        return list(csv.DictReader(f))


def _session_row(path):
    with open(path.parent / "ground_truth" / "invivo_sessions.csv") as f:
        return next(csv.DictReader(f))


def test_openephys_signal_equals_simulation(tiny):
    path, plan, study = tiny
    session, loaded = plan.sessions[0], study.invivo_sessions[0]
    ip = plan.params.invivo
    reader = neo.rawio.OpenEphysBinaryRawIO(str(loaded.raw_path))
    reader.parse_header()
    assert reader.signal_channels_count(0) == 16
    assert reader.header["signal_channels"]["gain"][0] == pytest.approx(ip.bit_volts)
    assert reader.get_signal_sampling_rate(0) == ip.sampling_rate_hz
    row = _session_row(path)
    n = int(row["n_samples"])
    assert reader.get_signal_size(0, 0, 0) == n
    assert reader.get_signal_t_start(0, 0, 0) == pytest.approx(int(row["first_sample_number"]) / ip.sampling_rate_hz)

    chunks, n_samples = session_signal(plan, session, spike_table(plan, session, session_units(plan, session)))
    assert n_samples == n
    c0, first = next(chunks)
    raw = reader.get_analogsignal_chunk(0, 0, 0, first.shape[0], 0)
    seen = reader.rescale_signal_raw_to_float(raw, dtype="float64", stream_index=0)
    np.testing.assert_allclose(seen, openephys.quantised(first, ip), atol=1e-9)
    np.testing.assert_allclose(seen, first, atol=ip.bit_volts / 2 * 1.0001)


def test_ttl_marks_the_injection(tiny):
    path, plan, study = tiny
    loaded = study.invivo_sessions[0]
    row = _session_row(path)
    reader = neo.rawio.OpenEphysBinaryRawIO(str(loaded.raw_path))
    reader.parse_header()
    times, durations, labels = reader.get_event_timestamps(0, 0, 0)
    fs = plan.params.invivo.sampling_rate_hz
    assert times == pytest.approx([(int(row["first_sample_number"]) + int(row["injection_sample"])) / fs])
    assert durations == pytest.approx([plan.params.invivo.ttl_duration_s])
    # The injection time in study.yaml is the same moment.
    assert (loaded.injection.time - loaded.start_time).total_seconds() == pytest.approx(float(row["injection_s"]))


def test_phy_spikes_equal_ground_truth(tiny):
    path, plan, study = tiny
    session, loaded = plan.sessions[0], study.invivo_sessions[0]
    reader = neo.rawio.PhyRawIO(str(loaded.sorting_path))
    reader.parse_header()
    units = {int(u["cluster_id"]): u for u in _gt(path, session, "units.csv")}
    spikes = _gt(path, session, "spikes.csv")
    assert reader.spike_channels_count() == len(units)
    labels = {u["label"] for u in units.values()}
    assert labels == {"good", "mua", "noise"}
    annotations = reader.raw_annotations["blocks"][0]["segments"][0]["spikes"]
    for index in range(reader.spike_channels_count()):
        cluster = int(annotations[index]["cluster_id"])
        assert annotations[index]["group"] == units[cluster]["label"]
        ts = reader.get_spike_timestamps(0, 0, index, None, None)
        times = reader.rescale_spike_timestamp(ts, dtype="float64")
        expected = np.array([float(s["time_s"]) for s in spikes if int(s["cluster_id"]) == cluster])
        assert reader.spike_count(0, 0, index) == int(units[cluster]["n_spikes"]) == expected.size
        np.testing.assert_allclose(times, expected, atol=1e-6)


def test_spikes_are_in_the_raw_data(tiny):
    path, plan, study = tiny
    session, loaded = plan.sessions[0], study.invivo_sessions[0]
    ip = plan.params.invivo
    reader = neo.rawio.OpenEphysBinaryRawIO(str(loaded.raw_path))
    reader.parse_header()
    clusters = session_units(plan, session)
    n = reader.get_signal_size(0, 0, 0)
    signal = reader.rescale_signal_raw_to_float(
        reader.get_analogsignal_chunk(0, 0, 0, n, 0), dtype="float64", stream_index=0
    )
    offsets = np.arange(ip.waveform_samples) - ip.waveform_peak_index
    for c in clusters:
        if c.label != "good" or c.train.samples.size < 20:
            continue
        s = c.train.samples[(c.train.samples > 100) & (c.train.samples < n - 100)]
        mean = signal[s[:, None] + offsets[None, :]].mean(axis=0)
        mean -= mean[:4].mean(axis=0)
        template = c.template_uv - c.template_uv[:4].mean(axis=0)
        best = int(np.abs(c.template_uv).max(axis=0).argmax())
        assert best // 4 == c.tetrode
        # The best channel's trough is where the template puts it, within noise and LFP.
        assert mean[ip.waveform_peak_index, best] == pytest.approx(
            template[ip.waveform_peak_index, best], abs=float(0.25 * abs(template).max() + 15)
        )
        other = [ch for ch in range(16) if ch // 4 != c.tetrode]
        assert np.abs(mean[ip.waveform_peak_index, other]).max() < 0.5 * abs(template).max()
