"""Two-sample tests with effect sizes: Mann–Whitney U with rank-biserial r, Welch's t with Hedges' g.

Design decision: every comparison is reported twice, once with each cell (or unit) as an observation and
once with each animal's mean as the observation. Cells from one animal are not independent, so the
animal-level test carries the honest n; the cell-level test is what most papers report, and showing both
side by side makes the difference visible. The functions are pure numpy/scipy on arrays and pandas
frames, with no plotting, so they are tested against ``scipy.stats`` and hand-computed values.

Effect sizes
    Mann–Whitney U comes with the rank-biserial correlation ``r = 2 U_a / (n_a n_b) - 1`` (positive when
    ``a`` tends to be larger than ``b``); Welch's t with Hedges' g, Cohen's d on the pooled standard
    deviation times the small-sample correction ``J = 1 - 3 / (4 (n_a + n_b) - 9)``.
"""

from __future__ import annotations

import math

import numpy as np

STAT_COLUMNS = [
    "level",
    "n_a",
    "n_b",
    "mann_whitney_u",
    "mann_whitney_p",
    "rank_biserial",
    "welch_t",
    "welch_p",
    "welch_df",
    "hedges_g",
]


def _finite(values) -> np.ndarray:
    values = np.asarray(values, dtype=float).ravel()
    return values[np.isfinite(values)]


def rank_biserial(u_a: float, n_a: int, n_b: int) -> float:
    """Rank-biserial correlation from the U statistic of sample ``a``.

    Parameters
    ----------
    u_a
        Mann–Whitney U statistic of sample ``a``.
    n_a, n_b
        Sizes of samples ``a`` and ``b``.

    Returns
    -------
    float
        r in [-1, 1] (positive when ``a`` tends to be larger); NaN when a sample is empty.

    Examples
    --------
    >>> rank_biserial(12.0, 4, 3)  # every a above every b
    1.0
    """
    if n_a == 0 or n_b == 0:
        return math.nan
    return 2.0 * u_a / (n_a * n_b) - 1.0


def hedges_g(a, b) -> float:
    """Hedges' g of ``a`` minus ``b`` (Cohen's d on the pooled SD, small-sample corrected).

    Parameters
    ----------
    a, b
        The two samples (array-like; NaNs are dropped).

    Returns
    -------
    float
        g; NaN with fewer than two values on a side or a pooled SD of 0.

    Examples
    --------
    >>> round(hedges_g([1, 2, 3], [4, 5, 6]), 4)
    -2.4
    """
    a, b = _finite(a), _finite(b)
    n_a, n_b = a.size, b.size
    if n_a < 2 or n_b < 2:
        return math.nan
    pooled = math.sqrt(((n_a - 1) * a.var(ddof=1) + (n_b - 1) * b.var(ddof=1)) / (n_a + n_b - 2))
    if pooled == 0:
        return math.nan
    return float((a.mean() - b.mean()) / pooled * (1.0 - 3.0 / (4.0 * (n_a + n_b) - 9.0)))


def average_ranks(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ranks (1-based, ties get their average rank) and the size of every group of tied values.

    Parameters
    ----------
    values
        One-dimensional array to rank.

    Returns
    -------
    ranks : numpy.ndarray
        The rank of each value, in the order of ``values``.
    ties : numpy.ndarray
        Size of each group of equal values, in increasing order of value.

    Examples
    --------
    >>> average_ranks(np.array([10.0, 20.0, 10.0, 30.0]))
    (array([1.5, 3. , 1.5, 4. ]), array([2, 1, 1]))
    """
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    new_value = np.concatenate([[True], ordered[1:] != ordered[:-1]])
    starts = np.flatnonzero(new_value)
    ties = np.diff(np.append(starts, values.size))
    # a tie group occupying ranks start+1 … start+size gets their mean
    group_rank = starts + (ties + 1) / 2.0
    ranks = np.empty(values.size)
    ranks[order] = np.repeat(group_rank, ties)
    return ranks, ties


def mann_whitney(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Two-sided Mann–Whitney U test: (U of ``a``, p).

    The same test as ``scipy.stats.mannwhitneyu(a, b, alternative="two-sided")`` with its default method:
    the exact distribution when a sample has at most 8 values and there are no ties (delegated to scipy), otherwise
    the normal approximation with tie and continuity corrections, computed here because scipy's generic
    array-API wrapper costs ~2 ms per call and the compare view runs dozens of tests per change.

    Parameters
    ----------
    a, b
        The two samples (one-dimensional, finite, each non-empty).

    Returns
    -------
    u_a : float
        U statistic of ``a``.
    p : float
        Two-sided p value.
    """
    from scipy import special, stats

    n_a, n_b = a.size, b.size
    ranks, ties = average_ranks(np.concatenate([a, b]))
    u_a = float(ranks[:n_a].sum() - n_a * (n_a + 1) / 2.0)
    if min(n_a, n_b) <= 8 and not (ties > 1).any():
        return u_a, float(stats.mannwhitneyu(a, b, alternative="two-sided", method="exact").pvalue)
    n = n_a + n_b
    u = max(u_a, n_a * n_b - u_a)
    tie_term = float((ties.astype(float) ** 3 - ties).sum())
    sigma = math.sqrt(n_a * n_b / 12.0 * ((n + 1) - tie_term / (n * (n - 1))))
    z = (u - n_a * n_b / 2.0 - 0.5) / sigma if sigma > 0 else math.inf
    return u_a, float(min(1.0, 2.0 * special.ndtr(-z)))


def welch(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Welch's unequal-variance t test of ``a`` vs ``b``: (t, two-sided p, degrees of freedom).

    The formulas of ``scipy.stats.ttest_ind(a, b, equal_var=False)``, without its per-call overhead.

    Parameters
    ----------
    a, b
        The two samples (one-dimensional, finite, at least two values each).

    Returns
    -------
    t : float
        The t statistic of ``a`` minus ``b``.
    p : float
        Two-sided p value.
    df : float
        Welch–Satterthwaite degrees of freedom.
    """
    from scipy import special

    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    t = float((a.mean() - b.mean()) / math.sqrt(va + vb))
    df = float((va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1)))
    return t, float(2.0 * special.stdtr(df, -abs(t))), df


def compare_two(a, b) -> dict:
    """Mann–Whitney U (two-sided) with rank-biserial r, and Welch's t with Hedges' g, of ``a`` vs ``b``.

    NaNs are dropped. Tests that need more data than given (U: one value per side; t: two) give NaN.

    Parameters
    ----------
    a, b
        The two samples (array-like).

    Returns
    -------
    dict
        ``n_a, n_b, mann_whitney_u, mann_whitney_p, rank_biserial, welch_t, welch_p, welch_df, hedges_g``.
    """
    a, b = _finite(a), _finite(b)
    out: dict[str, float] = {"n_a": int(a.size), "n_b": int(b.size)}
    out.update(dict.fromkeys(STAT_COLUMNS[3:], math.nan))
    if a.size and b.size:
        u, p = mann_whitney(a, b)
        out.update(mann_whitney_u=u, mann_whitney_p=p, rank_biserial=rank_biserial(u, a.size, b.size))
    if a.size >= 2 and b.size >= 2 and (a.var(ddof=1) > 0 or b.var(ddof=1) > 0):
        out["welch_t"], out["welch_p"], out["welch_df"] = welch(a, b)
        out["hedges_g"] = hedges_g(a, b)
    return out
