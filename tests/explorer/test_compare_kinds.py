"""Compare view: plot kinds (ECDF against scipy), bursting fractions (Wilson and Fisher against statsmodels and
scipy) and the region × drug interaction row (against a statsmodels fit made here)."""

import io

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from nwb_ketamine.analysis.hierarchical import interaction_test
from nwb_ketamine.explorer.app import ExplorerApp
from nwb_ketamine.explorer.compare import CompareView
from nwb_ketamine.explorer.comparebursting import wilson_interval
from nwb_ketamine.explorer.comparekinds import ecdf, ecdf_steps
from nwb_ketamine.explorer.comparestats import INTERACTION_LEVEL
from nwb_ketamine.explorer.factors import region_name
from nwb_ketamine.explorer.store import ArchiveStore, synthetic_store
from nwb_ketamine.explorer.urlstate import apply_query

#: The synthetic catalog's regions as the views name them (the study's label, the full name, the CCF term).
LHB, CA1 = region_name("LHb", "LH"), region_name("CA1", "CA1")


@pytest.fixture(scope="module")
def many():
    return synthetic_store(1600, 96, seed=3)


@pytest.fixture(scope="module")
def bursty():
    """The synthetic catalog with burst counts: units of LH under ketamine burst less often; spikes per burst
    is NaN for a unit without bursts, as in a real catalog."""
    base = synthetic_store(1600, 96, seed=5)
    units = base.units.copy()
    rng = np.random.default_rng(7)
    block = ((units["region"] == "LH") & (units["drug"] == "ketamine")).to_numpy()
    bursts = rng.random(len(units)) < np.where(block, 0.45, 0.85)
    units["n_bursts"] = np.where(bursts, rng.integers(1, 40, len(units)), 0)
    units.loc[units["n_bursts"] == 0, ["mean_spikes_per_burst", "percent_spikes_in_bursts"]] = [np.nan, 0.0]
    return ArchiveStore.from_tables(".", base.sessions, base.cells, units)


def test_ecdf_equals_scipy_with_ties():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.integers(0, 10, 50).astype(float), rng.normal(5, 2, 30), [np.nan]])
    x, f = ecdf(values)
    reference = stats.ecdf(values[np.isfinite(values)]).cdf
    assert np.all(np.diff(x) > 0) and f[-1] == 1.0
    assert f == pytest.approx(reference.evaluate(x))
    xs, ys = ecdf_steps(values)
    # each distinct value: a vertical step from F just below it to F at it
    assert xs[::2] == pytest.approx(x) and xs[1::2] == pytest.approx(x)
    assert ys[1::2] == pytest.approx(reference.evaluate(x))
    assert ys[::2] == pytest.approx(reference.evaluate(x - 1e-9))


def test_cumulative_plot_draws_the_ecdf_of_each_group(many):
    view = CompareView(many, plot="cumulative")
    assert not view.data.empty
    n_lines = 0
    for panel, rows in zip(view.panels, view._layout.values(), strict=True):
        lines = panel.ecdf.data
        assert len(lines["xs"]) == len(rows) and len(panel.points.data["row"]) == 0  # points emptied
        assert [r.visible for r in panel.renderers["cumulative"]] == [True]
        assert not any(r.visible for r in panel.renderers["boxes"])
        for row, xs, ys, label in zip(rows, lines["xs"], lines["ys"], lines["label"], strict=True):
            values = view.data["value"].to_numpy()[row["index"]]
            assert ys[1::2] == pytest.approx(stats.ecdf(values).cdf.evaluate(xs[1::2]))
            assert f"n = {row['n_cells']} / {row['n_animals']}" in label
        shown = [item.label.value for item in panel._legend.items if item.visible]
        assert shown == list(lines["label"]) and [i.index for i in panel._legend.items[: len(rows)]] == [
            *range(len(rows))
        ]
        n_lines += len(rows)
    assert n_lines == len(view.counts)
    # the x range spans the measure, the shared y range the fractions
    low, high = view.data["value"].min(), view.data["value"].max()
    assert view.panels[0].figure.x_range.start < low and view.panels[0].figure.x_range.end > high
    assert (view._y_range.start, view._y_range.end) == (-0.03, 1.03)
    assert view.figure_bytes("png").read(4) == b"\x89PNG"


