"""One-line descriptions of administrations and protocols, and their copy into core NWBFile fields.

DANDI indexes ``NWBFile.pharmacology``, ``protocol`` and ``keywords``, not extensions; so
:func:`mirror_into_core_fields` copies the key facts there.
"""


def describe_administration(adm) -> str:
    """One human-readable line for an administration, e.g. 'ketamine 10 mg/kg intraperitoneal at -3600 s'.

    Parameters
    ----------
    adm
        A DrugAdministration.

    Returns
    -------
    str
    """
    if adm.dose is not None:
        amount = f"{adm.dose:g} {adm.dose_unit}"
    elif adm.concentration is not None:
        amount = f"{adm.concentration:g} {adm.concentration_unit}"
    elif adm.volume is not None:
        amount = f"{adm.volume:g} {adm.volume_unit}"
    else:  # only a file read with a warning has no amount
        amount = "(no amount)"
    when = f" at {adm.administration_time:g} s" if adm.administration_time is not None else ""
    vehicle = f" in {adm.vehicle}" if adm.vehicle else ""
    return f"{adm.agent} {amount} {adm.route}{vehicle}{when} ({adm.role})"


def describe_stress(protocol) -> str:
    """One human-readable line for a stress protocol, e.g. 'chronic restraint 2 h/day x 14 days'.

    Parameters
    ----------
    protocol
        A StressProtocol.

    Returns
    -------
    str
    """
    parts = [protocol.paradigm]
    if protocol.duration_per_day is not None:
        parts.append(f"{protocol.duration_per_day:g} h/day")
    if protocol.number_of_days is not None:
        parts.append(f"x {protocol.number_of_days} days")
    if protocol.start_date:
        parts.append(f"from {protocol.start_date}" + (f" to {protocol.end_date}" if protocol.end_date else ""))
    return " ".join(parts)


def mirror_into_core_fields(nwbfile, metadata) -> None:
    """Copy the key drug and stress facts of ``metadata`` into core NWBFile text fields.

    Sets ``pharmacology`` and ``protocol`` (appending to what is there) and adds the agents, paradigms
    and group to ``keywords``. Call it once, after adding ``metadata`` to ``nwbfile``: pynwb fields are
    write-once, so this must run before the fields are set elsewhere.

    Parameters
    ----------
    nwbfile
        The NWBFile.
    metadata
        Its DrugStressMetadata.
    """
    administrations = list(metadata.drug_administrations.values())
    protocols = list(metadata.stress_protocols.values())
    pharmacology = "; ".join(describe_administration(a) for a in administrations)
    protocol = f"Experimental group: {metadata.experimental_group}. Stress: " + (
        "; ".join(describe_stress(p) for p in protocols) or "none"
    )
    nwbfile.fields["pharmacology"] = _join(nwbfile.pharmacology, pharmacology)
    nwbfile.fields["protocol"] = _join(nwbfile.protocol, protocol)
    words = list(nwbfile.keywords[:]) if nwbfile.keywords is not None else []
    for word in [a.agent for a in administrations] + [p.paradigm for p in protocols] + [metadata.experimental_group]:
        if word and word not in words:
            words.append(word)
    nwbfile.fields["keywords"] = words


def _join(old, new):
    return f"{old}\n{new}" if old else new
