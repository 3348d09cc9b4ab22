"""The study metadata file: load it with line numbers, validate it, and give back a typed model.

A study file is YAML (or JSON) following ``schemas/study.schema.json``. Validation runs in two passes
over the whole file and collects every problem before reporting: the JSON Schema (structure, types,
required fields) and the domain rules DANDI and the converters need (declared references, units,
timezone-aware datetimes, files that exist...). Each problem is one line::

    study.yaml:42 sessions[3].subject: 'm17' is not a declared subject (declared: m01, m02)

YAML's implicit timestamps are switched off so that a date-time keeps the offset the user wrote, and
a naive date-time can be reported instead of being silently read as local or UTC time.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jsonschema
import yaml

from nwb_ketamine import vocabulary as vocab
from nwb_ketamine.errors import StudyFileError

SCHEMA_PATH = files("nwb_ketamine.schemas") / "study.schema.json"
QUANTITY = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*([A-Za-zµ%]\S*)\s*$")
BINOMIAL = re.compile(r"^[A-Z][a-z]+ [a-z]+(?: [a-z]+)?$")
NCBI_TAXON = re.compile(r"^http://purl\.obolibrary\.org/obo/NCBITaxon_\d+$")
TIME_UNITS = {"s": 1.0, "min": 60.0, "h": 3600.0}


# --------------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quantity:
    """A number with its unit, as written in the study file (e.g. ``10 mg/kg``)."""

    value: float
    unit: str

    def __str__(self):
        return f"{self.value:g} {self.unit}"


@dataclass(frozen=True)
class StudyInfo:
    title: str
    description: str
    institution: str
    lab: str
    experimenters: tuple[str, ...]
    license: str
    related_publications: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    contributors: tuple[str, ...] = ()


@dataclass(frozen=True)
class StressProtocolInfo:
    id: str
    paradigm: str
    duration_per_day: Quantity | None = None
    number_of_days: int | None = None
    start_date: str | None = None
    end_date: str | None = None
    apparatus: str | None = None
    description: str | None = None

    @property
    def hours_per_day(self) -> float | None:
        if self.duration_per_day is None:
            return None
        return self.duration_per_day.value * vocab.DURATION_UNITS[self.duration_per_day.unit]


@dataclass(frozen=True)
class DrugInfo:
    id: str
    agent: str
    route: str
    role: str
    agent_identifier: str | None = None
    dose: Quantity | None = None
    concentration: Quantity | None = None
    vehicle: str | None = None
    volume: Quantity | None = None
    description: str | None = None

    @property
    def amount(self) -> str:
        """Dose, concentration or volume as text, whichever defines the administration."""
        return str(self.dose or self.concentration or self.volume)


@dataclass(frozen=True)
class SubjectInfo:
    id: str
    species: str
    sex: str
    group: str
    strain: str | None = None
    date_of_birth: date | None = None
    age: str | None = None
    genotype: str | None = None
    weight: Quantity | None = None
    stress: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class Injection:
    drug: str
    time: datetime


#: Units an ABF channel may be in, with their SI factor: the converter scales by these exactly.
ABF_CURRENT_UNITS = {"fA": 1e-15, "pA": 1e-12, "nA": 1e-9, "uA": 1e-6, "µA": 1e-6, "mA": 1e-3, "A": 1.0}
ABF_VOLTAGE_UNITS = {"uV": 1e-6, "µV": 1e-6, "mV": 1e-3, "V": 1.0}
#: The unit a command (DAC) is in under each clamp mode: a voltage step under voltage clamp, a current
#: injection under current clamp.
ABF_COMMAND_UNITS = {"voltage_clamp": ABF_VOLTAGE_UNITS, "current_clamp": ABF_CURRENT_UNITS}


@dataclass(frozen=True)
class AbfFileInfo:
    """One ABF file of a slice cell, with what the study file says about it (the header is only checked)."""

    path: Path
    protocol: str
    holding_potential: Quantity
    clamp_mode: str
    response_channel: int = 0
    command_channel: int = 0
    bath: tuple[str, ...] = ()
    #: Unit of the command when the ABF header leaves it blank (``command_unit: mV``); never assumed.
    command_unit: str | None = None
    #: False when the study file says no command was applied (``command: none``): no stimulus series.
    has_command: bool = True
    #: When the file's recording started (``recording_time``), in place of the ABF header's date and time.
    recording_time: datetime | None = None
    #: Where the file is described, e.g. ``study.yaml:42 sessions[0].files[1]``, for conversion messages.
    where: str = ""

    @property
    def holding_potential_volts(self) -> float:
        return self.holding_potential.value * vocab.POTENTIAL_UNITS[self.holding_potential.unit]


@dataclass(frozen=True)
class SliceSession:
    session_id: str
    subject: str
    start_time: datetime
    slice_id: str
    cell_id: str
    region: str
    clamp_mode: str
    files: tuple[AbfFileInfo, ...]
    injection: Injection | None = None
    slicing_time: datetime | None = None
    description: str | None = None
    type: str = "slice"

    @property
    def ccf_region(self) -> str:
        return vocab.ccf_region(self.region)

    @property
    def key(self) -> str:
        """Unique name of the session in the archive, as DANDI's entities would order it."""
        return f"sub-{self.subject}_ses-{self.session_id}_slice-{self.slice_id}_cell-{self.cell_id}"


