"""The explorer's own Mann–Whitney and Welch computations agree with scipy.stats in every regime."""

import numpy as np
import pytest
from scipy import stats

from nwb_ketamine.analysis.stats import average_ranks, compare_two, mann_whitney, welch


def samples():
    rng = np.random.default_rng(1)
    yield rng.normal(1, 1, 300), rng.normal(0, 2, 250)  # large: normal approximation
    yield rng.integers(0, 5, 40).astype(float), rng.integers(0, 6, 35).astype(float)  # many ties
    yield rng.normal(0, 1, 5), rng.normal(1, 1, 7)  # small, no ties: exact distribution
    yield np.array([1.0, 2.0, 2.0, 3.0]), np.array([2.0, 4.0, 5.0])  # small with ties: approximation
    yield rng.normal(0, 1, 8), rng.normal(0, 1, 12)  # one side small, no ties: exact
    yield rng.normal(0, 1, 9), rng.normal(0, 1, 9)  # both just above 8: approximation
    yield np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0])  # identical: p = 1
    yield np.array([5.0, 5.0, 5.0]), np.array([1.0, 1.0])  # all tied within each side


@pytest.mark.parametrize("a,b", list(samples()))
def test_mann_whitney_equals_scipy(a, b):
    u, p = mann_whitney(a, b)
    expected = stats.mannwhitneyu(a, b, alternative="two-sided")
    assert u == pytest.approx(expected.statistic, rel=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("a,b", [s for s in samples() if s[0].var() > 0 and s[1].var() > 0])
def test_welch_equals_scipy(a, b):
    t, p, df = welch(a, b)
    expected = stats.ttest_ind(a, b, equal_var=False)
    assert (t, p, df) == pytest.approx((expected.statistic, expected.pvalue, expected.df), rel=1e-9)


def test_average_ranks_equal_scipy_rankdata():
    values = np.random.default_rng(2).integers(0, 20, 500).astype(float)
    ranks, ties = average_ranks(values)
    assert ranks == pytest.approx(stats.rankdata(values))
    assert ties.sum() == values.size and ties.size == np.unique(values).size


def test_compare_two_with_one_constant_side():
    # Welch's t with one zero-variance side is still defined; U compares ranks
    out = compare_two([1.0, 1.0, 1.0], [2.0, 3.0, 4.0])
    expected = stats.ttest_ind([1.0, 1.0, 1.0], [2.0, 3.0, 4.0], equal_var=False)
    assert out["welch_t"] == pytest.approx(expected.statistic)
    assert out["rank_biserial"] == -1.0
