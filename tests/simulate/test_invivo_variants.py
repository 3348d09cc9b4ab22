"""The in vivo variants of a simulated study: neo reads what the study file says, on the session clock."""

import csv
import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import yaml

from nwb_ketamine.metadata import load_study
from nwb_ketamine.simulate import neuralynx, openephys, spikes
from nwb_ketamine.simulate.invivo import (
    neuralynx_channels,
    neuralynx_lfp_signal,
    session_params,
    session_recordings,
    session_signal,
    session_units,
    spike_table,
)
from nwb_ketamine.simulate.plan import plan_study
from nwb_ketamine.simulate.study_file import study_document
from tests.conftest import ROOT

neo = pytest.importorskip("neo")


def _session(plan, variant):
    return next(s for s in plan.sessions if s.variant == variant)


def _entry(path, session):
    doc = yaml.safe_load(Path(path).read_text())
    return next(
        s
        for s in doc["sessions"]
        if s.get("session_id") == session.session_id and s["subject"] == session.animal.subject
    )


def _gt_rows(path, name, session=None):
    folder = Path(path).parent / "ground_truth"
    if session is not None:
        folder = folder / "invivo" / f"{session.animal.subject}-{session.session_id}"
    with open(folder / name) as f:
        return list(csv.DictReader(f))


def _session_row(path, session):
    return next(
        r
        for r in _gt_rows(path, "invivo_sessions.csv")
        if r["session"] == f"{session.animal.subject}-{session.session_id}"
    )


def _phy_times(folder):
    """Per cluster id: spike times (s) as neo's PhyRawIO reads them (spike_times.npy / sample_rate)."""
    reader = neo.rawio.PhyRawIO(str(folder))
    reader.parse_header()
    annotations = reader.raw_annotations["blocks"][0]["segments"][0]["spikes"]
    out = {}
    for index in range(reader.spike_channels_count()):
        ts = reader.get_spike_timestamps(0, 0, index, None, None)
        out[int(annotations[index]["cluster_id"])] = reader.rescale_spike_timestamp(ts, dtype="float64")
    return out


def _check_phy_against_ground_truth(path, plan, session, to_session_clock):
    entry = _entry(path, session)
    fs = session_params(plan, session).sampling_rate_hz
    truth = _gt_rows(path, "spikes.csv", session)
    units = {int(u["cluster_id"]): u for u in _gt_rows(path, "units.csv", session)}
    times = _phy_times(Path(path).parent / entry["sorting"]["path"])
    assert set(times) == set(units)
    for cluster, t in times.items():
        rows = [r for r in truth if int(r["cluster_id"]) == cluster]
        assert t.size == len(rows) == int(units[cluster]["n_spikes"])
        np.testing.assert_array_equal(np.rint(t * fs).astype(np.int64), [int(r["sample"]) for r in rows])
        session_s = to_session_clock(np.rint(t * fs).astype(np.int64)) / fs
        np.testing.assert_allclose(session_s, [float(r["time_s"]) for r in rows], atol=1e-6)


def test_variants_are_off_by_default_and_leave_the_rest_unchanged():
    plain, with_variants = plan_study(0, "tiny"), plan_study(0, "tiny", invivo_variants=True)
    assert [s.variant for s in plain.sessions] == ["openephys"]
    assert [s.variant for s in with_variants.sessions] == ["openephys", "openephys_split", "neuralynx", "sorting_only"]
    doc, doc_variants = study_document(plain), study_document(with_variants)
    assert doc_variants["sessions"][: len(doc["sessions"])] == doc["sessions"]
    assert doc_variants["subjects"][: len(doc["subjects"])] == doc["subjects"]
    schema = json.loads((ROOT / "schemas" / "study.schema.json").read_text())
    jsonschema.validate(doc_variants, schema)
    for size in ("small", "paper"):
        plan = plan_study(0, size, invivo_variants=True)
        assert len(plan.sessions) == len(plan_study(0, size).sessions) + 3


