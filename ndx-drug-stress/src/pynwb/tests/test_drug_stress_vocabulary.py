"""The open vocabulary: built-in terms with definitions, a lab's own terms registered with theirs."""

import json
import warnings
from pathlib import Path

import pytest

import ndx_drug_stress
from ndx_drug_stress import DrugAdministration, StressProtocol, register_term, term, terms
from ndx_drug_stress import vocabulary as vocab


@pytest.fixture
def fresh_registry(monkeypatch):
    """Each test registers into an empty registry, restored afterwards."""
    monkeypatch.setattr(vocab, "_registered", {field: {} for field in vocab.FIELDS})


def test_every_builtin_term_has_a_definition():
    data = json.loads((Path(vocab.__file__).parent / "vocabulary.json").read_text(encoding="utf-8"))
    assert set(data) == set(vocab.FIELDS)
    for field, entries in data.items():
        assert entries, field
        for value, definition in entries.items():
            found = term(field, value)
            assert found.definition == definition and found.source == "ndx-drug-stress"
            assert definition.strip().endswith(".") and len(definition) > 20, (field, value)
    assert tuple(data["route"]) == ndx_drug_stress.ROUTES and "bath" in ndx_drug_stress.ROUTES


def test_a_registered_term_is_accepted(fresh_registry):
    with pytest.raises(ndx_drug_stress.DrugStressValueError):
        DrugAdministration(name="a", agent="x", dose=1.0, dose_unit="mg/kg", route="intrathecal", role="treatment")
    registered = register_term("route", "intrathecal", "Injected into the subarachnoid space.", source="Lab X")
    assert registered == vocab.Term("route", "intrathecal", "Injected into the subarachnoid space.", "Lab X")
    assert terms("route")[-1] == "intrathecal" and term("route", "intrathecal") == registered
    adm = DrugAdministration(name="a", agent="x", dose=1.0, dose_unit="mg/kg", route="intrathecal", role="treatment")
    assert adm.route == "intrathecal"
    register_term("paradigm", "forced swim", "Repeated sessions of forced swimming.")
    assert StressProtocol(name="s", paradigm="forced swim").paradigm == "forced swim"


def test_a_registered_term_reads_without_warning(fresh_registry, tmp_path):
    from datetime import datetime, timezone

    from pynwb import NWBHDF5IO, NWBFile

    register_term("role", "washout", "Drug-free perfusion after an application, to test recovery.")
    nwb = NWBFile(session_description="t", identifier="t", session_start_time=datetime(2024, 1, 1, tzinfo=timezone.utc))
    adm = DrugAdministration(name="w", agent="ACSF", volume=1.0, volume_unit="mL", route="bath", role="washout")
    nwb.add_lab_meta_data(ndx_drug_stress.DrugStressMetadata(name="drug_stress", experimental_group="g",
                                                             drug_administrations=[adm]))  # fmt: skip
    with NWBHDF5IO(tmp_path / "t.nwb", "w") as io:
        io.write(nwb)
    with warnings.catch_warnings(), NWBHDF5IO(tmp_path / "t.nwb", "r") as io:
        warnings.simplefilter("error", ndx_drug_stress.DrugStressWarning)
        assert io.read().lab_meta_data["drug_stress"].drug_administrations["w"].role == "washout"


@pytest.mark.parametrize(
    "args, message",
    [
        (("dose", "x", "a definition."), "'dose' is not a field with a vocabulary; use one of route, role, paradigm"),
        (("route", "", "a definition."), "must be a non-empty string"),
        (("route", " ip", "a definition."), "without outer spaces"),
        (("route", "ip", "  "), "give the route term 'ip' a definition"),
        (("route", "bath", "Something else."), "'bath' is already a built-in route term: Applied to an ex vivo"),
    ],
)
def test_bad_registrations_are_refused(fresh_registry, args, message):
    with pytest.raises(ValueError, match=message):
        register_term(*args)


def test_a_term_means_one_thing(fresh_registry):
    register_term("route", "intrathecal", "Injected into the subarachnoid space.")
    register_term("route", "intrathecal", "Injected into the subarachnoid space.")  # the same again: nothing
    with pytest.raises(ValueError, match="already registered as: Injected into the subarachnoid space."):
        register_term("route", "intrathecal", "Into the spinal canal.")
    assert terms("route").count("intrathecal") == 1
