"""The factors of the catalog tables a comparison can filter on or put on an axis, and the rows they label.

Design decisions:

- Every factor is a column of the rows a view plots, as text: the catalog's group labels, ``sex`` (from
  the sessions table, by file), ``qc`` (a cell's QC verdict, a unit's curation label) and, for units,
  ``epoch``. A filter keeps the rows whose label is one of the chosen levels; an empty choice keeps all.
- :data:`NOT_CONTROL` is a filter level meaning "every level but the control" (stressed animals, drugged
  animals), so the landing view's "stressed animals" holds for any study's stress labels and survives a
  reload from the URL.
- The drug factor's level is the agent, with the dose when the catalog holds the agent at more than one
  dose ('ketamine 3 mg/kg', 'ketamine 10 mg/kg'; one dose: 'ketamine'), so doses are never pooled; the
  ``dose`` factor stays. A vehicle's amount is a volume, not a dose, so a vehicle control is never split.
  The doses are counted over the whole catalog (its sessions table), so cells and units share the levels
  a filter chooses.
- The control levels come from the metadata, not from names (:func:`control_levels`): for drug, the levels
  whose rows' injection has the role 'vehicle control' (the ``drug_role`` column, the extension's ROLES),
  whatever the vehicle is called ('saline', 'PBS'). Only when no row carries a role (an archive of
  foreign files) does the name rule of :func:`~nwb_ketamine.analysis.group_tables.reference_level` apply
  (saline, vehicle or none for drug; none or control for stress, which has no role). Comparisons and
  normalisation use one control, :func:`control_level`.
- A region is shown as a reader understands it (:func:`region_name`): the study's own label, the full name
  and the Allen CCF acronym ('LHb — lateral habenula (CCF: LH)'; CCF's 'LH' alone reads as lateral
  hypothalamus). That name is the region factor's level, so axes, legends, facet titles, tables and the
  filter options all show it; the rows keep ``region_label`` (the study's) and ``region_ccf`` (the CCF
  acronym) as columns, and a region filter also accepts either of them (URLs saved before the names).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nwb_ketamine.analysis.group_tables import REFERENCE_LEVELS, reference_level
from nwb_ketamine.vocabulary import CCF_REGIONS, ROLES

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
#: The catalog column holding the role of each row's injection, and the role that makes a control.
ROLE_COLUMN = "drug_role"
VEHICLE_ROLE = "vehicle control"
assert VEHICLE_ROLE in ROLES, "the extension's roles name the vehicle control"
#: drug_role values that carry no role: no injection, a foreign file, a catalog without the column.
_NO_ROLE = ("", "none", "nan")
#: The factors a drug group shares with its matched control (normalisation, fraction blocked).
MATCHED_WITHIN = ("region", "stress", "time_group")


def region_names(table: pd.DataFrame) -> list[str]:
    """:func:`region_name` of every row of a catalog table (its ``region_label`` and ``region`` columns).

    Parameters
    ----------
    table : pandas.DataFrame
        Catalog rows with ``region`` (the CCF acronym) and, when the files give it, ``region_label``.

    Returns
    -------
    list of str
        One name per row, in order.
    """
    ccf = table["region"].astype(str).to_numpy()
    label = table["region_label"].astype(str).to_numpy() if "region_label" in table else ccf
    pairs = list(zip(label, ccf, strict=True))
    names = {pair: region_name(*pair) for pair in set(pairs)}
    return [names[pair] for pair in pairs]


#: The columns naming a region besides its level (:func:`region_name`): the study's label, the CCF acronym.
REGION_COLUMNS = ("region_label", "region_ccf")


def region_name(label: str, ccf: str) -> str:
    """The name of a region a reader understands: the study's label, the full name and the CCF acronym.

    Parameters
    ----------
    label : str
        The study's own label ('LHb'; the catalog's ``region_label``, empty when unknown).
    ccf : str
        The Allen CCF acronym (the catalog's ``region``).

    Returns
    -------
    str
        'LHb — lateral habenula (CCF: LH)'; 'CA1 — field CA1 (CCF: CA1)'; without a known CCF term, the label
        (or the acronym) alone.

    Examples
    --------
    >>> region_name("LHb", "LH")
    'LHb — lateral habenula (CCF: LH)'
    >>> region_name("", "somewhere")
    'somewhere'
    """
    label = label if label and label not in ("nan", "none") else ccf
    full = CCF_REGIONS.get(ccf)
    if full is None:
        return label
    full = full[0].lower() + full[1:] if full[1:2].islower() else full
    return f"{label} — {full} (CCF: {ccf})"


def _roles(rows: pd.DataFrame) -> pd.Series | None:
    """The rows' drug roles as text, None when no row carries one (then the name rule applies)."""
    if ROLE_COLUMN not in rows:
        return None
    roles = rows[ROLE_COLUMN].astype(str)
    return roles if (~roles.isin(_NO_ROLE)).any() else None


def control_levels(column: str, rows) -> list[str]:
    """The control levels of factor ``column``: for drug, those whose rows have the role 'vehicle control'.

    For drug, a level is a control when its rows' injection has the role :data:`VEHICLE_ROLE` (the
    ``drug_role`` column), whatever the agent is called. Only when no row carries a role (foreign files,
    or plain levels without rows) is the control found by name, as
    :func:`~nwb_ketamine.analysis.group_tables.reference_level` does (saline, vehicle or none for drug;
    none or control for stress): at most one level. Other factors have no control.

    Parameters
    ----------
    column : str
        The factor.
    rows : pandas.DataFrame or iterable of str
        Rows with the factor's column (and ``drug_role``, from :func:`factor_rows`), or just the levels.

    Returns
    -------
    list of str
        The control levels present, sorted; empty when none is known.
    """
    if isinstance(rows, pd.DataFrame):
        levels = sorted(rows[column].astype(str).unique()) if column in rows else []
        roles = _roles(rows) if column == "drug" else None
        if roles is not None:
            return sorted(set(rows[column].astype(str)[(roles == VEHICLE_ROLE).to_numpy()]))
    else:
        levels = sorted({str(v) for v in rows})
    named = reference_level(column, levels)
    return [named] if named in REFERENCE_LEVELS.get(column, ()) else []


def control_level(column: str, rows) -> str | None:
    """The one level comparisons and normalisation of factor ``column`` are made against.

    The control of :func:`control_levels` (of several vehicle levels, the one with the most rows, then
    the first by name); a factor without a known control compares with its first level.

    Parameters
    ----------
    column : str
        The factor.
    rows : pandas.DataFrame or iterable of str
        Rows with the factor's column (and ``drug_role``), or just the levels (then by name only).

    Returns
    -------
    str or None
        The control level (None without levels).
    """
    controls = control_levels(column, rows)
    if isinstance(rows, pd.DataFrame):
        labels = rows[column].astype(str) if column in rows else pd.Series([], dtype=str)
    else:
        labels = pd.Series([str(v) for v in rows], dtype=str)
    if controls:
        counts = labels[labels.isin(controls)].value_counts()
        return min(controls, key=lambda level: (-int(counts.get(level, 0)), level))
    levels = sorted(labels.unique())
    return levels[0] if levels else None


def ordered_levels(rows, column: str) -> list[str]:
    """The levels of factor ``column`` sorted, the control levels first.

    Parameters
    ----------
    rows : pandas.DataFrame or pandas.Series
        Rows with the factor's column (and ``drug_role``), or the factor's labels alone.
    column : str
        The factor's name.

    Returns
    -------
    list of str
    """
    frame = isinstance(rows, pd.DataFrame)
    levels = sorted((rows[column] if frame else rows).astype(str).unique())
    source = rows if frame else levels
    controls = control_levels(column, source)
    if not controls:
        return levels
    first = control_level(column, source)
    front = [first, *(c for c in controls if c != first)]
    return [*front, *(v for v in levels if v not in front)]


def drug_levels(rows: pd.DataFrame, catalog: pd.DataFrame | None = None) -> np.ndarray:
    """The drug factor's level of each row: the agent, with its dose when the catalog holds it at several.

    Parameters
    ----------
    rows : pandas.DataFrame
        Catalog rows with ``drug``, ``dose`` and (optionally) ``drug_role``.
    catalog : pandas.DataFrame, optional
        The rows whose doses count (the sessions table: every file once); default ``rows``.

    Returns
    -------
    numpy.ndarray of str
        'ketamine 10 mg/kg' for an agent with more than one dose among the catalog's non-vehicle rows,
        else the agent ('ketamine', 'saline').
    """
    drug = rows["drug"].astype(str) if "drug" in rows else pd.Series("none", index=rows.index)
    if "dose" not in rows:
        return drug.to_numpy()
    catalog = rows if catalog is None or not {"drug", "dose"} <= set(catalog.columns) else catalog

    def dosed(frame: pd.DataFrame) -> pd.Series:  # numpydoc ignore=PR01,RT01
        """Rows with a dose that is not a vehicle's volume."""
        dose = frame["dose"].fillna("").astype(str)
        role = frame[ROLE_COLUMN].astype(str) if ROLE_COLUMN in frame else pd.Series("", index=frame.index)
        return ~dose.isin(["", "nan"]) & (role != VEHICLE_ROLE)

    known = catalog[dosed(catalog)]
    doses = known.groupby(known["drug"].astype(str))["dose"].nunique()
    several = set(doses.index[doses > 1])
    split = drug.isin(several) & dosed(rows)
    return np.where(split, drug + " " + rows["dose"].astype(str), drug)


def accepted_source(store, table: str, accepted_only: bool) -> pd.DataFrame:
    """Catalog ``table`` with the QC filter of :func:`factor_rows` applied.

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
        The kept rows, index 0..n-1 (row for row those of ``factor_rows``).
    """
    source = getattr(store, table)
    if accepted_only:
        if table == "cells" and "accepted" in source:
            source = source[source["accepted"].astype(bool)]
        elif table == "units" and "curation_label" in source:
            source = source[source["curation_label"] == "good"]
    return source.reset_index(drop=True)


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
        ``key``, ``subject``, the factors of :data:`FACTORS` (``epoch`` for units only; ``drug`` as
        :func:`drug_levels`; ``region`` as :func:`region_name`), :data:`REGION_COLUMNS`, ``agent`` (the drug
        without its dose), ``drug_role`` and ``file``; index 0..n-1.
    """
    source = accepted_source(store, table, accepted_only)
    rows = pd.DataFrame({"key": source[KEY_COLUMNS[table]].astype(str), "subject": source["subject"].astype(str)})
    for column in ("region", "drug", "dose", "stress", "time_group"):
        rows[column] = source[column].astype(str).to_numpy() if column in source else "none"
    ccf = rows["region"]
    label = source["region_label"].astype(str).to_numpy() if "region_label" in source else ccf.to_numpy()
    rows["region"] = region_names(source)
    rows["region_label"] = np.where(pd.Series(label).isin(["", "nan", "none"]), ccf, label)
    rows["region_ccf"] = ccf.to_numpy()
    rows["agent"] = rows["drug"]
    rows["drug"] = drug_levels(source, store.sessions)
    rows[ROLE_COLUMN] = source[ROLE_COLUMN].astype(str).to_numpy() if ROLE_COLUMN in source else ""
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
        factor → chosen levels (:data:`NOT_CONTROL` for every level but the controls of
        :func:`control_levels`, all levels when the factor has none); an empty list, or a factor the rows
        do not have, keeps every row. A region level may also be given as the study's label or the CCF
        acronym (:data:`REGION_COLUMNS`).

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
            controls = set(control_levels(factor, rows))  # with no known control, every level is kept
            levels |= {str(v) for v in rows[factor].unique()} - controls
        match = rows[factor].isin(levels).to_numpy(copy=True)
        if factor == "region":  # the study's label or the CCF acronym choose a region too
            for column in REGION_COLUMNS:
                if column in rows:
                    match |= rows[column].astype(str).isin(levels).to_numpy()
        keep &= match
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
