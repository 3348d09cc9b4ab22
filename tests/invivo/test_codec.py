"""The chunk codecs (ISA-L, libdeflate, zlib): every chunk a standard gzip-filter chunk, and the fallback."""

import zlib

import h5py
import numpy as np
import pytest

from nwb_ketamine.converters.chunked import fill_dataset, int16_dataset, resolve_codec
from nwb_ketamine.gzipcodec import (
    CODECS,
    FILTER_DEFLATE,
    FILTER_SHUFFLE,
    get_codec,
    installed_codecs,
    shuffle,
    unshuffle,
    unshuffle_elements,
)

ROWS, WIDTH = 4096, 6


def refusing(*absent):
    """An ``import_module`` for which the modules ``absent`` are not installed."""
    from nwb_ketamine.gzipcodec import _import

    def import_module(name):
        if name in absent:
            raise ImportError(f"No module named {name!r} (refused by the test)")
        return _import(name)

    return import_module


def tetrode_like(n=25_001, seed=1):
    """Noise plus a slow oscillation and sparse spikes, int16 (what the writer gets from a recording)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    x = 40 * rng.standard_normal((n, WIDTH)) + 300 * np.sin(2 * np.pi * t / 3750 + np.arange(WIDTH))
    x[rng.integers(0, n, 60)] -= 1500
    return np.round(x).astype(np.int16)


def written(tmp_path, codec, level):
    data = tetrode_like()
    path = tmp_path / f"{codec}-{level}.h5"
    with h5py.File(path, "w") as f:
        dset = f.create_dataset("x", shape=data.shape, dtype=np.int16, chunks=(ROWS, WIDTH), compression="gzip",
                                compression_opts=level, shuffle=True)  # fmt: skip
        used = fill_dataset(dset, lambda a, b: data[a:b], codec=codec, workers=2)
    return path, data, used


@pytest.mark.parametrize("codec", CODECS)
def test_every_chunk_is_a_standard_zlib_stream_after_the_shuffle(tmp_path, codec):
    if codec not in installed_codecs():
        pytest.skip(f"{codec} is not installed")
    levels = sorted({get_codec(codec).default_level, get_codec(codec).levels[0], get_codec(codec).levels[-1]})
    for level in levels:
        path, data, used = written(tmp_path, codec, level)
        assert used == codec
        with h5py.File(path, "r") as f:
            dset = f["x"]
            plist = dset.id.get_create_plist()
            filters = [plist.get_filter(i)[:3] for i in range(plist.get_nfilters())]
            # shuffle, then gzip with the level used as its option: what h5py itself writes for compression="gzip".
            assert filters == [(FILTER_SHUFFLE, 1, (2,)), (FILTER_DEFLATE, 1, (level,))]
            assert (dset.compression, dset.compression_opts, dset.shuffle) == ("gzip", level, True)
            padded = np.zeros((-(-data.shape[0] // ROWS) * ROWS, WIDTH), dtype=np.int16)
            padded[: data.shape[0]] = data
            for start in range(0, data.shape[0], ROWS):
                mask, payload = dset.id.read_direct_chunk((start, 0))
                assert mask == 0
                plain = zlib.decompress(payload)  # the standard library's zlib, nothing of the codec's
                np.testing.assert_array_equal(unshuffle(plain, np.int16, (ROWS, WIDTH)), padded[start : start + ROWS])
            np.testing.assert_array_equal(dset[:], data)  # HDF5's own filters decode it
            np.testing.assert_array_equal(dset[ROWS - 7 : 3 * ROWS + 5, 2:5], data[ROWS - 7 : 3 * ROWS + 5, 2:5])


def test_the_fast_codecs_write_other_bytes_than_zlib_that_decode_the_same(tmp_path):
    """Not zlib in disguise: the chunks' bytes differ from zlib's at the same level, the values do not."""
    block = shuffle(tetrode_like(n=ROWS))
    reference = zlib.compress(block, 2)
    for name in set(installed_codecs()) - {"zlib"}:
        stream = get_codec(name).compress(block, 2)
        assert bytes(stream) != reference
        assert zlib.decompress(stream) == block.tobytes()
        assert bytes(get_codec(name).decompress(reference, block.nbytes)) == block.tobytes()


@pytest.mark.parametrize("dtype", [np.int16, ">i2", np.int8, np.float32, np.float64, np.uint64])
def test_shuffle_is_hdf5s_shuffle_filter(tmp_path, dtype):
    data = tetrode_like(n=ROWS).astype(dtype)
    with h5py.File(tmp_path / "s.h5", "w") as f:
        dset = f.create_dataset("x", data=data, chunks=(ROWS, WIDTH), compression="gzip", shuffle=True)
        stored = zlib.decompress(dset.id.read_direct_chunk((0, 0))[1])
    assert stored == shuffle(data).tobytes()
    back = unshuffle(stored, np.dtype(dtype), data.shape)
    np.testing.assert_array_equal(back, data)
    assert back.dtype == np.dtype(dtype)


@pytest.mark.parametrize("dtype", [np.int16, ">i2", np.int8, np.float32, np.uint64])
def test_unshuffle_elements_into_rows_of_a_result(dtype):
    data = tetrode_like(n=ROWS).astype(dtype)
    stored = shuffle(data).tobytes()
    out = np.full((300, WIDTH), 7, dtype=dtype)
    got = unshuffle_elements(stored, np.dtype(dtype), 100 * WIDTH, 250 * WIDTH, out[50:200])
    np.testing.assert_array_equal(out[50:200], data[100:250])
    np.testing.assert_array_equal(out[:50], 7)
    np.testing.assert_array_equal(out[200:], 7)
    assert np.shares_memory(got, out)
    np.testing.assert_array_equal(unshuffle_elements(stored, np.dtype(dtype), 5, 17), data.reshape(-1)[5:17])
    with pytest.raises(ValueError, match="C-contiguous"):
        unshuffle_elements(stored, np.dtype(dtype), 0, 2 * WIDTH, out[:2, :3])


def test_auto_falls_back_to_zlib_when_the_fast_modules_are_absent(tmp_path):
    none = refusing("isal.isal_zlib", "deflate")
    assert get_codec("auto", import_module=none).name == "zlib"
    assert installed_codecs(none) == ["zlib"]
    assert resolve_codec("auto", None, import_module=none)[0].name == "zlib"
    assert resolve_codec("auto", None, import_module=none)[1] == 4
    with pytest.raises(ImportError):
        get_codec("isal", import_module=none)
    assert get_codec("auto", import_module=refusing("isal.isal_zlib")).name == "libdeflate"
    assert get_codec("auto", reading=True, import_module=refusing("deflate")).name == "isal"
    # The writer with no fast module: zlib, byte for byte what HDF5's own gzip filter stores.
    data = tetrode_like()
    with h5py.File(tmp_path / "z.h5", "w") as f:
        dset = f.create_dataset("x", shape=data.shape, dtype=np.int16, chunks=(ROWS, WIDTH), compression="gzip",
                                compression_opts=4, shuffle=True)  # fmt: skip
        assert fill_dataset(dset, lambda a, b: data[a:b], workers=2, import_module=none) == "zlib"
        same = f.create_dataset("y", data=data, chunks=(ROWS, WIDTH), compression="gzip", compression_opts=4,
                                shuffle=True)  # fmt: skip
        for start in range(0, data.shape[0], ROWS):
            assert dset.id.read_direct_chunk((start, 0)) == same.id.read_direct_chunk((start, 0))


def test_auto_takes_the_fastest_codec_that_offers_the_recorded_level(tmp_path):
    assert "isal" in installed_codecs(), "the isal dependency is missing"
    assert resolve_codec("auto")[0].name == "isal"
    assert resolve_codec("auto", 3)[0].name == "isal"
    # ISA-L has levels 1-3 only: a dataset recorded at gzip level 4 is written by the next codec.
    assert resolve_codec("auto", 4)[0].name in {"libdeflate", "zlib"}
    with pytest.raises(ValueError, match="levels"):
        resolve_codec("isal", 4)
    with pytest.raises(ValueError, match="unknown codec"):
        get_codec("brotli")
    assert int16_dataset(10, 2).io_settings["compression_opts"] == get_codec("isal").default_level
    assert int16_dataset(10, 2, codec="zlib").io_settings["compression_opts"] == 4
    path, data, used = written(tmp_path, "auto", 4)
    assert used == resolve_codec("auto", 4)[0].name
    with h5py.File(path) as f:
        np.testing.assert_array_equal(f["x"][:], data)
        with pytest.raises(ValueError, match="recorded"):
            fill_dataset(f["x"], lambda a, b: data[a:b], level=2)


def test_converted_file_is_valid_nwb_and_written_by_the_fast_codec(tiny_nwb):
    from nwb_ketamine.schema_validation import schema_errors

    path, _ = tiny_nwb
    assert schema_errors(path) == []
    with h5py.File(path, "r") as f:
        series = [g for g in f["acquisition"].values() if "electrodes" in g]
        assert series
        for group in series:
            dset = group["data"]
            assert (dset.compression, dset.shuffle) == ("gzip", True)
            assert dset.compression_opts == resolve_codec("auto")[1] == 2  # ISA-L's default level
            n_ch = dset.shape[1]
            rows = dset.chunks[0]
            for start in range(0, dset.shape[0], rows):
                plain = zlib.decompress(dset.id.read_direct_chunk((start, 0))[1])
                block = unshuffle(plain, dset.dtype, (rows, n_ch))[: dset.shape[0] - start]
                np.testing.assert_array_equal(block, dset[start : start + rows])


def test_slice_converter_prefers_libdeflate_and_never_isal():
    from nwb_ketamine.converters.abf import ABF_CODECS

    assert resolve_codec("auto", order=ABF_CODECS)[0].name == "libdeflate"
    # Without the deflate package: zlib at its level 4, not ISA-L (11 % larger on float32 sweeps).
    codec, level = resolve_codec("auto", order=ABF_CODECS, import_module=refusing("deflate"))
    assert (codec.name, level) == ("zlib", 4)
