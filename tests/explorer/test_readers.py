"""The explorer's h5py readers (cellread, unitread, rawread) return what the files hold: sweeps against pyabf,
spikes and raw samples against the stored datasets, the min/max envelope kept when decimating, and only the
window's chunks read."""

from __future__ import annotations

import io
from datetime import UTC

import h5py
import numpy as np
import pandas as pd
import pytest

from nwb_ketamine.explorer import cellread, nwbfiles, rawread, unitread
from nwb_ketamine.schema_validation import cached_namespace_versions
from tests.explorer import pynwb_reference


@pytest.fixture(scope="module")
def archive(tiny_archive, simulated_tiny):
    """(archive folder, study.yaml) of the shared tiny study, with this process's namespaces registered as
    a process that converts registers them (the shared archive was converted in Dask workers)."""
    import ndx_dandi_icephys  # noqa: F401

    import nwb_ketamine.extension  # noqa: F401

    return tiny_archive, simulated_tiny


def test_cell_sweeps_equal_pyabf(archive, store):
    from nwb_ketamine.converters.abf_reader import CURRENT_UNITS, read_abf
    from nwb_ketamine.metadata import load_study

    study = load_study(archive[1])
    for session in study.slice_sessions:
        row = store.cells[(store.cells["subject"] == session.subject) & (store.cells["cell_id"] == session.cell_id)]
        d = cellread.cell_sweeps(store.path_of(row["file"].iloc[0]))
        expected, holding, protocols = [], [], []
        for info in session.files:  # the simulator writes files in time order
            rec = read_abf(info.path, clamp_mode=info.clamp_mode)
            expected.append(rec.response.astype(np.float64) * CURRENT_UNITS[rec.response_unit])
            holding += [info.holding_potential_volts] * len(rec.response)
            protocols += [info.protocol] * len(rec.response)
        expected = np.vstack(expected)
        np.testing.assert_allclose(d["current_a"], expected, rtol=1e-6, atol=0)
        np.testing.assert_allclose(d["sweeps"]["holding_potential_v"], holding)
        assert list(d["sweeps"]["protocol"]) == protocols
        assert set(d["sweeps"]["kind"]) == {"AMPA", "NMDA"}
        assert d["time_s"].size == expected.shape[1] and d["time_s"][1] == pytest.approx(1 / d["rate_hz"])
        # The stored analysis, row for row.
        from nwb_ketamine.analysis.store import read_epsc_analysis

        measures, summary, params = read_epsc_analysis(nwbfiles.open_nwb(store.path_of(row["file"].iloc[0])))
        np.testing.assert_array_equal(d["sweeps"]["accepted"], measures["accepted"])
        np.testing.assert_array_equal(d["sweeps"]["series_resistance_ohm"], measures["series_resistance_ohm"])
        assert d["parameters"] == params and d["summary"]["n_sweeps"] == summary["n_sweeps"] == len(expected)
        assert d["injection_time_s"] == pytest.approx(-3600.0)
        assert np.all(np.diff(d["sweeps"]["start_time_s"]) > 0)


def test_unit_spikes(store):
    rows = store.units.drop_duplicates("unit_key")
    path = store.path_of(rows["file"].iloc[0])
    nwbfile = nwbfiles.open_nwb(path)
    for unit_row in rows["unit_row"]:
        d = unitread.unit_spikes(path, int(unit_row))
        np.testing.assert_array_equal(d["spike_times_s"], nwbfile.units["spike_times"][int(unit_row)])
        assert d["waveform_mean_uv"].shape[1] == 4 == len(d["channels"])
        np.testing.assert_allclose(d["waveform_mean_uv"], nwbfile.units["waveform_mean"][int(unit_row)] * 1e6)
        assert d["metrics"]["n_spikes"] == d["spike_times_s"].size
        assert d["electrode_group"].startswith("tetrode") and d["region"]
        assert list(d["epochs"]["name"]) == ["baseline", "post-injection"]
        assert d["injection_time_s"] == pytest.approx(store.sessions["injection_time_s"].iloc[2])
        assert len(d["stored_metrics"]) == 2 and d["burst_parameters"] is not None
    with pytest.raises(KeyError):
        unitread.unit_spikes(path, 10_000)