def test_study_entries_use_the_new_fields(tiny_variants):
    path, plan = tiny_variants
    split = _entry(path, _session(plan, "openephys_split"))
    assert split["raw"] == {"path": _session(plan, "openephys_split").folder, "format": "openephys_binary"}
    nlx = _entry(path, _session(plan, "neuralynx"))
    assert nlx["raw"] == {
        "path": _session(plan, "neuralynx").folder,
        "format": "neuralynx",
        "stream": "stream0_32000Hz_1mVRange_DSPFilter0",
        "neo_options": {"gap_tolerance_ms": 1.0},
    }
    assert nlx["tetrodes"] == [{"number": 1, "channels": [0, 1, 2, 3], "region": "LHb",
                                "implant": {"ap_mm": -1.7, "ml_mm": 0.5, "dv_mm": -2.8}}]  # fmt: skip
    only = _entry(path, _session(plan, "sorting_only"))
    assert "raw" not in only and only["sorting"]["format"] == "phy"
    assert only["tetrodes"] == [{"number": t, "region": "LHb"} for t in (1, 2, 3, 4)]
    study = load_study(path)
    assert len(study.invivo_sessions) == 4
    loaded = {s.subject: s for s in study.invivo_sessions}
    assert loaded[_session(plan, "sorting_only").animal.subject].raw_path is None


def test_two_recordings_read_as_two_segments_on_the_session_clock(tiny_variants):
    path, plan = tiny_variants
    session = _session(plan, "openephys_split")
    row = _session_row(path, session)
    fs = plan.params.invivo.sampling_rate_hz
    recordings = session_recordings(plan, session)
    assert recordings == [(0, 210_000), (270_000, 30_000)] == [tuple(r) for r in json.loads(row["recorded_samples"])]
    reader = neo.rawio.OpenEphysBinaryRawIO(str(Path(path).parent / session.folder))
    reader.parse_header()
    assert reader.segment_count(0) == 2
    first = int(row["first_sample_number"])
    for seg, (start, n) in enumerate(recordings):
        assert reader.get_signal_size(0, seg, 0) == n
        assert reader.get_signal_t_start(0, seg, 0) == pytest.approx((first + start) / fs)
    # The pause is 2 s on the acquisition clock.
    gap = reader.get_signal_t_start(0, 1, 0) - reader.get_signal_t_start(0, 0, 0) - recordings[0][1] / fs
    assert gap == pytest.approx(plan.params.invivo.pause_s)
    # The injection TTL is in recording 1, at the injection time of the session clock.
    times, durations, _ = reader.get_event_timestamps(0, 0, 0)
    t = reader.rescale_event_timestamp(times, dtype="float64") - reader.get_signal_t_start(0, 0, 0)
    assert t == pytest.approx([session.baseline_s]) and durations == pytest.approx([0.5])
    assert reader.event_count(0, 1, 0) == 0
    # The signal is the simulated one, cut at the recording boundary.
    chunks, n_total = session_signal(plan, session, spike_table(plan, session, session_units(plan, session)))
    signal = np.concatenate([c for _, c in chunks])
    assert n_total == signal.shape[0] == sum(n for _, n in recordings)
    ip = plan.params.invivo
    for seg, lo in ((0, 0), (1, recordings[0][1])):
        n = reader.get_signal_size(0, seg, 0)
        seen = reader.rescale_signal_raw_to_float(
            reader.get_analogsignal_chunk(0, seg, 0, n, 0), dtype="float64", stream_index=0
        )
        np.testing.assert_allclose(seen, openephys.quantised(signal[lo : lo + n], ip), atol=1e-9)


def test_phy_of_two_recordings_counts_concatenated_samples(tiny_variants):
    path, plan = tiny_variants
    session = _session(plan, "openephys_split")
    recordings = session_recordings(plan, session)
    _check_phy_against_ground_truth(path, plan, session, lambda s: openephys.concatenated_to_session(s, recordings))
    params = (Path(path).parent / _entry(path, session)["sorting"]["path"] / "params.py").read_text()
    assert "dat_path = 'recording.dat'" in params
    # No spike during the pause, and some after it.
    times = np.array([float(r["time_s"]) for r in _gt_rows(path, "spikes.csv", session)])
    ((p0, p1),) = session.pauses
    assert not np.any((times >= p0) & (times < p1)) and np.any(times >= p1)