@dataclass(frozen=True)
class Tetrode:
    channels: tuple[int, ...]
    region: str
    #: The rig's own tetrode number (Axona's ``.6`` file, Neuralynx ``TT6``, MClust ``TT6_1.t``).
    number: int = 0

    @property
    def ccf_region(self) -> str:
        return vocab.ccf_region(self.region)


@dataclass(frozen=True)
class Epoch:
    name: str
    start: float  # seconds from session start
    stop: float


@dataclass(frozen=True)
class InVivoSession:
    """One in vivo session: a raw recording (``raw_*``), a spike sorting (``sorting_*``), or both."""

    session_id: str
    subject: str
    start_time: datetime
    raw_path: Path | None
    tetrodes: tuple[Tetrode, ...]
    raw_format: str | None = None
    raw_stream: str | None = None
    #: The recording file inside ``raw_path`` for formats read file by file (Intan, Blackrock...).
    raw_file: str | None = None
    #: Keyword arguments of the neo RawIO reader (e.g. Neuralynx ``gap_tolerance_ms``) as sorted (name, value)
    #: pairs (a frozen session stays hashable); recorded in the NWB file.
    raw_neo_options: tuple[tuple[str, object], ...] = ()
    #: Gain per count and its unit for channels whose header gives no physical unit; never assumed.
    raw_gain: float | None = None
    raw_unit: str | None = None
    sorting_path: Path | None = None
    sorting_format: str | None = None
    injection: Injection | None = None
    epochs: tuple[Epoch, ...] = ()
    description: str | None = None
    type: str = "invivo"

    @property
    def key(self) -> str:
        return f"sub-{self.subject}_ses-{self.session_id}"


@dataclass(frozen=True)
class Study:
    """A validated study file. Paths in it are absolute."""

    path: Path
    info: StudyInfo
    timezone: str
    subjects: dict[str, SubjectInfo]
    stress_protocols: dict[str, StressProtocolInfo]
    drugs: dict[str, DrugInfo]
    sessions: tuple[SliceSession | InVivoSession, ...]
    analysis: dict[str, dict[str, float]] = field(default_factory=dict)
    raw: dict = field(repr=False, compare=False, default_factory=dict)

    @property
    def slice_sessions(self) -> list[SliceSession]:
        return [s for s in self.sessions if s.type == "slice"]

    @property
    def invivo_sessions(self) -> list[InVivoSession]:
        return [s for s in self.sessions if s.type == "invivo"]

    def summary(self) -> str:
        """One line saying what the study contains."""
        groups = sorted({s.group for s in self.subjects.values()})
        return (
            f"{self.path.name}: '{self.info.title}' - {len(self.subjects)} subjects in {len(groups)} groups "
            f"({', '.join(groups)}), {len(self.slice_sessions)} slice cells, "
            f"{len(self.invivo_sessions)} in vivo sessions, {len(self.drugs)} drugs, "
            f"{len(self.stress_protocols)} stress protocols"
        )


