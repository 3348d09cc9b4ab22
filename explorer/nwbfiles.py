"""Opening NWB files read-only once and keeping them open: the detail views' file cache.

Design decisions:

- :func:`open_nwb` opens files read-only once and keeps them open (a small LRU cache keyed by the resolved
  path and its modification time); HDF5 reads are serialised by h5py's own lock, and the cache by ours
  (:data:`lock`, which the raw-window reader also holds while it reads). The namespaces cached in a file
  are loaded only when one of them is not already loaded in this process with the same version (our
  files cache exactly the ones the package registers). :func:`open_nwb` serves the generic view.
- :func:`open_h5` keeps h5py files open the same way, with hdmf's 32 MB chunk cache, because the traces
  view reads a window per pan or zoom.
- **Remote files** (a :class:`~nwb_ketamine.archive.remote.RemoteFile`, what the store of an archive at a
  URL hands out instead of a path) are opened by h5py on a file object that fetches only the blocks HDF5
  asks for, with range requests (:data:`REMOTE_READER`): nothing is downloaded whole. They are cached by
  URL and version (ETag / Last-Modified) instead of path and modification time.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py

from nwb_ketamine.archive.remote import RemoteFile, open_remote

if TYPE_CHECKING:
    from pynwb import NWBHDF5IO, NWBFile

#: Files kept open at once.
MAX_OPEN_FILES = 16

#: HDF5 chunk cache of the files :func:`open_h5` keeps open (hdmf's value: it holds the 5-6 raw chunks of
#: 2 MiB, or the two of 10 MB of older files, that a 10 s window of 16 channels touches, so panning within
#: them decompresses them once).
RDCC_NBYTES = 32 * 1024**2

#: How remote files are read: ``reader`` "remfile" (:func:`~nwb_ketamine.archive.remote.open_remote`, the
#: catalog's reader too; ``block_size``: its minimum chunk; chunks grow on sequential reads), or another
#: reader's ``open(url, size) -> file object`` (``benchmarks/bench_remote_readers.py`` compares fsspec's
#: this way). Chosen from that benchmark (nginx's access log, the tiny archive, cold opens of the cell,
#: unit, 1 s and 10 s raw and file views): at every block size remfile made fewer requests than fsspec's
#: blockcache (16 KiB: 91 vs 543, 64 KiB: 38 vs 145, 256 KiB: 15 vs 40, 1 MiB: 9 vs 12) for about the same
#: bytes; ``readahead`` and ``bytes`` re-fetched what HDF5's scattered reads had read (cell view: 13-19
#: times its file). 256 KiB: 3, 2, 3, 5 and 2 requests, 10.4 MB in all; larger chunks save a few requests
#: by reading more than a view needs (1 MiB: 3.1 MB for 1 s of raw of a 5.9 MB file, vs 1.8 MB). remfile
#: also reads in the calling thread: fsspec's reads run on its event-loop thread, where a garbage
#: collection that frees an h5py object waits for the h5py lock the reading thread holds (h5py#2019; a
#: benchmark run hung so once). h5py's ros3 driver is not built into this h5py (``get_config().ros3``).
REMOTE_READER: dict[str, Any] = {"reader": "remfile", "block_size": 256 * 1024}

#: Held while a cached file is opened, closed or read.
lock = threading.RLock()
_open: OrderedDict[tuple, tuple[NWBHDF5IO, NWBFile, object]] = OrderedDict()
_open_h5: OrderedDict[tuple, tuple[h5py.File, object]] = OrderedDict()
#: h5py ``filename`` of an open remote file → its version key (h5py names a file object by its repr).
_remote_keys: dict[str, tuple] = {}


def version_key(path) -> tuple:
    """What the caches key a file by: (resolved path, mtime) locally, (URL, version) for a remote file.

    Parameters
    ----------
    path
        A local path or a :class:`~nwb_ketamine.archive.remote.RemoteFile`.

    Returns
    -------
    tuple
    """
    if isinstance(path, RemoteFile):
        return (path.url, path.version)
    path = Path(path).resolve()
    return (str(path), path.stat().st_mtime_ns)


def file_key(f: h5py.File) -> tuple:
    """:func:`version_key` of an open h5py file (a remote one opened here is known by its file object).

    Parameters
    ----------
    f
        An open file.

    Returns
    -------
    tuple
    """
    key = _remote_keys.get(f.filename)
    return key if key is not None else (f.filename, os.stat(f.filename).st_mtime_ns)


def _remote_fileobj(remote: RemoteFile):
    """A file object on ``remote`` that reads with range requests (:data:`REMOTE_READER`)."""
    reader = REMOTE_READER
    opener = reader.get("open")
    if opener is not None:  # another reader (the benchmark's)
        return opener(remote.url, remote.size)
    return open_remote(remote.url, size=remote.size, block_size=int(reader["block_size"]))


def h5_file(path, **kwargs) -> tuple[h5py.File, object]:
    """Open ``path`` read-only with h5py: a local file, or a remote one through range requests.

    Parameters
    ----------
    path
        A local path or a :class:`~nwb_ketamine.archive.remote.RemoteFile`.
    **kwargs
        Passed to :class:`h5py.File` (e.g. ``rdcc_nbytes``).

    Returns
    -------
    (h5py.File, file object or None)
        The file, and the file object under a remote one (close it after the file), else None.
    """
    if not isinstance(path, RemoteFile):
        return h5py.File(Path(path), "r", **kwargs), None
    fileobj = _remote_fileobj(path)
    try:
        f = h5py.File(fileobj, "r", **kwargs)
    except BaseException:
        fileobj.close()
        raise
    _remote_keys[f.filename] = version_key(path)
    return f, fileobj


def close_h5(f: h5py.File, fileobj) -> None:
    """Close a file :func:`h5_file` opened, and the file object under it.

    Parameters
    ----------
    f
        The file.
    fileobj
        Its file object (None for a local file).
    """
    name = f.filename if f.id.valid else ""
    f.close()
    if fileobj is not None:
        _remote_keys.pop(name, None)
        fileobj.close()


@contextlib.contextmanager
def reading(path, **kwargs):
    """``with reading(path) as f``: :func:`h5_file` for one read, closed after it.

    Parameters
    ----------
    path
        A local path or a :class:`~nwb_ketamine.archive.remote.RemoteFile`.
    **kwargs
        Passed to :class:`h5py.File`.

    Yields
    ------
    h5py.File
    """
    f, fileobj = h5_file(path, **kwargs)
    try:
        yield f
    finally:
        close_h5(f, fileobj)


def open_h5(path) -> h5py.File:
    """The HDF5 file at ``path`` opened read-only with h5py and kept open (an LRU like :func:`open_nwb`).

    Parameters
    ----------
    path
        An HDF5 file. The caller resolves it (the store, never user input).

    Returns
    -------
    h5py.File
    """
    key = version_key(path)
    with lock:
        if key in _open_h5:
            _open_h5.move_to_end(key)
            return _open_h5[key][0]
        f, fileobj = h5_file(path if isinstance(path, RemoteFile) else key[0], rdcc_nbytes=RDCC_NBYTES)
        _open_h5[key] = (f, fileobj)
        while len(_open_h5) > MAX_OPEN_FILES:
            _, old = _open_h5.popitem(last=False)
            close_h5(*old)
        return f


def open_nwb(path) -> NWBFile:
    """The NWBFile at ``path``, opened read-only and cached.

    The namespaces cached in the file are loaded unless the same versions are loaded already.

    Parameters
    ----------
    path
        An NWB (HDF5) file. The caller resolves it (the store, never user input).

    Returns
    -------
    pynwb.NWBFile

    Raises
    ------
    OSError, ValueError, ...
        Whatever h5py or pynwb raises for a file that is not readable NWB.
    """
    from pynwb import NWBHDF5IO

    import nwb_ketamine.extension  # noqa: F401  (registers the drug_stress classes)

    key = version_key(path)
    with lock:
        if key in _open:
            _open.move_to_end(key)
            return _open[key][1]
        fileobj = None
        if isinstance(path, RemoteFile):
            f, fileobj = h5_file(path)
            try:
                io = NWBHDF5IO(file=f, mode="r", load_namespaces=not _namespaces_loaded(f))
            except BaseException:
                close_h5(f, fileobj)
                raise
        elif _namespaces_loaded(key[0]):
            io = NWBHDF5IO(key[0], mode="r", load_namespaces=False)
        else:
            io = NWBHDF5IO(key[0], mode="r", load_namespaces=True)
        try:
            nwbfile = io.read()
        except BaseException:
            _close_io(io, fileobj)
            raise
        _open[key] = (io, nwbfile, fileobj)
        while len(_open) > MAX_OPEN_FILES:
            _, (old, _, old_fileobj) = _open.popitem(last=False)
            _close_io(old, old_fileobj)
        return nwbfile


def _close_io(io, fileobj) -> None:
    """Close an NWBHDF5IO and, for a remote file, the file object under it."""
    io.close()
    if fileobj is not None:
        fileobj.close()


def _namespaces_loaded(path) -> bool:
    """Whether every namespace cached in ``path`` (a path or an open h5py file) is loaded, same version."""
    from pynwb import get_type_map

    from nwb_ketamine.schema_validation import _versions_in, cached_namespace_versions

    try:
        cached = _versions_in(path) if isinstance(path, h5py.File) else cached_namespace_versions(path)
    except OSError:
        return False  # let pynwb raise its own error
    catalog = get_type_map(copy=False).namespace_catalog
    loaded = {name: str(catalog.get_namespace(name).version) for name in catalog.namespaces}
    # one loaded version per name: a file caching two versions of a namespace is not covered either
    return all(loaded.get(name) == version for name, version in cached) and len({n for n, _ in cached}) == len(cached)


def close_all() -> None:
    """Close every cached file (tests, shutdown)."""
    with lock:
        while _open:
            _, (io, _, fileobj) = _open.popitem()
            _close_io(io, fileobj)
        while _open_h5:
            _, (f, fileobj) = _open_h5.popitem()
            close_h5(f, fileobj)
