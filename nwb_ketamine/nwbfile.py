"""What every NWB file of a study shares: file-level metadata, Subject and the drug & stress objects.

Converters call :func:`new_nwbfile` and then add their own data. Everything here comes from the study
file; nothing is read from the raw recordings, so slice and in vivo files of one study carry the
same subject, drug and stress descriptions.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pynwb import NWBFile
from pynwb.file import Subject

from nwb_ketamine.extension import DrugAdministration, DrugStressMetadata, StressProtocol, mirror_into_core_fields
from nwb_ketamine.filelayout import DRUG_STRESS
from nwb_ketamine.metadata import DrugInfo, Study, time_since_injection

_KG_PER = {"g": 1e-3, "kg": 1.0, "mg": 1e-6}
#: Fields copied as they are from the study file into the NWB object of the same field name.
_SUBJECT_FIELDS = ("species", "sex", "strain", "genotype")
_DRUG_FIELDS = ("agent", "agent_identifier", "route", "role", "vehicle")
_AMOUNTS = ("dose", "concentration", "volume")


def subject_of(study: Study, subject_id: str, session_start: datetime) -> Subject:
    """The pynwb Subject for ``subject_id`` with the fields DANDI requires.

    Parameters
    ----------
    study
        The validated study.
    subject_id
        The subject's id in the study file.
    session_start
        The session's start (its time zone is the date of birth's).

    Returns
    -------
    Subject
    """
    info = study.subjects[subject_id]
    kwargs: dict[str, Any] = {name: getattr(info, name) for name in _SUBJECT_FIELDS}
    if info.date_of_birth is not None:
        kwargs["date_of_birth"] = datetime.combine(info.date_of_birth, datetime.min.time(), session_start.tzinfo)
    if info.age is not None:
        kwargs["age"] = info.age
    if info.weight is not None:
        kwargs["weight"] = f"{info.weight.value * _KG_PER[info.weight.unit]:g} kg"
    stress = study.stress_protocols.get(info.stress) if info.stress else None
    description = info.description or (f"Group {info.group}; stress: {stress.paradigm if stress else 'none declared'}.")
    return Subject(subject_id=info.id, description=description, **kwargs)


def administration_of(drug: DrugInfo, *, name: str, time_s: float | None) -> DrugAdministration:
    """A DrugAdministration for a study drug given ``time_s`` seconds after the session start.

    Parameters
    ----------
    drug
        The study file's drug.
    name
        The object's name (unique in the file).
    time_s
        When it was given, in seconds from the session start (negative: before it); None when not known.

    Returns
    -------
    DrugAdministration
    """
    kwargs: dict[str, Any] = {field: getattr(drug, field) for field in _DRUG_FIELDS}
    for field in _AMOUNTS:
        amount = getattr(drug, field)
        if amount is not None:
            kwargs.update({field: amount.value, f"{field}_unit": amount.unit})
    return DrugAdministration(
        name=name,
        administration_time=time_s,
        description=drug.description or f"Study drug '{drug.id}'.",
        **kwargs,
    )


def drug_stress_metadata(study: Study, session, bath: dict[str, float] | None = None) -> DrugStressMetadata:
    """The extension object for a session: its injection, bath drugs and the subject's stress protocol.

    Parameters
    ----------
    study, session
        The validated study and one of its sessions.
    bath
        Bath-applied drug ids and when each was first applied, in seconds from the session start.
    """
    subject = study.subjects[session.subject]
    administrations = []
    since = time_since_injection(session)
    if session.injection is not None and since is not None:
        administrations.append(
            administration_of(
                study.drugs[session.injection.drug], name=session.injection.drug, time_s=-since.total_seconds()
            )
        )
    for drug_id, time_s in (bath or {}).items():
        name = drug_id if drug_id not in {a.name for a in administrations} else f"{drug_id}-bath"
        administrations.append(administration_of(study.drugs[drug_id], name=name, time_s=time_s))
    protocols = []
    if subject.stress:
        info = study.stress_protocols[subject.stress]
        protocols.append(
            StressProtocol(
                name=info.id,
                paradigm=info.paradigm,
                duration_per_day=info.hours_per_day,
                number_of_days=info.number_of_days,
                start_date=info.start_date,
                end_date=info.end_date,
                apparatus=info.apparatus,
                description=info.description or f"Stress protocol '{info.id}'.",
            )
        )
    return DrugStressMetadata(
        name=DRUG_STRESS,
        experimental_group=subject.group,
        drug_administrations=administrations,
        stress_protocols=protocols,
    )


def new_nwbfile(study: Study, session, *, session_description: str, bath: dict[str, float] | None = None) -> NWBFile:
    """An NWBFile with the study's metadata, the Subject and the drug & stress objects of ``session``.

    The drug and stress facts are mirrored into ``pharmacology``, ``protocol`` and ``keywords``.

    Parameters
    ----------
    study
        The validated study.
    session
        One of its sessions.
    session_description
        The description when the study file gives the session none.
    bath
        Bath-applied drug ids and when each was first applied, in seconds from the session start.

    Returns
    -------
    NWBFile
    """
    info = study.info
    nwbfile = NWBFile(
        session_description=session.description or session_description,
        identifier=str(uuid.uuid4()),  # unique per written file, as NWB and DANDI ask
        session_start_time=session.start_time,
        session_id=session.session_id,
        experimenter=list(info.experimenters),
        lab=info.lab,
        institution=info.institution,
        experiment_description=info.description,
        related_publications=list(info.related_publications) or None,
        keywords=list(info.keywords) or None,
    )
    nwbfile.subject = subject_of(study, session.subject, session.start_time)
    metadata = drug_stress_metadata(study, session, bath)
    nwbfile.add_lab_meta_data(metadata)
    mirror_into_core_fields(nwbfile, metadata)
    return nwbfile
