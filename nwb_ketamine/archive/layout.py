"""Where each session goes in the archive, and the archive's dandiset.yaml.

Names follow the DANDI layout exactly as ``dandi organize`` gives them when slice and cell are required
fields: ``sub-<subject>/sub-<subject>_ses-<session>[_slice-<slice>_cell-<cell>]_<modality>.nwb``, with
``icephys`` for slice cells and ``ecephys`` for tetrode sessions. The study file's id rules (no spaces,
slashes or underscores) make the entities safe to use as they are.

The archive's own bookkeeping (manifest, logs, catalog) lives in the hidden folder ``.nwb-ketamine/``,
which ``dandi validate`` and ``dandi upload`` skip like every dot-folder.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from nwb_ketamine.atomic import write_text
from nwb_ketamine.metadata import SliceSession, Study, StudyInfo
from nwb_ketamine.vocabulary import CCF_REGIONS

#: Scheduler options of a local cluster without a dashboard: without a dashboard the scheduler still
#: serves its health page on port 8787 by default (and warns when that port is taken); a free port is used.
NO_DASHBOARD = {"dashboard": False, "dashboard_address": ":0"}

STATE_DIR = ".nwb-ketamine"


def dandi_path(session) -> str:
    """The session's path in the archive, relative to its root, as DANDI names it.

    Parameters
    ----------
    session
        A slice or in vivo session of the study.

    Returns
    -------
    str
    """
    entities = f"sub-{session.subject}_ses-{session.session_id}"
    if isinstance(session, SliceSession):
        return f"sub-{session.subject}/{entities}_slice-{session.slice_id}_cell-{session.cell_id}_icephys.nwb"
    return f"sub-{session.subject}/{entities}_ecephys.nwb"


def state_dir(archive: Path) -> Path:
    """The archive's bookkeeping folder (manifest, logs, catalog), hidden from DANDI tools.

    Parameters
    ----------
    archive
        The archive root.

    Returns
    -------
    Path
    """
    return Path(archive) / STATE_DIR


def is_archive(folder: Path) -> bool:
    """Whether ``folder`` is an archive: a folder with the state folder or at least one NWB file.

    Parameters
    ----------
    folder
        The folder.

    Returns
    -------
    bool
    """
    if not folder.is_dir():
        return False
    return state_dir(folder).is_dir() or next(folder.rglob("*.nwb"), None) is not None


def _person(name: str, roles: list[str], *, cited: bool = True) -> dict:
    return {"schemaKey": "Person", "name": name, "roleName": roles, "includeInCitation": cited}


def _contributors(info: StudyInfo) -> list[dict]:
    """Experimenters and contributors as authors, the contact person first in the roles, the institution.

    DANDI publishes a dandiset only when a contributor has the role ``dcite:ContactPerson`` and an email.
    """
    people = [_person(name, ["dcite:Author"]) for name in dict.fromkeys([*info.experimenters, *info.contributors])]
    if info.contact is not None:
        contact = next((p for p in people if p["name"] == info.contact.name), None)
        if contact is None:
            contact = _person(info.contact.name, [], cited=False)
            people.append(contact)
        contact["roleName"] = ["dcite:ContactPerson", *contact["roleName"]]
        contact["email"] = info.contact.email
    organization = {
        "schemaKey": "Organization",
        "name": info.institution,
        "roleName": ["dcite:Sponsor"],
        "includeInCitation": False,
    }
    return [*people, organization]


def protocol_summary(study: Study) -> str:
    """Drugs and stress protocols in words, for the dandiset description (DANDI does not read extensions).

    Parameters
    ----------
    study
        The validated study.

    Returns
    -------
    str
    """
    drugs = [f"{d.agent} ({d.amount}, {d.route}, {d.role})" for d in study.drugs.values()]
    stress = [
        p.paradigm
        + (f", {p.hours_per_day:g} h/day" if p.hours_per_day is not None else "")
        + (f" for {p.number_of_days} days" if p.number_of_days is not None else "")
        for p in study.stress_protocols.values()
    ]
    regions = sorted(
        {CCF_REGIONS[s.ccf_region] for s in study.slice_sessions}
        | {CCF_REGIONS[t.ccf_region] for s in study.invivo_sessions for t in s.tetrodes}
    )
    sessions = f"{len(study.slice_sessions)} slice cells and {len(study.invivo_sessions)} in vivo tetrode sessions"
    sentences = {
        "Drugs": "; ".join(drugs) or "none",
        "Stress protocols": "; ".join(stress) or "none",
        "Experimental groups": ", ".join(sorted({s.group for s in study.subjects.values()})),
        "Regions": ", ".join(regions),
    }
    return (
        " ".join(f"{topic}: {text}." for topic, text in sentences.items())
        + f" {sessions} from {len(study.subjects)} subjects."
    )


def dandiset_metadata(study: Study) -> dict:
    """The dandiset.yaml content for a study: name, description, contributors, license, keywords, papers.

    Parameters
    ----------
    study
        The validated study.

    Returns
    -------
    dict
    """
    info = study.info
    stress = [p.paradigm for p in study.stress_protocols.values() if p.paradigm != "none"]
    keywords = list(dict.fromkeys([*info.keywords, *(d.agent for d in study.drugs.values()), *stress]))
    return {
        # DANDI assigns the real identifier when the dandiset is registered; dandi's checks need one.
        "identifier": "DANDI:000000",
        "name": info.title,
        "description": f"{info.description}\n\n{protocol_summary(study)}",
        "contributor": _contributors(info),
        "license": [f"spdx:{info.license}"],
        "keywords": keywords,
        "relatedResource": [
            {"schemaKey": "Resource", "identifier": publication, "relation": "dcite:IsDescribedBy", "url": url}
            for publication, url in zip(info.related_publications, info.publication_urls, strict=True)
        ],
    }


#: The fields of a dandiset's metadata that the DANDI archive fills in itself when the dandiset is
#: registered, its assets uploaded or a version published; a dandiset.yaml written before has none of them.
ARCHIVE_ASSIGNED = ("id", "citation", "assetsSummary", "manifestLocation", "version")


def dandiset_problems(meta: dict) -> list[tuple[str, str]]:
    """What dandischema's Dandiset model finds wrong in a dandiset.yaml, offline.

    The model is the one DANDI checks before it publishes a version; the fields the archive assigns
    itself (:data:`ARCHIVE_ASSIGNED`) are not asked for. ``dandi validate`` checks only the identifier,
    name and description of a dandiset.yaml without ``schemaVersion``.

    Parameters
    ----------
    meta
        The dandiset.yaml content.

    Returns
    -------
    list of (str, str)
        The field (dotted path) and dandischema's message of each problem; empty when the metadata passes.
    """
    import pydantic
    from dandischema.models import Dandiset

    try:
        Dandiset(**meta)
    except pydantic.ValidationError as exc:
        return [
            (".".join(str(part) for part in error["loc"]) or "(top)", error["msg"])
            for error in exc.errors()
            if not (error["type"] == "missing" and error["loc"] in {(field,) for field in ARCHIVE_ASSIGNED})
        ]
    return []


def write_dandiset_yaml(study: Study, archive: Path) -> Path:
    """Write ``ARCHIVE/dandiset.yaml`` from the study file (replacing a previous one).

    Parameters
    ----------
    study
        The validated study.
    archive
        The archive root.

    Returns
    -------
    Path
    """
    path = Path(archive) / "dandiset.yaml"
    return write_text(path, yaml.safe_dump(dandiset_metadata(study), sort_keys=False, allow_unicode=True))
