"""The study file validator: every malformed example gets its exact one-line message."""

from datetime import UTC, datetime

import pytest

from nwb_ketamine.errors import StudyFileError
from nwb_ketamine.metadata import load_study, time_since_injection
from tests.conftest import EXAMPLE_STUDY

NOW = datetime(2026, 1, 1, tzinfo=UTC)
TEXT = EXAMPLE_STUDY.read_text()


def problems_of(tmp_path, text, check_files=False):
    path = tmp_path / "study.yaml"
    path.write_text(text)
    with pytest.raises(StudyFileError) as info:
        load_study(path, check_files=check_files, now=NOW)
    return info.value.problems


def line_of(text, needle, occurrence=1):
    start = -1
    for _ in range(occurrence):
        start = text.index(needle, start + 1)
    return text.count("\n", 0, start) + 1


def mutate(old, new, count=1):
    assert TEXT.count(old) >= count, old
    return TEXT.replace(old, new, count)


def test_example_is_valid():
    study = load_study(EXAMPLE_STUDY, check_files=False, now=NOW)
    assert set(study.subjects) == {"m01", "m02"}
    assert study.drugs["ketamine-10"].dose.value == 10.0
    assert study.drugs["ketamine-10"].dose.unit == "mg/kg"
    assert study.stress_protocols["crs"].hours_per_day == 2.0
    cell = study.slice_sessions[0]
    assert cell.ccf_region == "LH"
    assert cell.files[1].holding_potential_volts == pytest.approx(0.040)
    assert cell.files[1].bath == ("nbqx",)
    assert time_since_injection(cell).total_seconds() == 5400
    assert study.time_points == {"1h": 1.0, "24h": 24.0}
    assert study.summary().startswith("study.yaml: 'Region-specific")


