"""Reading rows of a chunked gzip dataset by decompressing its chunks ourselves: direct chunk reads.

Design decisions:

- HDF5 decodes gzip chunks with the zlib it was built with. :class:`DirectChunks` reads the stored
  bytes of each chunk a window touches (``read_direct_chunk``), inflates them with the fastest decoder
  installed (:func:`nwb_ketamine.gzipcodec.get_codec` with ``reading=True``: libdeflate, then ISA-L) and
  undoes HDF5's byte shuffle in numpy for the rows asked for only, straight into the result (a 10 s window
  of 16 channels at 30 kHz touches 5-6 of the converters' 2 MiB chunks, 2.2 s each; in files written with
  10 MB chunks, two of them most of the time, about half of each unshuffled). The
  values are those h5py returns (the tests compare the two on windows across chunk boundaries and at the
  edges); h5py slicing stays the reference path and the fallback.
- Only the layout the converters write takes this path (:func:`direct_reader`): a 2-D dataset chunked
  along rows with chunks spanning all columns, whose filters are exactly gzip or shuffle + gzip. Any other
  dataset (contiguous, other filters, Fletcher-32, no fast decoder installed) is returned as is, and a
  chunk stored with a filter skipped (non-zero filter mask) or never written is read through h5py.
- Inflated chunks (still shuffled; decoded arrays for unshuffled datasets) are kept in a small LRU
  (:data:`CACHE_BYTES`, the size of the HDF5 chunk cache of the files the explorer keeps open), keyed by
  file, modification time, dataset and chunk, so that panning back inflates nothing and a window whose
  blocks straddle a chunk inflates it once. :func:`clear_cache` empties it (the benchmarks do, before each
  timed read). Callers hold the explorer's file lock.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import h5py
import numpy as np

from nwb_ketamine.explorer.nwbfiles import RDCC_NBYTES, file_key
from nwb_ketamine.gzipcodec import FILTER_DEFLATE, FILTER_SHUFFLE, Codec, get_codec, unshuffle_elements

#: Bytes of decoded chunks kept (the size of the HDF5 chunk cache of the files the explorer keeps open).
CACHE_BYTES = RDCC_NBYTES

_cache: OrderedDict[tuple, np.ndarray] = OrderedDict()
_cached_bytes = 0


def clear_cache() -> None:
    """Forget every decoded chunk."""
    global _cached_bytes
    _cache.clear()
    _cached_bytes = 0


def _remember(key: tuple, chunk: np.ndarray) -> None:
    global _cached_bytes
    if chunk.nbytes > CACHE_BYTES:
        return
    _cache[key] = chunk
    _cached_bytes += chunk.nbytes
    while _cached_bytes > CACHE_BYTES:
        _, old = _cache.popitem(last=False)
        _cached_bytes -= old.nbytes


@functools.cache
def _pool() -> ThreadPoolExecutor:
    """Two threads that inflate the chunks of one read side by side (made once, on first use)."""
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="chunkread")


def _pipeline(dset: h5py.Dataset) -> tuple[int, ...]:
    """The ids of the dataset's filters, in order."""
    plist = dset.id.get_create_plist()
    return tuple(plist.get_filter(i)[0] for i in range(plist.get_nfilters()))


