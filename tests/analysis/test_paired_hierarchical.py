"""Paired and hierarchical statistics against scipy and statsmodels on fixed data."""

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats

from nwb_ketamine.analysis.hierarchical import (
    adjust_p,
    format_p,
    interaction_test,
    min_p_mann_whitney,
    min_p_signed_rank,
    mixed_model,
    mixed_model_table,
    power_note,
)
from nwb_ketamine.analysis.paired import pair_epochs, paired_compare, paired_table

BEFORE = np.array([12.0, 30.0, 25.0, 41.0, 8.0, 19.0, 33.0, 27.0])
AFTER = np.array([6.0, 22.0, 26.0, 20.0, 5.0, 11.0, 30.0, 14.0])


def test_paired_compare_equals_scipy():
    got = paired_compare(BEFORE, AFTER)
    w = stats.wilcoxon(AFTER - BEFORE)
    t = stats.ttest_rel(AFTER, BEFORE)
    d = AFTER - BEFORE
    assert got["n_pairs"] == 8
    assert got["wilcoxon_w"] == pytest.approx(w.statistic) and got["wilcoxon_p"] == pytest.approx(w.pvalue)
    assert got["paired_t"] == pytest.approx(t.statistic) and got["paired_p"] == pytest.approx(t.pvalue)
    assert got["paired_df"] == 7
    assert got["cohen_dz"] == pytest.approx(d.mean() / d.std(ddof=1))
    ranks = stats.rankdata(np.abs(d))
    assert got["matched_rank_biserial"] == pytest.approx((ranks[d > 0].sum() - ranks[d < 0].sum()) / ranks.sum())
    assert got["matched_rank_biserial"] < 0 and got["mean_difference"] == pytest.approx(d.mean())


def test_paired_compare_drops_incomplete_pairs_and_zero_differences():
    got = paired_compare([1.0, 2.0, np.nan, 4.0], [1.0, 3.0, 5.0, 6.0])
    assert got["n_pairs"] == 3
    assert got["wilcoxon_p"] == pytest.approx(stats.wilcoxon([1.0, 2.0]).pvalue)  # the zero difference dropped
    assert math.isnan(paired_compare([1.0], [2.0])["paired_p"])
    with pytest.raises(ValueError, match="pairs must match"):
        paired_compare([1.0, 2.0], [1.0])


def test_pairs_and_table_on_units_and_animal_means():
    rows = []
    for animal, (drug, shift) in enumerate([("ketamine", -10), ("ketamine", -12), ("saline", 0), ("saline", 1)]):
        for unit in range(3):
            base = 20.0 + 3 * unit + animal
            rows.append(dict(subject=f"m{animal}", session="s", unit=unit, drug=drug, epoch="baseline", v=base))
            rows.append(dict(subject=f"m{animal}", session="s", unit=unit, drug=drug, epoch="post_injection",
                             v=base + shift + 0.5 * unit))  # fmt: skip
    rows.append(dict(subject="m0", session="s", unit=9, drug="ketamine", epoch="baseline", v=5.0))  # unpaired
    pairs = pair_epochs(pd.DataFrame(rows), "v", groups=["drug"])
    assert len(pairs) == 12 and list(pairs.columns) == ["drug", "subject", "session", "unit", "before", "after"]
    table = paired_table(pairs, groups=["drug"]).set_index(["drug", "level"])
    ket_units = table.loc[("ketamine", "units")]
    assert ket_units["n_pairs"] == 6 and ket_units["n_animals"] == 2
    sub = pairs[pairs.drug == "ketamine"]
    assert ket_units["wilcoxon_p"] == pytest.approx(stats.wilcoxon(sub.after - sub.before).pvalue)
    means = sub.groupby("subject")[["before", "after"]].mean()
    assert table.loc[("ketamine", "animals"), "n_pairs"] == 2
    assert table.loc[("ketamine", "animals"), "paired_p"] == pytest.approx(
        stats.ttest_rel(means.after, means.before).pvalue
    )


