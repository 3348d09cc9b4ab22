"""Controls and drug levels from the metadata: the vehicle by its stored role, doses never pooled."""

import numpy as np
import pandas as pd
import pytest

from nwb_ketamine.analysis.group_tables import reference_level
from nwb_ketamine.explorer.compare import CompareView
from nwb_ketamine.explorer.factors import (
    NOT_CONTROL,
    control_level,
    control_levels,
    factor_rows,
    filter_mask,
    ordered_levels,
)
from nwb_ketamine.explorer.paired import PairedView
from nwb_ketamine.explorer.store import ArchiveStore

PBS = "phosphate-buffered saline"


def _edited(store, edit):
    """A store over copies of ``store``'s tables, each changed by ``edit(table)``."""
    tables = [edit(t.copy()) for t in (store.sessions, store.cells, store.units)]
    return ArchiveStore.from_tables(store.archive, *tables)


def test_the_vehicle_control_is_found_by_its_role_in_a_converted_archive(vehicle_archive):
    """A vehicle named 'phosphate-buffered saline' (role vehicle control) is the control; the name rule is not."""
    store = ArchiveStore(vehicle_archive)
    cells = factor_rows(store, "cells", accepted_only=False)
    assert dict(zip(cells["drug"], cells["drug_role"], strict=True)) == {
        "ketamine 10 mg/kg": "treatment",  # two doses of ketamine in the archive: the level names its dose
        PBS: "vehicle control",
    }
    assert set(cells["dose"]) == {"10 mg/kg", "10 mL/kg"}  # the dose factor stays
    levels = sorted(cells["drug"].unique())
    assert reference_level("drug", levels) == "ketamine 10 mg/kg"  # what the name rule would have compared with
    assert control_levels("drug", cells) == [PBS] and control_level("drug", cells) == PBS
    assert ordered_levels(cells, "drug") == [PBS, "ketamine 10 mg/kg"]
    kept = cells[filter_mask(cells, {"drug": [NOT_CONTROL]})]
    assert list(kept["drug"]) == ["ketamine 10 mg/kg"]
    units = factor_rows(store, "units", accepted_only=False)
    assert set(units["drug"]) == {"ketamine 3 mg/kg"} and set(units["dose"]) == {"3 mg/kg"}

    view = CompareView(store, filter_stress=[], accepted_only=False, x="drug", colour="none", facet_col="none")
    assert view.control == PBS and list(view.stats["group_b"].unique()) == [PBS]
    assert set(view.stats["group_a"]) == {"ketamine 10 mg/kg"}
    view.param.update(x="time_group", colour="drug", normalise=True)
    assert f"% of {PBS}" in view.value_label
    vehicle = view.data[view.data["drug"] == PBS]
    assert len(vehicle) == 1 and vehicle["value"].iloc[0] == pytest.approx(100.0)  # its own mean
    assert set(view.data["time_group"]) == {"early"}  # the study's time point, not the group name's '24h'
    paired = PairedView(store, accepted_only=False, facet_row="none", facet_col="drug")
    assert set(paired.stats["drug"]) == {"ketamine 3 mg/kg"}


def test_a_vehicle_with_any_name_is_the_control_and_normalises_to_100(synthetic):
    """The synthetic catalog with its saline renamed 'water': still the control, by its role."""
    renamed = _edited(synthetic, lambda t: t.assign(drug=t["drug"].replace({"saline": "water"})))
    view = CompareView(renamed, filter_stress=[])
    assert reference_level("drug", ["ketamine", "water"]) == "ketamine"  # the name rule would pick ketamine
    assert view.control == "water"
    assert set(view.stats["group_a"]) == {"ketamine"} and set(view.stats["group_b"]) == {"water"}
    view.param.update(normalise=True)
    water = view.data[view.data.drug == "water"].groupby(["region", "stress", "time_group"])["value"].mean()
    assert water.to_numpy() == pytest.approx(100.0)
    # the normalised ketamine cells: their value over the water mean of the same region, stress and time
    rows = factor_rows(renamed, "cells", accepted_only=True)
    raw = rows.assign(value=renamed.cells.loc[renamed.cells["accepted"].astype(bool), "nmda_amplitude_pa"].to_numpy())
    keys = ["region", "stress", "time_group"]
    means = raw[raw.drug == "water"].groupby(keys)["value"].mean()
    ketamine = raw[raw.drug == "ketamine"].join(means.rename("water_mean"), on=keys)
    expected = 100 * ketamine["value"] / ketamine["water_mean"]
    got = view.data[view.data.drug == "ketamine"].set_index("key")["value"]
    assert got.loc[ketamine["key"]].to_numpy() == pytest.approx(expected.to_numpy())


