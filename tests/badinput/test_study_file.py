"""Bad study files: each gives one line per problem naming the file and the field, exit 1, nothing written.

Most cases change one field of the tiny study's file (a table of ``(id, field, value, where, message)``:
``where`` is the field the error names when it is not the one changed) and run ``check``, which finds
every study-file problem; a few replace the whole file's text, and a few need ``convert`` (the ABF
files are only read there).
"""

from __future__ import annotations

import re
import time

import pytest
import yaml

from nwb_ketamine.errors import StudyFileError
from nwb_ketamine.metadata import read_study_file

from .conftest import Case, cases_of, check

DROP = object()  # the value that deletes the field


def _parts(field: str) -> list:
    return [int(p[1:-1]) if p.startswith("[") else p for p in re.findall(r"\[\d+\]|[^.\[\]]+", field)]


def _setter(field: str, value):
    def change(study):
        *parents, last = _parts(field)
        for key in parents:
            study = study[key]
        if value is DROP:
            del study[last]
        else:
            study[last] = value

    return change


def _check_after(change):
    def prepare(ws):
        return ["check", ws.edit_study(change)]

    return prepare


def _field_case(id, field, value, message, where=None) -> Case:
    located = re.escape(where or field)
    return Case(id, _check_after(_setter(field, value)), rf"^study\.yaml:\d+ {located}: (.* )?{message}")


S0, S2 = "sessions[0]", "sessions[2]"
NAIVE = "has no UTC offset"
REQUIRED = "required field is missing"

