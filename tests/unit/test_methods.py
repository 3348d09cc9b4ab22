"""Methods facts of the study file (slice methods, tetrode implants): how they resolve, and their text in NWB."""

from datetime import UTC, datetime

import pytest
import yaml

from nwb_ketamine import methods
from nwb_ketamine.errors import StudyFileError
from nwb_ketamine.metadata import Implant, SliceMethods, load_study
from nwb_ketamine.nwbfile import session_identifier
from tests.conftest import EXAMPLE_STUDY

NOW = datetime(2026, 1, 1, tzinfo=UTC)
STUDY_METHODS = {
    "internal_solution": "Cs-methanesulfonate based",
    "slice_thickness_um": 300,
    "cutting_solution": "ice-cold sucrose ACSF",
    "cutting_temperature_c": 4,
    "recovery": "34 °C for 30 min",
    "recording_solution": "ACSF",
    "recording_temperature_c": 32,
    "stimulation_site": "somewhere",
    "stimulation_sites": {"LHb": "stria medullaris"},
}


def _study(tmp_path, change=None):
    data = yaml.safe_load(EXAMPLE_STUDY.read_text())
    if change is not None:
        change(data)
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_study(path, check_files=False, now=NOW)


def _sessions(study):
    return {s.region: s for s in study.slice_sessions}


#: A sorting-only in vivo session with two tetrodes (the example study has slice cells only).
INVIVO = {
    "type": "invivo",
    "session_id": "20240301",
    "subject": "m01",
    "start_time": "2024-03-01T10:00:00+08:00",
    "sorting": {"path": "sorting", "format": "phy"},
    "tetrodes": [{"region": "LHb"}, {"region": "LHb"}],
}


def _invivo(data):
    """The in vivo session of ``data`` (added when it has none)."""
    found = [s for s in data["sessions"] if s["type"] == "invivo"]
    if not found:
        found = [yaml.safe_load(yaml.safe_dump(INVIVO))]
        data["sessions"].append(found[0])
    return found[0]


def test_without_methods_nothing_is_given(tmp_path):
    study = _study(tmp_path, lambda data: data.pop("slice_methods", None))
    for session in study.slice_sessions:
        assert session.methods == SliceMethods() and not session.methods.given
    assert all(t.implant is None for s in study.invivo_sessions for t in s.tetrodes)
    assert methods.slices_text(SliceMethods()) is None and methods.stimulus_notes_text(None) is None


def test_study_defaults_session_overrides_and_region_sites(tmp_path):
    def change(data):
        data["slice_methods"] = dict(STUDY_METHODS)
        lhb = next(s for s in data["sessions"] if s.get("region") == "LHb")
        lhb["slice_methods"] = {"recording_temperature_c": 30.5}

    cells = _sessions(_study(tmp_path, change))
    lhb, ca1 = cells["LHb"].methods, cells["CA1"].methods
    assert lhb.recording_temperature_c == 30.5 and ca1.recording_temperature_c == 32
    assert lhb.slice_thickness_um == ca1.slice_thickness_um == 300
    assert lhb.internal_solution == "Cs-methanesulfonate based"
    # the region's site, else the study-wide one
    assert lhb.stimulation_site == "stria medullaris" and ca1.stimulation_site == "somewhere"


def test_session_stimulation_site_wins_over_the_region(tmp_path):
    def change(data):
        data["slice_methods"] = {"stimulation_sites": {"LHb": "stria medullaris"}}
        lhb = next(s for s in data["sessions"] if s.get("region") == "LHb")
        lhb["slice_methods"] = {"stimulation_site": "fasciculus retroflexus"}

    cells = _sessions(_study(tmp_path, change))
    assert cells["LHb"].methods.stimulation_site == "fasciculus retroflexus"
    assert cells["CA1"].methods.stimulation_site is None


