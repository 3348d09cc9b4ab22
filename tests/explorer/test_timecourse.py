"""The time-course view: means with t-intervals over animals, the fraction blocked, the dose axis, exports, URL."""

import io

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from nwb_ketamine.explorer.app import ExplorerApp
from nwb_ketamine.explorer.factors import NOT_CONTROL, region_name
from nwb_ketamine.explorer.store import ArchiveStore, synthetic_store
from nwb_ketamine.explorer.timecourse import TimeCourseView
from nwb_ketamine.explorer.timecoursestats import GROUPS, N_RESAMPLES, fraction_blocked
from nwb_ketamine.explorer.urlstate import apply_query

#: The regions of the synthetic catalog as the view names them (the study's label, the CCF term).
LHB, CA1 = region_name("LHb", "LH"), region_name("CA1", "CA1")
SUMMARY_NUMBERS = ["n_cells", "n_animals", "mean", "ci_low", "ci_high", "fraction_blocked", "fb_ci_low", "fb_ci_high"]


@pytest.fixture(scope="module")
def many():
    """About 6 animals per region × drug × stress × time group."""
    return synthetic_store(1600, 96, seed=3)


def _hand_made(groups: list[tuple], archive=".") -> ArchiveStore:
    """A catalog of cells: per (region, stress, time, drug, dose, animal means) two cells at mean ± 7 per animal."""
    cells, sessions = [], []
    for region, stress, time, drug, dose, means in groups:
        for mean in means:
            subject = f"m{len(sessions):03d}"
            file = f"sub-{subject}/sub-{subject}_ses-1.nwb"
            sessions.append({"subject": subject, "file": file, "sex": "F"})
            for i, value in enumerate((mean - 7.0, mean + 7.0)):
                cells.append({
                    "cell_key": f"{subject}/1/s1/c{i}", "subject": subject, "file": file, "region": region,
                    "stress": stress, "time_group": time, "drug": drug, "dose": dose,
                    "dose_value": float(dose.split()[0]), "dose_unit": dose.split()[1],
                    "hours_since_injection": float(time.rstrip("h")), "accepted": True, "nmda_amplitude_pa": value,
                })  # fmt: skip
    units = pd.DataFrame(columns=["unit_key", "subject", "file", "epoch", "curation_label"])
    return ArchiveStore.from_tables(archive, pd.DataFrame(sessions), pd.DataFrame(cells), units)


def _row(summary: pd.DataFrame, **labels) -> pd.Series:
    """The one row of ``summary`` with ``labels``; a region given by its CCF acronym (the level is its name)."""
    keep = np.ones(len(summary), dtype=bool)
    for column, value in labels.items():
        if column == "region":
            keep &= summary[column].astype(str).str.endswith(f"(CCF: {value})").to_numpy()
            continue
        keep &= summary[column].to_numpy() == value
    assert keep.sum() == 1, labels
    return summary[keep].iloc[0]


def test_group_means_and_t_intervals_are_over_animal_means(many):
    view = TimeCourseView(many)  # the landing filter: stressed animals only
    cells = many.cells[many.cells["accepted"] & (many.cells["stress"] != "none")]
    assert set(view.data["stress"]) == {"chronic restraint"} and len(view.data) == len(cells)
    animals = cells.groupby([*GROUPS, "subject"])["nmda_amplitude_pa"].mean().reset_index()
    checked = 0
    for key, part in animals.groupby(list(GROUPS)):
        row = _row(view.summary, **dict(zip(GROUPS, key, strict=True)))
        values = part["nmda_amplitude_pa"].to_numpy()
        low, high = stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=stats.sem(values))
        assert row["n_animals"] == len(values) >= 3
        assert row["n_cells"] == ((cells[list(GROUPS)] == pd.Series(key, index=list(GROUPS))).all(axis=1)).sum()
        np.testing.assert_allclose([row["mean"], row["ci_low"], row["ci_high"]], [values.mean(), low, high])
        checked += 1
    assert checked == len(view.summary) == 8  # 2 regions × 2 drugs × 2 times, one stress level
    assert view.shape == (1, 2) and [f.title for f in view.facets] == [f"Region: {CA1}", f"Region: {LHB}"]


def test_stress_gets_facet_rows_when_the_filters_keep_several_levels(many):
    view = TimeCourseView(many, filter_stress=[])
    assert view.shape == (2, 2) and len(view.panels) == 4
    assert view.facets[0].title == f"Region: {CA1} · Stress: none"
    view.filter_stress = [NOT_CONTROL]
    assert view.shape == (1, 2) and len(view.panels) == 2