#: (id, field, value, message[, the field the error names]); DROP deletes the field.
FIELDS = [
    # required fields
    ("missing-subject-sex", "subjects[0].sex", DROP, REQUIRED),
    ("missing-format-version", "format_version", DROP, REQUIRED),
    ("missing-title", "study.title", DROP, REQUIRED),
    ("missing-license", "study.license", DROP, REQUIRED),
    ("missing-timezone", "timezone", DROP, REQUIRED),
    ("missing-subjects", "subjects", DROP, REQUIRED),
    ("missing-sessions", "sessions", DROP, REQUIRED),
    ("missing-species", "subjects[0].species", DROP, REQUIRED),
    ("missing-group", "subjects[0].group", DROP, REQUIRED),
    ("missing-drug-route", "drugs[0].route", DROP, REQUIRED),
    ("missing-drug-agent", "drugs[0].agent", DROP, REQUIRED),
    ("missing-session-subject", f"{S0}.subject", DROP, REQUIRED),
    ("missing-session-start", f"{S0}.start_time", DROP, REQUIRED),
    ("missing-clamp-mode", f"{S0}.clamp_mode", DROP, REQUIRED),
    ("missing-files", f"{S0}.files", DROP, REQUIRED),
    ("missing-abf-path", f"{S0}.files[0].path", DROP, REQUIRED),
    ("missing-abf-protocol", f"{S0}.files[0].protocol", DROP, REQUIRED),
    ("missing-holding-potential", f"{S0}.files[0].holding_potential", DROP, REQUIRED),
    ("missing-injection-drug", f"{S0}.injection.drug", DROP, REQUIRED),
    ("missing-session-type", f"{S0}.type", DROP, REQUIRED),
    ("missing-tetrode-region", f"{S2}.tetrodes[0].region", DROP, REQUIRED),
    ("missing-epoch-stop", f"{S2}.epochs[0].stop", DROP, REQUIRED),
    # wrong types and empty lists
    ("title-is-a-list", "study.title", ["a", "b"], "is a list, expected string"),
    ("subjects-is-a-mapping", "subjects", {"a": 1}, "is a dict, expected array"),
    ("days-is-text", "stress_protocols[1].number_of_days", "fourteen", "is a str, expected integer"),
    ("days-negative", "stress_protocols[1].number_of_days", -3, "is below the minimum 0"),
    ("files-is-a-string", f"{S0}.files", "raw/slice/m001/2024_03_15_0001.abf", "is a str, expected array"),
    ("files-empty", f"{S0}.files", [], r"needs at least 1 item"),
    ("sessions-empty", "sessions", [], r"needs at least 1 item"),
    ("holding-potential-unquoted-number", f"{S0}.files[0].holding_potential", -70, "expected string; quote it"),
    ("response-channel-negative", f"{S0}.files[0].response_channel", -1, "is below the minimum 0"),
    (
        "tetrode-channels-text",
        f"{S2}.tetrodes[0].channels",
        ["a", "b", "c", "d"],
        "expected integer",
        f"{S2}.tetrodes[0].channels[0]",
    ),
    ("analysis-parameter-text", "analysis.epsc.stimulus_time_s", "soon", "is a str, expected number"),
    ("dose-not-a-number", "drugs[0].dose", "ten mg/kg", "is not valid"),
    ("chebi-id-not-a-number", "drugs[0].agent_identifier", "CHEBI:banana", "is not valid: Ontology term"),
    ("agent-identifier-without-prefix", "drugs[0].agent_identifier", "6121", "is not valid: Ontology term"),
    # unknown fields and values
    ("unknown-top-level-field", "extra_top", 1, "unknown field"),
    ("unknown-abf-field", f"{S0}.files[0].extra", 1, "unknown field"),
    ("unknown-analysis-section", "analysis.bogus", {"a": 1}, "unknown field"),
    ("unknown-epsc-parameter", "analysis.epsc.bogus_s", 1, "unknown epsc parameter"),
    ("unknown-format-version", "format_version", 2, "2 is not one of 1"),
    ("unknown-license", "study.license", "WTFPL", "is not one of"),
    ("unknown-timezone", "timezone", "Mars/Olympus", "is not an IANA time zone"),
    ("unknown-sex", "subjects[0].sex", "X", "is not one of M, F, U, O"),
    ("unknown-route", "drugs[0].route", "oral-ish", "is not one of"),
    ("unknown-role", "drugs[0].role", "fun", "is not one of"),
    ("unknown-paradigm", "stress_protocols[1].paradigm", "tickling", "is not one of"),
    ("unknown-clamp-mode", f"{S0}.clamp_mode", "patch_clamp", "is not one of voltage_clamp"),
    ("unknown-file-clamp-mode", f"{S0}.files[0].clamp_mode", "patch_clamp", "is not one of voltage_clamp"),
    ("unknown-session-type", f"{S0}.type", "petri", "is not one of slice, invivo"),
    ("unknown-region", f"{S0}.region", "Atlantis", "is not a known region"),
    ("unknown-raw-format", f"{S2}.raw.format", "plexon9", "raw.format 'plexon9' is unknown", f"{S2}.raw"),
    ("unknown-sorting-format", f"{S2}.sorting.format", "wave_clus9", "is not one of phy"),
    ("bad-age", "subjects[0].age", "ten days", "is not valid: ISO 8601 duration"),
    ("species-dandi-does-not-know", "subjects[0].species", "Mesocricetus auratus", "is not a species DANDI knows"),
    ("bad-contact-email", "study.contact.email", "jane.doe at example.org", r"is not valid: An email address"),
    ("missing-contact-email", "study.contact", {"name": "Doe, Jane"}, REQUIRED, "study.contact.email"),
    ("subject-id-with-space", "subjects[0].id", "m 001", "is not valid"),
    ("subject-id-with-underscore", "subjects[0].id", "m_001", "is not valid"),
    # naive date-times, in every date-time field
    ("naive-session-start", f"{S0}.start_time", "2024-03-15T10:00:00", NAIVE),
    ("naive-injection-time", f"{S0}.injection.time", "2024-03-15T09:00:00", NAIVE),
    ("naive-slicing-time", f"{S0}.slicing_time", "2024-03-15T09:30:00", NAIVE),
    ("naive-recording-time", f"{S0}.files[0].recording_time", "2024-03-15T10:00:00", NAIVE),
    ("naive-invivo-start", f"{S2}.start_time", "2024-03-15T14:00:00", NAIVE),
    ("naive-invivo-injection", f"{S2}.injection.time", "2024-03-15T14:00:04", NAIVE),
    ("start-not-a-date", f"{S0}.start_time", "not a date", "is not an ISO 8601 date-time"),
    # methods facts (issue 13): numbers with their unit in the name, positive thickness, known regions
    ("slice-thickness-negative", "slice_methods.slice_thickness_um", -300, "-300 is not above 0"),
    ("slice-thickness-zero", "slice_methods.slice_thickness_um", 0, "0 is not above 0"),
    ("slice-thickness-with-unit", "slice_methods.slice_thickness_um", "300 um", "is a str, expected number"),
    ("recording-temperature-text", "slice_methods.recording_temperature_c", "warm", "is a str, expected number"),
    ("recording-temperature-kelvin", "slice_methods.recording_temperature_c", 305, "is above the maximum 50"),
    ("cutting-temperature-list", "slice_methods.cutting_temperature_c", [0, 4], "is a list, expected number"),
    ("internal-solution-empty", "slice_methods.internal_solution", "", "should be non-empty"),
    (
        "session-thickness-negative",
        f"{S0}.slice_methods",
        {"slice_thickness_um": -1},
        "-1 is not above 0",
        f"{S0}.slice_methods.slice_thickness_um",
    ),
    ("unknown-slice-methods-field", "slice_methods.thickness_um", 300, "unknown field"),
    (
        "stimulation-site-unknown-region",
        "slice_methods.stimulation_sites",
        {"Atlantis": "x"},
        "'Atlantis' is not a known region",
        "slice_methods.stimulation_sites.Atlantis",
    ),
    ("implant-ap-with-unit", f"{S2}.implant.ap_mm", "-1.8 mm", "is a str, expected number"),
    ("implant-missing-dv", f"{S2}.implant.dv_mm", DROP, REQUIRED),
    (
        "tetrode-implant-ml-text",
        f"{S2}.tetrodes[0].implant",
        {"ap_mm": -1.8, "ml_mm": "left", "dv_mm": -2.9},
        "is a str, expected number",
        f"{S2}.tetrodes[0].implant.ml_mm",
    ),
    # unknown units, in every quantity field
    ("unknown-weight-unit", "subjects[0].weight", "23.8 stone", "unknown unit 'stone' for weight"),
    ("unknown-dose-unit", "drugs[0].dose", "10 mg/stone", "unknown unit 'mg/stone' for dose"),
    ("unknown-volume-unit", "drugs[0].volume", "10 furlongs", "unknown unit 'furlongs' for volume"),
    ("unknown-concentration-unit", "drugs[2].concentration", "10 stone", "unknown unit 'stone' for concentration"),
    ("unknown-duration-unit", "stress_protocols[1].duration_per_day", "2 fortnights", "unknown unit"),
    ("unknown-time-point-unit", "time_points[0].after_injection", "1 lightyear", "unknown unit"),
    ("unknown-holding-unit", f"{S0}.files[0].holding_potential", "-70 mA", "unknown unit 'mA'"),
    ("unknown-epoch-unit", f"{S2}.epochs[0].start", "0 parsecs", "unknown unit 'parsecs' for time"),
    # references and duplicates
    ("unknown-stress", "subjects[0].stress", "xyz", "is not a declared stress protocol"),
    ("unknown-subject", f"{S0}.subject", "m999", "is not a declared subject"),
    ("unknown-injected-drug", f"{S0}.injection.drug", "nodrug", "is not a declared drug"),
    ("unknown-bath-drug", f"{S0}.files[0].bath", ["nodrug"], "is not a declared drug", f"{S0}.files[0].bath[0]"),
    ("duplicate-subject-id", "subjects[1].id", "m001", "duplicate subject id 'm001'"),
    ("duplicate-drug-id", "drugs[1].id", "ketamine-10", "duplicate drug id"),
    ("duplicate-stress-id", "stress_protocols[0].id", "crs", "duplicate stress id", "stress_protocols[1].id"),
    ("duplicate-time-point", "time_points[1].name", "1h", "duplicate time point"),
    ("tetrode-channel-reused", f"{S2}.tetrodes[1].channels", [0, 1, 2, 3], "channel 0 is already in tetrodes"),
    # dates and times that contradict each other
    (
        "born-after-session",
        "subjects[0].date_of_birth",
        "2024-03-16",
        "before the subject's date of birth",
        f"{S0}.start_time",
    ),
    ("bad-date-of-birth", "subjects[0].date_of_birth", "2023-13-45", "is not a valid date"),
    ("born-in-the-future", "subjects[0].date_of_birth", "2099-01-01", "is in the future"),
    ("session-in-the-future", f"{S0}.start_time", "2099-03-15T10:00:00+08:00", "is in the future"),
    (
        "injection-after-slice-recording",
        f"{S0}.injection.time",
        "2024-03-15T11:00:00+08:00",
        "is after the recording start",
    ),
    ("stress-ends-before-start", "stress_protocols[1].end_date", "2024-02-01", "is before start_date"),
    ("stress-start-not-a-date", "stress_protocols[1].start_date", "yesterday", "is not valid"),
    ("epoch-stop-before-start", f"{S2}.epochs[0].start", "5 s", "is not after start", f"{S2}.epochs[0].stop"),
    # missing or misplaced sources
    ("missing-abf", f"{S0}.files[0].path", "raw/slice/m001/missing.abf", "does not exist"),
    ("abf-path-is-a-folder", f"{S0}.files[0].path", "raw/slice", "is not a file"),
    ("missing-raw-folder", f"{S2}.raw.path", "raw/invivo/m003/missing", "does not exist"),
    ("raw-path-is-a-file", f"{S2}.raw.path", "raw/slice/m001/2024_03_15_0001.abf", "is not a folder"),
    ("missing-sorting-folder", f"{S2}.sorting.path", "raw/invivo/m003/missing", "does not exist"),
]


