"""The study file's domain rules on its declarations: ids, references, units, dates, species, analysis names.

The rules read the file model's typed fields (:mod:`nwb_ketamine.metadata.model`, through
:func:`~nwb_ketamine.metadata.partial.partial`), report what the schema cannot express, and build the
typed declarations of :mod:`nwb_ketamine.metadata.study`. Session rules are in
:mod:`nwb_ketamine.metadata.sessions`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel

from nwb_ketamine import vocabulary as vocab
from nwb_ketamine.metadata.fields import units
from nwb_ketamine.metadata.loader import FieldPath, Problems
from nwb_ketamine.metadata.model import (
    AnalysisEntry,
    DrugEntry,
    StressProtocolEntry,
    StudySliceMethodsEntry,
    SubjectEntry,
    TimePointEntry,
)
from nwb_ketamine.metadata.study import DrugInfo, StressProtocolInfo, SubjectInfo
from nwb_ketamine.metadata.values import Quantity, parse_date, parse_quantity

BINOMIAL = re.compile(r"^[A-Z][a-z]+ [a-z]+(?: [a-z]+)?$")
NCBI_TAXON = re.compile(r"^http://purl\.obolibrary\.org/obo/NCBITaxon_\d+$")


def quantity_of(problems: Problems, path: FieldPath, entry: BaseModel, name: str) -> Quantity | None:
    """The quantity in field ``name`` of ``entry``, in the units its model field accepts.

    Parameters
    ----------
    problems : Problems
        Where to report.
    path : tuple
        The entry's path.
    entry : BaseModel
        A file model entry.
    name : str
        A quantity field of it.

    Returns
    -------
    Quantity or None
        None when absent or not valid (and reported).
    """
    field_units = units(type(entry).model_fields[name])
    assert field_units is not None, f"{type(entry).__name__}.{name} is not a quantity field"
    return parse_quantity(problems, path + (name,), getattr(entry, name), field_units)


def check_timezone(problems: Problems, timezone: str | None) -> None:
    """The lab's time zone must be an IANA name.

    Parameters
    ----------
    problems : Problems
        Where to report.
    timezone : str or None
        The file's ``timezone``.
    """
    if timezone is None:
        return
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.add(("timezone",), f"{timezone!r} is not an IANA time zone name, e.g. 'Asia/Shanghai'")


def declared_ids(problems: Problems, entries: object, section: str, label: str) -> dict:
    """The ids declared in a section, each with the index of its first entry; a repeated id is a problem.

    An id that breaks the identifier pattern is still declared (the schema reports it), so a reference
    to it is not a second problem.

    Parameters
    ----------
    problems : Problems
        Where to report.
    entries : object
        The section as parsed (a list of mappings when valid).
    section : str
        The section's name (``subjects``).
    label : str
        What an entry is, for messages (``subject``).

    Returns
    -------
    dict
        Index of the first entry of each id.
    """
    seen: dict[str, int] = {}
    for i, entry in enumerate(entries if isinstance(entries, list) else []):
        ident = entry.get("id") if isinstance(entry, dict) else None
        if not isinstance(ident, str):
            continue
        if ident in seen:
            problems.add((section, i, "id"), f"duplicate {label} id {ident!r} (also at {section}[{seen[ident]}])")
        else:
            seen[ident] = i
    return seen


def _declared(ids) -> str:
    ids = sorted(ids)
    return ", ".join(ids) if len(ids) <= 6 else f"{ids[0]}…{ids[-1]}"


def check_reference(problems: Problems, path: FieldPath, value: object, declared, what: str) -> None:
    """A reference to a declared id must name one.

    Parameters
    ----------
    problems : Problems
        Where to report.
    path : tuple
        The referring field.
    value : object
        The id it gives (None when absent).
    declared : collection of str
        The declared ids.
    what : str
        What is referred to, for messages (``drug``).
    """
    if value is not None and value not in declared:
        problems.add(path, f"{value!r} is not a declared {what} (declared: {_declared(declared) or 'none'})")


def stress_protocols(problems: Problems, entries: Sequence[StressProtocolEntry | None]) -> dict:
    """Check the stress protocols and return them by id.

    Parameters
    ----------
    problems : Problems
        Where to report.
    entries : sequence
        The ``stress_protocols`` entries.

    Returns
    -------
    dict
        :class:`StressProtocolInfo` by id.
    """
    out = {}
    for i, entry in enumerate(entries):
        if entry is None:
            continue
        p = ("stress_protocols", i)
        duration = quantity_of(problems, p, entry, "duration_per_day")
        start = parse_date(problems, p + ("start_date",), entry.start_date)
        end = parse_date(problems, p + ("end_date",), entry.end_date)
        if start and end and end < start:
            problems.add(p + ("end_date",), f"{end} is before start_date {start}")
        if entry.id is not None and entry.paradigm is not None:
            out[entry.id] = StressProtocolInfo(
                **{**entry.model_dump(include=entry.model_fields_set), "duration_per_day": duration}
            )
    return out


def drugs(problems: Problems, entries: Sequence[DrugEntry | None]) -> dict:
    """Check the drugs and return them by id.

    Parameters
    ----------
    problems : Problems
        Where to report.
    entries : sequence
        The ``drugs`` entries.

    Returns
    -------
    dict
        :class:`DrugInfo` by id.
    """
    out = {}
    for i, entry in enumerate(entries):
        if entry is None:
            continue
        p = ("drugs", i)
        amounts = {key: quantity_of(problems, p, entry, key) for key in ("dose", "concentration", "volume")}
        for key, amount in amounts.items():
            if amount is not None and amount.value < 0:
                problems.add(p + (key,), f"{amount} is negative")
        if entry.route == "bath" and amounts["dose"] is not None:
            problems.add(p + ("dose",), "a bath-applied drug has a concentration, not a dose")
        if None not in (entry.id, entry.agent, entry.route, entry.role):
            out[entry.id] = DrugInfo(**{**entry.model_dump(include=entry.model_fields_set), **amounts})
    return out


def time_points(problems: Problems, entries: Sequence[TimePointEntry | None]) -> dict[str, float]:
    """Check the time points and return their hours after the injection by name.

    A time point's time must be positive (points are compared on a log scale), and names and times
    must not repeat.

    Parameters
    ----------
    problems : Problems
        Where to report.
    entries : sequence
        The ``time_points`` entries.

    Returns
    -------
    dict
        Hours after the injection by name, in file order.
    """
    out: dict[str, float] = {}
    names: dict[str, int] = {}
    times: dict[float, int] = {}
    for i, entry in enumerate(entries):
        if entry is None:
            continue
        p = ("time_points", i)
        time = quantity_of(problems, p, entry, "after_injection")
        if entry.name is not None and entry.name in names:
            first = names[entry.name]
            problems.add(p + ("name",), f"duplicate time point {entry.name!r} (also at time_points[{first}])")
            continue
        if time is None or entry.name is None:
            continue
        if time.value <= 0:
            problems.add(p + ("after_injection",), f"{time} is not after the injection; give a positive time")
            continue
        hours = time.value * vocab.DURATION_UNITS[time.unit]
        if hours in times:
            problems.add(p + ("after_injection",), f"{time} is also the time of time_points[{times[hours]}]")
            continue
        names[entry.name], times[hours] = i, i
        out[entry.name] = hours
    return out


@functools.cache
def dandi_species() -> tuple[str, ...]:
    """The Latin names DANDI maps to NCBITaxon terms without asking NCBI (``dandi.metadata.util.species_map``).

    Returns
    -------
    tuple of str
        The binomials, in dandi's order.
    """
    from dandi.metadata.util import species_map

    return tuple(record.name.partition(" - ")[0] for record in species_map)


def unknown_to_dandi(species: str) -> str | None:
    """Why DANDI would not take a Latin binomial as it is; None when it knows it (or dandi is not installed).

    dandi maps a few species by name (mouse, rat, human, macaques...); another name it guesses from the
    genus, asks NCBI's web service about, or refuses (``dandi upload`` then stops at the file). An
    NCBITaxon IRI it takes for any species. The NWB Inspector check
    :func:`~nwb_ketamine.archive.checks.check_subject_species_known_to_dandi` asks the same of a file.

    Parameters
    ----------
    species
        The study file's species.

    Returns
    -------
    str or None
        The problem, or None.
    """
    if not BINOMIAL.match(species):
        return None
    try:
        known = dandi_species()
    except ImportError:  # without the validate extra there is no dandi to ask
        return None
    if species in known:
        return None
    return (
        f"{species!r} is not a species DANDI knows by name ({', '.join(known[:3])}, ...); give its NCBITaxon "
        "IRI, 'http://purl.obolibrary.org/obo/NCBITaxon_<id>'"
    )


def subjects(
    problems: Problems, entries: Sequence[SubjectEntry | None], stress_ids, now: datetime
) -> dict[str, SubjectInfo]:
    """Check the subjects and return them by id.

    Parameters
    ----------
    problems : Problems
        Where to report.
    entries : sequence
        The ``subjects`` entries.
    stress_ids : collection of str
        The declared stress protocols.
    now : datetime
        The time that counts as now: a date of birth after it is a problem.

    Returns
    -------
    dict
        :class:`SubjectInfo` by id.
    """
    out = {}
    for i, entry in enumerate(entries):
        if entry is None:
            continue
        p = ("subjects", i)
        species = entry.species
        if species is not None and not (BINOMIAL.match(species) or NCBI_TAXON.match(species)):
            problems.add(
                p + ("species",),
                f"{species!r} is not a Latin binomial ('Mus musculus') or an NCBITaxon IRI "
                "('http://purl.obolibrary.org/obo/NCBITaxon_10090')",
            )
        elif species is not None and (unknown := unknown_to_dandi(species)):
            problems.add(p + ("species",), unknown)
        weight = quantity_of(problems, p, entry, "weight")
        if weight is not None and weight.value <= 0:
            problems.add(p + ("weight",), f"{weight} is not a positive weight")
        dob = parse_date(problems, p + ("date_of_birth",), entry.date_of_birth)
        if dob and dob > now.date():
            problems.add(p + ("date_of_birth",), f"{dob} is in the future")
        check_reference(problems, p + ("stress",), entry.stress, stress_ids, "stress protocol")
        if None not in (entry.id, entry.species, entry.sex, entry.group):
            given = entry.model_dump(include=entry.model_fields_set)
            out[entry.id] = SubjectInfo(**{**given, "weight": weight, "date_of_birth": dob})
    return out


def check_analysis(problems: Problems, analysis: AnalysisEntry | None, has_slice_sessions: bool) -> None:
    """Parameter names must exist; the EPSC protocol timing is required when slice cells will be analysed.

    Parameters
    ----------
    problems : Problems
        Where to report.
    analysis : AnalysisEntry or None
        The file's ``analysis`` section.
    has_slice_sessions : bool
        Whether the study has slice cells to analyse.
    """
    from dataclasses import MISSING, fields

    from nwb_ketamine.analysis.bursts import BurstParameters
    from nwb_ketamine.analysis.epsc_parameters import EpscParameters

    for section, cls, required in (("epsc", EpscParameters, has_slice_sessions), ("bursts", BurstParameters, False)):
        known = {f.name: f for f in fields(cls)}
        values = getattr(analysis, section, None) or {}
        for name in values:
            if name not in known:
                problems.add(("analysis", section, name), f"unknown {section} parameter (known: {', '.join(known)})")
        for name, f in known.items():
            if required and f.default is MISSING and name not in values:
                message = "required to analyse slice cells: it describes the recording protocol"
                problems.add(("analysis", section, name), message)


def check_stimulation_sites(problems: Problems, methods: StudySliceMethodsEntry | None) -> None:
    """The regions of ``slice_methods.stimulation_sites`` must be known region labels.

    Parameters
    ----------
    problems : Problems
        Where to report.
    methods : StudySliceMethodsEntry or None
        The file's ``slice_methods``.
    """
    for region in (methods.stimulation_sites or {}) if methods is not None else {}:
        if vocab.ccf_region(region) is None:
            message = f"{region!r} is not a known region; use a region label of the slice sessions (LHb, CA1...)"
            problems.add(("slice_methods", "stimulation_sites", region), message)