CASES = [
    # (description, old, new, needle for the line, expected message after "study.yaml:LINE ")
    (
        "undeclared subject",
        "    subject: m02\n",
        "    subject: m17\n",
        "subject: m17",
        "sessions[1].subject: 'm17' is not a declared subject (declared: m01, m02)",
    ),
    (
        "naive datetime",
        "start_time: 2024-02-15T10:30:00+08:00",
        "start_time: 2024-02-15T10:30:00",
        "start_time: 2024-02-15T10:30:00\n",
        "sessions[0].start_time: '2024-02-15T10:30:00' has no UTC offset (naive date-time); add one, e.g. "
        "'2024-02-15T10:30:00+08:00'",
    ),
    (
        "future session",
        "start_time: 2024-02-16T10:30:00+08:00",
        "start_time: 2027-02-16T10:30:00+08:00",
        "2027-02-16T10",
        "sessions[1].start_time: '2027-02-16T10:30:00+08:00' is in the future; check the date",
    ),
    (
        "bad species",
        "species: Mus musculus\n    strain: C57BL/6J\n    sex: M\n    age",
        "species: mouse\n    strain: C57BL/6J\n    sex: M\n    age",
        "species: mouse",
        "subjects[1].species: 'mouse' is not a Latin binomial ('Mus musculus') or an NCBITaxon IRI "
        "('http://purl.obolibrary.org/obo/NCBITaxon_10090')",
    ),
    (
        "bad sex code",
        "    sex: M\n    age",
        "    sex: male\n    age",
        "sex: male",
        "subjects[1].sex: 'male' is not one of M, F, U, O",
    ),
    ("no age nor birth date", "    age: P10W\n", "", "  - id: m02", "subjects[1]: give date_of_birth or age"),
    (
        "weight without unit",
        "weight: 25.3 g",
        "weight: 25.3",
        "weight: 25.3\n",
        "subjects[0].weight: 25.3 is a float, expected string; quote it",
    ),
    (
        "unknown weight unit",
        "weight: 25.3 g",
        "weight: 25.3 lb",
        "weight: 25.3 lb",
        "subjects[0].weight: unknown unit 'lb' for weight (use one of: g, kg, mg)",
    ),
    (
        "id with a space",
        "slice_id: s2",
        "slice_id: s 2",
        "slice_id: s 2",
        "sessions[1].slice_id: 's 2' is not valid: An identifier: letters, digits, '.', '+', '-'; no spaces, "
        "slashes or underscores (DANDI uses '_' as separator).",
    ),
    (
        "id with a slash",
        "slice_id: s1",
        "slice_id: s/1",
        "slice_id: s/1",
        "sessions[0].slice_id: 's/1' is not valid: An identifier: letters, digits, '.', '+', '-'; no spaces, slashes "
        "or underscores (DANDI uses '_' as separator).",
    ),
    (
        "unknown route",
        "route: intraperitoneal\n    vehicle",
        "route: ip\n    vehicle",
        "route: ip",
        "drugs[0].route: 'ip' is not one of intraperitoneal, subcutaneous, intravenous, oral, intranasal, "
        "intracerebral, bath, other",
    ),
    (
        "unknown dose unit",
        "dose: 10 mg/kg",
        "dose: 10 mg/lb",
        "dose: 10 mg/lb",
        "drugs[0].dose: unknown unit 'mg/lb' for dose (use one of: mg/kg, ug/kg, g/kg, mg, ug)",
    ),
    ("negative dose", "dose: 10 mg/kg", "dose: -10 mg/kg", "dose: -10", "drugs[0].dose: -10 mg/kg is negative"),
    (
        "drug without any amount",
        "    concentration: 10 uM\n",
        "",
        "  - id: nbqx",
        "drugs[2]: give dose or concentration or volume",
    ),
    (
        "undeclared drug",
        "drug: saline, time",
        "drug: vehicle, time",
        "drug: vehicle",
        "sessions[1].injection.drug: 'vehicle' is not a declared drug (declared: ketamine-10, nbqx, saline)",
    ),
    (
        "undeclared stress",
        "stress: crs\n\n# Analysis",
        "stress: cms\n\n# Analysis",
        "stress: cms",
        "subjects[1].stress: 'cms' is not a declared stress protocol (declared: crs)",
    ),
    (
        "unknown paradigm",
        "paradigm: chronic restraint",
        "paradigm: tail suspension",
        "paradigm: tail",
        "stress_protocols[0].paradigm: 'tail suspension' is not one of none, acute restraint, chronic restraint, "
        "chronic social defeat, chronic unpredictable mild stress, learned helplessness, other",
    ),
    (
        "unknown region",
        "region: CA1",
        "region: CA9",
        "region: CA9",
        "sessions[1].region: 'CA9' is not a known region; use an Allen CCF acronym (LH, MH, CA1, CA2, CA3, DG, HPF, "
        "PL, ILA, ACA, ACB, VTA, DR, BLA, TH, ENTm) or a known label (LHb...)",
    ),
    (
        "unknown field",
        "    cell_id: c1\n    region: LHb",
        "    cell_id: c1\n    cell_type: neuron\n    region: LHb",
        "cell_type",
        "sessions[0].cell_type: unknown field (allowed here: cell_id, clamp_mode, description, files, injection, "
        "region, session_id, slice_id, slice_methods, slicing_time, start_time, subject, type)",
    ),
    (
        "missing required field",
        "    cell_id: c1\n    region: CA1",
        "    region: CA1",
        '  - type: slice\n    session_id: "20240216"',
        "sessions[1].cell_id: required field is missing",
    ),
    (
        "unquoted numeric id",
        'session_id: "20240215"',
        "session_id: 20240215",
        "session_id: 20240215",
        "sessions[0].session_id: 20240215 is a int, expected string; quote it",
    ),
    (
        "holding potential unit",
        "holding_potential: +40 mV",
        "holding_potential: +40 pA",
        "+40 pA",
        "sessions[0].files[1].holding_potential: unknown unit 'pA' for holding potential (use one of: V, mV)",
    ),
    (
        "bad timezone",
        "timezone: Asia/Shanghai",
        "timezone: China/Beijing",
        "timezone:",
        "timezone: 'China/Beijing' is not an IANA time zone name, e.g. 'Asia/Shanghai'",
    ),
    (
        "bad clamp mode",
        "clamp_mode: voltage_clamp\n    files:\n      - path: raw/m02",
        "clamp_mode: vc\n    files:\n      - path: raw/m02",
        "clamp_mode: vc",
        "sessions[1].clamp_mode: 'vc' is not one of voltage_clamp, current_clamp",
    ),
    (
        "injection after slicing start",
        "time: 2024-02-16T09:00:00+08:00",
        "time: 2024-02-16T11:00:00+08:00",
        "2024-02-16T11",
        "sessions[1].injection.time: is after the recording start; slices are cut after injection",
    ),
    (
        "experimenter format",
        '"Doe, Jane"',
        '"Jane Doe"',
        "experimenters",
        "study.experimenters[0]: 'Jane Doe' is not valid: A name written as 'Last, First'.",
    ),
    (
        "bad license",
        "license: CC-BY-4.0",
        "license: MIT",
        "license: MIT",
        "study.license: 'MIT' is not one of CC0-1.0, CC-BY-4.0, CC-BY-NC-4.0",
    ),
    (
        "bad date",
        "date_of_birth: 2023-12-01",
        "date_of_birth: 2023-13-01",
        "2023-13-01",
        "subjects[0].date_of_birth: '2023-13-01' is not a valid date (YYYY-MM-DD)",
    ),
    (
        "bath drug undeclared",
        "bath: [nbqx]",
        "bath: [ap5]",
        "bath: [ap5]",
        "sessions[0].files[1].bath[0]: 'ap5' is not a declared drug (declared: ketamine-10, nbqx, saline)",
    ),
    (
        "command unit of the wrong kind",
        "holding_potential: -70 mV\n      - path: raw/m01_s1_c1_nmda",
        "holding_potential: -70 mV\n        command_unit: pA\n      - path: raw/m01_s1_c1_nmda",
        "command_unit: pA",
        "sessions[0].files[0].command_unit: 'pA' is not a voltage unit; under voltage_clamp the command is a voltage "
        "(use one of: uV, µV, mV, V)",
    ),
    (
        "command none with a command unit",
        "holding_potential: -70 mV\n      - path: raw/m01_s1_c1_nmda",
        "holding_potential: -70 mV\n        command: none\n        command_unit: mV\n      - path: raw/m01_s1_c1_nmda",
        "command_unit: mV",
        "sessions[0].files[0].command_unit: contradicts 'command: none' (no command was applied); remove one of the "
        "two",
    ),
    (
        "command other than none",
        "holding_potential: -70 mV\n      - path: raw/m01_s1_c1_nmda",
        "holding_potential: -70 mV\n        command: absent\n      - path: raw/m01_s1_c1_nmda",
        "command: absent",
        "sessions[0].files[0].command: 'absent' is not one of none",
    ),
    (
        "duplicate time point name",
        "{name: 24h, after_injection: 24 h}",
        "{name: 1h, after_injection: 24 h}",
        "{name: 1h, after_injection: 24 h}",
        "time_points[1].name: duplicate time point '1h' (also at time_points[0])",
    ),
    (
        "time point at the injection",
        "{name: 1h, after_injection: 1 h}",
        "{name: 1h, after_injection: 0 h}",
        "after_injection: 0 h",
        "time_points[0].after_injection: 0 h is not after the injection; give a positive time",
    ),
    (
        "time point unit",
        "after_injection: 24 h}",
        "after_injection: 24 hours}",
        "24 hours",
        "time_points[1].after_injection: unknown unit 'hours' for time point (use one of: s, min, h, d)",
    ),
    (
        "two time points at one time",
        "after_injection: 24 h}",
        "after_injection: 60 min}",
        "60 min",
        "time_points[1].after_injection: 60 min is also the time of time_points[0]",
    ),
    (
        "naive recording time",
        "holding_potential: -70 mV\n      - path: raw/m01_s1_c1_nmda",
        "holding_potential: -70 mV\n        recording_time: 2024-02-15T10:35:00\n      - path: raw/m01_s1_c1_nmda",
        "recording_time",
        "sessions[0].files[0].recording_time: '2024-02-15T10:35:00' has no UTC offset (naive date-time); add one, "
        "e.g. '2024-02-15T10:35:00+08:00'",
    ),
    (
        "recording time before the session",
        "holding_potential: -70 mV\n      - path: raw/m01_s1_c1_nmda",
        "holding_potential: -70 mV\n        recording_time: 2024-02-15T10:00:00+08:00\n"
        "      - path: raw/m01_s1_c1_nmda",
        "recording_time",
        "sessions[0].files[0].recording_time: is before the session's start_time 2024-02-15T10:30:00+08:00",
    ),
]