def _alias_bomb() -> str:
    """About 5 KB of YAML whose nine-fold nested aliases would expand to 9**12 strings."""
    lines = ['a0: &a0 ["' + "lol" * 1500 + '"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 13)]
    return "\n".join(lines) + "\n"


def _with_text(text: str | bytes | None = None, edit=None):
    """Replace the study file's text (or edit the tiny study's text with ``edit``) and run check."""

    def prepare(ws):
        content = edit(ws.study_file.read_text(encoding="utf-8")) if edit else text
        if isinstance(content, bytes):
            ws.study_file.write_bytes(content)
        else:
            ws.study_file.write_text(content, encoding="utf-8")
        return ["check", ws.study_file]

    return prepare


def _latin1_title(text: str) -> bytes:
    return text.replace("title: Simulated", "title: Caf\u00e9 simulated", 1).encode("latin-1")


#: (id, text or bytes, or a function editing the tiny study's text, message).
TEXTS = [
    ("not-utf8", _latin1_title, r"^study\.yaml:5: not UTF-8 text .*save the file as UTF-8"),
    ("recursive-alias", "a: &a [*a]\n", r"^study\.yaml:1: YAML aliases \(\*a\) are not allowed"),
    ("alias-bomb", _alias_bomb(), r"^study\.yaml:2: YAML aliases \(\*a0\) are not allowed"),
    ("merge-key", "base: &b {x: 1}\nother:\n  <<: *b\n", r"^study\.yaml:3: YAML aliases \(\*b\) are not allowed"),
    ("nested-5000-flow", "a: " + "[" * 5000 + "]" * 5000 + "\n", r"^study\.yaml:1: nested more than 50 levels"),
    ("nested-5000-block", "".join(" " * i + "k:\n" for i in range(5000)), r"^study\.yaml:\d+: nested more than 50"),
    ("duplicate-key", lambda t: t + "timezone: UTC\n", r"^study\.yaml:\d+ timezone: duplicate key 'timezone'"),
    ("complex-key", "? [a, b]\n: 1\n", r"^study\.yaml:1 \(top level\): a mapping key must be a plain name"),
    ("python-tag", "a: !!python/object/apply:os.system [echo hi]\n", r"^study\.yaml:1 a: unknown field"),
    ("bad-syntax", "study: [unclosed\n", r"^study\.yaml:2: not valid YAML"),
    ("tab-indent", "study:\n\ttitle: x\n", r"^study\.yaml:2: not valid YAML"),
    ("empty-file", "", r"^study\.yaml: the study file is empty"),
    ("only-a-comment", "# nothing\n", r"^study\.yaml: the study file is empty"),
    ("top-level-list", "- a\n- b\n", r"^study\.yaml:1 \(top level\): expected a mapping"),
    ("top-level-scalar", "just text\n", r"^study\.yaml:1 \(top level\): expected a mapping"),
]


def _prepare_study_path(kind):
    def prepare(ws):
        if kind == "folder":
            return ["check", ws.study_dir / "raw"]
        return ["check", ws.study_dir / "nothere.yaml"]

    return prepare


def _keep_session(index: int, change=None):
    """Keep only sessions[index] (so that only it is converted), apply ``change`` to the study copy."""

    def edit(study):
        session = study["sessions"][index]
        study["sessions"] = [session]
        study["subjects"] = [s for s in study["subjects"] if s["id"] == session["subject"]]
        if change:
            change(study)

    return edit


def _convert_with(break_sources, index: int, change=None):
    def prepare(ws):
        break_sources(ws)
        study = ws.edit_study(_keep_session(index, change))
        return ["convert", study, ws.archive(), "--jobs", "1", "--quiet"]

    return prepare


def _truncate_abf(ws):
    path = ws.find("raw/slice/m001/2024_03_15_0001.abf")
    path.write_bytes(path.read_bytes()[:3000])


def _random_abf(ws):
    import numpy as np

    ws.find("raw/slice/m001/2024_03_15_0001.abf").write_bytes(np.random.default_rng(0).bytes(20_000))


def _empty_continuous(ws):
    ws.find("raw/invivo/**/continuous.dat").write_bytes(b"")


def _no_sorting(study):
    del study["sessions"][0]["sorting"]


#: A failed session of a new archive: only the archive's bookkeeping may be written; no NWB file, no
#: dandiset.yaml (an archive that describes nothing).
FAILED_SESSION = dict(
    may_write=("archive/.nwb-ketamine/*", "archive/.nwb-ketamine.lock"),
    absent=("archive/sub-*", "archive/dandiset.yaml"),
)
ICEPHYS = r"FAILED +sub-m001/sub-m001_ses-20240315_slice-s1_cell-c1_icephys\.nwb: .*2024_03_15_0001\.abf"

CASES = [
    *(_field_case(*row) for row in FIELDS),
    *(Case(id, _with_text(*((None, t) if callable(t) else (t,))), message) for id, t, message in TEXTS),
    Case("study-path-is-a-folder", _prepare_study_path("folder"), r"raw: cannot read the study file"),
    Case("study-path-missing", _prepare_study_path("missing"), r"nothere\.yaml: cannot read the study file"),
    Case(
        "convert-unknown-weight-unit",
        lambda ws: ["convert", ws.edit_study(_setter("subjects[0].weight", "23.8 stone")), ws.archive(), "--quiet"],
        r"^study\.yaml:\d+ subjects\[0\]\.weight: unknown unit",
    ),
    Case("truncated-abf", _convert_with(_truncate_abf, 0), ICEPHYS, **FAILED_SESSION),
    Case("random-bytes-abf", _convert_with(_random_abf, 0), ICEPHYS, **FAILED_SESSION),
    Case(
        "zero-byte-continuous-dat",
        _convert_with(_empty_continuous, 2, _no_sorting),
        r"FAILED +sub-m003/sub-m003_ses-20240315_ecephys\.nwb: .*(continuous\.dat|2024-03-15_14-00-00)",
        **FAILED_SESSION,
    ),
]


@pytest.mark.parametrize("case", cases_of(CASES))
def test_bad_study_file(case, workspace, capsys):
    check(case, workspace, capsys)


def test_the_alias_bomb_is_refused_within_a_second(tmp_path):
    """The alias bomb is refused before it expands: in well under a second."""
    path = tmp_path / "study.yaml"
    path.write_text(_alias_bomb())
    assert 4_000 < path.stat().st_size < 6_000
    start = time.perf_counter()
    with pytest.raises(StudyFileError, match="aliases"):
        read_study_file(path)
    assert time.perf_counter() - start < 1.0


def test_plain_yaml_safe_load_would_expand_the_bomb():
    """The bomb is real: PyYAML's own loader builds the shared lists (the expansion a walk would do)."""
    data = yaml.safe_load("a0: &a0 [x, x, x]\na1: &a1 [*a0, *a0, *a0]\na2: [*a1, *a1, *a1]\n")
    assert sum(len(inner) for outer in data["a2"] for inner in outer) == 27
