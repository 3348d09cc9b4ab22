"""Burst detection: exact against the simulator's ground truth and against the sequential rule for
random parameters; metrics follow their definitions."""

import math

import numpy as np
import pytest

from nwb_ketamine.analysis.bursts import BurstParameters, burst_metrics, detect_bursts, epoch_burst_metrics
from nwb_ketamine.simulate import spikes
from nwb_ketamine.simulate.parameters import SpikeParameters
from tests.simulate.test_spikes import detect_bursts as reference_detector
from tests.simulate.test_spikes import in_samples

FS = 30_000.0


def sequential(t, p):
    """The rule read literally, one spike at a time (the oracle for random parameters)."""
    return reference_detector(np.asarray(t, dtype=float), p)


def train(seed, probabilities=(0.45, 0.1)):
    epochs = [spikes.Epoch("b", 0.0, 30.0, probabilities[0]), spikes.Epoch("p", 30.0, 90.0, probabilities[1])]
    return spikes.generate_unit(np.random.default_rng(seed), epochs, 4.0, FS, SpikeParameters())


@pytest.mark.parametrize("seed", range(5))
def test_recovers_simulated_bursts_and_statistics_exactly(seed):
    tr = train(seed)
    t = tr.samples / FS
    np.testing.assert_array_equal(detect_bursts(t, BurstParameters()), tr.burst_id)
    for start, stop in ((0.0, 30.0), (30.0, 90.0)):
        got, want = burst_metrics(t, start, stop, BurstParameters()), spikes.burst_statistics(tr, start, stop, FS)
        for key, value in want.items():
            assert got[key] == value or (math.isnan(got[key]) and math.isnan(value)), key


def test_equals_sequential_rule_for_random_parameters():
    rng = np.random.default_rng(3)
    for seed in range(4):
        t = train(seed, (0.8, 0.3)).samples / FS
        for _ in range(25):
            p = BurstParameters(
                onset_isi_s=rng.uniform(0.001, 0.2),
                end_isi_s=rng.uniform(0.001, 0.2),
                min_silence_s=rng.uniform(0.0, 0.2),
                min_spikes=int(rng.integers(2, 5)),
            )
            np.testing.assert_array_equal(detect_bursts(t, p), sequential(t, p))
    for n in range(5):  # tiny trains, edges
        for _ in range(20):
            t = np.sort(rng.uniform(0, 0.2, n))
            p = BurstParameters(min_silence_s=rng.uniform(0, 0.05))
            np.testing.assert_array_equal(detect_bursts(t, p), sequential(t, p))


def test_metrics_on_a_hand_made_train():
    t = np.array([0.0, 0.005, 0.010, 0.5, 1.0, 1.004, 1.5, 2.5])
    p = BurstParameters()
    np.testing.assert_array_equal(detect_bursts(t, p), [0, 0, 0, -1, 1, 1, -1, -1])
    m = burst_metrics(t, 0.0, 2.0, p)
    assert m["n_spikes"] == 7 and m["n_bursts"] == 2
    assert m["percent_spikes_in_bursts"] == pytest.approx(500 / 7)
    assert m["mean_spikes_per_burst"] == 2.5
    assert m["mean_intraburst_frequency_hz"] == pytest.approx((2 / 0.010 + 1 / 0.004) / 2)
    assert m["tonic_rate_hz"] == 1.0 and m["burst_rate_hz"] == 1.0 and m["firing_rate_hz"] == 3.5
    rows = epoch_burst_metrics(t, [("a", 0.0, 0.75), ("b", 0.75, 3.0)], p)
    assert [r["n_bursts"] for r in rows] == [1, 1] and rows[1]["n_spikes"] == 4
    empty = burst_metrics(np.zeros(0), 0.0, 1.0, p)
    assert empty["n_spikes"] == 0 and math.isnan(empty["mean_spikes_per_burst"])


def test_a_burst_belongs_to_the_epoch_of_its_first_spike():
    t = np.array([0.0, 0.995, 1.005, 1.010])
    rows = epoch_burst_metrics(t, [("a", 0.0, 1.0), ("b", 1.0, 2.0)], BurstParameters())
    assert [r["n_bursts"] for r in rows] == [1, 0]
    assert rows[0]["mean_spikes_per_burst"] == 3  # the whole burst, although it ends in the next epoch
    assert rows[1]["percent_spikes_in_bursts"] == 100.0


def test_parameters_rows_round_trip_and_validation():
    p = BurstParameters(onset_isi_s=0.01, min_spikes=3)
    assert BurstParameters.from_rows(p.rows()) == p
    assert p.rows()[0][2] == "s"
    with pytest.raises(ValueError):
        BurstParameters(min_spikes=1)
    with pytest.raises(ValueError):
        BurstParameters.from_rows([("bogus", 1.0)])


@pytest.mark.parametrize("offset_s", [0.0, 4115.0, 86_400.0])
def test_equal_isis_are_classified_alike_anywhere_in_the_recording(offset_s):
    """ISIs of exactly 600 samples at 30 kHz (20 ms, the default thresholds) after 3000 samples of silence
    are a burst at the start and hours later, although in float seconds they come out unequal."""
    samples = np.array([0, 3000, 3600, 4200]) + round(offset_s * 30_000)
    t = samples / 30_000
    assert not np.array_equal(np.diff(t), [0.1, 0.02, 0.02])  # the float64 rounding the tolerance absorbs
    np.testing.assert_array_equal(detect_bursts(t, BurstParameters()), [-1, 0, 0, 0])


@pytest.mark.parametrize("offset_s", [0.0, 4115.0])
def test_thresholds_are_inclusive_and_exact_at_the_edges(offset_s):
    """The simulator's edge probes (ISIs 19.9, 20.0 and 20.1 ms; silences 99.9, 100.0, 100.1 ms) come back as
    their ground truth says, also an hour into a recording where float64 seconds no longer hold 20 ms exactly."""
    from nwb_ketamine.simulate.parameters import BurstRule

    params = SpikeParameters()
    rng = np.random.default_rng(4)
    tr = train(2)
    probed, probes = spikes.add_edge_probes(rng, tr, [(0.0, 30.0), (30.0, 90.0)], BurstRule(), params, FS)
    assert {p["probe"] for p in probes} == set(spikes.EDGE_PROBES)
    t = offset_s + probed.samples / FS
    np.testing.assert_array_equal(detect_bursts(t, BurstParameters()), probed.burst_id)
    np.testing.assert_array_equal(
        reference_detector(probed.samples.astype(float), in_samples(BurstRule(), FS)), probed.burst_id
    )
    for start, stop in ((0.0, 30.0), (30.0, 90.0)):
        got = burst_metrics(t, offset_s + start, offset_s + stop, BurstParameters())
        want = spikes.burst_statistics(probed, start, stop, FS)
        assert (
            got["n_bursts"] == want["n_bursts"] and got["percent_spikes_in_bursts"] == want["percent_spikes_in_bursts"]
        )
