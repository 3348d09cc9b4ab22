"""Data for a paper: every CSV the compare and time-course views export has all factors, the view's filters and
grouping, the nwb-ketamine version and the hash of the catalog it came from."""

import hashlib
import io
import json

import pandas as pd
import pytest

import nwb_ketamine
from nwb_ketamine.archive.catalog import catalog_dir
from nwb_ketamine.explorer.compare import CompareView
from nwb_ketamine.explorer.filtered import EXPORT_FACTORS
from nwb_ketamine.explorer.paired import PairedView
from nwb_ketamine.explorer.timecourse import TimeCourseView

PROVENANCE = ["view", "view_measure", "view_grouping", "view_filters", "view_accepted_only", "nwb_ketamine_version",
              "catalog_sha256", "catalog_source"]  # fmt: skip


def read(csv: io.StringIO) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(csv.getvalue()), keep_default_na=False)


def expected_sha256(archive) -> str:
    """sha256 of the catalog generation's three tables, read from disk as a reader would check it."""
    folder = catalog_dir(archive)
    generation = json.loads((folder / "state.json").read_text())["generation"]
    digest = hashlib.sha256()
    for name in ("sessions", "cells", "units"):
        digest.update((folder / f"gen-{generation}" / f"{name}.parquet").read_bytes())
    return digest.hexdigest()


def _check_provenance(table: pd.DataFrame, view, archive) -> None:
    assert set(PROVENANCE) <= set(table.columns) and set(EXPORT_FACTORS) <= set(table.columns)
    assert set(table["nwb_ketamine_version"]) == {nwb_ketamine.__version__}
    assert set(table["catalog_sha256"]) == {expected_sha256(archive)}
    if not hasattr(view, "filters"):  # the paired view has no filters
        assert set(table["view_filters"]) == {"{}"}
        return
    assert {json.dumps(json.loads(f)) for f in table["view_filters"]} == {
        json.dumps({k: v for k, v in view.filters.items() if v})
    }


def test_compare_data_and_statistics_csvs(store, tiny_archive):
    view = CompareView(store, filter_stress=[], filter_drug=["ketamine", "saline"], facet_col="none")
    data = read(view.data_csv())
    _check_provenance(data, view, tiny_archive)
    assert len(data) == len(view.data) and set(data["view"]) == {"compare"}
    lhb = data[data["region_ccf"] == "LH"]
    assert set(lhb["region_label"]) == {"LHb"} and set(lhb["region"]) == {"LHb — lateral habenula (CCF: LH)"}
    cells = store.cells.set_index("cell_key")
    for row in data.itertuples():  # the catalog's own labels, row for row
        cell = cells.loc[row.key]
        assert (row.subject, row.stress, row.dose, row.time_group) == (cell.subject, cell.stress, cell.dose,
                                                                       cell.time_group)  # fmt: skip
        assert row.hours_since_injection == pytest.approx(cell.hours_since_injection)
        assert row.agent == cell.drug and row.region_ccf == cell.region and row.region_label == cell.region_label
    assert (data["epoch"] == "").all()  # slice cells have no epoch
    grouping = json.loads(data["view_grouping"].iloc[0])
    assert grouping == {"x": "region", "colour": "drug", "facet_rows": "none", "facet_columns": "none"}
    assert json.loads(data["view_filters"].iloc[0]) == {"drug": ["ketamine", "saline"]}
    stats = read(view.stats_csv())
    _check_provenance(stats, view, tiny_archive)
    assert len(stats) == len(view.stats)
    for row in stats.itertuples():  # a statistics row: its region's labels; the animals and doses it pooled
        part = view.data[view.data["region"] == row.region]
        assert row.region_ccf == part["region_ccf"].iloc[0] and row.region_label == part["region_label"].iloc[0]
        assert set(row.subject.split("; ")) == set(part["subject"])
        assert set(row.dose.split("; ")) == set(part["dose"])


def test_unit_measure_and_bursting_csvs_carry_the_epoch(store, tiny_archive):
    view = CompareView(store, measure="firing_rate", filter_stress=[], x="region", colour="drug", facet_col="epoch")
    data = read(view.data_csv())
    _check_provenance(data, view, tiny_archive)
    assert set(data["epoch"]) == set(view.data["epoch"]) and (data["epoch"] != "").all()
    bursting = read(view._bursting.csv())
    _check_provenance(bursting, view, tiny_archive)
    assert {"region_label", "region_ccf", "epoch", "stress", "dose"} <= set(bursting.columns)


def test_time_course_points_and_summary_csvs(store, tiny_archive):
    view = TimeCourseView(store, filter_stress=[])
    points = read(view.points_csv())
    _check_provenance(points, view, tiny_archive)
    assert set(points["view"]) == {"timecourse"} and len(points) == len(view.data)
    assert json.loads(points["view_grouping"].iloc[0])["x"] == view.x
    summary = read(view.summary_csv())
    _check_provenance(summary, view, tiny_archive)
    for row in summary.itertuples():
        part = view.data[(view.data["region"] == row.region) & (view.data["drug"] == row.drug)
                         & (view.data["time_group"] == row.time_group)
                         & (view.data["stress"] == row.stress)]  # fmt: skip
        assert set(row.subject.split("; ")) == set(part["subject"])
        assert row.region_label == part["region_label"].iloc[0]


def test_a_store_in_memory_hashes_its_tables(synthetic):
    first = read(CompareView(synthetic).data_csv())
    assert set(first["catalog_source"]) == {"tables in memory"} and first["catalog_sha256"].str.len().eq(64).all()


def test_paired_csvs(store, tiny_archive):
    view = PairedView(store, facet_row="none", facet_col="drug")
    pairs = read(view.data_csv())
    _check_provenance(pairs, view, tiny_archive)
    assert len(pairs) == len(view.pairs) and set(pairs["view"]) == {"paired"}
    units = store.units.drop_duplicates("unit_key").set_index("unit_key")
    for row in pairs.itertuples():
        unit = units.loc[row.key]
        assert (row.region_ccf, row.region_label, row.stress, row.dose) == (unit.region, unit.region_label,
                                                                            unit.stress, unit.dose)  # fmt: skip
        assert row.hours_since_injection == pytest.approx(unit.hours_since_injection)
    assert set(pairs["epoch"]) == {"baseline → post-injection"}
    stats = read(view.stats_csv())
    _check_provenance(stats, view, tiny_archive)
    assert json.loads(stats["view_grouping"].iloc[0]) == {"facet_rows": "none", "facet_columns": "drug"}