def test_dot_plot_median_and_iqr_and_back_to_boxes(many):
    view = CompareView(many, measure="percent_in_bursts", facet_col="none")
    figures = [p.figure for p in view.panels]
    view.plot = "dots"
    panel, rows = view.panels[0], view._layout[(None, None)]
    assert [p.figure for p in view.panels] == figures  # the same figures, other renderers
    assert len(panel.boxes.data["left"]) == 0 and len(panel.points.data["row"]) == len(view.data)
    assert [r.visible for r in panel.renderers["dots"]] == [True] * 4
    values = view.data["value"].to_numpy()
    for row, y_median, iqr in zip(rows, panel.dot_medians.data["y0"], range(0, 3 * len(rows), 3), strict=True):
        q1, median, q3 = np.percentile(values[row["index"]], [25, 50, 75])
        assert y_median == pytest.approx(median)
        assert (panel.dot_iqr.data["y0"][iqr], panel.dot_iqr.data["y1"][iqr]) == pytest.approx((q1, q3))
    assert view.figure_bytes("svg").read().lstrip().startswith(b"<?xml")
    view.plot = "boxes"
    assert len(panel.dot_medians.data["x0"]) == 0 and len(panel.boxes.data["left"]) == len(rows)
    assert panel._position_axis.visible and not panel._value_axis.visible


def test_plot_kind_in_the_url(many):
    app = ExplorerApp(many)
    apply_query(app, {"plot": [b"cumulative"]})
    assert app.compare.plot == "cumulative"
    apply_query(app, {"plot": [b"violin"]})  # not a kind: ignored
    assert app.compare.plot == "cumulative"