def test_spikes_of_two_recordings_are_in_the_raw_data(tiny_variants):
    """A unit's spikes after the pause are in recording 2 at (concatenated sample - size of recording 1)."""
    path, plan = tiny_variants
    session = _session(plan, "openephys_split")
    ip = plan.params.invivo
    clusters = session_units(plan, session)
    table = spike_table(plan, session, clusters)
    reader = neo.rawio.OpenEphysBinaryRawIO(str(Path(path).parent / session.folder))
    reader.parse_header()
    n1, n2 = reader.get_signal_size(0, 0, 0), reader.get_signal_size(0, 1, 0)
    second = reader.rescale_signal_raw_to_float(
        reader.get_analogsignal_chunk(0, 1, 0, n2, 0), dtype="float64", stream_index=0
    )
    offsets = np.arange(ip.waveform_samples) - ip.waveform_peak_index
    good = [i for i, c in enumerate(clusters) if c.label == "good"]
    inside = (table.samples > n1 + 100) & (table.samples < n1 + n2 - 100)
    cluster = max(good, key=lambda i: int((inside & (table.cluster == i)).sum()))
    at = table.samples[inside & (table.cluster == cluster)] - n1
    assert at.size >= 3
    mean = second[at[:, None] + offsets[None, :]].mean(axis=0)
    mean -= mean[:4].mean(axis=0)
    template = clusters[cluster].template_uv - clusters[cluster].template_uv[:4].mean(axis=0)
    best = int(np.abs(template).max(axis=0).argmax())
    expected = float(template[ip.waveform_peak_index, best])
    assert mean[ip.waveform_peak_index, best] == pytest.approx(expected, abs=0.3 * abs(expected) + 20)