def test_the_name_rule_applies_only_when_no_row_carries_a_role(synthetic):
    """Without roles (a catalog of foreign files: '' or no column) the control is found by name."""
    for edit in (lambda t: t.drop(columns="drug_role"), lambda t: t.assign(drug_role="")):
        store = _edited(synthetic, edit)
        rows = factor_rows(store, "cells", accepted_only=False)
        assert control_levels("drug", rows) == ["saline"] and CompareView(store).control == "saline"
    # with roles, a level named saline that is not a vehicle is no control
    store = _edited(synthetic, lambda t: t.assign(drug_role="treatment"))
    rows = factor_rows(store, "cells", accepted_only=False)
    assert control_levels("drug", rows) == []
    assert set(rows[filter_mask(rows, {"drug": [NOT_CONTROL]})]["drug"]) == {"saline", "ketamine"}
    assert control_level("drug", rows) == "ketamine"  # no control: the first level, like any other factor


def test_several_vehicle_levels_are_all_controls(synthetic):
    """Two vehicles (by role): both are left out by 'all but control'; comparisons use the larger one."""

    def two_vehicles(t):
        water = (t["drug"] == "saline") & (t["subject"].str[-1].astype(int) % 2 == 0)
        return t.assign(drug=t["drug"].where(~water, "water"))

    store = _edited(synthetic, two_vehicles)
    rows = factor_rows(store, "cells", accepted_only=False)
    assert control_levels("drug", rows) == ["saline", "water"]
    counts = rows["drug"].value_counts()
    larger = min(["saline", "water"], key=lambda level: (-counts[level], level))
    assert counts["saline"] != counts["water"] or larger == "saline"
    assert control_level("drug", rows) == larger and ordered_levels(rows, "drug")[0] == larger
    assert set(rows[filter_mask(rows, {"drug": [NOT_CONTROL]})]["drug"]) == {"ketamine"}


def test_doses_of_one_agent_are_separate_levels(synthetic):
    """Ketamine at 3 and 10 mg/kg: two drug levels, each compared with the vehicle; the dose factor stays."""

    def two_doses(t):
        low = (t["drug"] == "ketamine") & (t["subject"].str[-1].astype(int) % 2 == 0)
        return t.assign(dose=t["dose"].where(~low, "3 mg/kg"))

    store = _edited(synthetic, two_doses)
    rows = factor_rows(store, "cells", accepted_only=True)
    source = store.cells[store.cells["accepted"].astype(bool)]
    expected = np.where(source["drug"] == "ketamine", "ketamine " + source["dose"], source["drug"])
    assert (rows["drug"].to_numpy() == expected).all()
    assert set(rows["drug"]) == {"saline", "ketamine 10 mg/kg", "ketamine 3 mg/kg"}
    assert set(rows["dose"]) == {"10 mL/kg", "10 mg/kg", "3 mg/kg"}
    units = factor_rows(store, "units", accepted_only=False)
    assert {"ketamine 10 mg/kg", "ketamine 3 mg/kg"} <= set(units["drug"])

    view = CompareView(store, filter_stress=[], x="drug", colour="none", facet_col="none")
    assert view.data["drug"].value_counts().to_dict() == pd.Series(expected).value_counts().to_dict()
    cells = view.stats[view.stats["level"] == "cells"]
    assert sorted(cells["group_a"]) == ["ketamine 10 mg/kg", "ketamine 3 mg/kg"]
    assert set(cells["group_b"]) == {"saline"}
    n = {level: int((expected == level).sum()) for level in set(expected)}
    assert dict(zip(cells["group_a"], cells["n_a"], strict=True)) == {k: n[k] for k in cells["group_a"]}


def test_one_dose_gives_the_agent_and_a_vehicle_is_never_split_by_its_volume(synthetic):
    """One ketamine dose: level 'ketamine'. A vehicle given at two volumes stays one level."""
    rows = factor_rows(synthetic, "cells", accepted_only=False)
    assert set(rows["drug"]) == {"saline", "ketamine"}

    def two_volumes(t):
        small = (t["drug"] == "saline") & (t["subject"].str[-1].astype(int) % 2 == 0)
        return t.assign(dose=t["dose"].where(~small, "5 mL/kg"))

    rows = factor_rows(_edited(synthetic, two_volumes), "cells", accepted_only=False)
    assert set(rows["drug"]) == {"saline", "ketamine"} and set(rows["dose"]) == {"10 mL/kg", "5 mL/kg", "10 mg/kg"}
