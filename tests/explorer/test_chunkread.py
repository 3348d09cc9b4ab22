"""Direct chunk reads with the fast decoders against h5py slicing (the reference), and raw_window both ways."""

from datetime import UTC, datetime

import h5py
import numpy as np
import pytest

from nwb_ketamine.explorer import chunkread, rawread
from nwb_ketamine.gzipcodec import get_codec, installed_codecs

ROWS = 1000


def signal(n, width, dtype=np.int16, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    x = 30 * rng.standard_normal((n, width)) + 500 * np.sin(2 * np.pi * t / 777 + np.arange(width))
    return x.astype(dtype)


# Windows inside a chunk, on a boundary, across one and several boundaries, into the edge chunk, all, empty.
WINDOWS = [(10, 20), (0, ROWS), (ROWS - 1, ROWS + 1), (950, 2050), (1500, 4999), (3990, 4321), (4321 - 5, 4321),
           (0, 4321), (777, 777), (-100, 200), (4000, 10_000)]  # fmt: skip


@pytest.fixture(scope="module")
def h5file(tmp_path_factory):
    path = tmp_path_factory.mktemp("chunks") / "x.h5"
    with h5py.File(path, "w") as f:
        data = signal(4321, 4)
        f.create_dataset("shuffle_gzip", data=data, chunks=(ROWS, 4), compression="gzip", shuffle=True)
        f.create_dataset("gzip", data=data, chunks=(ROWS, 4), compression="gzip", compression_opts=1)
        f.create_dataset("float32", data=signal(4321, 3, np.float32), chunks=(ROWS, 3), compression="gzip",
                         shuffle=True)  # fmt: skip
        f.create_dataset("big_endian", data=data.astype(">i2"), chunks=(ROWS, 4), compression="gzip", shuffle=True)
        partial = f.create_dataset("partial", shape=(4321, 4), dtype=np.int16, chunks=(ROWS, 4), compression="gzip",
                                   shuffle=True, fillvalue=-7)  # fmt: skip
        partial[1200:1900] = data[1200:1900]  # chunks 0, 3 and 4 never written
        f.create_dataset("fletcher", data=data, chunks=(ROWS, 4), compression="gzip", shuffle=True, fletcher32=True)
        f.create_dataset("contiguous", data=data)
        f.create_dataset("by_channel", data=data, chunks=(ROWS, 1), compression="gzip", shuffle=True)
    return path


@pytest.mark.parametrize("codec", ["libdeflate", "isal", "zlib"])
@pytest.mark.parametrize("name", ["shuffle_gzip", "gzip", "float32", "big_endian", "partial"])
def test_direct_chunk_reads_equal_h5py(h5file, codec, name):
    if codec not in installed_codecs():
        pytest.skip(f"{codec} is not installed")
    chunkread.clear_cache()
    with h5py.File(h5file, "r") as f:
        dset = f[name]
        reader = chunkread.direct_reader(dset, codec)
        assert isinstance(reader, chunkread.DirectChunks) and reader.codec.name == codec
        for a, b in WINDOWS:
            got, want = reader[a:b], dset[a:b]
            np.testing.assert_array_equal(got, want, err_msg=f"{name} [{a}:{b}]")
            assert got.dtype == want.dtype
        inside = reader[10:20]
        if inside.flags.writeable:  # a new array (rows unshuffled from the cached bytes): changing it is harmless
            inside[...] = 0
            np.testing.assert_array_equal(reader[10:20], dset[10:20])
        # else a view of the cached chunk, which no caller may change
        # Again, from the decoded-chunk cache.
        for a, b in WINDOWS:
            np.testing.assert_array_equal(reader[a:b], dset[a:b])


def test_other_layouts_are_read_by_h5py(h5file):
    with h5py.File(h5file, "r") as f:
        for name in ("fletcher", "contiguous", "by_channel"):
            dset = f[name]
            assert chunkread.direct_reader(dset) is dset, name
        dset = f["gzip"]
        assert chunkread.direct_reader(dset, None) is dset
        array = np.zeros((3, 2))
        assert chunkread.direct_reader(array) is array
        # The default decoder is the fastest installed for reading, never zlib (HDF5 inflates with zlib itself).
        reader = chunkread.direct_reader(f["gzip"])
        assert isinstance(reader, chunkread.DirectChunks) and reader.codec.name == get_codec(reading=True).name
        assert reader.codec.name != "zlib"


def test_cache_is_bounded(h5file, monkeypatch):
    monkeypatch.setattr(chunkread, "CACHE_BYTES", 2 * ROWS * 4 * 2)
    chunkread.clear_cache()
    with h5py.File(h5file, "r") as f:
        reader = chunkread.direct_reader(f["shuffle_gzip"])
        np.testing.assert_array_equal(reader[0:4321], f["shuffle_gzip"][:])
    assert len(chunkread._cache) == 2 and chunkread._cached_bytes == 2 * ROWS * 4 * 2


@pytest.fixture(scope="module")
def segmented_nwb(tmp_path_factory):
    """Two ElectricalSeries segments (30 s and 20 s at 1 kHz, a 5 s gap) in 1 s shuffle+gzip chunks."""
    from hdmf.backends.hdf5 import H5DataIO
    from pynwb import NWBHDF5IO
    from pynwb.ecephys import ElectricalSeries
    from pynwb.testing.mock.ecephys import mock_ElectrodeGroup
    from pynwb.testing.mock.file import mock_NWBFile

    nwbfile = mock_NWBFile(session_start_time=datetime(2024, 1, 1, tzinfo=UTC))
    group = mock_ElectrodeGroup(nwbfile=nwbfile)
    for _ in range(4):
        nwbfile.add_electrode(group=group, location="unknown")
    region = nwbfile.create_electrode_table_region([0, 1, 2, 3], "all")
    segments = [(0.0, signal(30_000, 4, seed=1)), (35.0, signal(20_000, 4, seed=2))]
    for k, (start, data) in enumerate(segments):
        nwbfile.add_acquisition(
            ElectricalSeries(
                name=f"ElectricalSeries{k}",
                data=H5DataIO(data, chunks=(ROWS, 4), compression="gzip", shuffle=True),
                electrodes=region,
                rate=1000.0,
                starting_time=start,
                conversion=0.195e-6,
            )  # fmt: skip
        )
    path = tmp_path_factory.mktemp("nwb") / "segments.nwb"
    with NWBHDF5IO(path, "w") as out:
        out.write(nwbfile)
    return path


@pytest.mark.parametrize(
    ("t0", "t1", "max_points"),
    [(0.0, 0.5, 10_000), (0.9995, 1.0015, 10_000), (2.5, 7.25, 10_000), (3.3, 13.7, 4000), (29.0, 36.5, 100_000),
     (28.0, 40.0, 2000), (34.0, 35.0005, 10_000), (49.0, 60.0, 10_000), (-3.0, 70.0, 4000), (31.0, 34.0, 10_000)],
)  # fmt: skip
def test_raw_window_direct_equals_h5py(segmented_nwb, t0, t1, max_points):
    from tests.explorer.test_readers import assert_same

    chunkread.clear_cache()
    fast = rawread.raw_window(segmented_nwb, t0, t1, max_points=max_points)
    if t1 > 0 and t0 < 55 and not (t0 >= 30 and t1 <= 35):
        assert chunkread._cache, "the window was not read through direct chunk reads"
    chunkread.clear_cache()
    reference = rawread.raw_window(segmented_nwb, t0, t1, max_points=max_points, direct=False)
    assert not chunkread._cache
    assert_same(fast, reference, f"[{t0}, {t1})")
    assert fast["gaps"] == [(30.0, 35.0)]


def test_raw_window_after_the_file_is_closed_or_changed(segmented_nwb, tmp_path):
    """The file's layout is read once; closing the open files, or a new version of the file, is harmless."""
    import os
    import shutil

    from nwb_ketamine.explorer.nwbfiles import close_all
    from tests.explorer.test_readers import assert_same

    path = tmp_path / "copy.nwb"
    shutil.copy(segmented_nwb, path)
    first = rawread.raw_window(path, 3.3, 13.7)
    for _ in range(3):  # the file cache closes and reopens it: nothing of the closed file is used
        close_all()
        assert_same(rawread.raw_window(path, 3.3, 13.7), first, "reopened")
        assert_same(rawread.raw_window(path, 3.3, 13.7, direct=False), first, "reopened, h5py")
    close_all()
    with h5py.File(path, "a") as f:  # a new version of the file: another conversion factor
        f["acquisition/ElectricalSeries0/data"].attrs["conversion"] = 2 * 0.195e-6
    os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 10**9))
    changed = rawread.raw_window(path, 3.3, 13.7)
    np.testing.assert_allclose(changed["data_uv"], 2 * first["data_uv"])
    close_all()
