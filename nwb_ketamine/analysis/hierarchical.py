"""Statistics that respect the design: mixed models, multiple-comparison corrections, reachable p.

Mixed models take the animal as a random effect; corrections adjust p across a table's rows; the
smallest p a test can reach at its n says when a comparison cannot succeed; p-values are written with
significant digits for a reader.

Cells recorded in one animal are not independent observations. A linear mixed model (statsmodels'
``MixedLM``) with a random intercept per animal estimates a group difference from all cells while
weighting animals properly; it is reported beside the cell-level and animal-level rank tests.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

#: Corrections for multiple comparisons, by the name statsmodels' ``multipletests`` gives them.
CORRECTIONS = {"holm": "Holm–Bonferroni (family-wise error)", "fdr_bh": "Benjamini–Hochberg (false discovery rate)"}

#: Columns of :func:`mixed_model`, in table order.
MIXED_COLUMNS = ["n_obs", "n_animals", "estimate", "std_error", "ci_low", "ci_high", "p", "converged"]


def adjust_p(pvalues, method: str = "holm") -> np.ndarray:
    """P-values adjusted for multiple comparisons within one family; NaN entries stay NaN.

    Parameters
    ----------
    pvalues : array_like
        The family's raw p-values.
    method : str
        ``holm`` or ``fdr_bh`` (see :data:`CORRECTIONS`).

    Returns
    -------
    ndarray
        Adjusted p-values, same shape and order.
    """
    from statsmodels.stats.multitest import multipletests

    if method not in CORRECTIONS:
        raise ValueError(f"unknown correction {method!r}; use one of {', '.join(CORRECTIONS)}")
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    finite = np.isfinite(p)
    if finite.any():
        out[finite] = multipletests(p[finite], method=method)[1]
    return out


def min_p_mann_whitney(n_a: int, n_b: int) -> float:
    """The smallest two-sided p an exact Mann–Whitney U test can give with these group sizes.

    It is ``2 / C(n_a + n_b, n_a)``: the probability of the most extreme ordering, both tails. With 2
    against 2 animals it is 0.33, so no difference can reach p < 0.05.

    Parameters
    ----------
    n_a, n_b : int
        Group sizes.

    Returns
    -------
    float
        The bound (1 when a group is empty).
    """
    if n_a < 1 or n_b < 1:
        return 1.0
    return min(1.0, 2.0 / math.comb(n_a + n_b, n_a))


def min_p_signed_rank(n_pairs: int) -> float:
    """The smallest two-sided p an exact Wilcoxon signed-rank test can give with ``n_pairs`` pairs.

    Parameters
    ----------
    n_pairs : int
        Pairs with a non-zero difference.

    Returns
    -------
    float
        ``2 / 2**n_pairs`` (1 without pairs): 5 pairs can reach at best p = 0.0625.
    """
    return 1.0 if n_pairs < 1 else min(1.0, 2.0 / 2.0**n_pairs)


def power_note(n_a: int, n_b: int, alpha: float = 0.05) -> str:
    """A reader's note when a rank comparison cannot reach ``alpha`` at its n ('' when it can).

    Parameters
    ----------
    n_a, n_b : int
        Group sizes (animals, for the animal-level test).
    alpha : float
        The significance level.

    Returns
    -------
    str
        The note.
    """
    bound = min_p_mann_whitney(n_a, n_b)
    if bound < alpha:
        return ""
    return f"{n_a} vs {n_b} cannot reach p < {alpha:g} (smallest possible p = {format_p(bound)})"


def format_p(p: float, digits: int = 2) -> str:
    """A p-value with significant digits, never rounded to 0: ``2.7e-07``, ``0.044``, ``0.33``.

    Parameters
    ----------
    p : float
        The p-value.
    digits : int
        Significant digits.

    Returns
    -------
    str
        The text; ``'–'`` for NaN.
    """
    if p is None or not math.isfinite(p):
        return "–"
    if p == 0:
        return "< 1e-300"
    if p < 10 ** -(digits + 1):
        return f"{p:.{digits - 1}e}"
    return f"{p:.{digits}g}"


def mixed_model(frame, value: str, contrast: str, reference: str, subject: str = "subject") -> dict[str, float]:
    """Estimate a group difference with a linear mixed model, the animal as a random intercept.

    The difference of each cell's ``value`` between a level of ``contrast`` and ``reference`` is fitted
    by REML (statsmodels ``MixedLM``). The frame must hold exactly two levels of ``contrast``; the
    estimate is ``level - reference`` in the unit of ``value``, with its Wald standard error, 95 %
    confidence interval and p-value.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per cell (or unit), with ``value``, ``contrast`` and ``subject`` columns.
    value : str
        The measure.
    contrast : str
        Column with the two groups compared.
    reference : str
        The control level of ``contrast``.
    subject : str
        Column naming the animal (the random effect).

    Returns
    -------
    dict
        The keys of :data:`MIXED_COLUMNS`; NaN values where the model cannot be fitted (fewer than two
        animals per group, no variance), ``converged`` 0.0 or 1.0.
    """
    import warnings

    import statsmodels.formula.api as smf
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    data = frame[[value, contrast, subject]].dropna()
    data = data.assign(_y=data[value].astype(float), _g=data[contrast].astype(str), _s=data[subject].astype(str))
    out = dict.fromkeys(MIXED_COLUMNS, math.nan)
    out.update(n_obs=float(len(data)), n_animals=float(data["_s"].nunique()))
    levels = sorted(set(data["_g"]) - {str(reference)})
    if len(levels) != 1 or str(reference) not in set(data["_g"]):
        return out
    animals = data.groupby("_g")["_s"].nunique()
    if animals.min() < 2 or data["_y"].std() == 0:
        return out
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        fitted = smf.mixedlm(f"_y ~ C(_g, Treatment({str(reference)!r}))", data, groups=data["_s"]).fit(reml=True)
    term = next(name for name in fitted.params.index if name.startswith("C(_g"))
    low, high = fitted.conf_int().loc[term]
    converged = bool(fitted.converged) and not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    out.update(
        estimate=float(fitted.params[term]),
        std_error=float(fitted.bse[term]),
        ci_low=float(low),
        ci_high=float(high),
        p=float(fitted.pvalues[term]),
        converged=float(converged),
    )
    return out


def mixed_model_table(
    frame, value: str, contrast: str, reference: str, within: Sequence[str] = (), subject: str = "subject"
):
    """:func:`mixed_model` for each combination of the ``within`` columns (e.g. per region).

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per cell (or unit).
    value, contrast, reference : str
        As in :func:`mixed_model`.
    within : sequence of str
        Columns to split by.
    subject : str
        Column naming the animal.

    Returns
    -------
    pandas.DataFrame
        Columns ``within + ["group_a", "group_b"] + MIXED_COLUMNS``.
    """
    import pandas as pd

    within = [c for c in dict.fromkeys(within) if c != contrast]
    rows = []
    parts = frame.groupby(within, observed=True, sort=True) if within else [((), frame)]
    for key, part in parts:
        labels = dict(zip(within, key if isinstance(key, tuple) else (key,), strict=True))
        for level in sorted(set(part[contrast].dropna().astype(str)) - {str(reference)}):
            two = part[part[contrast].astype(str).isin([level, str(reference)])]
            rows.append(
                {
                    **labels,
                    "group_a": level,
                    "group_b": reference,
                    **mixed_model(two, value, contrast, reference, subject),
                }
            )
    return pd.DataFrame(rows, columns=[*within, "group_a", "group_b", *MIXED_COLUMNS])


def interaction_test(frame, value: str, factor_a: str, factor_b: str, subject: str = "subject") -> dict[str, float]:
    """The ``factor_a × factor_b`` interaction in a mixed model with a random intercept per animal.

    "Ketamine blocks NMDAR currents in LHb but not in CA1" is an interaction claim: the drug effect
    differs between regions. The model ``value ~ C(a) * C(b)`` with a random intercept per animal is
    fitted by REML (statsmodels ``MixedLM``), and the interaction is tested with a Wald test on its
    coefficients: with two levels of each factor it is one coefficient (its z test, the p-value
    statsmodels reports, with its estimate and standard error); with more levels the
    ``(levels_a - 1) × (levels_b - 1)`` coefficients are tested jointly, χ² = b' V⁻¹ b on that many degrees
    of freedom (no single estimate then).

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per cell.
    value : str
        The measure.
    factor_a, factor_b : str
        The two factors (e.g. ``region`` and ``drug``), two levels or more each.
    subject : str
        Column naming the animal.

    Returns
    -------
    dict
        ``estimate``, ``std_error`` (two levels each only), ``chi2``, ``df`` and ``p`` of the interaction,
        ``n_obs``, ``n_animals`` and ``converged`` (0.0 or 1.0); NaN when a factor has fewer than two
        levels or a combination of levels has no observation (no interaction can be estimated).
    """
    import warnings

    import statsmodels.formula.api as smf
    from scipy import stats
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    data = frame[[value, factor_a, factor_b, subject]].dropna()
    out = {"n_obs": float(len(data)), "n_animals": float(data[subject].nunique())}
    out.update(estimate=math.nan, std_error=math.nan, chi2=math.nan, df=math.nan, p=math.nan, converged=math.nan)
    n_a, n_b = data[factor_a].nunique(), data[factor_b].nunique()
    if n_a < 2 or n_b < 2 or len(data.groupby([factor_a, factor_b])) < n_a * n_b:
        return out
    data = data.assign(_y=data[value].astype(float), _a=data[factor_a].astype(str), _b=data[factor_b].astype(str))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        fitted = smf.mixedlm("_y ~ C(_a) * C(_b)", data, groups=data[subject].astype(str)).fit(reml=True)
    # the interaction's coefficients, 'C(_a)[T.x]:C(_b)[T.y]'; a level may hold a colon ('LHb (CCF: LH)')
    terms = [name for name in fitted.fe_params.index if ":C(_b)[" in name]
    b = fitted.fe_params[terms].to_numpy()
    cov = fitted.cov_params().loc[terms, terms].to_numpy()
    chi2 = float(b @ np.linalg.solve(cov, b))
    converged = bool(fitted.converged) and not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    out.update(chi2=chi2, df=float(len(terms)), converged=float(converged))
    if len(terms) == 1:
        out.update(estimate=float(b[0]), std_error=float(fitted.bse[terms[0]]), p=float(fitted.pvalues[terms[0]]))
    else:
        out.update(p=float(stats.chi2.sf(chi2, len(terms))))
    return out
