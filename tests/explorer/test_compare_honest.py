"""Filters, two facet axes, one epoch per box, the mixed-model and Holm columns, and the paired view."""

import io

import numpy as np
import pandas as pd
import pytest

from nwb_ketamine.analysis.hierarchical import adjust_p, format_p, mixed_model
from nwb_ketamine.analysis.paired import pair_epochs, paired_table
from nwb_ketamine.explorer.app import ExplorerApp
from nwb_ketamine.explorer.compare import CompareView
from nwb_ketamine.explorer.comparestats import MIXED_LEVEL
from nwb_ketamine.explorer.factors import region_name
from nwb_ketamine.explorer.paired import PAIRED_MEASURES, PairedView
from nwb_ketamine.explorer.store import synthetic_store
from nwb_ketamine.explorer.urlstate import apply_query

#: The synthetic catalog's regions as the views name them (the study's label, the full name, the CCF term).
LHB, CA1 = region_name("LHb", "LH"), region_name("CA1", "CA1")


@pytest.fixture(scope="module")
def many():
    """Enough animals per group (about 6) for the mixed model and the animal-level tests."""
    return synthetic_store(1600, 96, seed=3)


def test_filters_change_n(synthetic):
    view = CompareView(synthetic, filter_stress=[])
    everyone = view.counts["n_cells"].sum()
    view.filter_region = ["LH"]  # the CCF acronym (an old URL's) chooses the region as its name does
    assert (
        set(view.data["region"]) == {LHB}
        and set(view.data["region_ccf"]) == {"LH"}
        and view.counts["n_cells"].sum() < everyone
    )
    view.param.update(filter_region=[], filter_stress=["none"])
    assert set(view.data["stress"]) == {"none"}
    view.filter_qc = ["rejected"]  # QC-accepted only and rejected: nothing left, and a message says so
    assert view.data.empty and view._message.visible
    view.param.update(filter_qc=[], accepted_only=False, filter_stress=[])
    assert view.counts["n_cells"].sum() == len(synthetic.cells)


def test_facet_rows_and_columns(synthetic):
    view = CompareView(synthetic, filter_stress=[], facet_row="stress", facet_col="time_group")
    assert view._shape == (2, 2) and len(view.panels) == 4
    titles = [p.figure.title.text for p in view.panels]
    assert titles[0] == "Stress: none · Time since injection: 1h"
    assert titles[3] == "Stress: chronic restraint · Time since injection: 24h"
    assert sum(len(p.points.data["row"]) for p in view.panels) == len(view.data)
    assert {"region", "stress", "time_group"} <= set(view.stats.columns)
    view.param.update(facet_row="none", facet_col="none")
    assert view._shape == (1, 1) and len(view.panels) == 1
    assert view.figure_bytes("png").read(4) == b"\x89PNG"


def test_unit_measures_show_one_epoch_unless_on_an_axis(synthetic):
    view = CompareView(synthetic, measure="firing_rate", filter_stress=[], facet_col="none")
    assert set(view.data["epoch"]) == {"post-injection"} and "post-injection" in view._notice.object
    assert view.data["key"].is_unique  # a unit counts once
    assert view.counts["n_cells"].sum() == view.data["key"].nunique()
    view.param.update(facet_col="epoch")
    assert set(view.data["epoch"]) == {"baseline", "post-injection"} and view.shown_epoch is None
    view.param.update(facet_col="none", epoch="baseline")
    assert set(view.data["epoch"]) == {"baseline"}