def test_implant_of_session_and_tetrode(tmp_path):
    def change(data):
        session = _invivo(data)
        session["implant"] = {"ap_mm": -1.8, "ml_mm": 0.45, "dv_mm": -2.9, "atlas": "Paxinos and Franklin 2019"}
        session["tetrodes"][0]["implant"] = {"ap_mm": -1.7, "ml_mm": 0.5, "dv_mm": -2.8}

    tetrodes = _study(tmp_path, change).invivo_sessions[0].tetrodes
    assert tetrodes[0].implant == Implant(-1.7, 0.5, -2.8, "Paxinos and Franklin 2019")  # the session's atlas
    assert all(t.implant == Implant(-1.8, 0.45, -2.9, "Paxinos and Franklin 2019") for t in tetrodes[1:])


def test_identifier_covers_the_methods(tmp_path, monkeypatch):
    """The identifier's metadata digest includes the resolved methods (conversion is reproducible)."""
    monkeypatch.setattr("nwb_ketamine.archive.manifest.session_sources", lambda session: [])
    assert _study(tmp_path / "x").slice_sessions[0].methods.slice_thickness_um == 300  # the example gives them
    base = _study(tmp_path / "a", _invivo)

    def change(data):
        data["slice_methods"] = {"slice_thickness_um": 250}
        _invivo(data)["implant"] = {"ap_mm": -1.8, "ml_mm": 0.45, "dv_mm": -2.9}

    same, other = _study(tmp_path / "c", _invivo), _study(tmp_path / "b", change)
    for a, c, b in zip(base.sessions, same.sessions, other.sessions, strict=True):
        assert session_identifier(base, a) == session_identifier(same, c)
        assert session_identifier(base, a) != session_identifier(other, b)


def test_text_round_trip():
    m = SliceMethods(
        internal_solution="K-gluconate\nbased",
        slice_thickness_um=250.0,
        cutting_solution="NMDG ACSF",
        cutting_temperature_c=2.0,
        recovery="32 °C, 12 min",
        recording_solution="ACSF: 2 mM Ca",
        recording_temperature_c=31.5,
    )
    text = methods.slices_text(m)
    assert text is not None and "Slice thickness: 250 µm" in text.splitlines()
    assert methods.read_slices(text) == {
        "slice_thickness_um": 250.0,
        "slice_preparation": "cutting solution: NMDG ACSF; cutting temperature: 2 °C; recovery: 32 °C, 12 min",
        "recording_solution": "ACSF: 2 mM Ca",
        "recording_temperature_c": 31.5,
    }
    line = methods.line(methods.INTERNAL_SOLUTION, m.internal_solution)
    assert methods.labelled("Pipette.\n" + line) == {"Internal solution": "K-gluconate based"}
    notes = methods.stimulus_notes_text("stria medullaris")
    assert methods.labelled(notes)[methods.STIMULATION_SITE] == "stria medullaris"
    implant = methods.implant_text(Implant(-1.8, 0.45, -2.9, "Paxinos and Franklin 2019"))
    assert methods.labelled(implant)[methods.ATLAS] == "Paxinos and Franklin 2019"
    # text from elsewhere: nothing is made up
    assert methods.read_slices("300 um coronal slices in ACSF")["slice_thickness_um"] != 300
    assert methods.read_slices(None)["recording_solution"] == ""


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        ("slice_methods.slice_thickness_um", -300, "slice_methods.slice_thickness_um: -300 is not above 0"),
        ("slice_methods.slice_thickness_um", "300 um", "slice_methods.slice_thickness_um: '300 um' is a str"),
        ("slice_methods.stimulation_sites", {"Atlantis": "x"}, "stimulation_sites.Atlantis: 'Atlantis' is not"),
    ],
)
def test_bad_methods_are_one_line_problems(tmp_path, where, value, message):
    def change(data):
        section, name = where.split(".")
        data.setdefault(section, {})[name] = value

    with pytest.raises(StudyFileError) as info:
        _study(tmp_path, change)
    assert any(message in p for p in info.value.problems), info.value.problems
