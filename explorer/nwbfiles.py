"""Opening NWB files read-only once and keeping them open: the detail views' file cache.

Design decisions:

- :func:`open_nwb` opens files read-only once and keeps them open (a small LRU cache keyed by the resolved
  path and its modification time); HDF5 reads are serialised by h5py's own lock, and the cache by ours
  (:data:`lock`, which the raw-window reader also holds while it reads). The namespaces cached in a file
  are loaded only when one of them is not already loaded in this process with the same version (our
  files cache exactly the ones the package registers). :func:`open_nwb` serves the generic view.
- :func:`open_h5` keeps h5py files open the same way, with hdmf's 32 MB chunk cache, because the traces
  view reads a window per pan or zoom.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

import h5py

if TYPE_CHECKING:
    from pynwb import NWBHDF5IO, NWBFile

#: Files kept open at once.
MAX_OPEN_FILES = 16

#: HDF5 chunk cache of the files :func:`open_h5` keeps open (hdmf's value: it holds the 5-6 raw chunks of
#: 2 MiB, or the two of 10 MB of older files, that a 10 s window of 16 channels touches, so panning within
#: them decompresses them once).
RDCC_NBYTES = 32 * 1024**2

#: Held while a cached file is opened, closed or read.
lock = threading.RLock()
_open: OrderedDict[tuple[str, int], tuple[NWBHDF5IO, NWBFile]] = OrderedDict()
_open_h5: OrderedDict[tuple[str, int], h5py.File] = OrderedDict()


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
    path = Path(path).resolve()
    key = (str(path), path.stat().st_mtime_ns)
    with lock:
        if key in _open_h5:
            _open_h5.move_to_end(key)
            return _open_h5[key]
        f = h5py.File(path, "r", rdcc_nbytes=RDCC_NBYTES)
        _open_h5[key] = f
        while len(_open_h5) > MAX_OPEN_FILES:
            _, old = _open_h5.popitem(last=False)
            old.close()
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

    path = Path(path).resolve()
    key = (str(path), path.stat().st_mtime_ns)
    with lock:
        if key in _open:
            _open.move_to_end(key)
            return _open[key][1]
        if _namespaces_loaded(path):
            io = NWBHDF5IO(str(path), mode="r", load_namespaces=False)
        else:
            io = NWBHDF5IO(str(path), mode="r", load_namespaces=True)
        try:
            nwbfile = io.read()
        except BaseException:
            io.close()
            raise
        _open[key] = (io, nwbfile)
        while len(_open) > MAX_OPEN_FILES:
            _, (old, _) = _open.popitem(last=False)
            old.close()
        return nwbfile


def _namespaces_loaded(path) -> bool:
    """Whether every namespace cached in ``path`` is loaded in pynwb's global type map, same version."""
    from pynwb import get_type_map

    from nwb_ketamine.schema_validation import cached_namespace_versions

    try:
        cached = cached_namespace_versions(path)
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
            _, (io, _) = _open.popitem()
            io.close()
        while _open_h5:
            _, f = _open_h5.popitem()
            f.close()
