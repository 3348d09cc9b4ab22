"""Decoding what h5py returns: strings, attributes, scalar datasets and DynamicTable columns.

Design decision: the catalog (:mod:`nwb_ketamine.archive.catalog_read`) and the explorer's detail views
(``nwb_ketamine.explorer.h5tables`` and its readers) read our files with h5py instead of building pynwb's
objects (tens of milliseconds instead of about a second per file). h5py returns variable-length strings
as ``bytes`` (pynwb too, over h5py) and attributes as numpy scalars or arrays; they become Python values
here, one way for every reader, the domain checks included.
"""

from __future__ import annotations

import numpy as np


def decode(value):
    """Strings as ``str`` (h5py returns variable-length strings as bytes); other values unchanged.

    Parameters
    ----------
    value
        A value as h5py returns it; a 0-d array is unwrapped first.

    Returns
    -------
    object
        ``value`` with bytes decoded as UTF-8 (undecodable bytes replaced).
    """
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray) and value.shape == ():
        return decode(value[()])
    return value


def text(value) -> str:
    """A value as a string: bytes decoded, an array's first element, ``None`` as ''.

    Parameters
    ----------
    value
        A string, bytes, array (its first element is taken; '' when empty), ``None`` or anything ``str`` takes.

    Returns
    -------
    str
    """
    if isinstance(value, np.ndarray):
        return text(value[()] if value.shape == () else value.ravel()[0]) if value.size else ""
    value = decode(value)
    return "" if value is None else str(value)


def type_of(obj) -> str:
    """The ``neurodata_type`` attribute of an HDF5 object ('' when it has none).

    Parameters
    ----------
    obj
        An h5py group or dataset.

    Returns
    -------
    str
    """
    return text(obj.attrs.get("neurodata_type", ""))


def scalar(group, name: str, default=""):
    """A scalar attribute or dataset of ``group`` as a Python value (strings decoded).

    Parameters
    ----------
    group
        An h5py group, or ``None``.
    name
        The attribute or, when no attribute has that name, the dataset.
    default
        What to return when ``group`` is ``None`` or has neither.

    Returns
    -------
    object
        A ``str`` for string values, a Python number for numeric ones.
    """
    if group is None:
        return default
    if name in group.attrs:
        value = group.attrs[name]
    elif name in group:
        value = group[name][()]
    else:
        return default
    if isinstance(value, bytes | str) or (isinstance(value, np.ndarray) and value.dtype.kind in "OSU"):
        return text(value)
    return value.item() if isinstance(value, np.generic | np.ndarray) else value


def column(table, name: str) -> np.ndarray:
    """A whole 1-D column of a DynamicTable group; strings as an object array of ``str``.

    Parameters
    ----------
    table
        The h5py group of the table.
    name
        The column.

    Returns
    -------
    numpy.ndarray
    """
    data = table[name][()]
    if data.dtype.kind in "OS":
        return np.asarray([decode(v) for v in data], dtype=object)
    return data
