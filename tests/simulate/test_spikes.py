"""Spike trains: a burst detector with the documented rule recovers the generated bursts exactly."""

import csv
import dataclasses
import json

import numpy as np
import pytest

from nwb_ketamine.errors import NwbKetamineError
from nwb_ketamine.simulate import spikes
from nwb_ketamine.simulate.parameters import BurstRule, SpikeParameters

FS = 30_000.0


def detect_bursts(t: np.ndarray, rule: BurstRule) -> np.ndarray:
    """Reference detector: burst id per spike (-1 outside bursts), written from the rule's text."""
    ids = np.full(t.size, -1)
    burst, i = -1, 0
    while i < t.size:
        silence = t[i] - t[i - 1] if i > 0 else np.inf
        if silence >= rule.min_silence_s and i + 1 < t.size and t[i + 1] - t[i] <= rule.onset_isi_s:
            j = i
            while j + 1 < t.size and t[j + 1] - t[j] <= rule.end_isi_s:
                j += 1
            if j - i + 1 >= rule.min_spikes:
                burst += 1
                ids[i : j + 1] = burst
            i = j + 1
        else:
            i += 1
    return ids


def in_samples(rule: BurstRule, fs: float) -> BurstRule:
    """The rule with its times in samples: the reference detector on sample numbers compares ISIs exactly (in
    float seconds, 600 samples at 30 kHz can compute as a hair over 20 ms)."""
    return dataclasses.replace(
        rule, onset_isi_s=rule.onset_isi_s * fs, end_isi_s=rule.end_isi_s * fs, min_silence_s=rule.min_silence_s * fs
    )


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("probabilities", [(0.45, 0.135), (0.25, 0.25), (0.0, 0.0), (0.9, 0.1)])
def test_detector_recovers_generated_bursts(seed, probabilities):
    params = SpikeParameters()
    epochs = [spikes.Epoch("baseline", 0.0, 30.0, probabilities[0]), spikes.Epoch("post", 30.0, 90.0, probabilities[1])]
    train = spikes.generate_unit(np.random.default_rng(seed), epochs, 4.0, FS, params)
    t = train.samples / FS
    assert np.all(np.diff(train.samples) > 0)
    for rule in (BurstRule(), BurstRule(onset_isi_s=0.015, end_isi_s=0.03, min_silence_s=0.15)):
        np.testing.assert_array_equal(detect_bursts(t, rule), train.burst_id)
    sizes = np.bincount(train.burst_id[train.burst_id >= 0])
    if sizes.size:
        assert sizes.min() >= 2 and sizes.max() <= 10
    else:
        assert probabilities[0] == 0.0


def test_tonic_isis_never_below_the_onset_isi():
    params = SpikeParameters()
    epochs = [spikes.Epoch("all", 0.0, 120.0, 0.0)]
    train = spikes.generate_unit(np.random.default_rng(1), epochs, 15.0, FS, params)
    assert np.all(train.burst_id == -1)
    assert np.diff(train.samples).min() / FS >= params.min_nonburst_isi_s - 1 / FS
    assert train.samples.size / 120.0 == pytest.approx(15.0, rel=0.15)


def test_statistics_follow_their_definitions():
    params = SpikeParameters()
    epochs = [spikes.Epoch("a", 0.0, 60.0, 0.5)]
    train = spikes.generate_unit(np.random.default_rng(2), epochs, 3.0, FS, params)
    stats = spikes.burst_statistics(train, 0.0, 60.0, FS)
    in_burst = train.burst_id >= 0
    assert stats["n_spikes"] == train.samples.size
    assert stats["n_bursts"] == np.unique(train.burst_id[in_burst]).size
    assert stats["percent_spikes_in_bursts"] == pytest.approx(100 * in_burst.mean())
    assert stats["tonic_rate_hz"] == pytest.approx((~in_burst).sum() / 60.0)
    assert stats["mean_spikes_per_burst"] == pytest.approx(in_burst.sum() / stats["n_bursts"])
    lo, hi = params.intraburst_isi_s
    assert 1 / hi <= stats["mean_intraburst_frequency_hz"] <= 1 / lo


def test_ketamine_lowers_bursting_after_injection():
    params = SpikeParameters()
    before = params.burst_probability["stress"]
    after = before * params.post_injection_burst_factor["ketamine"]
    rng = np.random.default_rng(5)
    pct = []
    for _ in range(10):
        train = spikes.generate_unit(
            rng, [spikes.Epoch("b", 0, 60, before), spikes.Epoch("p", 60, 120, after)], 3.0, FS, params
        )
        pct.append(
            [spikes.burst_statistics(train, a, b, FS)["percent_spikes_in_bursts"] for a, b in ((0, 60), (60, 120))]
        )
    pct = np.array(pct)
    assert np.all(pct[:, 1] < pct[:, 0])