# --------------------------------------------------------------------------------------------------
# Loading with line numbers
# --------------------------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """SafeLoader without implicit timestamps: dates stay strings so offsets can be checked."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _to_python(node, path, lines, loader):
    """Turn a composed YAML node into Python objects, recording each path's 1-based line."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node)
            if key in out:
                raise StudyFileError([f"{_where(None, lines, path + (key,))}duplicate key {key!r}"])
            out[key] = _to_python(value_node, path + (key,), lines, loader)
            lines[path + (key,)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(child, path + (i,), lines, loader) for i, child in enumerate(node.value)]
    return loader.construct_object(node)


def read_study_file(path: str | Path) -> tuple[dict, dict]:
    """Parse a study file into plain data and a map from field path (a tuple) to line number.

    Raises
    ------
    StudyFileError
        When the file is missing or is not valid YAML.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise StudyFileError([f"{path}: cannot read the study file ({exc.strerror}); check the path"]) from None
    loader = _Loader(text)
    loader.name = path.name
    try:
        node = loader.get_single_node()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path.name}:{mark.line + 1}" if mark else path.name
        problem = getattr(exc, "problem", None) or str(exc)
        raise StudyFileError([f"{where}: not valid YAML ({problem}); fix the syntax"]) from None
    finally:
        loader.dispose()
    if node is None:
        raise StudyFileError([f"{path.name}: the study file is empty; start from examples/study.yaml"])
    lines: dict[tuple, int] = {}
    loader = _Loader("")
    data = _to_python(node, (), lines, loader)
    return data, lines


# --------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------


