"""Load a study file: parse it, check its structure against the model's schema, run the domain rules, build the study.

Every problem of the file is collected before reporting, one line each::

    study.yaml:42 sessions[3].subject: 'm17' is not a declared subject (declared: m01, m02)
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from nwb_ketamine.errors import StudyFileError
from nwb_ketamine.metadata import rules
from nwb_ketamine.metadata.loader import Problems, read_study_file
from nwb_ketamine.metadata.model import SliceSessionEntry, StudyEntry, StudyFile
from nwb_ketamine.metadata.partial import partial
from nwb_ketamine.metadata.schema import check_structure
from nwb_ketamine.metadata.sessions import SessionRules, data_roots
from nwb_ketamine.metadata.study import Contact, Study, StudyInfo


def validate_study(data: dict, lines: dict, path: Path, check_files: bool = True, now: datetime | None = None) -> Study:
    """Validate parsed study data and build the model; raise StudyFileError listing every problem.

    Parameters
    ----------
    data : dict
        As returned by :func:`~nwb_ketamine.metadata.read_study_file`.
    lines : dict
        As returned by :func:`~nwb_ketamine.metadata.read_study_file`.
    path : Path
        The study file; relative paths in it are resolved against its folder.
    check_files : bool
        Whether referenced raw files must exist (on by default; conversion needs them).
    now : datetime, optional
        The time that counts as "now" for the not-in-the-future rule (default: the current time).

    Returns
    -------
    Study
        The validated study.

    Raises
    ------
    StudyFileError
        Listing every problem found, one line each with file, line and field.
    """
    path = Path(path).resolve()
    now = now or datetime.now(UTC)
    problems = Problems(path.name, lines)
    if not isinstance(data, dict):
        raise StudyFileError(
            [f"{path.name}:1 (top level): expected a mapping of fields; start from examples/study.yaml"]
        )
    check_structure(problems, data)
    model = partial(StudyFile, data)
    assert model is not None
    rules.check_timezone(problems, model.timezone)

    stress_entries, drug_entries = model.stress_protocols or [], model.drugs or []
    subject_entries, session_entries = model.subjects or [], model.sessions or []
    stress_ids = rules.declared_ids(problems, data.get("stress_protocols"), "stress_protocols", "stress")
    drug_ids = rules.declared_ids(problems, data.get("drugs"), "drugs", "drug")
    subject_ids = rules.declared_ids(problems, data.get("subjects"), "subjects", "subject")
    stress_protocols = rules.stress_protocols(problems, stress_entries)
    drugs = rules.drugs(problems, drug_entries)
    subjects = rules.subjects(problems, subject_entries, stress_ids, now)
    time_points = rules.time_points(problems, model.time_points or [])

    roots = data_roots(problems, path.parent, model.data_roots or [], check_files)
    methods = model.slice_methods
    rules.check_stimulation_sites(problems, methods)
    session_rules = SessionRules(
        problems, path.parent, subjects, subject_ids, drug_ids, now, check_files, roots, methods=methods
    )
    sessions = []
    output_names: dict[str, int] = {}
    for i, entry in enumerate(session_entries):
        session = session_rules.session(("sessions", i), entry) if entry is not None else None
        if session is None:
            continue
        if session.key in output_names:
            problems.add(("sessions", i), f"same subject/session/slice/cell as sessions[{output_names[session.key]}]")
        output_names.setdefault(session.key, i)
        sessions.append(session)

    has_slice_sessions = any(isinstance(entry, SliceSessionEntry) for entry in session_entries)
    rules.check_analysis(problems, model.analysis, has_slice_sessions)

    if problems.items:
        raise StudyFileError(problems.sorted())
    analysis = data.get("analysis") or {}  # as written: an integer parameter stays an integer
    return Study(
        path=path,
        info=study_info(StudyEntry.model_validate(data["study"])),
        timezone=data["timezone"],
        subjects=subjects,
        stress_protocols=stress_protocols,
        drugs=drugs,
        sessions=tuple(sessions),
        analysis={key: dict(value) for key, value in analysis.items() if isinstance(value, dict)},
        time_points=time_points,
        raw=data,
    )


def study_info(entry: StudyEntry) -> StudyInfo:
    """The typed ``study`` section of a validated file.

    Parameters
    ----------
    entry
        The validated ``study`` section.

    Returns
    -------
    StudyInfo
    """
    fields = entry.model_dump(exclude={"contact"})
    contact = Contact(**entry.contact.model_dump()) if entry.contact is not None else None
    return StudyInfo(**fields, contact=contact)


def load_study(path: str | Path, check_files: bool = True, now: datetime | None = None) -> Study:
    """Load and validate a study file.

    Parameters
    ----------
    path : str or Path
        The study file (YAML or JSON).
    check_files : bool
        Whether the raw files it names must exist.
    now : datetime, optional
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
