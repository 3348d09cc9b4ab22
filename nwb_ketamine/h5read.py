"""Reading NWB files with h5py by object path: the pieces the catalog and the explorer share.

Design decision: the catalog (:mod:`nwb_ketamine.archive.catalog`) and the explorer's detail views
(``nwb_ketamine.explorer.nwbread``) read our own files with h5py instead of building pynwb's objects
(tens of milliseconds instead of about a second per file). They read different things, but a DynamicTable
column is read the same way in both, here.
"""

from __future__ import annotations

import numpy as np


def decode(value):
    """Strings as ``str`` (h5py returns variable-length strings as bytes); other values unchanged."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray) and value.shape == ():
        return decode(value[()])
    return value


def column(table, name) -> np.ndarray:
    """A whole 1-D column of a DynamicTable group; strings as an object array of ``str``."""
    data = table[name][()]
    if data.dtype.kind in "OS":
        return np.asarray([decode(v) for v in data], dtype=object)
    return data
