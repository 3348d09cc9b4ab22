"""Names a reader understands: regions by the study's label and the CCF term, legends, labelled widget groups,
statistics columns in words with units."""

import io

import numpy as np
import pandas as pd
import panel as pn
import pytest

from nwb_ketamine.analysis.hierarchical import interaction_test
from nwb_ketamine.explorer.compare import CompareView
from nwb_ketamine.explorer.comparestats import titles
from nwb_ketamine.explorer.factors import region_name
from nwb_ketamine.explorer.timecourse import TimeCourseView

LHB = "LHb — lateral habenula (CCF: LH)"


def test_region_name_is_the_study_label_the_full_name_and_the_ccf_term():
    assert region_name("LHb", "LH") == LHB
    assert region_name("CA1", "CA1") == "CA1 — field CA1 (CCF: CA1)"
    assert region_name("", "LH") == "LH — lateral habenula (CCF: LH)"  # no study label: the acronym stands
    assert region_name("somewhere", "somewhere") == "somewhere"  # not a CCF term (a foreign file): as it is


def test_the_tiny_archive_shows_lhb_everywhere_a_reader_looks(store):
    """Plot ticks, the filter options, the data table, the CSV (with both label columns) and the figure."""
    view = CompareView(store, filter_stress=[])
    assert set(view.data["region"]) == {LHB, "CA1 — field CA1 (CCF: CA1)"}
    # the region's lines (wrapped at word breaks) before the drug's and the n's read the full name
    ticks = [
        " ".join(t.split("\n")[:-2]) for p in view.panels for t in p.figure.xaxis[0].major_label_overrides.values()
    ]
    assert LHB in ticks and "LH" not in ticks
    region_filter = next(w for w in view.filter_widgets() if w.name == "Region")
    assert LHB in region_filter.options and "LH" not in region_filter.options
    assert LHB in set(view._data_table.value["region"])
    csv = pd.read_csv(io.StringIO(view.data_csv().getvalue()))
    lhb = csv[csv["region_ccf"] == "LH"]
    assert len(lhb) and set(lhb["region_label"]) == {"LHb"} and set(lhb["region"]) == {LHB}
    assert "lateral habenula" in view.figure_bytes("svg").getvalue().decode()
    view.filter_region = ["LHb"]  # the study's label chooses the region too
    assert set(view.data["region_ccf"]) == {"LH"}


def test_every_colour_encoding_has_a_legend(synthetic):
    view = CompareView(synthetic)  # colour = drug
    assert view.colour_legend() == [("saline", view.colours["saline"]), ("ketamine", view.colours["ketamine"])]
    legend = view._colour_legend.object
    assert "Colour: Drug" in legend and "saline" in legend and "ketamine" in legend
    assert "Drug" in view.figure_bytes("svg").getvalue().decode()  # the exported figure's legend title
    view.colour = "none"
    assert view.colour_legend() == [] and view._colour_legend.object == ""
    view.colour = "stress"
    assert "Colour: Stress" in view._colour_legend.object


def test_the_sidebar_groups_are_labelled(synthetic):
    for view in (CompareView(synthetic), TimeCourseView(synthetic)):
        headings = [o.object for o in view.controls().objects if isinstance(o, pn.pane.Markdown)]
        assert headings[0] == "**What is plotted**" and "**Options**" in headings
        assert headings[-1].startswith("**Filters**")
    headings = [o.object for o in CompareView(synthetic).controls().objects if isinstance(o, pn.pane.Markdown)]
    assert any(h.startswith("**Grouping**") for h in headings)


def test_statistics_columns_are_words_with_units(synthetic):
    view = CompareView(synthetic, mixed_model=True)
    shown = view._stats_table.titles
    assert shown["group_a"] == "Group" and shown["group_b"] == "Compared with (control)"
    assert shown["estimate"] == "Difference, mixed model (pA)" and shown["ci"] == "95 % CI (pA)"
    assert shown["p_holm"] == "p, Holm-adjusted" and not any("_" in t for t in shown.values())
    view.normalise = True
    assert view._stats_table.titles["estimate"] == "Difference, mixed model (% of saline)"
    view.param.update(normalise=False, measure="nmda_ampa_ratio")  # dimensionless: no empty parentheses
    assert view._stats_table.titles["estimate"] == "Difference, mixed model"
    assert titles(["mann_whitney_u", "region"], "pA") == {"mann_whitney_u": "Mann–Whitney U", "region": "Region"}
    assert view._data_table.titles["value"] == "NMDA/AMPA ratio"


def test_tables_scroll_rather_than_run_off_the_page(synthetic):
    view = CompareView(synthetic)
    table = view._data_table
    assert table.styles.get("overflow-x") == "auto" and table.sizing_mode == "stretch_width"
    assert view._stats_table.widths == {"note": 320}  # the note wraps; the table scrolls in its box
    assert view._stats_table.html().startswith('<div class="static-table">')
    assert view._stats_table.__panel__().sizing_mode == "stretch_width"


def test_the_data_table_is_sent_when_its_card_is_first_opened(synthetic):
    view = CompareView(synthetic)
    assert view._data_card.collapsed and view._data_card.objects == []  # no Tabulator in the first page
    assert view._data_card.title == f"Data: the {view.data['key'].nunique()} cells plotted (click a row to open it)"
    assert view.data["key"].is_unique  # one row per cell
    view._data_card.collapsed = False
    assert view._data_card.objects == [view._data_table]
    view.measure = "firing_rate"
    units, rows = view.data["key"].nunique(), len(view.data)  # a unit has a row per epoch shown
    assert view._data_card.title == f"Data: the {units} units plotted, {rows} rows (click a row to open it)"
    assert list(view._data_table.value["key"]) == list(view.data["key"])


def test_the_interaction_of_region_names_holding_a_colon_is_one_coefficient():
    """'(CCF: LH)' holds a colon: the interaction's coefficients are found by their factor, not by any ':'."""
    rng = np.random.default_rng(5)
    rows = [{"region": region, "drug": drug, "subject": f"{region}{drug}{a}", "v": 150 + shift + rng.normal(0, 20)}
            for region, effect in ((LHB, -60), ("CA1 — field CA1 (CCF: CA1)", 0))
            for drug, shift in (("saline", 0), ("ketamine", effect)) for a in range(4) for _ in range(5)]  # fmt: skip
    got = interaction_test(pd.DataFrame(rows), "v", "region", "drug")
    assert got["df"] == 1 and np.isfinite(got["estimate"]) and got["p"] == pytest.approx(got["p"])


def test_statistics_csv_in_words_has_the_machine_csvs_values_under_titled_columns(synthetic):
    view = CompareView(synthetic, mixed_model=True)
    machine = pd.read_csv(io.StringIO(view.stats_csv().getvalue()))
    words = pd.read_csv(io.StringIO(view.stats_words_csv().getvalue()))
    assert words.shape == machine.shape
    assert list(words.columns) == [titles(machine.columns, "pA")[c] for c in machine.columns]
    assert not [c for c in words.columns if "_" in c], list(words.columns)  # every column in words
    assert {"Measure", "Group", "Compared with (control)", "Difference, mixed model (pA)", "Animal"} <= set(words)
    np.testing.assert_array_equal(words["p, Holm-adjusted"].to_numpy(), machine["p_holm"].to_numpy())
    buttons = [b.filename for b in view.downloads.objects[0].objects]
    assert buttons[:3] == ["compare-data.csv", "compare-statistics.csv", "compare-statistics-in-words.csv"]