def test_fraction_blocked_on_a_hand_made_catalog_with_known_means():
    store = _hand_made([
        ("LH", "CRS", "1h", "saline", "10 mL/kg", [190, 200, 210]),
        ("LH", "CRS", "1h", "ketamine", "10 mg/kg", [110, 120, 130]),  # 1 − 120/200 = 0.4
        ("LH", "CRS", "24h", "saline", "10 mL/kg", [180, 220]),
        ("LH", "CRS", "24h", "ketamine", "10 mg/kg", [170, 190]),  # 1 − 180/200 = 0.1
        ("LH", "none", "1h", "saline", "10 mL/kg", [400, 400]),  # not the stressed animals' control
        ("LH", "none", "1h", "ketamine", "10 mg/kg", [90, 110]),  # 1 − 100/400 = 0.75
        ("CA1", "CRS", "1h", "saline", "10 mL/kg", [140, 160]),
        ("CA1", "CRS", "1h", "ketamine", "10 mg/kg", [150]),  # 0, one animal: no interval
        ("CA1", "CRS", "24h", "ketamine", "10 mg/kg", [150, 160]),  # no matched control
    ])  # fmt: skip
    view = TimeCourseView(store, filter_stress=[])
    s = view.summary
    expected = {("LH", "CRS", "1h"): 0.4, ("LH", "CRS", "24h"): 0.1, ("LH", "none", "1h"): 0.75,
                ("CA1", "CRS", "1h"): 0.0}  # fmt: skip
    for (region, stress, time), fraction in expected.items():
        row = _row(s, region=region, stress=stress, time_group=time, drug="ketamine")
        assert row["fraction_blocked"] == pytest.approx(fraction) and row["control"] == "saline"
        if region == "LH":
            assert row["fb_ci_low"] <= fraction <= row["fb_ci_high"] and row["fb_ci_low"] < row["fb_ci_high"]
    one = _row(s, region="CA1", stress="CRS", time_group="1h", drug="ketamine")
    assert np.isnan(one["fb_ci_low"]) and np.isnan(one["ci_low"]) and "no interval" in one["note"]
    lone = _row(s, region="CA1", time_group="24h")
    assert np.isnan(lone["fraction_blocked"]) and lone["note"] == "no matched saline group"
    assert s.loc[s["drug"] == "saline", "fraction_blocked"].isna().all()
    # the figure: every ketamine group with a control has its point in the fraction panel of its facet
    fractions = {f.title: sorted(f.fraction["fraction_blocked"].round(6)) for f in view.facets}
    lh = region_name("", "LH")  # the hand-made catalog has no study label: the CCF acronym stands for it
    assert fractions == {f"Region: {CA1} · Stress: CRS": [0.0], f"Region: {lh} · Stress: CRS": [0.1, 0.4],
                         f"Region: {CA1} · Stress: none": [], f"Region: {lh} · Stress: none": [0.75]}  # fmt: skip
    assert [f.message for f in view.facets] == [
        "No cells pass the filters here.",
        "",
        "No matched saline group: 24h ketamine.",
        "",
    ]
    # the matched control stays the study's control when the filters drop it: no fraction, and a note says so
    view.filter_drug = ["ketamine"]
    assert view.summary["fraction_blocked"].isna().all() and "The control (saline)" in view._notice.object


def test_bootstrap_interval_agrees_with_the_delta_method():
    rng = np.random.default_rng(11)
    treated, control = rng.normal(60, 10, 40), rng.normal(100, 15, 40)
    estimate, low, high = fraction_blocked(treated, control)
    assert estimate == pytest.approx(1 - treated.mean() / control.mean())
    a, b = treated.mean(), control.mean()
    se = np.sqrt((treated.var(ddof=1) / 40) / b**2 + (a**2 / b**4) * control.var(ddof=1) / 40)
    delta = stats.norm.interval(0.95, loc=estimate, scale=se)
    assert (high - low) == pytest.approx(delta[1] - delta[0], rel=0.15)
    assert low == pytest.approx(delta[0], abs=0.2 * se * 1.96) and high == pytest.approx(delta[1], abs=0.2 * se * 1.96)
    assert fraction_blocked(treated, control) == (estimate, low, high)  # a fixed seed: the same interval
    assert fraction_blocked(treated, control, n_resamples=N_RESAMPLES, seed=1) != (estimate, low, high)


def _with_doses(store: ArchiveStore) -> ArchiveStore:
    """The tiny archive's LH ketamine cell row copied to 3 animals × (saline, 3 and 10 mg/kg), 2 cells each."""
    cells = store.cells
    template = cells[cells["region"] == "LH"].iloc[0]
    rows = []
    for drug, dose, unit, mean in (("saline", 10.0, "mL/kg", 200.0), ("ketamine", 3.0, "mg/kg", 150.0),
                                   ("ketamine", 10.0, "mg/kg", 80.0)):  # fmt: skip
        for animal, offset in enumerate((-20.0, 0.0, 20.0)):
            subject = f"{template['subject']}-{drug}{dose:g}-{animal}"
            for cell, spread in enumerate((-5.0, 5.0)):
                row = template.copy()
                row["subject"], row["cell_key"] = subject, f"{subject}/s1/c{cell}"
                row["drug"], row["dose_value"], row["dose_unit"] = drug, dose, unit
                row["dose"] = f"{dose:g} {unit}"
                row["drug_role"] = "vehicle control" if drug == "saline" else "treatment"
                row["nmda_amplitude_pa"] = mean + offset + spread
                rows.append(row)
    edited = pd.DataFrame(rows).reset_index(drop=True)
    return ArchiveStore.from_tables(store.archive, store.sessions, edited, store.units)