def test_mixed_model_row_and_holm(many):
    view = CompareView(many, mixed_model=True)
    stats = view.stats
    mixed = stats[stats["level"] == MIXED_LEVEL]
    assert len(mixed) == len(stats[stats["level"] == "cells"]) == 4  # 2 regions × 2 time groups
    row = mixed[(mixed.region == LHB) & (mixed.time_group == "1h")].iloc[0]
    part = view.data[(view.data.region == LHB) & (view.data.time_group == "1h")]
    expected = mixed_model(part, "value", "drug", "saline")
    for name in ("estimate", "std_error", "p", "ci_low", "ci_high", "n_obs", "n_animals"):
        assert row[name] == pytest.approx(expected[name])
    assert row["estimate"] < 0  # the block in LH
    assert stats["p_holm"].to_numpy() == pytest.approx(adjust_p(stats["p"].to_numpy(), "holm"), nan_ok=True)
    shown = view._stats_table.value
    assert list(shown["p"]) == [format_p(p) for p in stats["p"]]
    assert "Holm" in view._stats_caption.object and f"{len(stats)} p-values" in view._stats_caption.object
    csv = pd.read_csv(io.StringIO(view.stats_csv().getvalue()))
    assert csv["p"].to_numpy() == pytest.approx(stats["p"].to_numpy(), nan_ok=True)  # full floats


def test_power_note_when_animals_are_too_few(synthetic):
    view = CompareView(synthetic)  # stressed animals: one or two per group
    animals = view.stats[view.stats["level"] == "animals"]
    assert all("cannot reach p < 0.05" in note for note in animals["note"])


def test_paired_view_statistics_equal_paired_table(many):
    view = PairedView(many)
    assert (view.facet_row, view.facet_col) == ("stress", "drug") and len(view.figures) == 4
    units = many.units[many.units["curation_label"] == "good"].rename(columns={"unit_key": "key"})
    pairs = pair_epochs(units, PAIRED_MEASURES[view.measure][1], unit=("subject", "key"), before="baseline",
                        after="post-injection", groups=["stress", "drug"])  # fmt: skip
    expected = paired_table(pairs, groups=["stress", "drug"])
    assert len(view.pairs) == len(pairs)
    pd.testing.assert_frame_equal(view.stats.reset_index(drop=True), expected.reset_index(drop=True),
                                  check_dtype=False)  # fmt: skip
    # one thin line per unit, one thick line per animal, in each group's figure
    for fig in view.figures:
        stress, drug = (part.split(": ")[1] for part in fig.title.text.split(" · "))
        row = view.stats[(view.stats.stress == stress) & (view.stats.drug == drug)].set_index("level")
        units, animals = (r.data_source.data["ys"] for r in fig.renderers)
        assert (len(units), len(animals)) == (row.loc["units", "n_pairs"], row.loc["animals", "n_pairs"])
    for measure in PAIRED_MEASURES:
        view.measure = measure
        assert len(view.pairs) > 0 and set(view.stats["level"]) == {"units", "animals"}
    data = pd.read_csv(io.StringIO(view.data_csv().getvalue()))
    assert len(data) == len(view.pairs)
    assert len(pd.read_csv(io.StringIO(view.stats_csv().getvalue()))) == len(view.stats)


def test_views_on_the_tiny_archive(store):
    compare = CompareView(store, filter_stress=[], mixed_model=True)
    assert not compare.data.empty
    assert compare.counts["n_cells"].sum() == compare.data["key"].nunique()
    paired = PairedView(store, facet_row="none", facet_col="none")
    n_good = store.units[store.units["curation_label"] == "good"]["unit_key"].nunique()
    assert len(paired.pairs) == n_good and np.isfinite(paired.stats["mean_difference"]).all()


def test_url_keeps_filters_facets_and_the_paired_view(synthetic):
    app = ExplorerApp(synthetic)
    apply_query(app, {"view": [b"paired"], "filter_region": [b'["LH"]'], "facet_row": [b"sex"],
                      "filter_drug": [b"not json"], "paired_measure": [b"firing_rate"], "paired_col": [b"region"],
                      "mixed_model": [b"true"]})  # fmt: skip
    assert (app.compare.filter_region, app.compare.facet_row, app.compare.mixed_model) == (["LH"], "sex", True)
    assert app.compare.filter_drug == []  # not a list: ignored
    assert (app.view, app.paired.measure, app.paired.facet_col) == ("paired", "firing_rate", "region")
    assert app.current is app.paired
