"""Quality metrics on inputs whose answer is known by hand."""

import math

import numpy as np
import pytest

from nwb_ketamine.analysis.quality import UnitsParameters, isi_violations_fraction, presence_ratio, waveform_snr
from nwb_ketamine.analysis.waveforms import raw_waveforms
from nwb_ketamine.converters.sorted_units import SortedUnits


def test_isi_violations():
    t = np.array([0.0, 0.001, 0.1, 0.1012, 0.5])
    assert isi_violations_fraction(t, 0.0015) == pytest.approx(2 / 4)
    assert isi_violations_fraction(t, 0.0005) == 0.0
    assert math.isnan(isi_violations_fraction([1.0], 0.0015))


def test_presence_ratio():
    assert presence_ratio([1.0, 2.0, 130.0], 0.0, 180.0, 60.0) == pytest.approx(2 / 3)
    assert presence_ratio([179.9], 0.0, 170.0, 60.0) == 0.0  # outside the recording
    assert presence_ratio([169.0], 0.0, 170.0, 60.0) == pytest.approx(1 / 3)  # last bin is shorter


def test_snr():
    mean = np.zeros((10, 2))
    mean[4, 1] = -80.0
    sd = np.full((10, 2), 10.0)
    assert waveform_snr(mean, sd) == pytest.approx(8.0)
    assert math.isnan(waveform_snr(mean, None))


class ArrayRaw:
    def __init__(self, data):
        self.data, self.n_samples, self.gain_uv, self.sampling_rate_hz = data, data.shape[0], [0.5, 0.5], 10_000.0

    def read(self, start, stop, channels):
        return self.data[start:stop][:, channels]


def test_raw_waveforms_average_the_spike_and_skip_edges():
    data = np.zeros((1000, 2), dtype=np.int16)
    spikes = np.array([2, 100, 300, 500, 998])
    data[spikes[1:4], 1] = -200  # -100 uV at the spike sample on channel 1
    params = UnitsParameters(waveform_before_s=0.0005, waveform_after_s=0.001)
    mean, sd = raw_waveforms(ArrayRaw(data), spikes, [0, 1], params)
    assert mean.shape == (15, 2)
    assert mean[5, 1] == pytest.approx(-100.0) and np.allclose(sd, 0)


def test_sorted_units_checks_lengths_and_labels():
    with pytest.raises(ValueError):
        SortedUnits(["a"], [np.array([1])], 1.0, ["great"], [0])
    with pytest.raises(ValueError):
        SortedUnits(["a", "b"], [np.array([1])], 1.0, ["good"], [0])