@pytest.mark.parametrize("n", [1, 7, 40, 333])
def test_wilson_interval_equals_statsmodels(n):
    for k in sorted({0, 1, n // 3, n - 1, n}):
        expected = proportion_confint(k, n, alpha=0.05, method="wilson")
        assert wilson_interval(k, n) == pytest.approx(expected, abs=1e-12)


def _expected_bursting(store):
    """Bursting units per region × drug from the catalog itself: good units, stressed animals, post-injection."""
    units = store.units
    units = units[(units["curation_label"] == "good") & (units["stress"] != "none")]
    units = units[units["epoch"] == "post-injection"]
    units = units.assign(region=[region_name(a, b) for a, b in zip(units.region_label, units.region, strict=True)])
    return units.groupby(["region", "drug"]).agg(k=("n_bursts", lambda s: int((s >= 1).sum())), n=("n_bursts", "size"))


def test_bursting_table_wilson_fisher_and_holm(bursty):
    view = CompareView(bursty, measure="firing_rate", facet_col="none")
    table = view._bursting.table
    expected = _expected_bursting(bursty)
    assert len(table) == len(expected) == 4
    fisher = []
    for row in table.itertuples():
        k, n = expected.loc[(row.region, row.drug)]
        assert (row.n_bursting, row.n_units) == (k, n)
        assert (row.ci_low, row.ci_high) == pytest.approx(proportion_confint(k, n, method="wilson"))
        if row.drug == "saline":
            assert row.vs == "" and np.isnan(row.fisher_p)
            continue
        k0, n0 = expected.loc[(row.region, "saline")]
        result = stats.fisher_exact([[k, n - k], [k0, n0 - k0]])
        assert row.vs == "saline" and row.fisher_p == pytest.approx(result.pvalue)
        assert row.odds_ratio == pytest.approx(result.statistic)
        fisher.append(row.fisher_p)
    lh = table[(table.region == LHB) & (table.drug == "ketamine")].iloc[0]
    assert lh.fisher_p < 0.01 and lh.fraction < 0.6  # the simulated drop in LH
    tested = table["fisher_p"].notna()
    assert table.loc[tested, "p_holm"].to_numpy() == pytest.approx(multipletests(fisher, method="holm")[1])
    assert "n_bursts ≥ 1" in view._bursting.caption.object and view._bursting.panel.visible
    # a measure undefined without bursts does not drop the units that never burst (a new view: no kept table)
    other = CompareView(bursty, measure="spikes_per_burst", facet_col="none")
    assert len(other.data) < table["n_units"].sum()
    pd.testing.assert_frame_equal(other._bursting.table, table)
    view.measure = "spikes_per_burst"  # the same rows: the table is kept
    pd.testing.assert_frame_equal(view._bursting.table, table)
    view.filter_region = ["LH"]  # other rows: recomputed
    assert set(view._bursting.table["region"]) == {LHB} and len(view._bursting.table) == 2
    view.filter_region = []
    csv = pd.read_csv(io.StringIO(view._bursting.csv().getvalue()))
    assert csv["fisher_p"].to_numpy() == pytest.approx(table["fisher_p"].to_numpy(), nan_ok=True)
    view.measure = "nmda_amplitude"  # a cell measure: no bursting table
    assert not view._bursting.panel.visible


def test_interaction_row_equals_a_statsmodels_fit(many):
    assert not (CompareView(many).stats["level"] == INTERACTION_LEVEL).any()  # only with the mixed model
    view = CompareView(many, mixed_model=True)
    rows = view.stats[view.stats["level"] == INTERACTION_LEVEL]
    assert sorted(rows["time_group"]) == ["1h", "24h"]
    for row in rows.itertuples():
        part = view.data[view.data["time_group"] == row.time_group]
        fit = smf.mixedlm("value ~ C(region) * C(drug)", part, groups=part["subject"]).fit(reml=True)
        term = f"C(region)[T.{LHB}]:C(drug)[T.saline]"
        assert row.p == pytest.approx(fit.pvalues[term], rel=1e-6)
        # reported as (ketamine − saline) in LH − (ketamine − saline) in CA1: the sign of saline's coefficient flipped
        assert row.estimate == pytest.approx(-fit.params[term], rel=1e-6) and row.estimate < 0
        assert "Wald z test" in row.note and f"(ketamine − saline) in {LHB}" in row.note
    assert "Region × drug interaction" in view._stats_caption.object
    assert view.stats["p_holm"].to_numpy() == pytest.approx(
        multipletests(view.stats["p"].to_numpy(), method="holm")[1]
    )  # the interaction rows are in the table's family
    shown = view._stats_table.value
    assert list(shown.loc[rows.index, "within"]) == list(rows["time_group"])
    csv = pd.read_csv(io.StringIO(view.stats_csv().getvalue()))
    interaction = csv[csv["level"] == INTERACTION_LEVEL]
    assert interaction["p"].to_numpy() == pytest.approx(rows["p"].to_numpy())
    assert interaction["note"].str.contains("random intercept per animal").all()
    view.filter_region = ["LH"]  # one region: no interaction
    assert not (view.stats["level"] == INTERACTION_LEVEL).any()


def test_interaction_with_three_drugs_is_a_joint_wald_test():
    rng = np.random.default_rng(4)
    rows = []
    for region, effects in (("LHb", {"saline": 0, "ketamine": -60, "memantine": -30}), ("CA1", dict.fromkeys(
            ("saline", "ketamine", "memantine"), 0))):  # fmt: skip
        for drug, effect in effects.items():
            for animal in range(4):
                offset = rng.normal(0, 15)
                for _ in range(6):
                    rows.append({"region": region, "drug": drug, "subject": f"{region}{drug}{animal}",
                                 "v": 150 + effect + offset + rng.normal(0, 20)})  # fmt: skip
    data = pd.DataFrame(rows)
    got = interaction_test(data, "v", "region", "drug")
    fit = smf.mixedlm("v ~ C(region) * C(drug)", data, groups=data["subject"]).fit(reml=True)
    terms = [name for name in fit.params.index if ":" in name]
    restriction = np.array([[1.0 if name == term else 0.0 for name in fit.params.index] for term in terms])
    wald = fit.wald_test(restriction, scalar=True)
    assert got["df"] == 2 and got["chi2"] == pytest.approx(float(wald.statistic))
    assert got["p"] == pytest.approx(float(wald.pvalue)) and got["p"] < 0.01
    # a region × drug combination without data: not estimable
    assert np.isnan(interaction_test(data[~((data.region == "CA1") & (data.drug == "memantine"))], "v", "region",
                                     "drug")["p"])  # fmt: skip
