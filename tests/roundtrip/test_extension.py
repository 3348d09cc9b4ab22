"""ndx-drug-stress round trips: write with our API, read back with ours and with plain pynwb.

The constructor checks are the package's own tests (ndx-drug-stress/src/pynwb/tests).
"""

import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from pynwb import NWBHDF5IO, NWBFile
from pynwb.file import Subject

from nwb_ketamine.extension import DrugAdministration, DrugStressMetadata, StressProtocol, mirror_into_core_fields

ADMINISTRATIONS = [
    dict(
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
    ),
    dict(
        name="saline",
        agent="saline",
        volume=10.0,
        volume_unit="mL/kg",
        route="intraperitoneal",
        role="vehicle control",
        description="0.9% NaCl.",
    ),
    dict(name="memantine", agent="memantine", dose=5.0, dose_unit="mg/kg", route="intraperitoneal", role="treatment"),
    dict(name="mk801", agent="MK-801", dose=0.1, dose_unit="mg/kg", route="intraperitoneal", role="treatment"),
    dict(name="ap5", agent="D-AP5", concentration=50.0, concentration_unit="uM", route="bath", role="other"),
    dict(
        name="nbqx",
        agent="NBQX",
        concentration=10.0,
        concentration_unit="uM",
        route="bath",
        role="pharmacological isolation",
        administration_time=120.0,
    ),
    dict(
        name="picrotoxin",
        agent="picrotoxin",
        concentration=100.0,
        concentration_unit="uM",
        route="bath",
        role="pharmacological isolation",
    ),
]
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


def complete_file():
    nwbfile = NWBFile(
        session_description="Whole-cell recording of a lateral habenula neuron after in vivo ketamine.",
        identifier="4f1c2b8e-0000-4000-8000-000000000001",
        session_start_time=datetime(2024, 2, 15, 10, 30, tzinfo=UTC),
        experimenter=["Doe, Jane"],
        institution="Example University",
        lab="Example lab",
        experiment_description="Region-specific NMDAR block by ketamine.",
        keywords=["ketamine"],
        related_publications=["doi:10.1126/science.ado7010"],
    )
    nwbfile.subject = Subject(
        subject_id="m01",
        species="Mus musculus",
        sex="M",
        age="P10W",
        weight="0.0253 kg",
        strain="C57BL/6J",
        description="Restraint-stressed mouse.",
    )
    metadata = DrugStressMetadata(
        name="drug_stress",
        experimental_group="stress-ketamine",
        drug_administrations=[DrugAdministration(**kw) for kw in ADMINISTRATIONS],
        stress_protocols=[StressProtocol(**STRESS)],
    )
    nwbfile.add_lab_meta_data(metadata)
    mirror_into_core_fields(nwbfile, metadata)
    return nwbfile


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    path = tmp_path_factory.mktemp("ext") / "complete.nwb"
    with NWBHDF5IO(path, "w") as io:
        io.write(complete_file())
    return path


def test_round_trip_every_type(written):
    with NWBHDF5IO(written, "r") as io:
        nwbfile = io.read()
        metadata = nwbfile.lab_meta_data["drug_stress"]
        assert isinstance(metadata, DrugStressMetadata)
        assert metadata.experimental_group == "stress-ketamine"
        for expected in ADMINISTRATIONS:
            adm = metadata.drug_administrations[expected["name"]]
            assert isinstance(adm, DrugAdministration)
            for key, value in expected.items():
                assert getattr(adm, key) == value, key
        protocol = metadata.stress_protocols["crs"]
        assert isinstance(protocol, StressProtocol)
        for key, value in STRESS.items():
            assert getattr(protocol, key) == value, key


def test_core_fields_mirror_the_extension(written):
    with NWBHDF5IO(written, "r") as io:
        nwbfile = io.read()
        assert "ketamine 10 mg/kg intraperitoneal in 0.9% saline at -3600 s (treatment)" in nwbfile.pharmacology
        assert "NBQX 10 uM bath at 120 s (pharmacological isolation)" in nwbfile.pharmacology
        assert "chronic restraint 2 h/day x 14 days from 2024-02-01 to 2024-02-14" in nwbfile.protocol
        assert {"ketamine", "MK-801", "chronic restraint", "stress-ketamine"} <= set(nwbfile.keywords[:])


def test_pynwb_validate(written):
    result = subprocess.run(
        [sys.executable, "-m", "pynwb.validation_cli", str(written)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no errors found" in result.stdout


def test_nwbinspector_dandi_config_has_no_critical_or_violation(written):
    from nwbinspector import Importance, inspect_nwbfile, load_config

    messages = list(inspect_nwbfile(nwbfile_path=str(written), config=load_config("dandi")))
    serious = [m for m in messages if m.importance in (Importance.CRITICAL, Importance.BEST_PRACTICE_VIOLATION)]
    assert serious == [], [f"{m.importance.name} {m.check_function_name}: {m.message}" for m in serious]


READ_WITHOUT_PACKAGE = """
import json, sys
sys.modules["nwb_ketamine"] = None  # make the project unimportable: the cached spec must be enough
try:
    import nwb_ketamine  # noqa
    raise SystemExit("nwb_ketamine is importable")
except ImportError:
    pass
from pynwb import NWBHDF5IO
with NWBHDF5IO(sys.argv[1], "r", load_namespaces=True) as io:
    f = io.read()
    m = f.lab_meta_data["drug_stress"]
    out = {"group": m.experimental_group, "type": type(m).__name__,
           "administrations": {k: {f: getattr(v, f) for f in v.fields} for k, v in m.drug_administrations.items()},
           "stress": {k: {f: getattr(v, f) for f in v.fields} for k, v in m.stress_protocols.items()}}
print(json.dumps(out, default=lambda v: v.item()))
"""


def test_plain_pynwb_reads_every_value_without_the_package(written, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", READ_WITHOUT_PACKAGE, str(written)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["type"] == "DrugStressMetadata" and out["group"] == "stress-ketamine"
    for expected in ADMINISTRATIONS:
        got = out["administrations"][expected["name"]]
        for key, value in expected.items():
            if key != "name":
                assert got[key] == value, key
    for key, value in STRESS.items():
        if key != "name":
            assert out["stress"]["crs"][key] == value
