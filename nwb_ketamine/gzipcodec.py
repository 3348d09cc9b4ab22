"""Deflate codecs that all produce and read standard zlib streams: the bytes of HDF5's gzip filter.

Design decisions:

- HDF5's gzip filter (filter id 1, ``H5Z_FILTER_DEFLATE``) stores every chunk as a zlib stream (RFC 1950:
  a 2-byte header, raw deflate, an Adler-32 trailer). Any deflate encoder that writes such a stream writes
  a chunk that every HDF5 reader decodes (h5py, pynwb, MATLAB, HDFView, NWB Inspector), whatever encoder
  HDF5 itself would have used. So the encoder is a choice: ISA-L (``isal`` package, Intel's
  assembly-optimised deflate), libdeflate (``deflate`` package) or the standard library's ``zlib``.
- A :class:`Codec` holds a compress and a decompress function and the levels it accepts. Every level
  accepted is a valid gzip level (1-9), because the level is recorded as the gzip filter's option
  (``compression_opts``) in the file: ISA-L's level 0 (a fast Huffman-only mode, *not* HDF5's "stored")
  and libdeflate's levels 10-12 are left out, so the recorded number never misleads a reader.
- :func:`get_codec` picks a codec by name, or the fastest one installed (``"auto"``:
  :data:`AUTO_ORDER`), falling back to ``zlib`` (always present). Its ``import_module`` argument is the
  injection point the tests use to make a module absent without touching ``sys.modules``.
- ISA-L and zlib release the GIL while they (de)compress, so a thread pool compresses on all cores;
  libdeflate's Python binding (``deflate`` 0.9) holds it (measured: two threads take longer than one
  after the other), so it is the fastest *single-threaded* decoder but not the writer's choice.
- :func:`shuffle` and :func:`unshuffle` are HDF5's byte-shuffle filter (filter id 2) in numpy.
"""

from __future__ import annotations

import importlib
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

import numpy as np

#: HDF5 filter ids (H5Zpublic.h) of the filters the direct-chunk paths write and read.
FILTER_DEFLATE = 1
FILTER_SHUFFLE = 2

#: Codecs tried by ``get_codec("auto")`` for writing, fastest first (see :mod:`nwb_ketamine.converters.chunked`
#: for the measurements).
AUTO_ORDER = ("isal", "libdeflate", "zlib")
#: Codecs tried by ``get_codec("auto", reading=True)``: single-threaded decompression, fastest first.
AUTO_READ_ORDER = ("libdeflate", "isal", "zlib")


@dataclass(frozen=True)
class Codec:
    """A deflate encoder and decoder of zlib streams (RFC 1950), as HDF5's gzip filter stores them.

    Attributes
    ----------
    name
        ``"isal"``, ``"libdeflate"`` or ``"zlib"``.
    levels
        The levels :meth:`compress` accepts (all valid gzip levels, 1-9).
    default_level
        The level used when none is given.
    releases_gil
        Whether (de)compression runs outside the GIL, so that threads compress in parallel.
    """

    name: str
    levels: tuple[int, ...]
    default_level: int
    releases_gil: bool
    _compress: Callable[[memoryview, int], bytes | bytearray]
    _decompress: Callable[[bytes, int], bytes | bytearray]

    def compress(self, data, level: int | None = None) -> bytes | bytearray:
        """A zlib stream of ``data`` at ``level``.

        Parameters
        ----------
        data
            A bytes-like object (C-contiguous).
        level
            One of :attr:`levels` (default :attr:`default_level`).

        Returns
        -------
        bytes or bytearray
            The zlib stream.
        """
        level = self.default_level if level is None else int(level)
        if level not in self.levels:
            raise ValueError(f"{self.name} compresses at levels {self.levels[0]}-{self.levels[-1]}, not {level}")
        return self._compress(memoryview(data).cast("B"), level)

    def decompress(self, data: bytes, size: int) -> bytes | bytearray:
        """The bytes of a zlib stream whose uncompressed size is ``size``.

        Parameters
        ----------
        data
            A zlib stream (any encoder's).
        size
            Its uncompressed size in bytes (a chunk's: known from the dataset's chunk shape).

        Returns
        -------
        bytes or bytearray
            ``size`` bytes.
        """
        out = self._decompress(data, size)
        if len(out) != size:
            raise ValueError(f"{self.name}: a chunk decompressed to {len(out)} bytes, expected {size}")
        return out


def _zlib(import_module: Callable[[str], ModuleType]) -> Codec:
    return Codec(
        "zlib",
        tuple(range(1, 10)),
        4,
        True,
        lambda data, level: zlib.compress(data, level),
        lambda data, size: zlib.decompress(data, bufsize=max(size, 1)),
    )


def _isal(import_module: Callable[[str], ModuleType]) -> Codec:
    isal_zlib = import_module("isal.isal_zlib")
    return Codec(
        "isal",
        (1, 2, 3),
        2,
        True,
        lambda data, level: isal_zlib.compress(data, level),
        lambda data, size: isal_zlib.decompress(data, bufsize=max(size, 1)),
    )


def _libdeflate(import_module: Callable[[str], ModuleType]) -> Codec:
    deflate = import_module("deflate")
    return Codec(
        "libdeflate",
        tuple(range(1, 10)),
        2,
        False,
        lambda data, level: deflate.zlib_compress(data, level),
        lambda data, size: deflate.zlib_decompress(data, size),
    )


