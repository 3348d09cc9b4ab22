"""The types: write a file with every field, read it back with the package and with plain pynwb; the
constructor checks."""

import json
import subprocess
import sys
from datetime import datetime, timezone

import pytest
from pynwb import NWBHDF5IO, NWBFile

import ndx_drug_stress
from ndx_drug_stress import (
    DrugAdministration,
    DrugStressMetadata,
    DrugStressValueError,
    StressProtocol,
    mirror_into_core_fields,
)

KETAMINE = dict(
    name="ketamine",
    agent="ketamine",
    agent_identifier="CHEBI:6121",
    dose=10.0,
    dose_unit="mg/kg",
    route="intraperitoneal",
    vehicle="0.9% saline",
    volume=10.0,
    volume_unit="mL/kg",
    administration_time=-3600.0,
    role="treatment",
    description="Racemic ketamine hydrochloride.",
)
NBQX = dict(
    name="nbqx",
    agent="NBQX",
    concentration=10.0,
    concentration_unit="uM",
    route="bath",
    role="pharmacological isolation",
    administration_time=120.0,
)
SALINE = dict(name="saline", agent="saline", volume=10.0, volume_unit="mL/kg", route="intraperitoneal",
              role="vehicle control")  # fmt: skip
STRESS = dict(
    name="crs",
    paradigm="chronic restraint",
    duration_per_day=2.0,
    number_of_days=14,
    start_date="2024-02-01",
    end_date="2024-02-14",
    apparatus="ventilated 50 mL conical tube",
    description="Daily restraint.",
)
ADMINISTRATIONS = [KETAMINE, NBQX, SALINE]


def nwbfile(administrations=ADMINISTRATIONS, stress=STRESS):
    nwb = NWBFile(
        session_description="test",
        identifier="ndx-drug-stress-test",
        session_start_time=datetime(2024, 2, 15, 10, 30, tzinfo=timezone.utc),
        keywords=["ketamine"],
    )
    metadata = DrugStressMetadata(
        name="drug_stress",
        experimental_group="stress-ketamine",
        drug_administrations=[DrugAdministration(**kw) for kw in administrations],
        stress_protocols=[StressProtocol(**stress)],
    )
    nwb.add_lab_meta_data(metadata)
    mirror_into_core_fields(nwb, metadata)
    return nwb


@pytest.fixture
def written(tmp_path):
    path = tmp_path / "session.nwb"
    with NWBHDF5IO(path, "w") as io:
        io.write(nwbfile())
    return path


def test_round_trip_every_field(written, recwarn):
    with NWBHDF5IO(written, "r") as io:
        metadata = io.read().lab_meta_data["drug_stress"]
        assert isinstance(metadata, DrugStressMetadata) and metadata.experimental_group == "stress-ketamine"
        for expected in ADMINISTRATIONS:
            adm = metadata.drug_administrations[expected["name"]]
            assert type(adm) is DrugAdministration
            assert {key: getattr(adm, key) for key in expected} == expected
        protocol = metadata.stress_protocols["crs"]
        assert type(protocol) is StressProtocol
        assert {key: getattr(protocol, key) for key in STRESS} == STRESS
    assert not [w for w in recwarn if issubclass(w.category, ndx_drug_stress.DrugStressWarning)]


def test_core_fields_mirror_the_extension(written):
    with NWBHDF5IO(written, "r") as io:
        nwb = io.read()
        assert "ketamine 10 mg/kg intraperitoneal in 0.9% saline at -3600 s (treatment)" in nwb.pharmacology
        assert "NBQX 10 uM bath at 120 s (pharmacological isolation)" in nwb.pharmacology
        assert "chronic restraint 2 h/day x 14 days from 2024-02-01 to 2024-02-14" in nwb.protocol
        assert {"ketamine", "NBQX", "chronic restraint", "stress-ketamine"} <= set(nwb.keywords[:])


def test_pynwb_validates_the_file(written):
    result = subprocess.run([sys.executable, "-m", "pynwb.validation_cli", str(written)], capture_output=True,
                            text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no errors found" in result.stdout


PLAIN_PYNWB = """
import json, sys
sys.modules["ndx_drug_stress"] = None  # the package unimportable: the spec cached in the file must be enough
from pynwb import NWBHDF5IO
with NWBHDF5IO(sys.argv[1], "r", load_namespaces=True) as io:
    m = io.read().lab_meta_data["drug_stress"]
    out = {"type": type(m).__name__, "module": type(m).__module__, "group": m.experimental_group,
           "administrations": {k: {f: getattr(v, f) for f in v.fields} for k, v in m.drug_administrations.items()},
           "stress": {k: {f: getattr(v, f) for f in v.fields} for k, v in m.stress_protocols.items()}}
print(json.dumps(out, default=lambda v: v.item()))
"""


def test_plain_pynwb_reads_every_value_without_the_package(written, tmp_path):
    result = subprocess.run([sys.executable, "-c", PLAIN_PYNWB, str(written)], capture_output=True, text=True,
                            check=False, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["type"] == "DrugStressMetadata" and not out["module"].startswith("ndx_drug_stress")
    assert out["group"] == "stress-ketamine"
    for expected in ADMINISTRATIONS:
        assert out["administrations"][expected["name"]] == {k: v for k, v in expected.items() if k != "name"}
    assert out["stress"]["crs"] == {k: v for k, v in STRESS.items() if k != "name"}


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(route="ip"), "DrugAdministration.route: 'ip' is not one of intraperitoneal, subcutaneous"),
        (dict(role="drug"), "DrugAdministration.role: 'drug' is not one of treatment, vehicle control"),
        (dict(dose_unit=None), "DrugAdministration.dose: 10.0 has no unit; set dose_unit"),
        (dict(dose=-1.0), "DrugAdministration.dose: -1.0 is negative; give a non-negative dose"),
        (dict(volume=1.0, volume_unit=None), "DrugAdministration.volume: 1.0 has no unit; set volume_unit"),
        (dict(dose=None, volume=None), "DrugAdministration 'ketamine': give a dose, concentration or volume"),
    ],
)
def test_administration_constructor_checks(changes, message):
    with pytest.raises(DrugStressValueError) as raised:
        DrugAdministration(**{**KETAMINE, **changes})
    assert message in str(raised.value)


def test_an_unknown_term_says_how_to_register_one():
    with pytest.raises(DrugStressValueError) as raised:
        DrugAdministration(**{**KETAMINE, "route": "intrathecal-x"})
    assert "ndx_drug_stress.register_term('route', 'intrathecal-x', definition='...')" in str(raised.value)


def test_stress_constructor_checks():
    with pytest.raises(DrugStressValueError, match="StressProtocol.paradigm: 'forced swim' is not one of none"):
        StressProtocol(**{**STRESS, "paradigm": "forced swim"})
    with pytest.raises(DrugStressValueError, match="StressProtocol.number_of_days: -3 is negative"):
        StressProtocol(**{**STRESS, "number_of_days": -3})


def test_the_error_is_a_value_error():
    assert issubclass(DrugStressValueError, ValueError)
