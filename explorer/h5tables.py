"""Reading the building blocks of an NWB file with h5py by object path: attributes, table columns, timing.

The detail views' readers (:mod:`~nwb_ketamine.explorer.cellread`, :mod:`~nwb_ketamine.explorer.unitread`,
:mod:`~nwb_ketamine.explorer.rawread`) read our catalog files with h5py instead of building pynwb's objects
(``io.read()`` took about a second per file, while a view needs a few tables). What they all need to read
the same way — a decoded attribute, a ragged column, a TimeSeries' clock, the epochs, the injection, a
parameter table — is read here; strings are decoded by :mod:`nwb_ketamine.h5read`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nwb_ketamine import h5read
from nwb_ketamine.analysis.parameters import COLUMNS as PARAMETER_COLUMNS
from nwb_ketamine.filelayout import ACQUISITION_PATH, DRUG_STRESS_PATH, EPOCHS_PATH, injection_label, the_injection

PARAMETER, VALUE = list(PARAMETER_COLUMNS)[:2]


def attr(obj, name: str, default=None):
    """Attribute ``name`` of an HDF5 object as a Python value (strings decoded), ``default`` when absent.

    Parameters
    ----------
    obj
        An h5py group or dataset.
    name
        The attribute.
    default
        Returned when the attribute is absent.

    Returns
    -------
    object
    """
    value = obj.attrs.get(name, default)
    if isinstance(value, np.generic):
        value = value.item()
    return h5read.decode(value)


def ragged(table, name: str) -> list[np.ndarray]:
    """Every row of a ragged column (``name`` with ``name_index``) of a DynamicTable as an array.

    Parameters
    ----------
    table
        The table's h5py group.
    name
        The column.

    Returns
    -------
    list of ndarray
    """
    ends = np.asarray(table[f"{name}_index"][()], dtype=np.int64)
    values = table[name][()]
    starts = np.concatenate([[0], ends[:-1]])
    return [values[a:b] for a, b in zip(starts, ends, strict=True)]


def row_span(table, name: str, row: int) -> tuple[int, int]:
    """The element range of row ``row`` of the ragged column ``name``: (first, end) into its data.

    Parameters
    ----------
    table, name
        As for :func:`ragged`.
    row
        The row.
    """
    index = table[f"{name}_index"]
    return (int(index[row - 1]) if row else 0), int(index[row])


def colnames(table) -> list[str]:
    """The column names a DynamicTable declares (its ``colnames`` attribute).

    Parameters
    ----------
    table
        The table's h5py group.

    Returns
    -------
    list of str
    """
    return [str(h5read.decode(c)) for c in table.attrs.get("colnames", [])]


def series_timing(group) -> tuple[float, float | None]:
    """(starting_time or 0, rate or None) of a TimeSeries group.

    Parameters
    ----------
    group
        The TimeSeries' h5py group.

    Returns
    -------
    tuple
        (start in s, sampling rate in Hz or None for timestamps).
    """
    if "starting_time" in group:
        start = group["starting_time"]
        rate = start.attrs.get("rate")
        return float(start[()]), (float(rate) if rate is not None else None)
    return 0.0, None


def injection(f) -> tuple[float | None, str]:
    """(time, label) of the session's injection (:func:`nwb_ketamine.filelayout.the_injection`).

    Parameters
    ----------
    f
        The open h5py file.

    Returns
    -------
    tuple
        (administration time on the session clock in s, or None; label such as 'ketamine 10 mg/kg').
    """
    meta = f.get(DRUG_STRESS_PATH)
    if meta is None:
        return None, ""
    administrations = [
        {k: attr(g, k) for k in g.attrs}
        for g in meta.values()
        if h5read.type_of(g) == "DrugAdministration"
    ]  # fmt: skip
    adm = the_injection(administrations)
    if adm is None or adm.get("administration_time") is None:
        return None, ""
    return float(adm["administration_time"]), injection_label(adm)


def parameters(table, cls):
    """A parameter table (:func:`nwb_ketamine.analysis.parameters.parameter_table`) as ``cls``.

    Parameters
    ----------
    table
        The table's h5py group.
    cls
        The :class:`~nwb_ketamine.analysis.parameters.ParameterSet` class to build.

    Returns
    -------
    ParameterSet
    """
    return cls.from_rows(zip(h5read.column(table, PARAMETER), table[VALUE][()], strict=True))


def epochs(f) -> pd.DataFrame:
    """The epochs table as (name, start_s, stop_s), the name being the first tag.

    Parameters
    ----------
    f
        The open h5py file.

    Returns
    -------
    pandas.DataFrame
        One row per epoch (no rows without an epochs table).
    """
    table = f.get(EPOCHS_PATH)
    if table is None or "id" not in table or len(table["id"]) == 0:
        return pd.DataFrame({"name": [], "start_s": [], "stop_s": []})
    n = len(table["id"])
    tags = ragged(table, "tags") if "tags" in table and "tags_index" in table else [np.zeros(0) for _ in range(n)]
    return pd.DataFrame(
        {
            "name": [str(h5read.decode(t[0])) if len(t) else f"epoch {i}" for i, t in enumerate(tags)],
            "start_s": np.asarray(table["start_time"][()], dtype=float),
            "stop_s": np.asarray(table["stop_time"][()], dtype=float),
        }
    )


def raw_series(f) -> list:
    """The raw ElectricalSeries groups in acquisition, in time order (one per recorded segment).

    Parameters
    ----------
    f
        The open h5py file.

    Returns
    -------
    list of h5py.Group
    """
    acquisition = f.get(ACQUISITION_PATH)
    if acquisition is None:
        return []
    groups = [g for g in acquisition.values() if h5read.type_of(g) == "ElectricalSeries"]
    return sorted(groups, key=lambda g: series_timing(g)[0])
