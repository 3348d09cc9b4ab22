"""Statistics against scipy.stats and hand-computed values."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from nwb_ketamine.analysis.group_tables import (
    animal_means,
    comparison_table,
    group_counts,
    normalise_to_reference,
    reference_level,
)
from nwb_ketamine.analysis.stats import compare_two, hedges_g, rank_biserial


def test_compare_two_matches_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(1, 1, 30), rng.normal(0, 2, 25)
    out = compare_two(a, b)
    mw = stats.mannwhitneyu(a, b, alternative="two-sided")
    t = stats.ttest_ind(a, b, equal_var=False)
    assert out["mann_whitney_u"] == pytest.approx(mw.statistic)
    assert out["mann_whitney_p"] == pytest.approx(mw.pvalue)
    assert out["welch_t"] == pytest.approx(t.statistic)
    assert out["welch_p"] == pytest.approx(t.pvalue)
    assert out["welch_df"] == pytest.approx(t.df)
    assert out["rank_biserial"] == pytest.approx(2 * mw.statistic / (30 * 25) - 1)
    assert (out["n_a"], out["n_b"]) == (30, 25)


def test_known_values():
    # every a above every b: U = n_a n_b, r = 1; Hedges' g by hand: d = -3 / 1, J = 1 - 3 / 15
    assert compare_two([4, 5, 6], [1, 2, 3])["rank_biserial"] == 1.0
    assert compare_two([1, 2, 3], [4, 5, 6])["rank_biserial"] == -1.0
    assert hedges_g([1, 2, 3], [4, 5, 6]) == pytest.approx(-2.4)
    assert rank_biserial(6, 3, 4) == 0.0
    # Welch by hand: means 2 and 5, variances 1 and 1, n 3 and 3 → t = -3 / sqrt(2/3), df = 4
    out = compare_two([1, 2, 3], [4, 5, 6])
    assert out["welch_t"] == pytest.approx(-3 / math.sqrt(2 / 3))
    assert out["welch_df"] == pytest.approx(4.0)


def test_too_little_data_gives_nan():
    out = compare_two([1.0], [2.0, np.nan])
    assert out["n_a"] == 1 and out["n_b"] == 1
    assert math.isnan(out["welch_t"]) and math.isnan(out["hedges_g"])
    assert not math.isnan(out["mann_whitney_u"])
    assert math.isnan(compare_two([], [1, 2])["mann_whitney_p"])


def _frame():
    # two animals per drug; animal means 2, 4 (saline) and 1, 1 (ketamine)
    return pd.DataFrame(
        {
            "subject": ["s1", "s1", "s2", "s2", "s2", "k1", "k1", "k2"],
            "region": ["LH"] * 8,
            "drug": ["saline"] * 5 + ["ketamine"] * 3,
            "v": [1.0, 3.0, 4.0, 4.0, 4.0, 0.5, 1.5, 1.0],
        }
    )


def test_animal_means_and_counts():
    means = animal_means(_frame(), "v", ["drug"])
    assert means.set_index("subject")["v"].to_dict() == {"k1": 1.0, "k2": 1.0, "s1": 2.0, "s2": 4.0}
    assert means.set_index("subject")["n_cells"].to_dict() == {"k1": 2, "k2": 1, "s1": 2, "s2": 3}
    counts = group_counts(_frame(), ["drug"], "v").set_index("drug")
    assert counts.loc["saline", "n_cells"] == 5 and counts.loc["saline", "n_animals"] == 2
    assert counts.loc["ketamine", "n_cells"] == 3 and counts.loc["ketamine", "n_animals"] == 2


def test_comparison_table_cells_and_animals():
    table = comparison_table(_frame(), "v", "drug", within=["region"])
    assert list(table["level"]) == ["cells", "animals"]
    assert (table["group_a"] == "ketamine").all() and (table["group_b"] == "saline").all()
    cells, animals = table.iloc[0], table.iloc[1]
    assert (cells["n_a"], cells["n_b"]) == (3, 5)
    assert (animals["n_a"], animals["n_b"]) == (2, 2)
    ref = stats.ttest_ind([1.0, 1.0], [2.0, 4.0], equal_var=False)
    assert animals["welch_t"] == pytest.approx(ref.statistic)
    assert animals["mann_whitney_u"] == 0.0 and animals["rank_biserial"] == -1.0


def test_normalise_to_saline_mean_of_same_region():
    frame = pd.DataFrame(
        {
            "region": ["LH", "LH", "LH", "CA1", "CA1", "CA1"],
            "time_group": ["1h"] * 6,
            "drug": ["saline", "saline", "ketamine", "saline", "ketamine", "ketamine"],
            "v": [2.0, 4.0, 1.5, 10.0, 5.0, 20.0],
        }
    )
    out = normalise_to_reference(frame, "v")
    assert out.tolist() == pytest.approx([2 / 3 * 100, 4 / 3 * 100, 50.0, 100.0, 50.0, 200.0])
    # no saline in a group → NaN, not a division by another group's mean
    assert normalise_to_reference(frame[frame.drug == "ketamine"], "v").isna().all()


def test_reference_level():
    assert reference_level("drug", ["ketamine", "saline"]) == "saline"
    assert reference_level("stress", ["chronic restraint", "none"]) == "none"
    assert reference_level("region", ["CA1", "LH"]) == "CA1"