def test_position_in_burst_and_burst_table():
    ids = np.array([-1, 0, 0, 0, -1, 1, 1, -1, 2, 2])
    np.testing.assert_array_equal(spikes.position_in_burst(ids), [0, 0, 1, 2, 0, 0, 1, 0, 0, 1])
    train = spikes.SpikeTrain(np.array([0, 300, 450, 600, 9000, 12000, 12300, 15000, 20000, 20150]), ids)
    rows = spikes.burst_table(train, FS)
    assert [r["n_spikes"] for r in rows] == [3, 2, 2]
    assert rows[0]["first_spike_s"] == pytest.approx(0.01) and rows[0]["last_spike_s"] == pytest.approx(0.02)
    assert rows[0]["intraburst_frequency_hz"] == pytest.approx(200.0)


def test_edge_probe_isis_sit_under_at_and_over_the_thresholds():
    rule, params = BurstRule(), SpikeParameters()
    at_30k = spikes.probe_isis(rule, params, 30_000.0)
    assert set(at_30k) == set(spikes.EDGE_PROBES)
    assert at_30k["onset_under"][0] == [597] and at_30k["onset_at"][0] == [600] and at_30k["onset_over"][0] == [603]
    assert at_30k["end_over"][0] == [150, 603] and at_30k["silence_under"][0] == [2997, 150]
    # 32 kHz (Neuralynx): 20 ms is 640 samples, 0.1 ms rounds to 3 samples.
    at_32k = spikes.probe_isis(rule, params, 32_000.0)
    assert at_32k["onset_under"][0] == [637] and at_32k["onset_at"][0] == [640] and at_32k["onset_over"][0] == [643]
    # A clock on which 20 ms is not a whole number of samples has no "at" probes.
    assert not {"onset_at", "end_at", "silence_at"} & set(spikes.probe_isis(rule, params, 30_001.0))
    with pytest.raises(NwbKetamineError, match="min_spikes"):
        spikes.probe_isis(BurstRule(min_spikes=3), params, 30_000.0)
    with pytest.raises(NwbKetamineError, match="intraburst"):
        spikes.probe_isis(rule, dataclasses.replace(params, edge_probe_intraburst_isi_s=0.03), 30_000.0)


@pytest.mark.parametrize("fs", [30_000.0, 32_000.0])
def test_edge_probes_keep_the_truth_of_the_rule(fs):
    """Probes written into bursting and tonic trains: the literal rule gives exactly the recorded burst ids,
    every probe's flags hold, and the rest of the train keeps its generated bursts."""
    params, rule = SpikeParameters(), BurstRule()
    rng = np.random.default_rng(11)
    for probability, rate in ((0.45, 3.0), (0.0, 8.0)):
        epochs = [spikes.Epoch("baseline", 0.0, 20.0, probability), spikes.Epoch("post", 20.0, 60.0, probability / 3)]
        train = spikes.generate_unit(rng, epochs, rate, fs, params)
        probed, probes = spikes.add_edge_probes(
            rng, train, [(0.0, 20.0), (20.0, 60.0)], rule, dataclasses.replace(params, edge_probe_repeats=2), fs
        )
        assert len(probes) == 2 * len(spikes.EDGE_PROBES)
        assert np.all(np.diff(probed.samples) > 0)
        np.testing.assert_array_equal(
            detect_bursts(probed.samples.astype(float), in_samples(rule, fs)), probed.burst_id
        )
        index = {int(s): i for i, s in enumerate(probed.samples)}
        for p in probes:
            at = p["first_sample"] + np.concatenate(([0], np.cumsum(p["isis_samples"])))
            ids = probed.burst_id[[index[int(s)] for s in at]]
            np.testing.assert_array_equal(ids >= 0, np.asarray(p["in_burst"], dtype=bool), err_msg=p["probe"])
            assert p["in_burst"] == spikes.EDGE_PROBES[p["probe"]][1]
        # Spikes the probes did not displace keep their burst membership.
        kept = np.isin(train.samples, probed.samples)
        assert kept.mean() > 0.8
        before = train.burst_id[kept] >= 0
        after = probed.burst_id[np.searchsorted(probed.samples, train.samples[kept])] >= 0
        np.testing.assert_array_equal(before, after)


def test_the_session_probe_unit_and_its_truth(tiny):
    path, plan, _ = tiny
    session = plan.sessions[0]
    folder = path.parent / "ground_truth" / "invivo" / f"{session.animal.subject}-{session.session_id}"
    with open(folder / "edge_probes.csv") as f:
        probes = list(csv.DictReader(f))
    assert {p["probe"] for p in probes} == set(spikes.EDGE_PROBES)
    assert len({p["cluster_id"] for p in probes}) == plan.params.spikes.edge_probe_units_per_session
    with open(folder / "spikes.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["cluster_id"] == probes[0]["cluster_id"]]
    sample = np.array([int(r["sample"]) for r in rows])
    burst = np.array([int(r["burst_id"]) for r in rows])
    rule = in_samples(BurstRule(), plan.params.invivo.sampling_rate_hz)
    np.testing.assert_array_equal(detect_bursts(sample.astype(float), rule), burst)
    for p in probes:
        first = int(np.searchsorted(sample, int(p["first_sample"])))
        flags = json.loads(p["in_burst"])
        assert (burst[first : first + len(flags)] >= 0).astype(int).tolist() == flags, p["probe"]