def test_raw_window_full_resolution_and_envelope(store):
    file = store.sessions.loc[store.sessions["modality"] == "ecephys", "file"].iloc[0]
    path = store.path_of(file)
    series = nwbfiles.open_nwb(path).acquisition["ElectricalSeries"]
    rate = series.rate
    full = rawread.raw_window(path, 1.0, 1.05, max_points=10_000)
    i0 = int(round(1.0 * rate))
    stored = series.data[i0 : i0 + full["data_uv"].shape[0]].astype(np.float64)
    expected = (stored * series.conversion + series.offset) * 1e6
    assert not full["decimated"]
    np.testing.assert_allclose(full["data_uv"], expected, rtol=1e-12)
    np.testing.assert_allclose(full["time_s"], i0 / rate + np.arange(len(expected)) / rate)

    big = rawread.raw_window(path, 0.0, 8.0, channels=[4, 5, 6, 7], max_points=1000)
    raw = (series.data[: int(8 * rate), 4:8].astype(np.float64) * series.conversion + series.offset) * 1e6
    assert big["decimated"] and big["data_uv"].shape[0] <= 1002
    np.testing.assert_allclose(big["data_uv"].max(axis=0), raw.max(axis=0))
    np.testing.assert_allclose(big["data_uv"].min(axis=0), raw.min(axis=0))
    assert big["channels"] == ["CH5", "CH6", "CH7", "CH8"] and set(big["groups"]) == {"tetrode1"}
    assert big["injection_time_s"] == pytest.approx(4.0) and len(big["events"]) >= 1
    assert rawread.raw_window(path, 5.0, 6.0)["injection_time_s"] is None


def test_minmax_decimate_keeps_each_bin_extremes():
    rng = np.random.default_rng(1)
    data = rng.normal(size=(1003, 3))
    positions, values = rawread.minmax_decimate(data, 10)
    assert values.shape == (2 * 101, 3) and positions[-1] == 1002
    for b in range(101):
        block = data[b * 10 : (b + 1) * 10]
        assert set(values[2 * b : 2 * b + 2, 0]) == {block[:, 0].min(), block[:, 0].max()}


def naive_minmax(data, width):
    """Per bin and channel: (min, max) in the order of their first occurrences, one sample at a time."""
    out = []
    for a in range(0, len(data), width):
        block = data[a : a + width]
        pairs = []
        for x in block.T:
            i, j = int(x.argmin()), int(x.argmax())
            pairs.append((x[i], x[j]) if i <= j else (x[j], x[i]))
        out.append(np.array(pairs, dtype=data.dtype).T)
    return np.concatenate(out)


@pytest.mark.parametrize("width", [1, 3, 16, 31, 32, 33, 47, 150, 157, 2000])
@pytest.mark.parametrize(("dtype", "spread"), [(np.int16, 2), (np.int16, 30_000), (np.uint8, 1), (np.int32, 4)])
def test_minmax_decimate_order_of_extremes(width, dtype, spread):
    # Few distinct values: ties everywhere, the min and the max often in the same 16-sample sub-bin.
    rng = np.random.default_rng(width)
    low = 0 if np.dtype(dtype).kind == "u" else -spread
    for n in (1, 31, 1003, 4801):
        data = rng.integers(low, spread + 1, size=(n, 3)).astype(dtype)
        positions, values = rawread.minmax_decimate(data, width)
        np.testing.assert_array_equal(values, naive_minmax(data, width), err_msg=f"n={n}")
        assert values.dtype == data.dtype and positions[-1] == n - 1


def test_minmax_decimate_floats_with_nan():
    data = np.random.default_rng(2).normal(size=(1003, 3))
    data[5, 1] = np.nan
    np.testing.assert_array_equal(rawread.minmax_decimate(data, 40)[1], naive_minmax(data, 40))


class CountingFile(io.FileIO):
    """A file that counts the bytes HDF5 reads through it."""

    bytes_read = 0

    def readinto(self, buffer):
        n = super().readinto(buffer)
        CountingFile.bytes_read += n or 0
        return n


