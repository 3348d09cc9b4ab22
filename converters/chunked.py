"""Writing long int16 recordings into HDF5: streamed, compressed in parallel, written as raw chunks.

Design decision: pynwb writes the file's skeleton with an *empty* ElectricalSeries dataset that already
declares its chunk shape and its filters (shuffle, then gzip) — :func:`int16_dataset` returns that
``H5DataIO`` placeholder. After ``io.write`` the converter fills it with :func:`fill_dataset`: a thread
pool reads one chunk-sized block of samples at a time, byte-shuffles it and deflates it with ``zlib``
(both release the GIL, so the work runs on all cores), and the main thread hands each finished chunk to
HDF5 unchanged with ``write_direct_chunk``. HDF5 itself never compresses, so the throughput is that of
``zlib`` on all cores instead of one; the stored chunks are bit-for-bit what HDF5's own shuffle + deflate
filters would produce, so every HDF5 reader (h5py, pynwb, MATLAB, HDFView) decodes them.

Memory is bounded by the blocks in flight (twice the number of workers, ~10 MB each), whatever the
duration. Chunks span all channels (tetrode recordings have tens of channels at most) and ~10 MB along
time, the size NeuroConv and DANDI recommend for streaming.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import zlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

#: Target size of one chunk, as NeuroConv and DANDI recommend for remote reading.
CHUNK_BYTES = 10 * 1024 * 1024
#: gzip level: NeuroConv's and h5py's default, the usual trade-off for electrophysiology.
GZIP_LEVEL = 4


def chunk_rows(n_channels: int, *, itemsize: int = 2, chunk_bytes: int = CHUNK_BYTES) -> int:
    """Samples per chunk so that one chunk of all channels holds about ``chunk_bytes``.

    Parameters
    ----------
    n_channels
        Channels of the dataset.
    itemsize
        Bytes per sample.
    chunk_bytes
        Target chunk size.
    """
    return max(1, chunk_bytes // (itemsize * max(1, n_channels)))


def int16_dataset(n_samples: int, n_channels: int, *, level: int = GZIP_LEVEL, rows: int | None = None):
    """An empty, chunked, shuffle+gzip int16 dataset for pynwb to create; fill it with :func:`fill_dataset`.

    Parameters
    ----------
    n_samples, n_channels
        Shape of the recording.
    level
        gzip level (0-9).
    rows
        Samples per chunk (default: :func:`chunk_rows`, about 10 MB).
    """
    from hdmf.backends.hdf5 import H5DataIO

    rows = min(rows or chunk_rows(n_channels), max(1, n_samples))
    return H5DataIO(
        shape=(n_samples, n_channels),
        dtype=np.int16,
        chunks=(rows, n_channels),
        compression="gzip",
        compression_opts=level,
        shuffle=True,
    )


def _encode_chunk(block: np.ndarray, *, level: int = GZIP_LEVEL, shuffle: bool = True) -> bytes:
    """The bytes HDF5's shuffle + deflate filters would store for ``block`` (one full, C-ordered chunk)."""
    raw = np.ascontiguousarray(block)
    if shuffle and raw.itemsize > 1:
        # HDF5's shuffle: byte k of every element, for k = 0..itemsize-1, one after the other.
        raw = np.ascontiguousarray(raw.view(np.uint8).reshape(-1, raw.itemsize).T)
    return zlib.compress(raw.data.cast("B"), level)


def _limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's per-thread malloc arenas, so compression threads do not each keep their own heap.

    Every thread that allocates (zlib's output, shuffled copies) may get a private arena of up to 64 MB
    that glibc keeps; how many appear depends on how the threads contend, so peak memory varied by
    hundreds of MB between identical runs on a busy machine. Best effort: only on Linux with glibc.
    """
    if not sys.platform.startswith("linux"):
        return
    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt(-8, arenas)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def fill_dataset(
    dset,
    read: Callable[[int, int], np.ndarray],
    *,
    level: int | None = None,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Fill a chunked 2-D dataset from ``read(start, stop) -> (samples, channels)`` with direct chunk writes.

    Parameters
    ----------
    dset
        An h5py dataset chunked as ``(rows, n_channels)`` along time, with the shuffle and gzip filters
        (or no filter at all), e.g. created by :func:`int16_dataset`.
    read
        Returns the samples ``[start, stop)`` for every channel, in the dataset's dtype.
    level
        gzip level; by default the dataset's own.
    workers
        Threads compressing chunks (default: all cores).
    progress
        Called with the number of samples written after each chunk.
    """
    n_samples, n_channels = dset.shape
    rows, width = dset.chunks
    if width != n_channels:
        raise ValueError(f"chunks {dset.chunks} must span all {n_channels} channels")
    gzip = dset.compression == "gzip"
    if dset.compression not in (None, "gzip"):
        raise ValueError(f"only gzip can be written directly, not {dset.compression}")
    level = (dset.compression_opts if level is None else level) if gzip else 0
    shuffle = bool(dset.shuffle)
    dtype = dset.dtype
    workers = workers or os.cpu_count() or 1
    _limit_malloc_arenas()

    def _job(start: int) -> tuple[int, bytes, int]:
        stop = min(start + rows, n_samples)
        block = np.asarray(read(start, stop), dtype=dtype)
        if block.shape != (stop - start, n_channels):
            raise ValueError(f"read({start}, {stop}) returned shape {block.shape}")
        if stop - start < rows:  # edge chunk: HDF5 stores it full size
            padded = np.zeros((rows, n_channels), dtype=dtype)
            padded[: stop - start] = block
            block = padded
        payload = _encode_chunk(block, level=level, shuffle=shuffle) if gzip else block.tobytes()
        return start, payload, stop - start

    starts = iter(range(0, n_samples, rows))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque = deque()
        for start in starts:
            pending.append(pool.submit(_job, start))
            if len(pending) >= 2 * workers:
                break
        while pending:
            start, payload, n = pending.popleft().result()
            nxt = next(starts, None)
            if nxt is not None:
                pending.append(pool.submit(_job, nxt))
            dset.id.write_direct_chunk((start, 0), payload, 0)
            if progress is not None:
                progress(n)