class DirectChunks:
    """Rows of a 2-D, row-chunked, (shuffle +) gzip h5py dataset, decoded by ``codec``: ``reader[a:b]``.

    A slice inside one chunk of an unshuffled dataset is a read-only view of the decoded chunk; any other read, a
    new array.

    Parameters
    ----------
    dset
        The dataset (see :func:`direct_reader` for the layouts accepted).
    codec
        The decoder.
    """

    def __init__(self, dset: h5py.Dataset, codec: Codec):
        self.dset = dset
        self.codec = codec
        self.shape = dset.shape
        self.dtype = dset.dtype
        self.chunks = dset.chunks
        self.shuffled = _pipeline(dset) == (FILTER_SHUFFLE, FILTER_DEFLATE)
        self._key = (*file_key(dset.file), dset.name)

    def __len__(self) -> int:
        return self.shape[0]

    def _chunk(self, start: int):
        """The chunk whose first row is ``start``: its inflated bytes (still shuffled) or a decoded array.

        What is cached: the inflated bytes when shuffled (the rows a window asks for are unshuffled from them
        on each read, :func:`~nwb_ketamine.gzipcodec.unshuffle_elements`, at the cost of those rows only),
        else the decoded array (full size: an edge chunk keeps its padding).
        """
        key = (*self._key, start)
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
        return self._decode(start, *self._stored(start))

    def _stored(self, start: int) -> tuple[int, bytes]:
        """The filter mask and stored bytes of a chunk (mask -1: never written)."""
        try:
            return self.dset.id.read_direct_chunk((start, 0))
        except (KeyError, RuntimeError, OSError):  # a chunk never written: HDF5 returns the fill value
            return -1, b""

    def _decode(self, start: int, mask: int, payload: bytes, plain: bytes | bytearray | None = None):
        """Inflate (unless ``plain`` is given) and cache one chunk; see :meth:`_chunk`."""
        rows, width = self.chunks
        if mask != 0:
            stop = min(start + rows, self.shape[0])
            chunk = np.zeros((rows, width), dtype=self.dtype)
            chunk[: stop - start] = self.dset[start:stop]
        else:
            if plain is None:
                plain = self.codec.decompress(payload, rows * width * self.dtype.itemsize)
            if self.shuffled:
                chunk = np.frombuffer(plain, dtype=np.uint8)  # read-only: shared by the cache
            else:
                chunk = np.frombuffer(plain, dtype=self.dtype).reshape(rows, width)
        chunk.flags.writeable = False  # shared by the cache and the views handed out
        _remember((*self._key, start), chunk)
        return chunk

    def _prefetch(self, starts: list[int]) -> None:
        """Inflate the chunks of ``starts`` not cached yet on two threads.

        A 10 s window of 16 channels at 30 kHz touches 5-6 chunks of 2 MiB (two of 10 MB). libdeflate's and
        zlib's decompression release the GIL (two chunks: 47 ms on two threads vs 88 ms one after the other
        with libdeflate, 75 vs 113 ms with zlib, best of 6 at load 9); ISA-L's does not (105 vs 103 ms), so it
        costs nothing there. The stored bytes are read here, under the caller's file lock.
        """
        missing = [s for s in starts if (*self._key, s) not in _cache]
        if len(missing) < 2:
            return
        stored = [(s, *self._stored(s)) for s in missing]
        size = self.chunks[0] * self.chunks[1] * self.dtype.itemsize
        jobs = [(s, payload) for s, mask, payload in stored if mask == 0]
        plains = dict(
            zip([s for s, _ in jobs], _pool().map(lambda job: self.codec.decompress(job[1], size), jobs), strict=True)
        )
        for s, mask, payload in stored:
            self._decode(s, mask, payload, plains.get(s))

    def _rows(self, start: int, lo: int, hi: int, out: np.ndarray | None = None) -> np.ndarray:
        """Rows ``[lo, hi)`` of the chunk starting at row ``start`` (positions within the chunk).

        Unshuffled into ``out`` (C-contiguous rows of the result) when given, else into a new array (or, for
        an unshuffled dataset, a view of the cached chunk).
        """
        chunk = self._chunk(start)
        width = self.chunks[1]
        if chunk.ndim == 2:  # decoded already
            if out is None:
                return chunk[lo:hi]
            out[...] = chunk[lo:hi]
            return out
        return unshuffle_elements(chunk, self.dtype, lo * width, hi * width, out).reshape(hi - lo, width)

    def __getitem__(self, key) -> np.ndarray:
        if not isinstance(key, slice) or key.step not in (None, 1):
            return self.dset[key]
        a, b, _ = key.indices(self.shape[0])
        b = max(a, b)
        rows = self.chunks[0]
        if a // rows == (b - 1) // rows and b > a:  # inside one chunk: only these rows are unshuffled
            start = a - a % rows
            return self._rows(start, a - start, b - start)
        out = np.empty((b - a, self.shape[1]), dtype=self.dtype)
        self._prefetch(list(range(a - a % rows, b, rows)))
        for start in range(a - a % rows, b, rows):
            lo, hi = max(a, start), min(b, start + rows)
            self._rows(start, lo - start, hi - start, out[lo - a : hi - a])
        return out


def direct_reader(dset, codec: str | Codec | None = "auto"):
    """A :class:`DirectChunks` on ``dset`` when its layout allows and a fast decoder is installed, else ``dset``.

    Parameters
    ----------
    dset
        Any h5py dataset (or array).
    codec
        A decoder name of :mod:`nwb_ketamine.gzipcodec` or a :class:`~nwb_ketamine.gzipcodec.Codec`;
        ``"auto"``: the fastest installed for reading, and only when that is not zlib (HDF5 decodes with
        zlib itself); None: never (always ``dset``).

    Returns
    -------
    DirectChunks or the dataset
        What to slice.
    """
    if codec is None or not isinstance(dset, h5py.Dataset):
        return dset
    chunks = dset.chunks
    if chunks is None or dset.ndim != 2 or chunks[1] != dset.shape[1] or dset.dtype.kind not in "iuf":
        return dset
    if _pipeline(dset) not in ((FILTER_DEFLATE,), (FILTER_SHUFFLE, FILTER_DEFLATE)):
        return dset
    if isinstance(codec, str):
        chosen = get_codec(codec, reading=True)
        if codec == "auto" and chosen.name == "zlib":
            return dset
    else:
        chosen = codec
    return DirectChunks(dset, chosen)
