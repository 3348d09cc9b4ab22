"""Spike trains: a burst detector with the documented rule recovers the generated bursts exactly."""

import numpy as np
import pytest

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