def _format_path(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _where(filename, lines, path) -> str:
    line = None
    for end in range(len(path), -1, -1):
        line = lines.get(tuple(path[:end]))
        if line is not None:
            break
    prefix = f"{filename}:{line} " if filename else (f"line {line} " if line else "")
    return f"{prefix}{_format_path(path)}: "


def locate(filename, lines, path) -> str:
    """The ``file:LINE field.path: `` prefix of a problem at ``path`` (the nearest line the loader recorded)."""
    return _where(filename, lines, path)


class _Problems:
    """Collects problems as one-line messages, each located by file, line and field path."""

    def __init__(self, filename, lines):
        self.filename, self.lines, self.items = filename, lines, []

    def add(self, path, message):
        self.items.append((self.lines.get(tuple(path), 0), _where(self.filename, self.lines, path) + message))

    def sorted(self):
        return [message for _, message in sorted(self.items, key=lambda item: item[0])]


def _schema_message(error) -> tuple[tuple, str]:
    """Turn a jsonschema error into (field path, message) phrased for a person editing YAML."""
    path = tuple(error.absolute_path)
    kind, value, schema = error.validator, error.instance, error.schema
    if kind == "required":
        missing = [name for name in error.validator_value if name not in value]
        return path + (missing[0],), "required field is missing"
    if kind == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        extra = sorted(set(value) - set(allowed))
        return path + (extra[0],), f"unknown field (allowed here: {', '.join(allowed)})"
    if kind == "type":
        expected = error.validator_value
        hint = "; quote it" if expected == "string" and isinstance(value, int | float) else ""
        return path, f"{value!r} is a {type(value).__name__}, expected {expected}{hint}"
    if kind in ("enum", "const"):
        choices = error.validator_value if kind == "enum" else [error.validator_value]
        return path, f"{value!r} is not one of {', '.join(map(str, choices))}"
    if kind == "pattern":
        return path, f"{value!r} is not valid: {schema.get('description', 'see schemas/study.schema.json')}"
    if kind == "anyOf" and all("required" in option for option in error.validator_value):
        names = " or ".join(option["required"][0] for option in error.validator_value)
        return path, f"give {names}"
    if kind == "minItems":
        return path, f"needs at least {error.validator_value} item(s)"
    if kind == "minimum":
        return path, f"{value!r} is below the minimum {error.validator_value}"
    return path, error.message


def _schema_errors(errors):
    """Flatten errors, preferring the most specific ones (if/then and allOf wrap their children)."""
    for error in errors:
        if error.validator in ("allOf", "then", "if") and error.context:
            yield from _schema_errors(error.context)
        else:
            yield error


def _parse_quantity(problems, path, text, units, what):
    if not isinstance(text, str):  # absent, or a bare number the schema already reported
        return None
    match = QUANTITY.match(str(text))
    if not match:
        problems.add(path, f"{text!r} is not a number with a unit, e.g. '10 {units[0]}'")
        return None
    value, unit = float(match.group(1)), match.group(2)
    if unit not in units:
        problems.add(path, f"unknown unit {unit!r} for {what} (use one of: {', '.join(units)})")
        return None
    if not math.isfinite(value):
        problems.add(path, f"{text!r} is not a finite number")
        return None
    return Quantity(value, unit)


def _parse_datetime(problems, path, text, now):
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(str(text))
    except ValueError:
        problems.add(path, f"{text!r} is not an ISO 8601 date-time, e.g. '2024-02-15T10:30:00+08:00'")
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        problems.add(path, f"{text!r} has no UTC offset (naive date-time); add one, e.g. '{text}+08:00'")
        return None
    if value > now:
        problems.add(path, f"{text!r} is in the future; check the date")
    return value


def _parse_date(problems, path, text):
    if text is None:
        return None
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        problems.add(path, f"{text!r} is not a valid date (YYYY-MM-DD)")
        return None


def _check_id_unique(problems, items, path, seen_label):
    seen = {}
    for i, item in enumerate(items):
        ident = item.get("id") if isinstance(item, dict) else None
        if ident is None:
            continue
        if ident in seen:
            problems.add(path + (i, "id"), f"duplicate {seen_label} id {ident!r} (also at {path[0]}[{seen[ident]}])")
        else:
            seen[ident] = i
    return seen


def _declared(ids) -> str:
    ids = sorted(ids)
    return ", ".join(ids) if len(ids) <= 6 else f"{ids[0]}…{ids[-1]}"


def _reference(problems, path, value, declared, what):
    if value is not None and value not in declared:
        problems.add(path, f"{value!r} is not a declared {what} (declared: {_declared(declared) or 'none'})")


def validate_study(data: dict, lines: dict, path: Path, check_files: bool = True, now: datetime | None = None) -> Study:
    """Validate parsed study data and build the model; raise StudyFileError listing every problem.

    Parameters
    ----------
    data, lines
        As returned by :func:`read_study_file`.
    path
        The study file; relative paths in it are resolved against its folder.
    check_files
        Whether referenced raw files must exist (on by default; conversion needs them).
    now
        The time that counts as "now" for the not-in-the-future rule (default: the current time).
    """
    path = Path(path).resolve()
    now = now or datetime.now(UTC)
    problems = _Problems(path.name, lines)
    if not isinstance(data, dict):
        raise StudyFileError(
            [f"{path.name}:1 (top level): expected a mapping of fields; start from examples/study.yaml"]
        )

    schema = json.loads(SCHEMA_PATH.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    for error in _schema_errors(validator.iter_errors(data)):
        problems.add(*_schema_message(error))

    tz = data.get("timezone")
    if isinstance(tz, str):
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            problems.add(("timezone",), f"{tz!r} is not an IANA time zone name, e.g. 'Asia/Shanghai'")

    def items(key):
        value = data.get(key)
        return [(i, item) for i, item in enumerate(value) if isinstance(item, dict)] if isinstance(value, list) else []

    stress_ids = _check_id_unique(problems, [x for _, x in items("stress_protocols")], ("stress_protocols",), "stress")
    drug_ids = _check_id_unique(problems, [x for _, x in items("drugs")], ("drugs",), "drug")
    subject_ids = _check_id_unique(problems, [x for _, x in items("subjects")], ("subjects",), "subject")

    stress_protocols = {}
    for i, raw in items("stress_protocols"):
        p = ("stress_protocols", i)
        if raw.get("paradigm") is not None and raw["paradigm"] not in vocab.PARADIGMS:
            problems.add(p + ("paradigm",), f"{raw['paradigm']!r} is not one of {', '.join(vocab.PARADIGMS)}")
        duration = _parse_quantity(
            problems, p + ("duration_per_day",), raw.get("duration_per_day"), list(vocab.DURATION_UNITS), "duration"
        )
        start = _parse_date(problems, p + ("start_date",), raw.get("start_date"))
        end = _parse_date(problems, p + ("end_date",), raw.get("end_date"))
        if start and end and end < start:
            problems.add(p + ("end_date",), f"{end} is before start_date {start}")
        if "id" in raw and "paradigm" in raw:
            stress_protocols[raw["id"]] = StressProtocolInfo(
                id=str(raw["id"]),
                paradigm=raw["paradigm"],
                duration_per_day=duration,
                number_of_days=raw.get("number_of_days"),
                start_date=raw.get("start_date"),
                end_date=raw.get("end_date"),
                apparatus=raw.get("apparatus"),
                description=raw.get("description"),
            )

    drugs = {}
    for i, raw in items("drugs"):
        p = ("drugs", i)
        for key, choices in (("route", vocab.ROUTES), ("role", vocab.ROLES)):
            if raw.get(key) is not None and raw[key] not in choices:
                problems.add(p + (key,), f"{raw[key]!r} is not one of {', '.join(choices)}")
        dose = _parse_quantity(problems, p + ("dose",), raw.get("dose"), vocab.DOSE_UNITS, "dose")
        conc = _parse_quantity(
            problems, p + ("concentration",), raw.get("concentration"), vocab.CONCENTRATION_UNITS, "concentration"
        )
        volume = _parse_quantity(problems, p + ("volume",), raw.get("volume"), vocab.VOLUME_UNITS, "volume")
        for key, quantity in (("dose", dose), ("concentration", conc), ("volume", volume)):
            if quantity is not None and quantity.value < 0:
                problems.add(p + (key,), f"{quantity} is negative")
        if raw.get("route") == "bath" and dose is not None:
            problems.add(p + ("dose",), "a bath-applied drug has a concentration, not a dose")
        if {"id", "agent", "route", "role"} <= raw.keys():
            drugs[raw["id"]] = DrugInfo(
                id=str(raw["id"]),
                agent=raw["agent"],
                route=raw["route"],
                role=raw["role"],
                agent_identifier=raw.get("agent_identifier"),
                dose=dose,
                concentration=conc,
                vehicle=raw.get("vehicle"),
                volume=volume,
                description=raw.get("description"),
            )

    subjects = {}
    for i, raw in items("subjects"):
        p = ("subjects", i)
        species = raw.get("species")
        if isinstance(species, str) and not (BINOMIAL.match(species) or NCBI_TAXON.match(species)):
            problems.add(
                p + ("species",),
                f"{species!r} is not a Latin binomial ('Mus musculus') or an NCBITaxon IRI "
                "('http://purl.obolibrary.org/obo/NCBITaxon_10090')",
            )
        weight = _parse_quantity(problems, p + ("weight",), raw.get("weight"), vocab.WEIGHT_UNITS, "weight")
        if weight is not None and weight.value <= 0:
            problems.add(p + ("weight",), f"{weight} is not a positive weight")
        dob = _parse_date(problems, p + ("date_of_birth",), raw.get("date_of_birth"))
        if dob and dob > now.date():
            problems.add(p + ("date_of_birth",), f"{dob} is in the future")
        _reference(problems, p + ("stress",), raw.get("stress"), stress_ids, "stress protocol")
        if {"id", "species", "sex", "group"} <= raw.keys():
            subjects[raw["id"]] = SubjectInfo(
                id=str(raw["id"]),
                species=species,
                sex=raw["sex"],
                group=raw["group"],
                strain=raw.get("strain"),
                date_of_birth=dob,
                age=raw.get("age"),
                genotype=raw.get("genotype"),
                weight=weight,
                stress=raw.get("stress"),
                description=raw.get("description"),
            )

    sessions = []
    output_names = {}
    for i, raw in items("sessions"):
        session = _validate_session(
            problems, ("sessions", i), raw, path.parent, subjects, subject_ids, drug_ids, now, check_files
        )
        if session is None:
            continue
        if session.key in output_names:
            problems.add(("sessions", i), f"same subject/session/slice/cell as sessions[{output_names[session.key]}]")
        output_names.setdefault(session.key, i)
        sessions.append(session)

    analysis = data.get("analysis") if isinstance(data.get("analysis"), dict) else {}
    has_slice_sessions = any(raw.get("type") == "slice" for _, raw in items("sessions"))
    _check_analysis_parameters(problems, analysis, has_slice_sessions)

    if problems.items:
        raise StudyFileError(problems.sorted())
    study = data["study"]
    return Study(
        path=path,
        info=StudyInfo(
            title=study["title"],
            description=study["description"],
            institution=study["institution"],
            lab=study["lab"],
            experimenters=tuple(study["experimenters"]),
            license=study["license"],
            related_publications=tuple(study.get("related_publications", ())),
            keywords=tuple(study.get("keywords", ())),
            contributors=tuple(study.get("contributors", ())),
        ),
        timezone=data["timezone"],
        subjects=subjects,
        stress_protocols=stress_protocols,
        drugs=drugs,
        sessions=tuple(sessions),
        analysis={key: dict(value) for key, value in analysis.items() if isinstance(value, dict)},
        raw=data,
    )


def _check_analysis_parameters(problems, analysis, has_slice_sessions):
    """Parameter names must exist; the EPSC protocol timing is required when slice cells will be analysed."""
    from dataclasses import MISSING, fields

    from nwb_ketamine.analysis.bursts import BurstParameters
    from nwb_ketamine.analysis.epsc import EpscParameters

    for section, cls, required in (("epsc", EpscParameters, has_slice_sessions), ("bursts", BurstParameters, False)):
        known = {f.name: f for f in fields(cls)}
        values = analysis.get(section) if isinstance(analysis.get(section), dict) else {}
        for name in values:
            if name not in known:
                problems.add(("analysis", section, name), f"unknown {section} parameter (known: {', '.join(known)})")
        for name, f in known.items():
            if required and f.default is MISSING and name not in values:
                message = "required to analyse slice cells: it describes the recording protocol"
                problems.add(("analysis", section, name), message)


def _check_path(problems, path, base, text, check_files, want_dir=False):
    if not isinstance(text, str):
        return None
    resolved = (base / text).resolve()
    if check_files:
        if not resolved.exists():
            problems.add(path, f"{text!r} does not exist (looked for {resolved}); paths are relative to the study file")
        elif want_dir and not resolved.is_dir():
            problems.add(path, f"{text!r} is not a folder")
        elif not want_dir and not resolved.is_file():
            problems.add(path, f"{text!r} is not a file")
    return resolved


def _check_abf_command(problems, fp, f, clamp_mode) -> bool:
    """``command_unit`` must be a unit of what the command is under the clamp mode; ``command: none`` stands alone."""
    if f.get("command") == "none":
        extra = [key for key in ("command_unit", "command_channel") if key in f]
        for key in extra:
            problems.add(fp + (key,), "contradicts 'command: none' (no command was applied); remove one of the two")
        return not extra
    unit = f.get("command_unit")
    if isinstance(unit, str) and clamp_mode in ABF_COMMAND_UNITS and unit not in ABF_COMMAND_UNITS[clamp_mode]:
        kind = "voltage" if clamp_mode == "voltage_clamp" else "current"
        units = ", ".join(ABF_COMMAND_UNITS[clamp_mode])
        problems.add(
            fp + ("command_unit",),
            f"{unit!r} is not a {kind} unit; under {clamp_mode} the command is a {kind} (use one of: {units})",
        )
        return False
    return True


def _validate_session(problems, p, raw, base, subjects, subject_ids, drug_ids, now, check_files):
    kind = raw.get("type")
    _reference(problems, p + ("subject",), raw.get("subject"), subject_ids, "subject")
    start = _parse_datetime(problems, p + ("start_time",), raw.get("start_time"), now)
    subject = subjects.get(raw.get("subject"))
    if start and subject and subject.date_of_birth and subject.date_of_birth > start.date():
        problems.add(p + ("start_time",), f"is before the subject's date of birth {subject.date_of_birth}")

    injection = None
    if isinstance(raw.get("injection"), dict):
        inj = raw["injection"]
        _reference(problems, p + ("injection", "drug"), inj.get("drug"), drug_ids, "drug")
        time = _parse_datetime(problems, p + ("injection", "time"), inj.get("time"), now)
        if time and start and time > start and kind == "slice":
            problems.add(p + ("injection", "time"), "is after the recording start; slices are cut after injection")
        if time and inj.get("drug") in drug_ids:
            injection = Injection(drug=inj["drug"], time=time)

    if kind == "slice":
        region = raw.get("region")
        if isinstance(region, str) and vocab.ccf_region(region) is None:
            problems.add(
                p + ("region",),
                f"{region!r} is not a known region; use an Allen CCF acronym ({', '.join(vocab.CCF_REGIONS)}) "
                "or a known label (LHb...)",
            )
        slicing = _parse_datetime(problems, p + ("slicing_time",), raw.get("slicing_time"), now)
        if slicing and start and slicing > start:
            problems.add(p + ("slicing_time",), "is after the recording start")
        abf_files = []
        for j, f in enumerate(raw.get("files") or []):
            if not isinstance(f, dict):
                continue
            fp = p + ("files", j)
            resolved = _check_path(problems, fp + ("path",), base, f.get("path"), check_files)
            potential = _parse_quantity(
                problems,
                fp + ("holding_potential",),
                f.get("holding_potential"),
                list(vocab.POTENTIAL_UNITS),
                "holding potential",
            )
            for k, bath in enumerate(f.get("bath") or []):
                _reference(problems, fp + ("bath", k), bath, drug_ids, "drug")
            clamp_mode = f.get("clamp_mode", raw.get("clamp_mode"))
            command_ok = _check_abf_command(problems, fp, f, clamp_mode)
            recording_time = _parse_datetime(problems, fp + ("recording_time",), f.get("recording_time"), now)
            if recording_time and start and recording_time < start:
                problems.add(fp + ("recording_time",), f"is before the session's start_time {start.isoformat()}")
            if (
                resolved
                and potential
                and command_ok
                and clamp_mode in vocab.CLAMP_MODES
                and isinstance(f.get("protocol"), str)
                and (recording_time or "recording_time" not in f)
            ):
                abf_files.append(
                    AbfFileInfo(
                        path=resolved,
                        protocol=f["protocol"],
                        holding_potential=potential,
                        clamp_mode=clamp_mode,
                        response_channel=f.get("response_channel", 0),
                        command_channel=f.get("command_channel", 0),
                        bath=tuple(f.get("bath") or ()),
                        command_unit=f.get("command_unit"),
                        has_command=f.get("command") != "none",
                        recording_time=recording_time,
                        where=_where(problems.filename, problems.lines, fp).removesuffix(": "),
                    )
                )
        required = ("session_id", "subject", "slice_id", "cell_id", "region", "clamp_mode", "files")
        if start and all(key in raw for key in required) and len(abf_files) == len(raw["files"]):
            if vocab.ccf_region(raw["region"]) is None:
                return None
            return SliceSession(
                session_id=str(raw["session_id"]),
                subject=raw["subject"],
                start_time=start,
                slice_id=str(raw["slice_id"]),
                cell_id=str(raw["cell_id"]),
                region=raw["region"],
                clamp_mode=raw["clamp_mode"],
                files=tuple(abf_files),
                injection=injection,
                slicing_time=slicing,
                description=raw.get("description"),
            )
        return None

    if kind == "invivo":
        raw_info = raw.get("raw") if isinstance(raw.get("raw"), dict) else {}
        raw_path = _check_path(problems, p + ("raw", "path"), base, raw_info.get("path"), check_files, want_dir=True)
        sorting = raw.get("sorting") if isinstance(raw.get("sorting"), dict) else {}
        sorting_path = None
        if sorting.get("path") is not None:
            sorting_path = (base / str(sorting["path"])).resolve()
            if check_files and not sorting_path.exists():
                problems.add(p + ("sorting", "path"), f"{sorting['path']!r} does not exist (looked for {sorting_path})")
        tetrodes, used, numbers = [], {}, {}
        for j, t in enumerate(raw.get("tetrodes") or []):
            if not isinstance(t, dict):
                continue
            tp = p + ("tetrodes", j)
            number = t.get("number", j + 1)
            if number in numbers:
                problems.add(tp + ("number",), f"tetrode number {number} is already tetrodes[{numbers[number]}]")
            numbers.setdefault(number, j)
            first = 4 * (number - 1) if "number" in t else 4 * j
            channels = tuple(t.get("channels", range(first, first + 4)))
            for c in channels:
                if c in used:
                    problems.add(tp + ("channels",), f"channel {c} is already in tetrodes[{used[c]}]")
                used.setdefault(c, j)
            region = t.get("region")
            if isinstance(region, str) and vocab.ccf_region(region) is None:
                problems.add(tp + ("region",), f"{region!r} is not a known region; use an Allen CCF acronym")
            elif isinstance(region, str):
                tetrodes.append(Tetrode(channels=channels, region=region, number=number))
        epochs = []
        for j, e in enumerate(raw.get("epochs") or []):
            if not isinstance(e, dict):
                continue
            ep = p + ("epochs", j)
            e_start = _parse_quantity(problems, ep + ("start",), e.get("start"), list(TIME_UNITS), "time")
            e_stop = _parse_quantity(problems, ep + ("stop",), e.get("stop"), list(TIME_UNITS), "time")
            if e_start and e_stop:
                t0, t1 = e_start.value * TIME_UNITS[e_start.unit], e_stop.value * TIME_UNITS[e_stop.unit]
                if t1 <= t0:
                    problems.add(ep + ("stop",), f"{e_stop} is not after start {e_start}")
                elif "name" in e:
                    epochs.append(Epoch(name=e["name"], start=t0, stop=t1))
        if ("gain" in raw_info) != ("unit" in raw_info):
            problems.add(p + ("raw", "gain" if "unit" in raw_info else "unit"), "gain and unit go together")
        has_source = raw_path is not None or sorting_path is not None
        if start and has_source and "session_id" in raw and raw.get("subject") in subject_ids:
            stream = raw_info.get("stream")
            return InVivoSession(
                session_id=str(raw["session_id"]),
                subject=raw["subject"],
                start_time=start,
                raw_path=raw_path,
                raw_format=raw_info.get("format"),
                raw_stream=None if stream is None else str(stream),
                raw_file=raw_info.get("file"),
                raw_neo_options=tuple(sorted((raw_info.get("neo_options") or {}).items())),
                raw_gain=raw_info.get("gain"),
                raw_unit=raw_info.get("unit"),
                sorting_path=sorting_path,
                sorting_format=sorting.get("format"),
                tetrodes=tuple(tetrodes),
                injection=injection,
                epochs=tuple(epochs),
                description=raw.get("description"),
            )
    return None


def load_study(path: str | Path, check_files: bool = True, now: datetime | None = None) -> Study:
    """Load and validate a study file.

    Parameters
    ----------
    path
        The study file (YAML or JSON).
    check_files
        Whether the raw files it names must exist.
    now
        The time that counts as "now" (default: the current time); for tests.

    Returns
    -------
    Study
        The validated model, paths resolved against the study file's folder.

    Raises
    ------
    StudyFileError
        Listing every problem found, one line each with file, line and field.

    Examples
    --------
    >>> study = load_study("examples/study.yaml")  # doctest: +SKIP
    >>> study.summary()  # doctest: +SKIP
    """
    data, lines = read_study_file(path)
    return validate_study(data, lines, Path(path), check_files=check_files, now=now)


def time_since_injection(session) -> timedelta | None:
    """Time from the injection to the session start, or None when there was no injection."""
    if session.injection is None:
        return None
    return session.start_time - session.injection.time
