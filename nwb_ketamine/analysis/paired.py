"""Within-unit (paired) comparisons: each unit's baseline against its post-injection epoch.

The in vivo claim of the study is a change within units (bursting before vs after the injection), so
the honest test pairs each unit with itself: Wilcoxon's signed-rank test and the paired t-test on the
per-unit differences, and the same on the animals' mean differences (units of one animal are not
independent; the animal-level test carries the honest n).

Effect sizes
    The signed-rank test comes with the matched-pairs rank-biserial correlation
    ``r = (W+ - W-) / (W+ + W-)`` (positive when ``after`` tends to be larger), the t-test with
    Cohen's d_z, the mean difference over the standard deviation of the differences.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

#: Columns of :func:`paired_compare`, in table order.
PAIRED_COLUMNS = [
    "n_pairs",
    "mean_before",
    "mean_after",
    "mean_difference",
    "wilcoxon_w",
    "wilcoxon_p",
    "matched_rank_biserial",
    "paired_t",
    "paired_p",
    "paired_df",
    "cohen_dz",
]


def paired_compare(before, after) -> dict[str, float]:
    """Paired tests of ``after - before`` for matched observations.

    Pairs with a NaN on either side are dropped. Zero differences are dropped by the signed-rank test
    (Wilcoxon's convention, scipy's ``zero_method='wilcox'``) but kept by the t-test.

    Parameters
    ----------
    before, after : array_like
        One value per observation (unit or animal), in the same order.

    Returns
    -------
    dict
        The keys of :data:`PAIRED_COLUMNS`; NaN where a test is undefined (fewer than two pairs, or all
        differences zero).
    """
    from scipy import stats

    b = np.asarray(before, dtype=float).ravel()
    a = np.asarray(after, dtype=float).ravel()
    if a.shape != b.shape:
        raise ValueError(f"before has {b.size} values, after {a.size}: pairs must match")
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    d = a - b
    out = dict.fromkeys(PAIRED_COLUMNS, math.nan)
    out["n_pairs"] = int(d.size)
    if d.size:
        out.update(mean_before=float(b.mean()), mean_after=float(a.mean()), mean_difference=float(d.mean()))
    nonzero = d[d != 0]
    if nonzero.size:
        result = stats.wilcoxon(nonzero)
        ranks = stats.rankdata(np.abs(nonzero))
        w_plus, w_minus = ranks[nonzero > 0].sum(), ranks[nonzero < 0].sum()
        out.update(
            wilcoxon_w=float(result.statistic),
            wilcoxon_p=float(result.pvalue),
            matched_rank_biserial=float((w_plus - w_minus) / (w_plus + w_minus)),
        )
    if d.size >= 2 and d.std(ddof=1) > 0:
        result = stats.ttest_rel(a, b)
        out.update(
            paired_t=float(result.statistic),
            paired_p=float(result.pvalue),
            paired_df=float(d.size - 1),
            cohen_dz=float(d.mean() / d.std(ddof=1)),
        )
    return out


def pair_epochs(
    frame,
    value: str,
    *,
    unit: Sequence[str] = ("subject", "session", "unit"),
    epoch: str = "epoch",
    before: str = "baseline",
    after: str = "post_injection",
    groups: Sequence[str] = (),
):
    """One row per unit with its ``before`` and ``after`` values side by side.

    Units that lack either epoch are left out (a paired design has no use for them).

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per unit and epoch.
    value : str
        The measure's column.
    unit : sequence of str
        Columns that identify a unit (the first is the animal).
    epoch : str
        Column naming the epoch.
    before, after : str
        The two epochs compared.
    groups : sequence of str
        Group columns kept on each row (constant within a unit, e.g. drug and stress).

    Returns
    -------
    pandas.DataFrame
        Columns ``groups + unit + ["before", "after"]``.
    """
    keys = [*dict.fromkeys([*groups, *unit])]
    data = frame[frame[epoch].isin([before, after])]
    wide = data.pivot_table(index=keys, columns=epoch, values=value, aggfunc="first", observed=True)
    wide = wide.reindex(columns=[before, after]).dropna()
    wide.columns = ["before", "after"]
    return wide.reset_index()


def paired_table(pairs, *, groups: Sequence[str] = (), subject: str = "subject"):
    """:func:`paired_compare` per group, on the units and on the animals' means.

    Parameters
    ----------
    pairs : pandas.DataFrame
        Output of :func:`pair_epochs`.
    groups : sequence of str
        Columns to split by (one pair of rows per combination).
    subject : str
        Column naming the animal.

    Returns
    -------
    pandas.DataFrame
        Columns ``groups + ["level", "n_animals"] + PAIRED_COLUMNS``; ``level`` is ``units`` or
        ``animals`` (the test on each animal's mean before and mean after).
    """
    import pandas as pd

    groups = list(groups)
    rows = []
    parts = pairs.groupby(groups, observed=True, sort=True) if groups else [((), pairs)]
    for key, part in parts:
        labels = dict(zip(groups, key if isinstance(key, tuple) else (key,), strict=True))
        n_animals = int(part[subject].nunique())
        rows.append({**labels, "level": "units", "n_animals": n_animals, **paired_compare(part.before, part.after)})
        means = part.groupby(subject, observed=True)[["before", "after"]].mean()
        rows.append({**labels, "level": "animals", "n_animals": n_animals, **paired_compare(means.before, means.after)})
    return pd.DataFrame(rows, columns=[*groups, "level", "n_animals", *PAIRED_COLUMNS])
