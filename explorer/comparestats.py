"""The compare view's statistics table: cell-level, animal-level and mixed-model rows, Holm-adjusted.

Each comparison (a level of the contrast against its control, within a group of the other axes) gives a
row per unit of observation: ``cells`` (every cell or unit a point; Mann–Whitney and Welch), ``animals``
(the animal means; same tests) and, on demand, the mixed model with the animal as a random intercept. The
table's p column is each row's own test (Mann–Whitney, or the mixed model's Wald test) and ``p_holm``
adjusts it over the table's rows, the family stated in :func:`caption`. The statistics themselves are
:mod:`nwb_ketamine.analysis.group_tables` and :mod:`nwb_ketamine.analysis.hierarchical`.

With the mixed model, data holding two regions or more and two drug levels or more also get a region ×
drug interaction row per group of the other axes (:func:`interaction_rows`): the question "does the drug
act differently in LHb and CA1" is that interaction, not two separate drug contrasts. It is fitted only
on demand, like the other mixed models, and its method is stated in the row's note, so the CSV says it too.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from nwb_ketamine.analysis.group_tables import comparison_table
from nwb_ketamine.analysis.hierarchical import adjust_p, format_p, interaction_test, mixed_model_table, power_note
from nwb_ketamine.analysis.stats import STAT_COLUMNS
from nwb_ketamine.explorer.factors import control_level

MIXED_LEVEL = "mixed model (animal random effect)"
#: Columns after the stats module's: the mixed model's, the row's p, its adjustment and a note.
EXTRA_COLUMNS = ["n_obs", "n_animals", "estimate", "std_error", "ci_low", "ci_high", "converged", "p", "p_holm", "note"]
#: The displayed columns (fixed, so the table does not rebuild its column models on a change).
DISPLAY_COLUMNS = ["within", "group_a", "group_b", "level", "n_a", "n_b", "p", "p_holm", "rank_biserial",
                   "hedges_g", "estimate", "ci", "note"]  # fmt: skip
#: The columns in words, as a reader sees them in the table and the CSV ({unit}: the measure's unit).
TITLES = {
    "within": "Compared within",
    "group_a": "Group",
    "group_b": "Compared with (control)",
    "level": "Unit of observation",
    "n_a": "n in group",
    "n_b": "n in control",
    "p": "p",
    "p_holm": "p, Holm-adjusted",
    "mann_whitney_u": "Mann–Whitney U",
    "mann_whitney_p": "Mann–Whitney p",
    "rank_biserial": "Rank-biserial r (effect size)",
    "welch_t": "Welch t",
    "welch_p": "Welch p",
    "welch_df": "Welch degrees of freedom",
    "hedges_g": "Hedges' g (effect size)",
    "n_obs": "n observations (mixed model)",
    "n_animals": "n animals (mixed model)",
    "estimate": "Difference, mixed model ({unit})",
    "std_error": "Standard error ({unit})",
    "ci_low": "95 % CI, low ({unit})",
    "ci_high": "95 % CI, high ({unit})",
    "ci": "95 % CI ({unit})",
    "converged": "Mixed model converged",
    "note": "Note",
    # the other columns of the exported CSV (the factors, the view's settings, the provenance)
    "measure": "Measure",
    "subject": "Animal",
    "region_label": "Region (study's label)",
    "region_ccf": "Region (CCF acronym)",
    "agent": "Agent injected",
    "dose_value": "Dose value",
    "dose_unit": "Dose unit",
    "drug_role": "Role of the drug (control or treatment)",
    "hours_since_injection": "Hours since injection (h)",
    "view": "View",
    "view_measure": "View: measure",
    "view_grouping": "View: grouping (JSON)",
    "view_plot": "View: plot",
    "view_normalised": "View: normalised to control",
    "view_mixed_model": "View: mixed model",
    "view_filters": "View: filters (JSON)",
    "view_accepted_only": "View: QC-accepted only",
    "view_epoch_shown": "View: epoch shown",
    "nwb_ketamine_version": "nwb-ketamine version",
    "catalog_sha256": "Catalog SHA-256",
    "catalog_source": "Catalog source",
}
_LEVEL_ORDER = {"cells": 0, "animals": 1, MIXED_LEVEL: 2}
#: The interaction rows' level, the factors they cross and the method stated in their note.
INTERACTION_LEVEL = "interaction (mixed model)"
INTERACTION = ("region", "drug")
INTERACTION_METHOD = {
    1: "value ~ region * drug, random intercept per animal (REML); Wald z test of the interaction coefficient",
    2: "value ~ region * drug, random intercept per animal (REML); joint Wald χ² test of the {df} interaction "
    "coefficients",
}


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
        Add the mixed-model row of each comparison, and the region × drug interaction rows
        (:func:`interaction_rows`).

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
    if mixed:
        interactions = interaction_rows(data, value, [contrast, *within])
        if len(interactions):
            # a group label the table has no column for (the contrast's level) goes into group_b
            other = [c for c in interactions.columns if c not in table.columns]
            if other:
                interactions["group_b"] = interactions[other].astype(str).agg(" · ".join, axis=1)
            table = pd.concat([table, interactions.reindex(columns=table.columns)], ignore_index=True)
    table["p_holm"] = holm(table["p"].to_numpy(dtype=float)) if len(table) else []
    table["note"] = table["note"].fillna("")
    return table


def interaction_rows(data: pd.DataFrame, value: str, axes: Sequence[str]) -> pd.DataFrame:
    """The region × drug interaction of each group of the axes other than region and drug.

    Only when the data hold two regions or more and two drug levels or more; each group of the other axes
    (e.g. each time since injection) is one mixed model
    (:func:`~nwb_ketamine.analysis.hierarchical.interaction_test`).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per cell (or unit in one epoch), with ``value``, ``subject``, ``region`` and ``drug``.
    value : str
        The measure's column.
    axes : sequence of str
        The factors on the view's axes (the groups are those of the ones other than region and drug).

    Returns
    -------
    pandas.DataFrame
        The other axes' columns, ``group_a`` ('region × drug'), ``group_b`` (''), ``level``
        (:data:`INTERACTION_LEVEL`), the estimate, its standard error and Wald 95 % CI (one coefficient
        only), ``p``, ``n_obs``, ``n_animals``, ``converged`` and ``note`` (the method); empty otherwise.
    """
    from scipy.special import ndtri

    a, b = INTERACTION
    if any(c not in data or data[c].nunique() < 2 for c in INTERACTION):
        return pd.DataFrame()
    within = [c for c in dict.fromkeys(axes) if c not in INTERACTION]
    rows = []
    for key, part in data.groupby(within, observed=True, sort=True) if within else [((), data)]:
        labels = dict(zip(within, key if isinstance(key, tuple) else (key,), strict=True))
        got = interaction_test(part, value, a, b)
        df = int(got["df"]) if np.isfinite(got["df"]) else 1
        method = INTERACTION_METHOD[min(df, 2)].format(df=df)
        regions, drugs = (sorted(part[c].dropna().astype(str).unique()) for c in INTERACTION)
        sign = 1.0
        if len(regions) == len(drugs) == 2 and np.isfinite(got["p"]):
            # the coefficient as (drug − control) in one region − in the other
            control = control_level(b, part) or drugs[0]  # the vehicle control, by the rows' roles
            other = next(d for d in drugs if d != control)
            sign = 1.0 if control == drugs[0] else -1.0
            method += f"; estimate = ({other} − {control}) in {regions[1]} − ({other} − {control}) in {regions[0]}"
        estimate, z = sign * got["estimate"], float(ndtri(0.975)) * got["std_error"]
        note = f"{method}; {int(got['n_obs'])} obs, {int(got['n_animals'])} animals"
        if not np.isfinite(got["p"]):
            note += "; not estimable (a region × drug combination has no data)"
        elif got["converged"] == 0.0:
            note += "; did not converge"
        rows.append({**labels, "group_a": f"{a} × {b}", "group_b": "", "level": INTERACTION_LEVEL,
                     "estimate": estimate, "std_error": got["std_error"], "ci_low": estimate - z,
                     "ci_high": estimate + z, "p": got["p"], "n_obs": got["n_obs"],
                     "n_animals": got["n_animals"], "converged": got["converged"], "note": note})  # fmt: skip
    return pd.DataFrame(rows)


def holm(p: np.ndarray) -> np.ndarray:
    """:func:`adjust_p` (Holm) without the cost of the full garbage collection statsmodels' Holm branch runs.

    In a served session holding 10,000-row documents that collection takes ~130 ms; frozen objects are
    not scanned, and unfreezing returns them to the collector unchanged.

    Parameters
    ----------
    p : numpy.ndarray
        The family's p-values (NaN stays NaN).

    Returns
    -------
    numpy.ndarray
        Holm-adjusted p-values, same order.
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
    text = (
        "Each level vs the control. p: Mann–Whitney U on cells (units) or on animal means; the mixed model's "
        f"Wald test on its row. 'p, Holm-adjusted': Holm–Bonferroni over the {n} p-values of this table (its rows "
        "are the family). Effect sizes: rank-biserial r, Hedges' g; estimate: the mixed model's difference with its "
        "95 % CI."
    )
    interactions = table[table["level"] == INTERACTION_LEVEL] if len(table) else table
    if len(interactions):
        text += (
            " Region × drug interaction rows: does the drug effect differ between regions? A mixed model "
            "(value ~ region * drug, random intercept per animal, REML) per group of the other axes; p is the Wald "
            "test of the interaction term (z with two levels of each factor, else χ² on all its coefficients), its "
            "estimate the difference of the drug effects between the regions, in the measure's unit (see the note). "
            + "; ".join(f"{_within_text(row)}p = {format_p(row.p)}" for row in interactions.itertuples())
            + "."
        )
    return text


