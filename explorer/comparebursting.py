"""The fraction of bursting units per group of the compare view: Wilson intervals and Fisher's exact tests.

Design decisions:

- **Bursting rule**: a unit bursts in an epoch when at least one burst starts in that epoch, the catalog's
  ``n_bursts ≥ 1`` (:data:`nwb_ketamine.analysis.bursts.METRICS`, under the burst rule stored with each
  file). A catalog without ``n_bursts`` falls back on ``percent_spikes_in_bursts > 0``, which differs
  only for a burst that starts before the epoch and ends in it. The rule used is in the caption.
- **Unit of observation**: a unit in one epoch, the rows the compare view plots (its filters, QC and one
  epoch of :func:`~nwb_ketamine.explorer.factors.one_epoch`), whatever the measure shown, so a measure
  that is undefined without bursts (spikes per burst) does not drop the units that never burst.
- The interval is Wilson's score interval (95 %), which stays inside [0, 1] and keeps its coverage at
  small n and at fractions near 0 or 1, where the normal (Wald) interval does not.
- Each level of the contrast (the colour factor, or x without one) is compared with its control within
  the same group of the other axes by Fisher's exact test (two-sided, ``scipy.stats.fisher_exact``) on
  the 2 × 2 table bursting / not bursting × level / control. ``p_holm`` adjusts the Fisher p-values over
  this table (its own family, as in the statistics table). Units are counted as independent: units of
  one animal are not, so ``n_animals`` is shown beside every fraction.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Hashable, Sequence

import numpy as np
import pandas as pd
import panel as pn

from nwb_ketamine.explorer.statictable import StaticTable

#: The column of the compare view's unit rows holding 1.0 (bursting), 0.0 (not) or NaN (unknown).
BURSTING = "bursting"
#: The displayed columns after the group columns.
COLUMNS = ["n_bursting", "n_units", "n_animals", "fraction", "ci_low", "ci_high", "vs", "odds_ratio", "fisher_p",
           "p_holm"]  # fmt: skip
#: The displayed columns.
DISPLAY_COLUMNS = ["group", "bursting", "fraction", "ci", "vs", "odds_ratio", "fisher_p", "p_holm"]
RULES = {
    "n_bursts": "at least one burst starts in the epoch (n_bursts ≥ 1, the burst rule stored with each file)",
    "percent_spikes_in_bursts": "some of the epoch's spikes are in a burst (percent_spikes_in_bursts > 0)",
}


def bursting(measures: pd.DataFrame) -> tuple[np.ndarray, str | None]:
    """Whether each unit × epoch row bursts, by the first rule of :data:`RULES` the catalog can apply.

    Parameters
    ----------
    measures : pandas.DataFrame
        The catalog's unit measures (``n_bursts``, ``percent_spikes_in_bursts``).

    Returns
    -------
    flags : numpy.ndarray
        1.0 bursting, 0.0 not, NaN where the column is missing for that row.
    rule : str or None
        The column used (a key of :data:`RULES`); None when the catalog has neither.
    """
    for column, threshold in (("n_bursts", 1.0), ("percent_spikes_in_bursts", 0.0)):
        if column in measures:
            values = measures[column].to_numpy(dtype=float)
            flags = np.where(values >= threshold, 1.0, 0.0) if column == "n_bursts" else np.where(values > 0, 1.0, 0.0)
            return np.where(np.isfinite(values), flags, np.nan), column
    return np.full(len(measures), np.nan), None


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval of a proportion ``k / n``.

    (p̂ + z²/2n ± z √(p̂(1 − p̂)/n + z²/4n²)) / (1 + z²/n), z the normal quantile of (1 + confidence) / 2.

    Parameters
    ----------
    k : int
        Successes (bursting units).
    n : int
        Trials (units).
    confidence : float
        The interval's coverage.

    Returns
    -------
    tuple of float
        (low, high); NaN without trials.
    """
    from scipy.special import ndtri  # the normal quantile; norm.ppf costs ~10 ms a call

    if n <= 0:
        return math.nan, math.nan
    z = float(ndtri(0.5 + confidence / 2))
    p = k / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    scale = 1 + z * z / n
    return max(0.0, (centre - half) / scale), min(1.0, (centre + half) / scale)


