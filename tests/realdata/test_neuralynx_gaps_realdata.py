"""Real Neuralynx channels with three recording gaps: every sample of every segment, on Neuralynx's own clock.

The reference is Neuralynx's own reader (Nlx2MatCSC, the ``.mat`` twins): per 512-sample record its timestamp
and number of valid samples. neo reads the folder as four segments with ``gap_tolerance_ms`` and refuses it
without; the converter must keep all four (one ElectricalSeries each) and the three gaps.
"""

import re

import h5py
import numpy as np
import pytest
import scipy.io
from pynwb import NWBHDF5IO

from nwb_ketamine.converters.invivo import InVivoConverter
from nwb_ketamine.errors import ConversionError
from nwb_ketamine.metadata import load_study
from tests.conftest import sha256, write_invivo_study

pytestmark = pytest.mark.realdata
CHANNELS = ("LAHC1", "LAHC2")


def _session(folder, **raw):
    return {
        "session_id": "nlx-gaps",
        "start_time": "2023-10-26T10:00:00+00:00",
        "raw": {"path": str(folder), "format": "neuralynx", **raw},
        "tetrodes": [{"channels": [0, 1], "region": "LHb"}],
    }


@pytest.fixture(scope="module")
def neuralynx(tmp_path_factory):
    from tests.conftest import REALDATA

    folder = REALDATA / "neuralynx_gaps"
    if not folder.is_dir():
        pytest.skip(f"real recordings not available at {folder}")
    text = (REALDATA / "MANIFEST.md").read_text()
    hashes = dict(re.findall(r"^\| (LAHC\d_3_gaps\.\w+) \| \d+ \| ([0-9a-f]{64}) \|$", text, flags=re.M))
    assert len(hashes) == 4
    for name, digest in hashes.items():
        assert sha256(folder / name) == digest, f"{name} differs from the MANIFEST"
    tmp = tmp_path_factory.mktemp("nlx")
    study = load_study(write_invivo_study(tmp, [_session(folder, neo_options={"gap_tolerance_ms": 1.0})]))
    converter = InVivoConverter(study, study.invivo_sessions[0])
    path = converter.run_conversion(tmp / "nlx.nwb")
    mats = {c: scipy.io.loadmat(folder / f"{c}_3_gaps.mat") for c in CHANNELS}
    return folder, path, mats


def _reference(mat):
    """Neuralynx's reading: (samples, session time of each sample) over the valid samples of every record."""
    ts = mat["Timestamps"].ravel().astype(np.float64)
    valid = mat["NumberOfValidSamples"].ravel().astype(np.int64)
    rate = float(mat["SampleFrequencies"].ravel()[0])
    samples = np.concatenate([mat["Samples"][:n, k] for k, n in enumerate(valid)])
    times = np.concatenate([(ts[k] - ts[0]) * 1e-6 + np.arange(n) / rate for k, n in enumerate(valid)])
    return samples, times, rate


def test_every_sample_of_the_four_segments_equals_neuralynx_reading(neuralynx):
    _, path, mats = neuralynx
    with NWBHDF5IO(path, "r") as io:
        nwb = io.read()
        names = sorted(n for n in nwb.acquisition if n.startswith("ElectricalSeries"))
        assert names == [f"ElectricalSeries_segment{k}" for k in range(4)]
        series = [nwb.acquisition[n] for n in names]
        assert [s.data.shape[0] for s in series] == [5020, 3065, 2537, 939]
        data = np.concatenate([s.data[:] for s in series])
        times = np.concatenate([s.starting_time + np.arange(s.data.shape[0]) / s.rate for s in series])
        assert all(s.conversion == pytest.approx(0.30517578e-6) or s.conversion == pytest.approx(-0.30517578e-6)
                   for s in series)  # fmt: skip
    assert data.shape == (11_561, 2)
    for column, channel in enumerate(CHANNELS):
        samples, reference_times, rate = _reference(mats[channel])
        np.testing.assert_array_equal(data[:, column], samples)
        assert np.max(np.abs(times - reference_times)) < 1.0 / rate  # to one sample