def test_smallest_reachable_p_equals_the_exact_tests():
    for n_a, n_b in [(2, 2), (3, 3), (4, 4), (2, 5)]:
        a, b = np.arange(n_a) + 100.0, np.arange(n_b) * 1.0  # perfectly separated
        exact = stats.mannwhitneyu(a, b, method="exact").pvalue
        assert min_p_mann_whitney(n_a, n_b) == pytest.approx(exact)
    assert min_p_mann_whitney(2, 2) == pytest.approx(1 / 3)
    for n in (3, 5, 8):
        assert min_p_signed_rank(n) == pytest.approx(stats.wilcoxon(np.arange(1.0, n + 1), method="exact").pvalue)
    assert power_note(2, 2) == "2 vs 2 cannot reach p < 0.05 (smallest possible p = 0.33)"
    assert power_note(4, 4) == ""


def test_holm_and_benjamini_hochberg():
    p = [0.01, 0.04, 0.03, np.nan]
    np.testing.assert_allclose(adjust_p(p, "holm"), [0.03, 0.06, 0.06, np.nan])
    np.testing.assert_allclose(adjust_p(p, "fdr_bh"), [0.03, 0.04, 0.04, np.nan])
    with pytest.raises(ValueError, match="unknown correction"):
        adjust_p(p, "bonferonni")


def test_p_values_keep_significant_digits():
    assert format_p(2.7e-7) == "2.7e-07"
    assert format_p(0.0441) == "0.044"
    assert format_p(0.333) == "0.33"
    assert format_p(float("nan")) == "–" and format_p(0.0) == "< 1e-300"


def _nested(seed=0, effect=-50.0, n_animals=8, n_cells=5):
    rng = np.random.default_rng(seed)
    rows = []
    for group, shift in (("saline", 0.0), ("ketamine", effect)):
        for a in range(n_animals):
            animal = rng.normal(0, 10)
            for _ in range(n_cells):
                rows.append({"subject": f"{group}{a}", "drug": group, "region": "LHb", "v": 200 + shift + animal
                             + rng.normal(0, 15)})  # fmt: skip
    return pd.DataFrame(rows)


def test_mixed_model_equals_statsmodels_and_recovers_the_effect():
    data = _nested()
    got = mixed_model(data, "v", "drug", "saline")
    fit = smf.mixedlm("v ~ C(drug, Treatment('saline'))", data, groups=data["subject"]).fit(reml=True)
    term = "C(drug, Treatment('saline'))[T.ketamine]"
    assert got["estimate"] == pytest.approx(fit.params[term]) and got["p"] == pytest.approx(fit.pvalues[term])
    assert got["ci_low"] < -50 < got["ci_high"] and got["p"] < 0.01 and got["converged"] == 1.0
    assert (got["n_obs"], got["n_animals"]) == (80, 16)
    table = mixed_model_table(data, "v", "drug", "saline", within=["region"])
    assert list(table[["region", "group_a", "group_b"]].iloc[0]) == ["LHb", "ketamine", "saline"]
    assert table["estimate"].iloc[0] == pytest.approx(got["estimate"])
    # one animal per group: no model
    assert math.isnan(mixed_model(_nested(n_animals=1), "v", "drug", "saline")["p"])


def test_region_by_drug_interaction():
    lhb = _nested(seed=1, effect=-60.0).assign(region="LHb")
    ca1 = _nested(seed=2, effect=0.0).assign(region="CA1", subject=lambda f: "c" + f["subject"])
    data = pd.concat([lhb, ca1], ignore_index=True)
    got = interaction_test(data, "v", "region", "drug")
    fit = smf.mixedlm("v ~ C(region) * C(drug)", data, groups=data["subject"]).fit(reml=True)
    term = next(name for name in fit.params.index if ":" in name)
    assert got["p"] == pytest.approx(fit.pvalues[term]) and got["p"] < 0.01
    assert math.isnan(interaction_test(lhb, "v", "region", "drug")["p"])  # one region: no interaction
