"""The overview counts good (single) units as units, and multi-unit and noise clusters apart (issue 13)."""

from __future__ import annotations

import pandas as pd

from nwb_ketamine.explorer.overview import OverviewView, group_summary, unit_quality
from nwb_ketamine.explorer.store import ArchiveStore

LABELS = {"region": "LH", "drug": "ketamine", "stress": "none", "subject": "a", "file": "a.nwb"}


def catalog(with_labels: bool = True) -> ArchiveStore:
    """One in vivo session: units 0-2 good, 3 mua, 4-5 noise, 6 with no label, in two epochs (unit 0 in one)."""
    sessions = pd.DataFrame([{**LABELS, "session_id": "s", "time_group": "none", "modality": "ecephys"}])
    labels = ["good", "good", "Good", "mua", "noise", "noise", ""]
    rows = [{**LABELS, "unit_key": f"a/s/{i}", "time_group": epoch, "curation_label": label}
            for i, label in enumerate(labels) for epoch in ("baseline", "post-injection")
            if not (i == 0 and epoch == "post-injection")]  # fmt: skip
    units = pd.DataFrame(rows)
    if not with_labels:
        units = units.drop(columns="curation_label")
    cells = pd.DataFrame(columns=["cell_key", *LABELS, "time_group"])
    return ArchiveStore.from_tables(".", sessions, cells, units)


def test_unit_quality_maps_the_curation_labels():
    store = catalog()
    assert list(unit_quality(store.units.drop_duplicates("unit_key"))) == [
        "units", "units", "units", "mua", "noise", "noise", "uncurated"
    ]  # fmt: skip
    assert set(unit_quality(catalog(with_labels=False).units)) == {"uncurated"}


def test_group_summary_counts_units_mua_and_noise_apart():
    summary = group_summary(catalog()).set_index("time_group")[["units", "mua", "noise", "uncurated"]]
    assert summary.to_dict("index") == {
        "baseline": {"units": 3, "mua": 1, "noise": 2, "uncurated": 1},
        "post-injection": {"units": 2, "mua": 1, "noise": 2, "uncurated": 1},
    }


def test_headline_counts_only_good_units():
    view = OverviewView(catalog())
    assert "**1 subjects · 1 sessions · 0 cells · 3 units**" in view.headline()
    assert "1 multi-unit (MUA), 2 noise, 1 not curated" in view.headline()
    assert {"units", "mua", "noise", "uncurated"} <= set(view.summary.columns)


def test_overview_of_the_tiny_archive(store):
    """The simulated session has good, multi-unit and noise clusters: only the good ones are units."""
    labels = store.units.drop_duplicates("unit_key")["curation_label"]
    counts = labels.value_counts()
    assert {"good", "mua", "noise"} <= set(counts.index)
    view = OverviewView(store)
    assert f"{store.cells['cell_key'].nunique()} cells · {counts['good']} units**" in view.headline()
    assert f"{counts['mua']} multi-unit (MUA), {counts['noise']} noise" in view.headline()
    assert "uncurated" not in view.summary  # every cluster is curated: no column of zeros
    for epoch in ("baseline", "post-injection"):
        row = view.summary.set_index("time_group").loc[epoch]
        assert (row["units"], row["mua"], row["noise"]) == (counts["good"], counts["mua"], counts["noise"])