@pytest.mark.parametrize("description, old, new, needle, expected", CASES, ids=[c[0] for c in CASES])
def test_malformed_study_reports_exact_message(tmp_path, description, old, new, needle, expected):
    text = mutate(old, new)
    problems = problems_of(tmp_path, text)
    assert problems == [f"study.yaml:{line_of(text, needle)} {expected}"]


def test_unknown_analysis_parameter(tmp_path):
    text = mutate("    nmda_latency_s: 0.05", "    nmda_latency_ms: 50")
    (problem,) = problems_of(tmp_path, text)
    assert problem.startswith(
        f"study.yaml:{line_of(text, 'nmda_latency_ms')} analysis.epsc.nmda_latency_ms: unknown epsc parameter (known: "
        "stimulus_time_s, test_pulse_start_s,"
    )


def test_protocol_timing_required_for_slice_cells(tmp_path):
    text = mutate("    stimulus_time_s: 0.3\n", "")
    assert problems_of(tmp_path, text) == [
        f"study.yaml:{line_of(text, 'epsc:')} analysis.epsc.stimulus_time_s: required to analyse slice cells: it "
        "describes the recording protocol"
    ]


def test_duplicate_subject_and_its_consequence(tmp_path):
    text = mutate("  - id: m02\n", "  - id: m01\n")
    assert problems_of(tmp_path, text) == [
        f"study.yaml:{line_of(text, 'id: m01', occurrence=2)} subjects[1].id: duplicate subject id 'm01' (also at "
        "subjects[0])",
        f"study.yaml:{line_of(text, 'subject: m02')} sessions[1].subject: 'm02' is not a declared subject (declared: "
        "m01)",
    ]


