"""What every NWB file of a study shares: file-level metadata, Subject and the drug & stress objects.

Converters call :func:`new_nwbfile` and then add their own data. Everything here comes from the study
file; nothing is read from the raw recordings, so slice and in vivo files of one study carry the
same subject, drug and stress descriptions.

Design decision: the NWB ``identifier`` is deterministic, so converting the same inputs with the same
version gives the same file (issue 16, reproducible outputs). :func:`session_identifier` is the uuid5 (in
:data:`IDENTIFIER_NAMESPACE`) of a text made of, one item a line:

- ``nwb-ketamine <version>`` (the installed package's version);
- ``session <key>`` (the session's archive key, e.g. ``sub-M1_ses-1``);
- ``options <name>=<value> ...``: the conversion options that change the content (``stub``, ``include_raw``),
  sorted by name;
- ``metadata <sha256>``: the sha256 of the repr of the study metadata the file holds (the study's info and
  time zone, the subject, its stress protocol, the session's drugs and the session entry itself), with the
  study folder's path replaced by ``.`` so a study folder copied elsewhere gives the same identifier;
- one ``source <name> <size> <sha256>`` line per source file (:func:`nwb_ketamine.archive.manifest.session_sources`,
  in that sorted order), where ``name`` is the path relative to the session's raw folder, sorting folder
  (prefixed ``raw/``, ``sorting/``) or, for a slice file, its file name (prefixed ``file/``); ``size`` is in
  bytes and ``sha256`` is over the first MiB and the last MiB of the file (the whole file when it is
  shorter than 2 MiB).

Hashing only the ends keeps the identifier cheap for raw recordings of many GB (the full sha256 is in the
manifest, computed while the session converts, too late for the file's constructor); a change in the middle
of a large source that keeps its size does not change the identifier, the file's content changes all the
same, and the catalog and the manifest notice it by size, mtime and sha256, not by the identifier.
Modification times are left out: they change when a study is copied. Two different files of one archive
never share an identifier (the session key is part of it); the same session converted with different inputs,
metadata, options or version gets a different one.

Every object of a file also carries an ``object_id``, which pynwb draws at random (uuid4) when the object
is built. :func:`set_object_ids` replaces them before the write by the uuid5 (in the namespace of the
file's identifier) of the object's path in the container tree (its ancestors' names and its own, with its
type, and a counter for the rare twins), so the object ids too are a function of the file's content.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from pathlib import Path
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
#: The uuid5 namespace of :func:`session_identifier` (a uuid5 of the project's name in the URL namespace).
IDENTIFIER_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/nwb-ketamine/nwb-ketamine")
#: How many bytes of each end of a source :func:`session_identifier` hashes.
_END_BYTES = 1 << 20


def _ends_sha256(path: Path) -> str:
    """The sha256 of a file's first and last :data:`_END_BYTES` (the whole file when it is shorter).

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    str
        Hex digest.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        size = f.seek(0, 2)
        f.seek(0)
        if size <= 2 * _END_BYTES:
            digest.update(f.read())
        else:
            digest.update(f.read(_END_BYTES))
            f.seek(size - _END_BYTES)
            digest.update(f.read(_END_BYTES))
    return digest.hexdigest()


def _source_name(session, path: Path) -> str:
    """The name of a source in :func:`session_identifier`: relative to its session folder, never absolute.

    Parameters
    ----------
    session
        The session.
    path
        One of its sources.

    Returns
    -------
    str
    """
    for label in ("raw", "sorting"):
        root = getattr(session, f"{label}_path", None)
        if root is not None and path.is_relative_to(root):
            rel = path.relative_to(root).as_posix()
            return f"{label}/{root.name if rel == '.' else rel}"
    return f"file/{path.name}"


def session_identifier(study: Study, session, options: dict[str, object] | None = None) -> str:
    """The deterministic NWB ``identifier`` of a session's file (what goes in: see the module docstring).

    Parameters
    ----------
    study
        The validated study.
    session
        One of its sessions.
    options
        The conversion options that change the file's content (e.g. ``stub``, ``include_raw``).

    Returns
    -------
    str
        A uuid5, as text.
    """
    from nwb_ketamine import __version__
    from nwb_ketamine.archive.manifest import session_sources

    subject = study.subjects[session.subject]
    stress = study.stress_protocols.get(subject.stress) if subject.stress else None
    drug_ids = {session.injection.drug} if session.injection else set()
    drug_ids |= {d for f in getattr(session, "files", ()) for d in f.bath}
    drugs = [study.drugs[d] for d in sorted(drug_ids)]
    metadata = repr((study.info, study.timezone, subject, stress, drugs, session))
    metadata = metadata.replace(str(study.path.parent), ".")
    lines = [
        f"nwb-ketamine {__version__}",
        f"session {session.key}",
        "options " + " ".join(f"{k}={v!r}" for k, v in sorted((options or {}).items())),
        f"metadata {hashlib.sha256(metadata.encode()).hexdigest()}",
    ]
    for path in session_sources(session):
        lines.append(f"source {_source_name(session, path)} {path.stat().st_size} {_ends_sha256(path)}")
    return str(uuid.uuid5(IDENTIFIER_NAMESPACE, "\n".join(lines)))


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


def set_object_ids(nwbfile: NWBFile, identifier: str | None = None) -> None:
    """Give every container of ``nwbfile`` a deterministic ``object_id`` (see the module docstring).

    Parameters
    ----------
    nwbfile
        The filled file, not yet written.
    identifier
        The file's identifier (default: ``nwbfile.identifier``).
    """
    namespace = uuid.UUID(identifier or nwbfile.identifier)
    seen: dict[str, int] = {}
    for container in nwbfile.all_children():
        names = [f"{type(container).__name__}:{container.name}"]
        parent = container.parent
        while parent is not None and parent is not nwbfile:
            names.append(parent.name)
            parent = parent.parent
        path = "/".join(reversed(names))
        count = seen[path] = seen.get(path, -1) + 1
        # hdmf offers only random ids (generate_new_id); the attribute behind the read-only property is set.
        container._AbstractContainer__object_id = str(uuid.uuid5(namespace, f"{path}#{count}"))
    nwbfile.all_children()  # re-index all_objects under the new ids


def new_nwbfile(
    study: Study,
    session,
    *,
    session_description: str,
    bath: dict[str, float] | None = None,
    options: dict[str, object] | None = None,
    identifier: str | None = None,
) -> NWBFile:
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
    options
        The conversion options that change the content, part of the identifier (:func:`session_identifier`).
    identifier
        The identifier when the caller has computed it already (``session_identifier(study, session,
        options)``: it hashes the ends of every source); default: computed here.

    Returns
    -------
    NWBFile
    """
    info = study.info
    nwbfile = NWBFile(
        session_description=session.description or session_description,
        # deterministic: see the module docstring
        identifier=identifier if identifier is not None else session_identifier(study, session, options),
        session_start_time=session.start_time,
        session_id=session.session_id,
        experimenter=list(info.experimenters),
        lab=info.lab,
        institution=info.institution,
        experiment_description=info.description,
        related_publications=list(info.publication_urls) or None,
        keywords=list(info.keywords) or None,
    )
    nwbfile.subject = subject_of(study, session.subject, session.start_time)
    metadata = drug_stress_metadata(study, session, bath)
    nwbfile.add_lab_meta_data(metadata)
    mirror_into_core_fields(nwbfile, metadata)
    return nwbfile
