"""Rules across the files of an archive: one subject, one group and stress; one drug id, one amount.

Each file's facts are gathered while :mod:`nwb_ketamine.archive.validate` has it open
(:func:`file_facts`); :func:`consistency_findings` compares them once every file is read.
"""

from __future__ import annotations

from nwb_ketamine.archive.findings import Finding


def file_facts(nwbfile) -> dict:
    """The labels of one file that must agree across the archive.

    Parameters
    ----------
    nwbfile
        The file, read with pynwb.

    Returns
    -------
    dict
        ``subject``, ``group`` (experimental group of the drug & stress metadata), ``stress`` (paradigms),
        ``administrations`` (name → amount, agent and route), ``conditions`` (distinct (group, drug, dose, stress)
        labels of the icephys condition rows).
    """
    from nwb_ketamine.archive.checks import table_column
    from nwb_ketamine.extension import DrugStressMetadata

    metas = [m for m in nwbfile.lab_meta_data.values() if isinstance(m, DrugStressMetadata)]
    administrations = {}
    for meta in metas:
        for adm in meta.drug_administrations.values():
            # what the drug id stands for; the time differs between sessions and is left out
            administrations[adm.name] = (
                " ".join(
                    f"{getattr(adm, name):g} {getattr(adm, name + '_unit') or '(no unit)'}"
                    for name in ("dose", "concentration", "volume")
                    if getattr(adm, name) is not None
                )
                + f" of {adm.agent} {adm.route}"
            )
    conditions = set()
    table = nwbfile.icephys_experimental_conditions
    labels = ("experimental_group", "drug", "dose", "stress")
    if table is not None and len(table) and all(label in table.colnames for label in labels):
        conditions = set(zip(*(table_column(table, label) for label in labels), strict=True))
    return {
        "subject": nwbfile.subject.subject_id if nwbfile.subject is not None else None,
        "group": metas[0].experimental_group if metas else None,
        "stress": tuple(sorted(p.paradigm for m in metas for p in m.stress_protocols.values())) or ("none",),
        "administrations": administrations,
        "conditions": sorted(conditions),
    }


def consistency_findings(facts: dict[str, dict | None]) -> list[Finding]:
    """Findings of the rules across files, from :func:`file_facts` of each file (path → facts).

    - a subject has the same experimental group and the same stress paradigms in every file;
    - a drug id (DrugAdministration name) has the same agent and amount in every file;
    - the condition rows of a file carry the file's own group and stress, and a subject's condition labels
      (group, drug, dose, stress) are the same in every file.

    Parameters
    ----------
    facts
        File → its :func:`file_facts` (None for a file that could not be read).

    Returns
    -------
    list of Finding
    """
    findings = []
    read = {path: f for path, f in facts.items() if f is not None}

    def disagree(what: str, key_of, label: str, fix: str) -> None:
        """Add a finding for each file whose value for a key differs from the first file's.

        Parameters
        ----------
        what
            What the key names, for the message.
        key_of
            ``key_of(facts) -> [(key, value), ...]``.
        label
            The object path of the findings.
        fix
            What to do about it.
        """
        first: dict = {}  # key → (value, path) of the first file that had it
        for path, f in read.items():
            for key, value in key_of(f):
                seen = first.setdefault(key, (value, path))
                if seen[0] != value:
                    findings.append(
                        Finding(
                            severity="ERROR",
                            source="nwb-ketamine",
                            file=path,
                            object_path=label,
                            message=f"{what} {key!r} is {value!r} here but {seen[0]!r} in {seen[1]}.",
                            fix=fix,
                            check="check_archive_consistency",
                        )
                    )

    per_subject = "Give the subject one experimental group and stress protocol in study.yaml and reconvert its files."
    disagree("Subject's group", lambda f: [(f["subject"], f["group"])], "/general/drug_stress", per_subject)
    disagree("Subject's stress", lambda f: [(f["subject"], f["stress"])], "/general/drug_stress", per_subject)
    disagree(
        "Drug",
        lambda f: f["administrations"].items(),
        "/general/drug_stress",
        "One drug id must mean one agent and amount; give a different id to a different dose in study.yaml.",
    )
    disagree(
        "Subject's condition labels",
        lambda f: [(f["subject"], f["conditions"])] if f["conditions"] else [],
        "/general/intracellular_ephys/experimental_conditions",
        per_subject,
    )
    for path, f in read.items():
        for group, _, _, stress in f["conditions"]:
            if group != f["group"] or (stress not in f["stress"]):
                findings.append(
                    Finding(
                        severity="ERROR",
                        source="nwb-ketamine",
                        file=path,
                        object_path="/general/intracellular_ephys/experimental_conditions",
                        message=f"Condition rows say group {group!r}, stress {stress!r}; the file's drug & stress "
                        f"metadata say group {f['group']!r}, stress {', '.join(f['stress'])!r}.",
                        fix="Reconvert the file with nwb-ketamine convert, which writes both from study.yaml.",
                        check="check_archive_consistency",
                    )
                )
    return findings
