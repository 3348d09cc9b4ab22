"""Writing long int16 recordings into HDF5: streamed, compressed in parallel, written as raw chunks.

Design decision: pynwb writes the file's skeleton with an *empty* ElectricalSeries dataset that already
declares its chunk shape and its filters (shuffle, then gzip) — :func:`int16_dataset` returns that
``H5DataIO`` placeholder. After ``io.write`` the converter fills it with :func:`fill_dataset`: a thread
pool reads one chunk-sized block of samples at a time, byte-shuffles it and deflates it with ``zlib``
(both release the GIL, so the work runs on all cores), and the main thread hands each finished chunk to
HDF5 unchanged with ``write_direct_chunk``. HDF5 itself never compresses, so the throughput is that of
``zlib`` on all cores instead of one; the stored chunks are bit-for-bit what HDF5's own shuffle + deflate
filters would produce, so every HDF5 reader (h5py, pynwb, MATLAB, HDFView) decodes them.

Memory is bounded by the blocks in flight (twice the number of workers, one chunk each), whatever the
duration. Chunks span all channels (tetrode recordings have tens of channels at most) and 2 MiB along
time (:data:`CHUNK_BYTES`: 2.2 s of 16 channels at 30 kHz). NeuroConv's default is ~10 MB, for streaming
from DANDI in few requests; the explorer reads local files, and a 10 s window of the traces view inflates
every chunk it touches, whole: 20.9 s of samples on average with 10.9 s chunks, 12.2 s with 2.2 s chunks.
Measured with ``benchmarks/bench_chunk_length.py`` (see :data:`CHUNK_BYTES`). NWB Inspector (0.7.2, also
with ``--config dandi``) has no check on chunk size; its best practices ask for chunked, compressed
large datasets, which these are.

The compressor is a choice (:mod:`nwb_ketamine.gzipcodec`): ISA-L (``isal``) when installed, else
libdeflate (``deflate``), else the standard library's ``zlib``. Every one writes standard zlib streams, so
the dataset is always a plain gzip-filter dataset (filter id 1, after shuffle, id 2) with the level used
recorded as the filter's option; h5py, pynwb and NWB Inspector read it unchanged. The default is ISA-L
level 2 (:data:`DEFAULT_CODEC`, the codec's ``default_level``), chosen with ``benchmarks/bench_codec.py``
(3 alternating rounds in one process, 10 MB chunks after the byte shuffle, 2 cores busy with other jobs
at load 4-7, so MB/s are low in absolute terms and only their ratios mean much; ratios are exact):

============  =====  ==========  ========  ===============  =============  ========  ===============
codec         level  sim. MB/s   sim.      sim. size vs     real MB/s      real      real size vs
                     (1 thread)  ratio     zlib 4           (1 thread)     ratio     zlib 4
============  =====  ==========  ========  ===============  =============  ========  ===============
zlib          1      20.1        1.785     +2.7 %           41.1           1.562     +3.5 %
zlib          4      14.4        1.833     0                33.5           1.617     0
zlib          6      9.2         1.846     -0.7 %           14.2           1.633     -1.0 %
libdeflate    1      48.5        1.805     +1.5 %           112.1          1.616     +0.1 %
libdeflate    2      32.9        1.857     -1.3 %           84.4           1.621     -0.3 %
libdeflate    4      33.0        1.866     -1.8 %           68.6           1.626     -0.6 %
libdeflate    6      22.1        1.873     -2.2 %           39.3           1.641     -1.5 %
isal          1      170.3       1.785     +2.7 %           373.9          1.594     +1.4 %
isal          2      164.3       1.785     +2.7 %           360.9          1.594     +1.4 %
isal          3      98.8        1.781     +2.9 %           206.8          1.624     -0.4 %
============  =====  ==========  ========  ===============  =============  ========  ===============

("sim.": five 10 MB chunks of a simulated 16-channel, 30 kHz session; "real": the real 16-channel,
40 kHz Open Ephys recording of ``../shared/realdata``, one 4.3 MB chunk.) ISA-L level 2 is 11x zlib
level 4 at +2.7 % (simulated) and +1.4 % (real) file size, inside the 3 % budget; its level 3 is half as
fast and no smaller on the simulated data. Whole conversions (``bench_codec.py --convert --minutes 10``,
576 MB, load 7-10): 6.9 s with ISA-L 2 against 46.7 s with zlib 4 and 19.6 s with libdeflate 2, peak RSS
~290 MB for all, samples identical. libdeflate compresses best but its Python binding holds the GIL (two
threads took 0.55 s where one thread took 0.40 s for the same two chunks at load 2.3), so the thread pool
does not run it on more than one core; it is the fallback before zlib, at its level 2 (smaller than zlib
level 4, and at least as fast as its own level 4). On the float32 sweeps of real ABF
files ISA-L is 11 % larger than zlib level 4, so the slice converter uses libdeflate (see ``abf.py``).
A level the preferred codec does not offer (a dataset created at gzip level 4, say) makes ``"auto"`` use
the next codec that does, so the recorded level is always the one used.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from nwb_ketamine.gzipcodec import AUTO_ORDER, Codec, get_codec, shuffle

#: Target size of one chunk (all channels × samples along time). ``benchmarks/bench_chunk_length.py --minutes
#: 20 --sizes 10,4,2,1 --rounds 3`` (the first 20 min of the simulated 1 h, 16-channel, 30 kHz session, ISA-L
#: level 2 on 2 threads, 20 random 10 s windows read per round, CPU time of all threads; load 5-23 on 2 cores,
#: so wall times meant little) gave, against 10 MiB chunks: 10 s window CPU 0.68x (4 MiB), 0.66x (2 MiB),
#: 0.71x (1 MiB); writing CPU 0.93x, 0.78x, 0.80x; file size +0.04 %, +0.07 %, +0.10 %.
CHUNK_BYTES = 2 * 1024 * 1024
#: gzip level of the ``zlib`` codec: NeuroConv's and h5py's default, the usual trade-off for electrophysiology.
GZIP_LEVEL = 4
#: The writer's codec: the fastest installed (ISA-L, then libdeflate, then zlib); see the table above.
DEFAULT_CODEC = "auto"


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


def resolve_codec(
    codec: str | None = DEFAULT_CODEC,
    level: int | None = None,
    *,
    order: tuple[str, ...] = AUTO_ORDER,
    import_module=None,
) -> tuple[Codec, int]:
    """The codec and level that write a chunk: ``codec`` (or the fastest installed) at ``level``.

    Parameters
    ----------
    codec
        A codec name of :mod:`nwb_ketamine.gzipcodec`, or ``"auto"``/None: the first of its ``AUTO_ORDER``
        that is installed and offers ``level``.
    level
        gzip level (default: the codec's ``default_level``).
    order
        The codecs ``"auto"`` tries, in order (default :data:`~nwb_ketamine.gzipcodec.AUTO_ORDER`; the
        slice converter prefers libdeflate, which compresses float32 sweeps best).
    import_module
        Passed to :func:`~nwb_ketamine.gzipcodec.get_codec` (the tests' injection point), or None.

    Returns
    -------
    tuple
        ``(Codec, level)``.

    Raises
    ------
    ValueError
        When the codec named does not offer ``level``.
    """
    kwargs = {} if import_module is None else {"import_module": import_module}
    if codec not in (None, "auto"):
        chosen = get_codec(codec, **kwargs)
        level = chosen.default_level if level is None else int(level)
        if level not in chosen.levels:
            raise ValueError(f"codec {chosen.name} offers levels {chosen.levels}, not {level}")
        return chosen, level
    for name in order:
        try:
            chosen = get_codec(name, **kwargs)
        except ImportError:
            continue
        if level is None or int(level) in chosen.levels:
            return chosen, chosen.default_level if level is None else int(level)
    raise ValueError(f"no codec offers gzip level {level}")


def int16_dataset(
    n_samples: int,
    n_channels: int,
    *,
    level: int | None = None,
    codec: str | None = DEFAULT_CODEC,
    rows: int | None = None,
):
    """An empty, chunked, shuffle+gzip int16 dataset for pynwb to create; fill it with :func:`fill_dataset`.

    Parameters
    ----------
    n_samples, n_channels
        Shape of the recording.
    level
        gzip level (1-9) recorded as the filter's option (default: the default level of ``codec``).
    codec
        The codec that will write the chunks (see :func:`resolve_codec`); it decides the default level.
    rows
        Samples per chunk (default: :func:`chunk_rows`, about :data:`CHUNK_BYTES`).
    """
    from hdmf.backends.hdf5 import H5DataIO

    _, level = resolve_codec(codec, level)
    rows = min(rows or chunk_rows(n_channels), max(1, n_samples))
    return H5DataIO(
        shape=(n_samples, n_channels),
        dtype=np.int16,
        chunks=(rows, n_channels),
        compression="gzip",
        compression_opts=level,
        shuffle=True,
    )


def _encode_chunk(block: np.ndarray, codec: Codec, level: int, *, shuffled: bool = True) -> bytes | bytearray:
    """The bytes HDF5's shuffle + deflate filters would decode to ``block`` (one full, C-ordered chunk)."""
    raw = shuffle(block) if shuffled else np.ascontiguousarray(block).reshape(-1).view(np.uint8)
    return codec.compress(raw, level)


def write_single_chunk(dset, data: np.ndarray, codec: Codec) -> None:
    """Write ``data`` as the one chunk of ``dset`` (chunked as its whole shape, shuffle and/or gzip).

    Parameters
    ----------
    dset
        An h5py dataset whose chunk shape is its shape, filters gzip (with or without shuffle).
    data
        Its values (cast to the dataset's dtype).
    codec
        The compressor; the level is the one recorded in the dataset's gzip filter.
    """
    if dset.chunks != dset.shape or dset.compression != "gzip":
        raise ValueError(f"{dset.name}: one gzip chunk of the whole shape expected, not chunks {dset.chunks}")
    block = np.asarray(data, dtype=dset.dtype).reshape(dset.shape)
    payload = _encode_chunk(block, codec, dset.compression_opts, shuffled=bool(dset.shuffle))
    dset.id.write_direct_chunk((0,) * dset.ndim, payload, 0)


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
    codec: str | None = DEFAULT_CODEC,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
    import_module=None,
) -> str:
    """Fill a chunked 2-D dataset from ``read(start, stop) -> (samples, channels)`` with direct chunk writes.

    Parameters
    ----------
    dset
        An h5py dataset chunked as ``(rows, n_channels)`` along time, with the shuffle and gzip filters
        (or no filter at all), e.g. created by :func:`int16_dataset`.
    read
        Returns the samples ``[start, stop)`` for every channel, in the dataset's dtype.
    level
        gzip level; by default the dataset's own (the level recorded in its filter).
    codec
        The compressor (see :func:`resolve_codec`; ``"auto"``: the fastest installed that offers ``level``).
    workers
        Threads compressing chunks (default: all cores).
    progress
        Called with the number of samples written after each chunk.
    import_module
        Passed to :func:`resolve_codec` (the tests' injection point), or None.

    Returns
    -------
    str
        The name of the codec that compressed the chunks (``"none"`` for an unfiltered dataset).
    """
    n_samples, n_channels = dset.shape
    rows, width = dset.chunks
    if width != n_channels:
        raise ValueError(f"chunks {dset.chunks} must span all {n_channels} channels")
    gzip = dset.compression == "gzip"
    if dset.compression not in (None, "gzip"):
        raise ValueError(f"only gzip can be written directly, not {dset.compression}")
    if level is None and gzip:
        level = dset.compression_opts
    if gzip and level != dset.compression_opts:
        raise ValueError(f"level {level} differs from the level {dset.compression_opts} recorded in the dataset")
    chosen, level = resolve_codec(codec, level, import_module=import_module) if gzip else (None, 0)
    shuffled = bool(dset.shuffle)
    dtype = dset.dtype
    workers = workers or os.cpu_count() or 1
    _limit_malloc_arenas()

    def _job(start: int) -> tuple[int, bytes | bytearray, int]:
        stop = min(start + rows, n_samples)
        block = np.asarray(read(start, stop), dtype=dtype)
        if block.shape != (stop - start, n_channels):
            raise ValueError(f"read({start}, {stop}) returned shape {block.shape}")
        if stop - start < rows:  # edge chunk: HDF5 stores it full size
            padded = np.zeros((rows, n_channels), dtype=dtype)
            padded[: stop - start] = block
            block = padded
        payload = _encode_chunk(block, chosen, level, shuffled=shuffled) if chosen is not None else block.tobytes()
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
    return chosen.name if chosen is not None else "none"
