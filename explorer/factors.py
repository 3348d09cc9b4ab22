"""The factors of the catalog tables a comparison can filter on or put on an axis, and the rows they label.

Design decisions:

- Every factor is a column of the rows a view plots, as text: the catalog's group labels, ``sex`` (from
  the sessions table, by file), ``qc`` (a cell's QC verdict, a unit's curation label) and, for units,
  ``epoch``. A filter keeps the rows whose label is one of the chosen levels; an empty choice keeps all.
- :data:`NOT_CONTROL` is a filter level meaning "every level but the control" (stressed animals, drugged
  animals), so the landing view's "stressed animals" holds for any study's stress labels and survives a
  reload from the URL.
- The control level of a factor is :func:`~nwb_ketamine.analysis.group_tables.reference_level` of its levels
  (saline for drug, none or control for stress); :func:`control_level` is the one place that would read
  a drug-role column once the catalog carries one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nwb_ketamine.analysis.group_tables import REFERENCE_LEVELS, reference_level

#: factor → label, in the order the controls list them.
FACTORS = {
    "region": "Region",
    "drug": "Drug",
    "dose": "Dose",
    "stress": "Stress",
    "time_group": "Time since injection",
    "epoch": "Epoch",
    "sex": "Sex",
    "qc": "QC / curation",
}
#: A filter level: every level of the factor but its control.
NOT_CONTROL = "all but control"
#: The epochs of a unit: the pre-injection baseline, and the default one shown when epoch is on no axis.
BASELINE_EPOCH = "baseline"
DEFAULT_EPOCH = "post-injection"
KEY_COLUMNS = {"cells": "cell_key", "units": "unit_key"}
#: The factors a drug group shares with its matched control (normalisation, fraction blocked).
MATCHED_WITHIN = ("region", "stress", "time_group")


def control_level(column: str, levels) -> str | None:
    """The control level of factor ``column`` among ``levels`` (:func:`reference_level`).

    Parameters
    ----------
    column : str
        The factor.
    levels : iterable of str
        Its levels in the data.

    Returns
    -------
    str or None
        The control level (None without levels).
    """
    return reference_level(column, sorted({str(v) for v in levels}))


def ordered_levels(series: pd.Series, column: str) -> list[str]:
    """The levels of ``series`` sorted, the control first.

    Parameters
    ----------
    series : pandas.Series
        A factor's labels.
    column : str
        The factor's name.

    Returns
    -------
    list of str
    """
    levels = sorted(series.astype(str).unique())
    reference = control_level(column, levels) if levels else None
    if reference is None or reference not in levels or column not in ("drug", "stress"):
        return levels
    return [reference, *[v for v in levels if v != reference]]


def factor_rows(store, table: str, accepted_only: bool) -> pd.DataFrame:
    """The rows of catalog ``table`` with ``key`` and every factor as text (QC filter applied).

    Parameters
    ----------
    store : ArchiveStore
        The catalog.
    table : str
        'cells' or 'units'.
    accepted_only : bool
        Keep only QC-accepted cells, or units curated 'good'.

    Returns
    -------
    pandas.DataFrame
        ``key``, ``subject``, the factors of :data:`FACTORS` (``epoch`` for units only) and ``file``;
        index 0..n-1.
    """
    source = getattr(store, table)
    if accepted_only:
        if table == "cells" and "accepted" in source:
            source = source[source["accepted"].astype(bool)]
        elif table == "units" and "curation_label" in source:
            source = source[source["curation_label"] == "good"]
    source = source.reset_index(drop=True)
    rows = pd.DataFrame({"key": source[KEY_COLUMNS[table]].astype(str), "subject": source["subject"].astype(str)})
    for column in ("region", "drug", "dose", "stress", "time_group"):
        rows[column] = source[column].astype(str).to_numpy() if column in source else "none"
    if table == "units":
        rows["epoch"] = source["epoch"].astype(str).to_numpy() if "epoch" in source else "none"
    rows["file"] = source["file"].to_numpy()
    sessions = store.sessions
    if "sex" in source:
        rows["sex"] = source["sex"].astype(str).to_numpy()
    elif "sex" in sessions and "file" in sessions:
        rows["sex"] = rows["file"].map(sessions.drop_duplicates("file").set_index("file")["sex"]).astype(str)
    else:
        rows["sex"] = "unknown"
    rows["sex"] = rows["sex"].replace({"nan": "unknown", "": "unknown"})
    if table == "cells":
        accepted = source["accepted"].astype(bool) if "accepted" in source else pd.Series(True, index=source.index)
        rows["qc"] = np.where(accepted, "accepted", "rejected")
    else:
        rows["qc"] = source["curation_label"].astype(str).to_numpy() if "curation_label" in source else "unknown"
    return rows


def filter_mask(rows: pd.DataFrame, filters: dict[str, list[str]]) -> np.ndarray:
    """Rows whose label is one of the chosen levels of every filtered factor.

    Parameters
    ----------
    rows : pandas.DataFrame
        Output of :func:`factor_rows`.
    filters : dict
        factor → chosen levels (:data:`NOT_CONTROL` for every level but the control, all levels when
        none is a named control of :data:`~nwb_ketamine.analysis.group_tables.REFERENCE_LEVELS`); an empty list, or
        a factor the rows do not have, keeps every row.

    Returns
    -------
    numpy.ndarray of bool
    """
    keep = np.ones(len(rows), dtype=bool)
    for factor, chosen in filters.items():
        if not chosen or factor not in rows:
            continue
        levels = set(chosen) - {NOT_CONTROL}
        if NOT_CONTROL in chosen:
            present = rows[factor].unique()
            control = control_level(factor, present)
            known = control in REFERENCE_LEVELS.get(factor, ())  # with no named control, every level is kept
            levels |= {str(v) for v in present if v != control or not known}
        keep &= rows[factor].isin(levels).to_numpy()
    return keep


def one_epoch(rows: pd.DataFrame, axes, preferred: str = DEFAULT_EPOCH) -> tuple[pd.DataFrame, str | None]:
    """Unit × epoch rows restricted to one epoch unless epoch (or the unit's time group) is on an axis.

    A unit measured in two epochs would otherwise count twice in one box.

    Parameters
    ----------
    rows : pandas.DataFrame
        Rows with an ``epoch`` column (others are returned unchanged).
    axes : iterable of str
        The factors on the view's axes.
    preferred : str
        The epoch kept when it is present; else the last one in sorted order.

    Returns
    -------
    rows : pandas.DataFrame
    epoch : str or None
        The epoch kept, None when nothing was restricted.
    """
    if "epoch" not in rows or {"epoch", "time_group"} & set(axes):
        return rows, None
    epochs = sorted(rows["epoch"].unique())
    if len(epochs) <= 1:
        return rows, None
    kept = preferred if preferred in epochs else epochs[-1]
    return rows[rows["epoch"].to_numpy() == kept], kept
