"""The compare view's statistics table: cell-level, animal-level and mixed-model rows, Holm-adjusted.

Each comparison (a level of the contrast against its control, within a group of the other axes) gives a
row per unit of observation: ``cells`` (every cell or unit a point; Mann–Whitney and Welch), ``animals``
(the animal means; same tests) and, on demand, the mixed model with the animal as a random intercept. The
table's p column is each row's own test (Mann–Whitney, or the mixed model's Wald test) and ``p_holm``
adjusts it over the table's rows, the family stated in :func:`caption`. The statistics themselves are
:mod:`nwb_ketamine.analysis.group_tables` and :mod:`nwb_ketamine.analysis.hierarchical`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from nwb_ketamine.analysis.group_tables import comparison_table
from nwb_ketamine.analysis.hierarchical import adjust_p, format_p, mixed_model_table, power_note
from nwb_ketamine.analysis.stats import STAT_COLUMNS

MIXED_LEVEL = "mixed model (animal random effect)"
#: Columns after the stats module's: the mixed model's, the row's p, its adjustment and a note.
EXTRA_COLUMNS = ["n_obs", "n_animals", "estimate", "std_error", "ci_low", "ci_high", "converged", "p", "p_holm", "note"]
#: The displayed columns (fixed, so the table does not rebuild its column models on a change).
DISPLAY_COLUMNS = ["within", "group_a", "group_b", "level", "n_a", "n_b", "p", "p_holm", "rank_biserial",
                   "hedges_g", "estimate", "ci", "note"]  # fmt: skip
_LEVEL_ORDER = {"cells": 0, "animals": 1, MIXED_LEVEL: 2}


def statistics_table(
    data: pd.DataFrame, value: str, contrast: str, within: Sequence[str], reference: str | None, mixed: bool
) -> pd.DataFrame:
    """Every comparison's rows, with the Holm-adjusted p over the table and the animal-level power note.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per cell (or unit in one epoch), with ``value``, ``subject`` and the group columns.
    value : str
        The measure's column.
    contrast : str
        The factor whose levels are compared with its control.
    within : sequence of str
        The factors splitting the comparisons.
    reference : str or None
        The control level (None: :func:`~nwb_ketamine.analysis.group_tables.reference_level`).
    mixed : bool
        Add the mixed-model row of each comparison.

    Returns
    -------
    pandas.DataFrame
        Columns ``within + ["group_a", "group_b"] + STAT_COLUMNS + EXTRA_COLUMNS``.
    """
    within = [c for c in dict.fromkeys(within) if c != contrast]
    table = comparison_table(data, value, contrast, within, reference=reference)
    table = table.reindex(columns=[*table.columns, *EXTRA_COLUMNS])
    table["p"] = table["mann_whitney_p"]
    animal = table["level"] == "animals"
    table["note"] = ""
    table.loc[animal, "note"] = [
        power_note(int(a), int(b)) for a, b in zip(table.n_a[animal], table.n_b[animal], strict=True)
    ]
    if mixed and len(table):
        control = str(table["group_b"].iloc[0])
        models = mixed_model_table(data, value, contrast, control, within)
        models = models.assign(level=MIXED_LEVEL, note="")
        models["note"] = [
            f"{int(n)} obs, {int(a)} animals" + ("; did not converge" if c == 0.0 else "")
            for n, a, c in zip(models["n_obs"], models["n_animals"], models["converged"], strict=True)
        ]
        table = pd.concat([table, models.reindex(columns=table.columns)], ignore_index=True)
        order = table["level"].map(_LEVEL_ORDER)
        table = table.assign(_order=order).sort_values([*within, "group_a", "_order"], kind="stable")
        table = table.drop(columns="_order").reset_index(drop=True)
    table["p_holm"] = _holm(table["p"].to_numpy(dtype=float)) if len(table) else []
    table["note"] = table["note"].fillna("")
    return table


def _holm(p: np.ndarray) -> np.ndarray:
    """:func:`adjust_p` (Holm) without the cost of the full garbage collection statsmodels' Holm branch runs.

    In a served session holding 10,000-row documents that collection takes ~130 ms; frozen objects are
    not scanned, and unfreezing returns them to the collector unchanged.
    """
    import gc

    gc.freeze()
    try:
        return adjust_p(p, "holm")
    finally:
        gc.unfreeze()


def caption(table: pd.DataFrame) -> str:
    """The table's caption: what p is on each row and the family of the Holm adjustment.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`statistics_table`.

    Returns
    -------
    str
    """
    n = int(np.isfinite(table["p"].to_numpy(dtype=float)).sum()) if len(table) else 0
    return (
        "Each level vs the control. p: Mann–Whitney U on cells (units) or on animal means; the mixed model's "
        f"Wald test on its row. p_holm: Holm–Bonferroni over the {n} p-values of this table (its rows are the "
        "family). Effect sizes: rank-biserial r, Hedges' g; estimate: the mixed model's difference with its 95 % CI."
    )


def display(table: pd.DataFrame) -> pd.DataFrame:
    """The statistics as shown: the groups of each comparison in one 'within' column, p with significant digits.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`statistics_table`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`DISPLAY_COLUMNS`.
    """
    fixed = {"group_a", "group_b", *STAT_COLUMNS, *EXTRA_COLUMNS}
    within = [c for c in table.columns if c not in fixed]
    shown = pd.DataFrame(index=table.index)
    shown["within"] = table[within].astype(str).agg(" · ".join, axis=1) if within and len(table) else "all"
    for column in ("group_a", "group_b", "level"):
        shown[column] = table[column]
    shown["n_a"], shown["n_b"] = table["n_a"].astype("Int64"), table["n_b"].astype("Int64")
    shown["p"] = [format_p(v) for v in table["p"]]
    shown["p_holm"] = [format_p(v) for v in table["p_holm"]]
    for column in ("rank_biserial", "hedges_g", "estimate"):
        shown[column] = [float(f"{v:.3g}") if np.isfinite(v) else np.nan for v in table[column].astype(float)]
    shown["ci"] = [
        f"[{lo:.3g}, {hi:.3g}]" if np.isfinite(lo) and np.isfinite(hi) else ""
        for lo, hi in zip(table["ci_low"].astype(float), table["ci_high"].astype(float), strict=True)
    ]
    shown["note"] = table["note"]
    return shown.reindex(columns=DISPLAY_COLUMNS).reset_index(drop=True)
