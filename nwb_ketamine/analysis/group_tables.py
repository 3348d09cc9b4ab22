"""Comparison tables over groups of cells or units: animal means, counts, normalisation and the control level.

Every comparison is made twice, with each cell (or unit) and with each animal's mean as the observation
(:func:`comparison_table`, using the two-sample tests of :mod:`nwb_ketamine.analysis.stats`).

The control level by name (:func:`reference_level`, :data:`REFERENCE_LEVELS`) is only a default for tables
without metadata: the explorer finds its controls by the drug roles the files store
(:func:`nwb_ketamine.explorer.factors.control_levels`) and passes the reference in, falling back to the
names only when no row carries a role.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from nwb_ketamine.analysis.stats import STAT_COLUMNS, compare_two

#: Reference level of a contrast column (the control group) by name, when it is present in the data (the
#: rule for data without drug roles, see the module docstring).
REFERENCE_LEVELS = {"drug": ("saline", "vehicle", "none"), "stress": ("none", "control")}


def animal_means(frame, value: str, groups: Sequence[str], subject: str = "subject"):
    """The mean of ``value`` per animal within each group: one row per (groups…, subject).

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per cell (or unit × epoch).
    value : str
        Column to average.
    groups : sequence of str
        Group columns; an animal in two groups gives one mean in each.
    subject : str
        Column naming the animal.

    Returns
    -------
    pandas.DataFrame
        Columns ``groups + [subject, value, "n_cells"]``.
    """
    keys = [*dict.fromkeys([*groups, subject])]
    data = frame[[*keys, value]].dropna(subset=[value])
    grouped = data.groupby(keys, observed=True, sort=True)[value]
    out = grouped.mean().to_frame(value)
    out["n_cells"] = grouped.size()
    return out.reset_index()


def normalise_to_reference(
    frame,
    value: str,
    by: Sequence[str] = ("region", "time_group"),
    column: str = "drug",
    reference: str = "saline",
):
    """``value`` as percent of the mean of the reference group (saline) with the same ``by`` labels.

    Rows whose ``by`` group has no reference cells (or a reference mean of 0) become NaN.

    Parameters
    ----------
    frame
        A pandas DataFrame with one row per cell (or unit).
    value
        The column to normalise.
    by
        Columns whose labels the reference must share (those missing from ``frame`` are ignored).
    column
        The column that holds the reference label.
    reference
        The reference level of ``column``.

    Returns
    -------
    pandas.Series
        ``value`` in percent of the matching reference mean, aligned with ``frame``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"region": ["LH"] * 3, "drug": ["saline", "saline", "ketamine"], "x": [1.0, 3.0, 1.0]})
    >>> normalise_to_reference(df, "x", by=["region"]).tolist()
    [50.0, 150.0, 50.0]
    """
    by = [c for c in by if c in frame.columns]
    is_reference = frame[column] == reference
    if by:
        means = frame[is_reference].groupby(by, observed=True)[value].mean().rename("_reference")
        reference_mean = frame[by].join(means, on=by)["_reference"]
    else:
        reference_mean = frame[value].where(is_reference).mean()
    reference_mean = reference_mean.where(reference_mean != 0) if by else (reference_mean or math.nan)
    return 100.0 * frame[value] / reference_mean


def reference_level(column: str, levels: Sequence[str]) -> str | None:
    """The control level of ``column`` among ``levels`` (saline for drug, none for stress), else the first.

    Parameters
    ----------
    column
        A grouping column, e.g. ``'drug'``.
    levels
        The levels present in the data.

    Returns
    -------
    str or None
        The reference level; None when ``levels`` is empty.
    """
    levels = list(levels)
    for candidate in REFERENCE_LEVELS.get(column, ()):
        if candidate in levels:
            return candidate
    return levels[0] if levels else None


def group_counts(frame, groups: Sequence[str], value: str | None = None, subject: str = "subject"):
    """Cells and animals per group (rows with a NaN ``value`` are not counted).

    Parameters
    ----------
    frame
        A pandas DataFrame with one row per cell (or unit).
    groups
        Columns that define the groups.
    value
        Column whose NaN rows are left out; None counts every row.
    subject
        Column naming the animal of each row.

    Returns
    -------
    pandas.DataFrame
        Columns ``groups + ["n_cells", "n_animals"]``.
    """
    data = frame.dropna(subset=[value]) if value else frame
    groups = list(groups)
    if not groups:
        import pandas as pd

        return pd.DataFrame({"n_cells": [len(data)], "n_animals": [data[subject].nunique()]})
    grouped = data.groupby(groups, observed=True, sort=True)
    out = grouped.size().to_frame("n_cells")
    out["n_animals"] = grouped[subject].nunique()
    return out.reset_index()


def comparison_table(
    frame,
    value: str,
    contrast: str,
    within: Sequence[str] = (),
    reference: str | None = None,
    subject: str = "subject",
):
    """Each level of ``contrast`` against the reference level, within every group of ``within``.

    Each comparison gives two rows: ``level='cells'`` (every cell an observation) and ``level='animals'``
    (the mean per animal an observation).

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per cell or unit × epoch.
    value : str
        Measure column.
    contrast : str
        Column whose levels are compared (e.g. 'drug').
    within : sequence of str
        Columns splitting the data into separate comparisons (e.g. region, time group).
    reference : str, optional
        Level compared against; by default :func:`reference_level`.
    subject : str
        Column naming the animal.

    Returns
    -------
    pandas.DataFrame
        Columns ``within + ["group_a", "group_b"] + STAT_COLUMNS``.
    """
    import pandas as pd

    within = [c for c in dict.fromkeys(within) if c != contrast]
    data = frame.dropna(subset=[value])
    if reference is None:
        reference = reference_level(contrast, sorted(data[contrast].astype(str).unique()))
    # one grouping of the cells and one of the animal means, then numpy slices per comparison
    keys = [*within, contrast]
    cells, cell_values = _group_indices(data, keys), data[value].to_numpy(dtype=float)
    means = animal_means(data, value, keys, subject)
    animals, animal_values = _group_indices(means, keys), means[value].to_numpy(dtype=float)
    empty = np.zeros(0, dtype=np.int64)
    rows = []
    for part in sorted({key[:-1] for key in cells}):
        labels = dict(zip(within, part, strict=True))
        levels = {str(key[-1]): key for key in cells if key[:-1] == part}
        ref = levels.get(str(reference), ())
        for level in sorted(levels):
            if level == str(reference):
                continue
            for name, groups, values in (("cells", cells, cell_values), ("animals", animals, animal_values)):
                a = values[groups.get(levels[level], empty)]
                b = values[groups.get(ref, empty)]
                rows.append({**labels, "group_a": level, "group_b": reference, "level": name, **compare_two(a, b)})
    return pd.DataFrame(rows, columns=[*within, "group_a", "group_b", *STAT_COLUMNS])


def _group_indices(frame, keys: Sequence[str]) -> dict[tuple, np.ndarray]:
    """Row positions of every observed combination of ``keys`` (always tuple keys)."""
    groups = frame.groupby(list(keys), observed=True, sort=True).indices
    return {key if isinstance(key, tuple) else (key,): index for key, index in groups.items()}