def bursting_table(frame: pd.DataFrame, contrast: str, within: Sequence[str], reference: str | None) -> pd.DataFrame:
    """Bursting units / units per group, the fraction with its Wilson 95 % interval, and Fisher's test.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per unit in one epoch, with :data:`BURSTING`, ``key``, ``subject`` and the group columns
        (rows with NaN :data:`BURSTING` are left out).
    contrast : str
        The factor whose levels are compared with ``reference``.
    within : sequence of str
        The factors splitting the comparisons.
    reference : str or None
        The control level of ``contrast`` (None: no test).

    Returns
    -------
    pandas.DataFrame
        ``within``, ``contrast`` and :data:`COLUMNS`; one row per group, the control's row without a test.
    """
    within = [c for c in dict.fromkeys(within) if c != contrast]
    data = frame[np.isfinite(frame[BURSTING].to_numpy(dtype=float))] if len(frame) else frame
    rows = []
    if len(data):  # one aggregation (iterating groups of groups costs ~40 ms at 10,000 rows)
        counts = data.groupby([*within, contrast], observed=True, sort=True).agg(
            n_bursting=(BURSTING, "sum"), n_units=(BURSTING, "size"), n_animals=("subject", "nunique")
        )
        keyed = {
            key if isinstance(key, tuple) else (key,): row
            for key, row in zip(counts.index, counts.itertuples(), strict=True)
        }
        for key, row in keyed.items():
            k, n = int(row.n_bursting), int(row.n_units)
            low, high = wilson_interval(k, n)
            out = {**dict(zip([*within, contrast], map(str, key), strict=True)), "n_bursting": k, "n_units": n,
                   "n_animals": int(row.n_animals), "fraction": k / n, "ci_low": low, "ci_high": high, "vs": "",
                   "odds_ratio": math.nan, "fisher_p": math.nan}  # fmt: skip
            control = keyed.get((*key[:-1], reference)) if reference is not None else None
            if control is not None and str(key[-1]) != str(reference):
                k_ref, n_ref = int(control.n_bursting), int(control.n_units)
                odds, p = _fisher([[k, n - k], [k_ref, n_ref - k_ref]])
                out.update(vs=str(reference), odds_ratio=odds, fisher_p=p)
            rows.append(out)
    table = pd.DataFrame(rows, columns=[*within, contrast, *COLUMNS[:-1]])
    from nwb_ketamine.explorer.comparestats import holm

    table["p_holm"] = holm(table["fisher_p"].to_numpy(dtype=float)) if len(table) else []
    return table


def _fisher(table: list[list[int]]) -> tuple[float, float]:
    from scipy.stats import fisher_exact

    result = fisher_exact(table, alternative="two-sided")
    return float(result.statistic), float(result.pvalue)


def display(table: pd.DataFrame, contrast: str) -> pd.DataFrame:
    """The table as shown: the group in one column, the fraction and its interval as text.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`bursting_table`.
    contrast : str
        Its contrast column.

    Returns
    -------
    pandas.DataFrame
        Columns ``group``, ``bursting``, ``fraction``, ``ci``, ``vs``, ``odds_ratio``, ``fisher_p``, ``p_holm``.
    """
    from nwb_ketamine.analysis.hierarchical import format_p

    groups = [c for c in table.columns if c not in COLUMNS]
    shown = pd.DataFrame(index=table.index)
    shown["group"] = table[groups].astype(str).agg(" · ".join, axis=1) if len(table) else []
    shown["bursting"] = [f"{k} / {n} ({a} animals)" for k, n, a in
                         zip(table["n_bursting"], table["n_units"], table["n_animals"], strict=True)]  # fmt: skip
    shown["fraction"] = table["fraction"].astype(float).round(3)
    shown["ci"] = [f"[{lo:.3f}, {hi:.3f}]" for lo, hi in zip(table["ci_low"], table["ci_high"], strict=True)]
    shown["vs"] = table["vs"]
    shown["odds_ratio"] = [float(f"{v:.3g}") if np.isfinite(v) else np.nan for v in table["odds_ratio"].astype(float)]
    shown["fisher_p"] = [format_p(v) for v in table["fisher_p"]]
    shown["p_holm"] = [format_p(v) for v in table["p_holm"]]
    return shown.reindex(columns=DISPLAY_COLUMNS).reset_index(drop=True)