def test_all_problems_reported_at_once(tmp_path):
    text = mutate("sex: M\n    date_of_birth", "sex: X\n    date_of_birth").replace(
        "    subject: m02\n", "    subject: m9\n"
    )
    problems = problems_of(tmp_path, text)
    assert len(problems) == 2
    assert "subjects[0].sex" in problems[0] and "sessions[1].subject" in problems[1]


def test_missing_raw_file(tmp_path):
    problems = problems_of(tmp_path, TEXT, check_files=True)
    assert len(problems) == 3
    assert problems[0].startswith(f"study.yaml:{line_of(TEXT, 'raw/m01_s1_c1_ampa')} sessions[0].files[0].path: ")
    assert "'raw/m01_s1_c1_ampa.abf' does not exist" in problems[0]


def test_invalid_yaml(tmp_path):
    problems = problems_of(tmp_path, "study: [unclosed\n")
    assert len(problems) == 1 and problems[0].startswith("study.yaml:2: not valid YAML")


def test_missing_file(tmp_path):
    with pytest.raises(StudyFileError, match="cannot read the study file"):
        load_study(tmp_path / "nope.yaml")


def test_empty_file(tmp_path):
    assert problems_of(tmp_path, "") == ["study.yaml: the study file is empty; start from examples/study.yaml"]


def test_abf_file_command_and_recording_time_fields(tmp_path):
    text = mutate(
        "holding_potential: -70 mV\n      - path: raw/m01_s1_c1_nmda",
        "holding_potential: -70 mV\n        command_unit: mV\n        recording_time: 2024-02-15T10:35:00+08:00\n"
        "      - path: raw/m01_s1_c1_nmda",
    ).replace("        bath: [nbqx]\n", "        bath: [nbqx]\n        command: none\n", 1)
    path = tmp_path / "study.yaml"
    path.write_text(text)
    ampa, nmda = load_study(path, check_files=False, now=NOW).slice_sessions[0].files
    assert (ampa.command_unit, ampa.has_command) == ("mV", True)
    assert ampa.recording_time == datetime.fromisoformat("2024-02-15T10:35:00+08:00")
    assert ampa.where == f"study.yaml:{line_of(text, 'path: raw/m01_s1_c1_ampa')} sessions[0].files[0]"
    assert (nmda.command_unit, nmda.has_command, nmda.recording_time) == (None, False, None)