def _within_text(row) -> str:
    """'1h: ' for an interaction row within a group of other axes ('' for the whole data)."""
    fixed = {"group_a", "group_b", "Index", *STAT_COLUMNS, *EXTRA_COLUMNS}
    parts = [str(v) for k, v in row._asdict().items() if k not in fixed and isinstance(v, str) and v]
    return f"{' · '.join(parts)}: " if parts else ""


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
    labels = table[within].astype(object).where(table[within].notna(), "").astype(str)
    shown["within"] = (
        labels.agg(lambda r: " · ".join(v for v in r if v) or "all", axis=1) if within and len(table) else "all"
    )
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


def titles(columns: Sequence[str], unit: str) -> dict[str, str]:
    """The reader's title of each of ``columns`` (:data:`TITLES`; other columns are factors, titled as such).

    Parameters
    ----------
    columns : sequence of str
        Columns of :func:`statistics_table` or :func:`display`.
    unit : str
        The measure's unit ('pA', '% of saline'); '' for a dimensionless measure.

    Returns
    -------
    dict
        column → title, e.g. 'estimate' → 'Difference, mixed model (pA)'.
    """
    from nwb_ketamine.explorer.factors import FACTORS

    out = {}
    for column in columns:
        title = TITLES.get(column) or FACTORS.get(column) or column
        out[column] = title.format(unit=unit) if unit else title.replace(" ({unit})", "")
    return out