def test_gaps_and_segments_tables_and_provenance(neuralynx):
    _, path, mats = neuralynx
    _, reference_times, rate = _reference(mats["LAHC1"])
    jumps = np.flatnonzero(np.diff(reference_times) > 1.5 / rate)
    with NWBHDF5IO(path, "r") as io:
        nwb = io.read()
        gaps = nwb.intervals["recording_gaps"].to_dataframe()
        segments = nwb.intervals["recording_segments"].to_dataframe()
    assert len(gaps) == 3 and len(jumps) == 3
    np.testing.assert_allclose(gaps["start_time"], reference_times[jumps] + 1 / rate, atol=1 / rate)
    np.testing.assert_allclose(gaps["stop_time"], reference_times[jumps + 1], atol=1 / rate)
    assert list(segments["n_samples"]) == [5020, 3065, 2537, 939]
    assert "NeuralynxRawIO" in segments["reader"][0] and "gap_tolerance_ms=1.0" in segments["reader"][0]
    assert "LAHC1_3_gaps.ncs" in segments["source_files"][0]
    with h5py.File(path, "r") as f:  # a plain HDF5 reader sees each segment's own start
        starts = [f[f"acquisition/ElectricalSeries_segment{k}/starting_time"][()] for k in range(4)]
    np.testing.assert_allclose(starts, [0.0, 2.56, 4.096, 5.376], atol=1e-3)


def test_without_gap_tolerance_refused_saying_what_to_write(neuralynx, tmp_path):
    folder, _, _ = neuralynx
    study = load_study(write_invivo_study(tmp_path, [_session(folder)]))
    with pytest.raises(ConversionError) as info:
        InVivoConverter(study, study.invivo_sessions[0]).run_conversion(tmp_path / "x.nwb")
    message = str(info.value)
    assert "\n" not in message and "raw.neo_options.gap_tolerance_ms" in message and str(folder) in message
    assert not (tmp_path / "x.nwb").exists()


def test_validates_and_inspector_has_no_violations(neuralynx):
    from nwbinspector import Importance, inspect_nwbfile, load_config

    _, path, _ = neuralynx
    messages = list(inspect_nwbfile(nwbfile_path=str(path), config=load_config("dandi")))
    bad = [m for m in messages if m.importance in (Importance.CRITICAL, Importance.BEST_PRACTICE_VIOLATION)]
    assert not bad, [(m.check_function_name, m.location, m.message) for m in bad]


def test_explorer_raw_window_joins_the_segments_with_a_break_at_each_gap(neuralynx):
    from nwb_ketamine.explorer import rawread
    from nwb_ketamine.explorer.traces import TracesView
    from tests.explorer import pynwb_reference

    _, path, mats = neuralynx
    samples, times, _ = _reference(mats["LAHC1"])
    window = rawread.raw_window(path, 2.40025, 2.70025, max_points=100_000)  # across the 50 ms gap at 2.51-2.56 s
    finite = np.isfinite(window["data_uv"][:, 0])
    assert np.count_nonzero(~finite) == 1, "one NaN row breaks the line at the gap"
    # Every sample drawn is Neuralynx's sample at that time (to one sample), and every sample of the window is drawn.
    nearest = np.abs(times[:, None] - window["time_s"][finite][None, :]).argmin(axis=0)
    assert np.max(np.abs(times[nearest] - window["time_s"][finite])) < 1 / 2000
    np.testing.assert_allclose(window["data_uv"][finite, 0], samples[nearest] * -0.30517578, rtol=1e-6)
    assert set(np.flatnonzero((times >= 2.40025) & (times < 2.70025))) <= set(nearest)
    assert len(window["gaps"]) == 3 and window["duration_s"] == pytest.approx(5.8455, abs=1e-3)
    reference = pynwb_reference.raw_window_pynwb(path, 2.40025, 2.70025, max_points=100_000)
    np.testing.assert_array_equal(window["time_s"], reference["time_s"])
    np.testing.assert_array_equal(window["data_uv"], reference["data_uv"])

    class Store:  # the traces view needs only the path of its file
        def path_of(self, key):
            return path

    view = TracesView(Store(), "nlx.nwb", start_s=2.0, window_s=1.0)
    overlay = view.plot()
    assert "recording gaps grey" in overlay.opts.get().kwargs["title"]