_LOADERS: dict[str, Callable[[Callable[[str], ModuleType]], Codec]] = {
    "isal": _isal,
    "libdeflate": _libdeflate,
    "zlib": _zlib,
}
#: The codecs :func:`get_codec` knows.
CODECS = tuple(_LOADERS)


def _import(name: str) -> ModuleType:
    """``importlib.import_module``, the statements spelt out so a dependency scan sees the optional modules."""
    if name == "isal.isal_zlib":
        from isal import isal_zlib

        return isal_zlib
    if name == "deflate":
        import deflate

        return deflate
    return importlib.import_module(name)


def get_codec(
    name: str | None = "auto", *, reading: bool = False, import_module: Callable[[str], ModuleType] = _import
) -> Codec:
    """The codec called ``name``, or the fastest one installed for ``"auto"`` (or None).

    Parameters
    ----------
    name
        One of :data:`CODECS`, or ``"auto"``/None: the first installed of :data:`AUTO_ORDER`
        (:data:`AUTO_READ_ORDER` when ``reading``); ``zlib`` is always there.
    reading
        Pick for single-threaded decompression rather than for the multi-threaded writer.
    import_module
        Imports a module by name (raises ImportError when it is absent); the tests pass one that refuses
        some modules, to check the fallback.

    Returns
    -------
    Codec
        The codec.

    Raises
    ------
    ImportError
        When the codec named is not installed.
    """
    if name in (None, "auto"):
        for candidate in AUTO_READ_ORDER if reading else AUTO_ORDER:
            try:
                return _LOADERS[candidate](import_module)
            except ImportError:
                continue
        raise AssertionError("zlib is always available")  # pragma: no cover
    if name not in _LOADERS:
        raise ValueError(f"unknown codec {name!r}: one of {', '.join(CODECS)} or 'auto'")
    return _LOADERS[name](import_module)


def installed_codecs(import_module: Callable[[str], ModuleType] = _import) -> list[str]:
    """The names of the codecs that can be loaded here.

    Parameters
    ----------
    import_module
        As for :func:`get_codec`.

    Returns
    -------
    list of str
        Codec names, in :data:`CODECS` order.
    """
    out = []
    for name in CODECS:
        try:
            _LOADERS[name](import_module)
        except ImportError:
            continue
        out.append(name)
    return out


def shuffle(block: np.ndarray) -> np.ndarray:
    """HDF5's byte shuffle of ``block``: byte k of every element, for k = 0..itemsize-1, one after the other.

    Parameters
    ----------
    block
        Any array (made C-contiguous first).

    Returns
    -------
    numpy.ndarray
        The shuffled bytes (uint8, 1-D).
    """
    raw = np.ascontiguousarray(block).reshape(-1)
    k = raw.itemsize
    if k == 1:
        return raw.view(np.uint8)
    # One strided copy per byte plane: several times faster than a transposed copy (measured 16 vs 72 ms
    # for a 10 MB chunk of int16).
    planes = raw.view(np.uint8).reshape(-1, k)
    out = np.empty(raw.size * k, dtype=np.uint8)
    for j in range(k):
        out[j * raw.size : (j + 1) * raw.size] = planes[:, j]
    return out


def unshuffle(data, dtype, shape) -> np.ndarray:
    """The array whose :func:`shuffle` is ``data``.

    Parameters
    ----------
    data
        Shuffled bytes (bytes-like).
    dtype
        The elements' dtype.
    shape
        The array's shape.

    Returns
    -------
    numpy.ndarray
        A new C-ordered array.
    """
    dtype = np.dtype(dtype)
    n = len(memoryview(data).cast("B")) // dtype.itemsize
    return unshuffle_elements(data, dtype, 0, n).reshape(shape)


def unshuffle_elements(data, dtype, start: int, stop: int, out: np.ndarray | None = None) -> np.ndarray:
    """Elements ``[start, stop)`` of the array whose :func:`shuffle` is ``data``, without unshuffling the rest.

    Each byte plane of a shuffled buffer holds one byte of every element in order, so a run of elements
    (the rows of a C-ordered chunk) is a run in every plane: the cost is that of the elements asked for.

    Parameters
    ----------
    data
        Shuffled bytes (bytes-like) of a whole chunk.
    dtype
        The elements' dtype.
    start, stop
        The element range.
    out
        A C-contiguous array of ``dtype`` with ``stop - start`` elements to write them into (the rows of a
        larger result: no copy afterwards), or None.

    Returns
    -------
    numpy.ndarray
        A 1-D array of ``stop - start`` elements (a view of ``out`` when given).
    """
    dtype = np.dtype(dtype)
    raw = np.frombuffer(data, dtype=np.uint8)
    k = dtype.itemsize
    n = raw.size // k
    if out is None:
        out = np.empty(stop - start, dtype=dtype)
    else:
        if out.dtype != dtype or out.size != stop - start or not out.flags.c_contiguous:
            raise ValueError(f"out must be a C-contiguous {dtype} array of {stop - start} elements")
        out = out.reshape(-1)
    if k == 1:
        out.view(np.uint8)[:] = raw[start:stop]
        return out
    if k == 2:  # two contiguous integer passes instead of strided byte writes (~4x faster on int16 chunks)
        out16 = out.view(np.uint16)  # native order (little-endian): plane 0 is the first byte in memory
        if np.little_endian:
            out16[:] = raw[n + start : n + stop]
            out16 <<= 8
            out16 |= raw[start:stop]
            return out
    planes = out.view(np.uint8).reshape(stop - start, k)
    for j in range(k):
        planes[:, j] = raw[j * n + start : j * n + stop]
    return out