def test_raw_window_reads_only_the_window(tmp_path):
    from datetime import datetime

    from hdmf.backends.hdf5 import H5DataIO
    from pynwb import NWBHDF5IO
    from pynwb.ecephys import ElectricalSeries
    from pynwb.testing.mock.ecephys import mock_ElectrodeGroup
    from pynwb.testing.mock.file import mock_NWBFile

    # 600 s x 4 channels at 1 kHz in 1 s chunks: a window of 2 s touches 2-3 of 600 chunks.
    nwbfile = mock_NWBFile(session_start_time=datetime(2024, 1, 1, tzinfo=UTC))
    group = mock_ElectrodeGroup(nwbfile=nwbfile)
    for _ in range(4):
        nwbfile.add_electrode(group=group, location="unknown")
    data = np.random.default_rng(0).integers(-2000, 2000, size=(600_000, 4), dtype=np.int16)
    region = nwbfile.create_electrode_table_region([0, 1, 2, 3], "all")
    nwbfile.add_acquisition(
        ElectricalSeries(
            name="ElectricalSeries",
            data=H5DataIO(data, chunks=(1000, 4), compression="gzip"),
            electrodes=region,
            rate=1000.0,
            conversion=0.195e-6,
        )  # fmt: skip
    )
    path = tmp_path / "long.nwb"
    with NWBHDF5IO(path, "w") as out:
        out.write(nwbfile)
    size = path.stat().st_size
    with CountingFile(path, "r") as raw, h5py.File(raw, "r") as h5, NWBHDF5IO(file=h5, mode="r") as reader:
        series = reader.read().acquisition["ElectricalSeries"]
        CountingFile.bytes_read = 0
        w = rawread.read_raw_window(series, 300.0, 302.0, max_points=10_000)
        assert CountingFile.bytes_read < size / 50, (CountingFile.bytes_read, size)
        np.testing.assert_allclose(w["data_uv"], data[300_000:302_000] * 0.195)


def test_open_nwb_caches_and_rejects_garbage(tmp_path, store):
    path = store.path_of(store.cells["file"].iloc[0])
    assert nwbfiles.open_nwb(path) is nwbfiles.open_nwb(path)
    garbage = tmp_path / "garbage.nwb"
    garbage.write_bytes(b"not an hdf5 file" * 100)
    with pytest.raises(OSError):
        nwbfiles.open_nwb(garbage)


def assert_same(a, b, where=""):
    """Equal values of the same types, recursively (dicts, frames, arrays with their dtypes, scalars)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), (where, set(a) ^ set(b))
        for key in a:
            assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, obj=where)
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=where)
        assert a.dtype == b.dtype, (where, a.dtype, b.dtype)
    elif isinstance(a, float) and isinstance(b, float) and np.isnan(a):
        assert np.isnan(b), where
    else:
        assert type(a) is type(b) and a == b, (where, a, b)


def test_h5py_readers_equal_pynwb(store):
    """The views' h5py readers return what the pynwb readers (full object construction) return."""
    for file in store.cells["file"]:
        path = store.path_of(file)
        assert_same(cellread.cell_sweeps(path), pynwb_reference.cell_sweeps_pynwb(path), file)
    for _, row in store.units.drop_duplicates("unit_key").iterrows():
        path = store.path_of(row["file"])
        d = unitread.unit_spikes(path, int(row["unit_row"]))
        assert_same(d, pynwb_reference.unit_spikes_pynwb(path, int(row["unit_row"])), row["unit_key"])
        assert d["spike_times_s"].size > 0 and d["stored_metrics"] is not None
    path = store.path_of(store.units["file"].iloc[0])
    with pytest.raises(KeyError):
        unitread.unit_spikes(path, 10_000)
    with pytest.raises(OSError):
        cellread.cell_sweeps(path.with_name("absent.nwb"))
    # Raw windows: full resolution, decimated, a channel subset, clipped at the start, holding the injection.
    for args in [(1.0, 1.05, None, 10_000), (0.0, 8.0, [4, 5, 6, 7], 1000), (-5.0, 3.0, None, 4000), (3.5, 4.5)]:
        assert_same(rawread.raw_window(path, *args), pynwb_reference.raw_window_pynwb(path, *args), str(args))
    with pytest.raises(LookupError):
        rawread.raw_window(store.path_of(store.cells["file"].iloc[0]), 0.0, 1.0)


def test_namespaces_skipped_only_when_loaded(store, realdata):
    """Our files cache the namespaces this process registers (not loaded again); other versions or an
    unknown extension are loaded from the file."""
    assert nwbfiles._namespaces_loaded(store.path_of(store.cells["file"].iloc[0]))
    for name in ("neuroconv_mock_ttl_examples.nwb", "pynwb_backcompat_2.1.0_nwbfile_with_extension.nwb"):
        path = realdata / "nwb" / name
        if not path.exists():
            continue
        assert not nwbfiles._namespaces_loaded(path)
        assert "core" in dict(cached_namespace_versions(path))