def caption(table: pd.DataFrame, rule: str | None) -> str:
    """What the bursting table counts and tests.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`bursting_table`.
    rule : str or None
        The catalog column the rule used (a key of :data:`RULES`).

    Returns
    -------
    str
    """
    if rule is None:
        return "The catalog has no burst counts: no fraction of bursting units."
    n = int(np.isfinite(table["fisher_p"].to_numpy(dtype=float)).sum()) if len(table) else 0
    return (
        f"A unit bursts when {RULES[rule]}; one row per unit in the epoch shown. CI: Wilson 95 %. Each level vs "
        f"the control: Fisher's exact test (two-sided) on bursting / not × level / control, units counted as "
        f"independent (see n animals). p_holm: Holm–Bonferroni over the {n} Fisher p-values of this table."
    )


class BurstingSection:
    """The compare view's bursting table with its caption and CSV, shown for unit measures only.

    Parameters
    ----------
    export : callable, optional
        Makes the CSV of a table (the view's :meth:`~nwb_ketamine.explorer.filtered.FilteredView.export_csv`:
        factors, filters, provenance); without it, the table alone.
    """

    def __init__(self, export: Callable[[pd.DataFrame], io.StringIO] | None = None) -> None:
        self._export = export  # the view's CSV export (factors, filters, provenance)
        self.table = pd.DataFrame(columns=COLUMNS)
        self._state: Hashable = None  # what the table was computed for
        self.caption = pn.pane.Markdown("", styles={"font-size": "0.85em"})
        self.widget = StaticTable(pd.DataFrame(columns=DISPLAY_COLUMNS))
        download = pn.widgets.FileDownload(callback=self.csv, filename="compare-bursting.csv", label="Bursting (CSV)")
        title = pn.pane.Markdown("### Fraction of bursting units (each level vs the control)")
        self.panel = pn.Column(title, self.caption, self.widget, download, visible=False, sizing_mode="stretch_width")

    def update(self, rows: Callable[[], tuple[pd.DataFrame, str | None]] | None, contrast: str,
               within: Sequence[str], key: Hashable = None) -> None:  # fmt: skip
        """Show the table of the unit rows ``rows()`` returns, or hide the section when ``rows`` is None.

        The table is recomputed only when ``key`` (what selects the rows) or the grouping changed: a change
        between unit measures keeps it.

        Parameters
        ----------
        rows : callable or None
            Returns the view's unit rows with :data:`BURSTING` and the catalog column of the rule used;
            None for a cell measure.
        contrast : str
            The factor compared with its control.
        within : sequence of str
            The other axes.
        key : hashable
            The state the rows depend on (QC filter, filters, axes, epoch).
        """
        from nwb_ketamine.explorer.factors import control_level

        self.panel.visible = rows is not None
        state = (key, contrast, tuple(within))
        if rows is None or state == self._state:
            return
        frame, rule = rows()
        reference = control_level(contrast, frame) if len(frame) else None  # drug: by the rows' roles
        self.table = bursting_table(frame, contrast, within, reference)
        self.widget.value = display(self.table, contrast)
        self.caption.object = caption(self.table, rule)
        self._state = state

    def csv(self) -> io.StringIO:
        """The bursting table, full-precision fractions, intervals and p-values (CSV).

        Returns
        -------
        io.StringIO
        """
        if self._export is not None:
            return self._export(self.table)
        return io.StringIO(self.table.to_csv(index=False))