def test_dose_response_on_an_edited_real_catalog(store):
    edited = _with_doses(store)
    view = TimeCourseView(edited, x="dose", filter_region=["LH"])
    assert view.several_doses == ["ketamine"] and view.control == "saline"
    (facet,) = view.facets
    # the control first, then the doses in numeric order (not '10 mg/kg' < '3 mg/kg' as text)
    assert list(facet.ticks.values()) == ["10 mL/kg\nsaline (control)", "3 mg/kg\nketamine", "10 mg/kg\nketamine"]
    s = view.summary.set_index("dose")
    np.testing.assert_allclose(s.loc[["10 mL/kg", "3 mg/kg", "10 mg/kg"], "mean"], [200.0, 150.0, 80.0])
    assert s.loc["3 mg/kg", "fraction_blocked"] == pytest.approx(0.25)
    assert s.loc["10 mg/kg", "fraction_blocked"] == pytest.approx(0.6)
    assert s.loc["10 mg/kg", "n_animals"] == 3 and s.loc["10 mg/kg", "n_cells"] == 6
    assert facet.control_mean == pytest.approx(200.0)
    ketamine = facet.groups[facet.groups["drug"] == "ketamine"]
    assert ketamine["colour"].nunique() == 1 and len(facet.lines) == 1  # one drug: one colour, doses joined
    view.x = "time"
    assert "ketamine: one colour per dose" in view._notice.object
    assert view.facets[0].groups["treatment"].nunique() == 3


def test_units_appear_once_per_time_group(many):
    view = TimeCourseView(many, measure="firing_rate", filter_stress=[])
    assert set(view.data["time_group"]) == {"baseline", "post-injection"}
    assert view.data.groupby(["key", "time_group"]).size().max() == 1
    assert view.data["key"].nunique() < len(view.data)  # a unit in both epochs


def test_exports(many):
    view = TimeCourseView(many)
    points = pd.read_csv(io.StringIO(view.points_csv().getvalue()))
    assert len(points) == len(view.data) and {"hours_since_injection", "dose_value", view.value_label} <= set(points)
    summary = pd.read_csv(io.StringIO(view.summary_csv().getvalue()))
    assert {"group", *SUMMARY_NUMBERS} <= set(summary) and len(summary) == len(view.summary)
    np.testing.assert_allclose(summary["ci_low"], view.summary["ci_low"])
    assert view.figure_bytes("png").read(8) == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in view.figure_bytes("svg").read(2000)


def test_views_on_the_tiny_archive(store):
    view = TimeCourseView(store)
    assert len(view.data) == store.cells["accepted"].astype(bool).sum() and view.summary["n_animals"].eq(1).all()
    assert view.summary["fraction_blocked"].isna().all()  # its LH and CA1 cells have no matched control
    assert all(f.fraction.empty and f.message for f in view.facets)
    view.measure = "firing_rate"
    assert not view.data.empty


def test_url_opens_the_time_course_with_its_own_parameters(many):
    app = ExplorerApp(many)
    assert app._timecourse is None  # built only when needed
    apply_query(app, {"view": [b"timecourse"], "tc_x": [b"dose"], "tc_filter_region": [b'["LH"]'],
                      "tc_measure": [b"percent_in_bursts"], "filter_region": [b'["CA1"]']})  # fmt: skip
    tc = app.timecourse
    assert (tc.x, tc.filter_region, tc.measure) == ("dose", ["LH"], "percent_in_bursts")
    assert app.compare.filter_region == ["CA1"] and app.current is tc
    assert set(tc.data["region"]) == {LHB} and set(tc.data["region_ccf"]) == {"LH"}


def test_groups_are_agent_and_dose_when_the_drug_factor_names_doses(vehicle_archive):
    """Two ketamine doses in the archive split the drug factor's levels; the time course groups by agent and dose."""
    store = ArchiveStore(vehicle_archive)
    view = TimeCourseView(store, filter_stress=[], accepted_only=False)
    assert view.control == "phosphate-buffered saline"  # by its role, not its name
    assert set(zip(view.summary["drug"], view.summary["dose"], strict=True)) == {
        ("ketamine", "10 mg/kg"),
        ("phosphate-buffered saline", "10 mL/kg"),
    }
    assert set(view.summary["time_group"]) == {"early"}  # the study's own time point