def test_neuralynx_session_reads_as_the_study_file_says(tiny_variants):
    path, plan = tiny_variants
    session = _session(plan, "neuralynx")
    entry = _entry(path, session)
    row = _session_row(path, session)
    folder = Path(path).parent / entry["raw"]["path"]
    with pytest.raises(ValueError, match="timestamp gaps"):
        neo.rawio.NeuralynxRawIO(dirname=str(folder)).parse_header()
    reader = neo.rawio.NeuralynxRawIO(dirname=str(folder), **entry["raw"]["neo_options"])
    reader.parse_header()
    streams = list(reader.header["signal_streams"]["name"])
    assert streams == [entry["raw"]["stream"], "stream1_2000Hz_3mVRange_DSPFilter1"] and streams[0] == row["stream"]
    recordings = session_recordings(plan, session)
    assert recordings == [(0, 224_000), (288_000, 32_000)]
    assert reader.segment_count(0) == 2
    for seg, (start, n) in enumerate(recordings):
        assert reader.get_signal_size(0, seg, 0) == n
        assert reader.get_signal_size(0, seg, 1) == n // 16
        for stream in (0, 1):
            assert reader.get_signal_t_start(0, seg, stream) == pytest.approx(start / 32_000)
    records = np.fromfile(folder / "CSC1.ncs", dtype=neuralynx.NCS_DTYPE, offset=neuralynx.HEADER_SIZE)
    assert int(records["timestamp"][0]) == int(row["first_timestamp_us"])
    assert int(records["timestamp"][recordings[0][1] // 512 + 1]) == int(row["first_timestamp_us"]) + 9_000_000
    # Values: the codes of the simulated signal, tetrode and LFP.
    tetrode, lfp_channel = neuralynx_channels(plan)
    chunks, _ = session_signal(plan, session, spike_table(plan, session, session_units(plan, session)))
    signal = np.concatenate([c for _, c in chunks])
    lfp = neuralynx_lfp_signal(plan, session)
    offset = 0
    for seg, (_, n) in enumerate(recordings):
        raw = reader.get_analogsignal_chunk(0, seg, None, None, 0)
        codes = np.stack([c.codes(signal[offset : offset + n, j]) for j, c in enumerate(tetrode)], axis=1)
        np.testing.assert_array_equal(raw, codes)
        raw_lfp = reader.get_analogsignal_chunk(0, seg, None, None, 1)
        np.testing.assert_array_equal(raw_lfp[:, 0], lfp_channel.codes(lfp[offset // 16 : (offset + n) // 16]))
        offset += n
    # The injection TTL, on the session clock.
    names = list(reader.header["event_channels"]["name"])
    times, _, _ = reader.get_event_timestamps(0, 0, names.index("Events event_id=11 ttl=1"))
    assert reader.rescale_event_timestamp(times, dtype="float64") == pytest.approx([session.baseline_s])
    assert neuralynx.neo_stream_names([*tetrode, lfp_channel])["CSC1"] == entry["raw"]["stream"]


def test_neuralynx_phy_counts_concatenated_samples(tiny_variants):
    path, plan = tiny_variants
    session = _session(plan, "neuralynx")
    recordings = session_recordings(plan, session)
    _check_phy_against_ground_truth(path, plan, session, lambda s: openephys.concatenated_to_session(s, recordings))


def test_sorting_only_session_has_no_raw_data(tiny_variants):
    path, plan = tiny_variants
    session = _session(plan, "sorting_only")
    entry = _entry(path, session)
    folder = Path(path).parent / entry["sorting"]["path"]
    params = (folder / "params.py").read_text()
    assert "dat_path = '../continuous.dat'" in params
    assert not (folder / "../continuous.dat").exists()
    assert sorted(p.name for p in folder.parent.iterdir()) == ["kilosort"]
    assert {"templates.npy", "channel_map.npy", "channel_positions.npy", "cluster_group.tsv"} <= {
        p.name for p in folder.iterdir()
    }
    _check_phy_against_ground_truth(path, plan, session, lambda s: s)
    row = _session_row(path, session)
    assert row["raw_path"] == "" and row["ttl_line"] == "" and row["variant"] == "sorting_only"


def test_ground_truth_rates_are_per_recorded_second(tiny_variants):
    path, plan = tiny_variants
    session = _session(plan, "openephys_split")
    ((p0, p1),) = session.pauses
    fs = plan.params.invivo.sampling_rate_hz
    clusters = session_units(plan, session)
    rows = [r for r in _gt_rows(path, "invivo_unit_epochs.csv") if r["session"].startswith(session.animal.subject)]
    post = [r for r in rows if r["epoch"] == "post-injection"]
    assert post
    for r in post:
        train = clusters[int(r["cluster_id"])].train
        t = train.samples / fs
        n = int(((t >= session.baseline_s) & (t < session.duration_s)).sum())
        recorded = session.duration_s - session.baseline_s - (p1 - p0)
        assert int(r["n_spikes"]) == n and float(r["firing_rate_hz"]) == pytest.approx(n / recorded)


def test_burst_statistics_exclude_gaps():
    train = spikes.SpikeTrain(np.array([100, 200, 300]), np.array([-1, -1, -1]))
    stats = spikes.burst_statistics(train, 0.0, 10.0, 100.0, gaps=((2.5, 4.5), (9.0, 12.0)))
    assert stats["firing_rate_hz"] == pytest.approx(3 / 7.0)
    assert spikes.burst_statistics(train, 0.0, 10.0, 100.0)["firing_rate_hz"] == pytest.approx(0.3)


def test_cli_flag_adds_the_variants(tmp_path, capsys):
    from nwb_ketamine.cli import main

    assert main(["simulate", str(tmp_path / "sim"), "--size", "tiny", "--quiet", "--invivo-variants"]) == 0
    assert "4 in vivo sessions" in capsys.readouterr().out
    assert main(["simulate", str(tmp_path / "plain"), "--size", "tiny", "--quiet"]) == 0
    assert "1 in vivo sessions" in capsys.readouterr().out
