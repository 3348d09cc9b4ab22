"""nwb-ketamine's domain checks, registered as NWB Inspector checks.

Design decision: the rules that make an archive of this study usable (amounts with units, labelled
conditions, CCF regions, holding potentials, injection times, parameters next to results) are ordinary
NWB Inspector checks, registered with :func:`nwbinspector.register_check` when this module is imported.
So ``nwb-ketamine validate`` runs them with the Inspector's own machinery, and anyone can run them
on any NWB file with ``nwbinspector --modules nwb_ketamine.archive.checks PATH``. Each check looks at
one object of the file; rules across files (the same subject in the same group everywhere) need the
whole archive and live in :mod:`nwb_ketamine.archive.consistency`.

Every message says what is wrong and what to fix. The Inspector overwrites a message's location with
its own guess (``None`` for most objects), so ``validate`` fills in the object's path in the file.
The extension's types (``ndx_drug_stress``) refuse bad values when a user constructs them but only
warn when a file is read: a DrugAdministration whose dose has no unit reads, with a warning, and the
amount check below reports it as CRITICAL; it also covers objects in memory and rules stricter than the
constructor (a volume alone is only an amount for a vehicle).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import numpy as np
from hdmf.common import DynamicTable
from nwbinspector import Importance, InspectorMessage, register_check
from pynwb import NWBFile, ProcessingModule
from pynwb.ecephys import ElectrodeGroup
from pynwb.file import Subject
from pynwb.icephys import ExperimentalConditionsTable, IntracellularElectrode
from pynwb.misc import Units

from nwb_ketamine import h5read
from nwb_ketamine.extension import DrugAdministration, DrugStressMetadata, StressProtocol, unknown_term_message
from nwb_ketamine.filelayout import BURST_METRICS, BURST_PARAMETERS, EPSC_CELL, EPSC_PARAMETERS, EPSC_SWEEPS
from nwb_ketamine.metadata.rules import BINOMIAL, dandi_species
from nwb_ketamine.vocabulary import CCF_REGIONS

#: Condition labels every row of the icephys experimental_conditions table must carry (a subset of
#: ``AbfSliceConverter.CONDITION_COLUMNS``; the converter adds more).
CONDITION_LABELS = ("region", "drug", "dose", "stress", "hours_since_injection", "holding_potential")
#: Analysis results (table in a processing module) → the table of parameters that produced them.
RESULT_PARAMETERS = {
    EPSC_SWEEPS: EPSC_PARAMETERS,
    EPSC_CELL: EPSC_PARAMETERS,
    BURST_METRICS: BURST_PARAMETERS,
}
#: NWB's word for a location nobody recorded; not a claim about a region, so not checked against the CCF.
UNKNOWN_LOCATION = "unknown"
#: Roles for which a volume alone is a complete amount.
VEHICLE_ROLES = ("vehicle control",)
#: Words in epoch tags that mark data recorded after an injection.
POST_INJECTION_TAGS = ("post-injection", "after injection")

#: What to fix, per check, for the report (the messages say what is wrong in the object at hand).
FIXES = {
    "check_drug_administration_amount": "Give the administration a dose with dose_unit or a concentration with "
    "concentration_unit (a volume with volume_unit only for a vehicle control) in study.yaml and reconvert.",
    "check_administration_terms": "Use a route and role of the ndx-drug-stress vocabulary "
    "(ndx-drug-stress/docs/vocabulary.md) in study.yaml and reconvert; correct a file from another tool in "
    "place (the object's HDF5 attribute), or register its lab's term with ndx_drug_stress.register_term.",
    "check_stress_terms": "Use a paradigm of the ndx-drug-stress vocabulary (ndx-drug-stress/docs/vocabulary.md) "
    "in study.yaml and reconvert; correct a file from another tool in place (the object's HDF5 attribute), or "
    "register its lab's term with ndx_drug_stress.register_term.",
    "check_intracellular_electrode_region": "Use an Allen CCF acronym (nwb_ketamine.vocabulary.CCF_REGIONS or an "
    "alias in REGION_ALIASES) as the session's region in study.yaml and reconvert.",
    "check_electrode_group_region": "Use an Allen CCF acronym as the tetrode's region in study.yaml and reconvert.",
    "check_units_brain_area": "Use Allen CCF acronyms as tetrode regions in study.yaml and reconvert.",
    "check_experimental_conditions": "Reconvert the cell with nwb-ketamine convert, which labels every condition "
    "row; fill the missing labels in study.yaml (holding potential per ABF file, region, injection, stress).",
    "check_nmda_holding_potential": "State the holding potential of every NMDAR (+40 mV) ABF file in study.yaml "
    "and reconvert.",
    "check_injection_time": "Give the in vivo injection its time (injection.time) in study.yaml and reconvert.",
    "check_subject_species_known_to_dandi": "Correct the species' spelling in study.yaml, or give the taxon's "
    "NCBITaxon IRI (http://purl.obolibrary.org/obo/NCBITaxon_<id>), and reconvert.",
    "check_analysis_parameters": "Rerun the analysis through nwb-ketamine (it stores the parameters table next "
    "to the results) or add the parameters table to the same processing module.",
}


def table_column(table: DynamicTable, name: str) -> list:
    """The values of a column of a pynwb DynamicTable, strings decoded.

    Parameters
    ----------
    table
        The table, read with pynwb.
    name
        The column.

    Returns
    -------
    list
    """
    return [h5read.text(v) if isinstance(v, bytes | str) else v for v in table[name].data[:]]


def _is_missing(value) -> bool:
    """A label is missing when it is None, an empty string or NaN."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def _non_ccf(values: Iterable) -> list[str]:
    """The distinct values that are neither a known Allen CCF acronym nor 'unknown', in order of appearance."""
    seen = []
    for value in values:
        text = h5read.text(value)
        if text not in CCF_REGIONS and text != UNKNOWN_LOCATION and text not in seen:
            seen.append(text)
    return seen


def _ccf_message(what: str, values: list[str]) -> InspectorMessage:
    shown = ", ".join(repr(v) for v in values)
    return InspectorMessage(
        message=f"{what} {shown} {'is' if len(values) == 1 else 'are'} not Allen CCF acronyms known to "
        f"nwb-ketamine; use one of {', '.join(CCF_REGIONS)} (or 'unknown') and keep the lab's own label "
        "in the description."
    )


@register_check(importance=Importance.CRITICAL, neurodata_type=Subject)
def check_subject_species_known_to_dandi(subject: Subject) -> InspectorMessage | None:
    """A species given by its Latin name is one DANDI knows; otherwise its NCBITaxon IRI is needed.

    dandi matches a name it does not know by its genus' prefix ('Mus mus', a typo, becomes Mus musculus)
    or asks NCBI's web service, so the asset's species would be guessed.

    Parameters
    ----------
    subject
        A Subject, as the Inspector passes it.
    """
    species = subject.species
    if not species or not BINOMIAL.match(species) or species in dandi_species():
        return None
    return InspectorMessage(
        message=f"Subject {subject.subject_id!r}: species {species!r} is not one DANDI knows by name "
        f"({', '.join(dandi_species()[:3])}, ...); DANDI would guess it from the genus or ask NCBI."
    )


@register_check(importance=Importance.CRITICAL, neurodata_type=DrugAdministration)
def check_drug_administration_amount(administration) -> InspectorMessage | None:
    """An administration has an amount with a unit: a dose, a concentration, or a volume for a vehicle control.

    Parameters
    ----------
    administration
        A DrugAdministration, as the Inspector passes it.
    """
    name = f"DrugAdministration {administration.name!r} ({administration.agent})"
    for field in ("dose", "concentration", "volume"):
        value, unit = getattr(administration, field), getattr(administration, f"{field}_unit")
        if value is not None and not unit:
            return InspectorMessage(message=f"{name}: {field} {value:g} has no unit; set {field}_unit.")
    if administration.dose is not None or administration.concentration is not None:
        return None
    if administration.volume is not None:
        if administration.role in VEHICLE_ROLES:
            return None
        return InspectorMessage(
            message=f"{name}: only a volume is given but the role is {administration.role!r}; give the dose "
            "(dose, dose_unit) or the concentration (concentration, concentration_unit) of the agent."
        )
    return InspectorMessage(
        message=f"{name}: no dose, concentration or volume; give dose and dose_unit (e.g. 10 mg/kg) or "
        "concentration and concentration_unit (e.g. 10 uM)."
    )


def _terms_message(obj, fields: tuple[str, ...]) -> InspectorMessage | None:
    """The message for the fields of ``obj`` whose value is not a term of the vocabulary, or None."""
    problems = [m for m in (unknown_term_message(field, getattr(obj, field)) for field in fields) if m]
    if not problems:
        return None
    return InspectorMessage(message=f"{type(obj).__name__} {obj.name!r}: " + "; ".join(problems))


@register_check(importance=Importance.CRITICAL, neurodata_type=DrugAdministration)
def check_administration_terms(administration) -> InspectorMessage | None:
    """The route and role are terms of the ndx-drug-stress vocabulary (built in or registered).

    Reading a file with another term only warns, so this check is what reports it.

    Parameters
    ----------
    administration
        A DrugAdministration, as the Inspector passes it.
    """
    return _terms_message(administration, ("route", "role"))


@register_check(importance=Importance.CRITICAL, neurodata_type=StressProtocol)
def check_stress_terms(protocol) -> InspectorMessage | None:
    """The paradigm is a term of the ndx-drug-stress vocabulary (built in or registered).

    Parameters
    ----------
    protocol
        A StressProtocol, as the Inspector passes it.
    """
    return _terms_message(protocol, ("paradigm",))


@register_check(importance=Importance.CRITICAL, neurodata_type=IntracellularElectrode)
def check_intracellular_electrode_region(electrode: IntracellularElectrode) -> InspectorMessage | None:
    """The recorded region (the electrode's location) is an Allen CCF acronym.

    Parameters
    ----------
    electrode
        An IntracellularElectrode, as the Inspector passes it.
    """
    bad = _non_ccf([electrode.location])
    return _ccf_message(f"IntracellularElectrode {electrode.name!r}: location", bad) if bad else None


@register_check(importance=Importance.CRITICAL, neurodata_type=ElectrodeGroup)
def check_electrode_group_region(group: ElectrodeGroup) -> InspectorMessage | None:
    """A tetrode's (electrode group's) location is an Allen CCF acronym or 'unknown'.

    Parameters
    ----------
    group
        An ElectrodeGroup, as the Inspector passes it.
    """
    bad = _non_ccf([group.location])
    return _ccf_message(f"ElectrodeGroup {group.name!r}: location", bad) if bad else None


@register_check(importance=Importance.CRITICAL, neurodata_type=Units)
def check_units_brain_area(units: Units) -> InspectorMessage | None:
    """The units' ``brain_area`` column, when present, holds Allen CCF acronyms or 'unknown'.

    Parameters
    ----------
    units
        The Units table, as the Inspector passes it.
    """
    if "brain_area" not in units.colnames:
        return None
    bad = _non_ccf(table_column(units, "brain_area"))
    return _ccf_message("Units brain_area values", bad) if bad else None


@register_check(importance=Importance.CRITICAL, neurodata_type=ExperimentalConditionsTable)
def check_experimental_conditions(conditions: ExperimentalConditionsTable) -> Iterator[InspectorMessage]:
    """Every condition row carries the labels the catalog groups by, from the CCF where they are regions.

    'dose' may be empty when the drug is 'none'; 'hours_since_injection' is NaN without an injection.

    Parameters
    ----------
    conditions
        The experimental conditions table, as the Inspector passes it.

    Yields
    ------
    InspectorMessage
        One per missing column or label.
    """
    if len(conditions) == 0:
        return
    missing = [label for label in CONDITION_LABELS if label not in conditions.colnames]
    if missing:
        yield InspectorMessage(
            message=f"experimental_conditions has no column {', '.join(missing)}; every condition row must be "
            f"labelled with {', '.join(CONDITION_LABELS)}."
        )
    values = {label: table_column(conditions, label) for label in CONDITION_LABELS if label in conditions.colnames}
    drugs = values.get("drug", ["none"] * len(conditions))
    for label, column in values.items():
        if label == "hours_since_injection":
            continue
        rows = [
            row
            for row, value in enumerate(column)
            if _is_missing(value) and not (label == "dose" and drugs[row] == "none")
        ]
        if rows:
            yield InspectorMessage(message=f"experimental_conditions rows {rows} have no {label!r} label.")
    if "region" in values:
        bad = _non_ccf(v for v in values["region"] if not _is_missing(v))
        if bad:
            yield _ccf_message("experimental_conditions region labels", bad)
    if "hours_since_injection" in values and "drug" in values:
        rows = [
            row
            for row, (drug, hours) in enumerate(zip(drugs, values["hours_since_injection"], strict=True))
            if drug != "none" and _is_missing(hours)
        ]
        if rows:
            yield InspectorMessage(
                message=f"experimental_conditions rows {rows} name an injected drug but no hours_since_injection."
            )


@register_check(importance=Importance.CRITICAL, neurodata_type=DynamicTable)
def check_nmda_holding_potential(table: DynamicTable) -> InspectorMessage | None:
    """Every NMDAR sweep of the ``epsc_sweeps`` analysis table has a holding potential.

    Parameters
    ----------
    table
        A DynamicTable, as the Inspector passes it.
    """
    if table.name != "epsc_sweeps" or "kind" not in table.colnames or len(table) == 0:
        return None
    kinds = np.asarray([h5read.text(k) for k in table["kind"].data[:]])
    nmda = np.flatnonzero(kinds == "NMDA")
    if not len(nmda):
        return None
    if "holding_potential_v" not in table.colnames:
        return InspectorMessage(message="epsc_sweeps has NMDA sweeps but no holding_potential_v column.")
    holding = np.asarray(table["holding_potential_v"].data[:], dtype=float)
    rows = nmda[~np.isfinite(holding[nmda])].tolist()
    if rows:
        return InspectorMessage(message=f"epsc_sweeps: NMDA sweeps (rows {rows}) have no holding_potential_v.")
    return None


def _post_injection_evidence(nwbfile: NWBFile) -> str | None:
    """Why the file holds post-injection data ('' → none), from the epoch tags and the condition rows."""
    if nwbfile.epochs is not None and "tags" in nwbfile.epochs.colnames:
        for tags in nwbfile.epochs["tags"][:]:
            for tag in tags:
                if any(word in h5read.text(tag) for word in POST_INJECTION_TAGS):
                    return f"epoch tag {h5read.text(tag)!r}"
    conditions = nwbfile.icephys_experimental_conditions
    if conditions is not None and "hours_since_injection" in conditions.colnames:
        hours = np.asarray(conditions["hours_since_injection"].data[:], dtype=float)
        if np.isfinite(hours).any():
            return f"hours_since_injection {hours[np.isfinite(hours)][0]:g} in experimental_conditions"
    return None


@register_check(importance=Importance.CRITICAL, neurodata_type=NWBFile)
def check_injection_time(nwbfile: NWBFile) -> InspectorMessage | None:
    """A file with post-injection data has an in vivo DrugAdministration with an administration_time.

    Parameters
    ----------
    nwbfile
        The NWBFile, as the Inspector passes it.
    """
    evidence = _post_injection_evidence(nwbfile)
    if evidence is None:
        return None
    administrations = [
        adm
        for meta in nwbfile.lab_meta_data.values()
        if isinstance(meta, DrugStressMetadata)
        for adm in meta.drug_administrations.values()
        if adm.route != "bath"
    ]
    if any(adm.administration_time is not None for adm in administrations):
        return None
    found = (
        f"its administrations ({', '.join(a.name for a in administrations)}) have no administration_time"
        if administrations
        else "there is no in vivo DrugAdministration"
    )
    return InspectorMessage(
        message=f"The file has post-injection data ({evidence}) but {found}; record the injection with its "
        "administration_time (s from the session start, negative before it)."
    )


@register_check(importance=Importance.CRITICAL, neurodata_type=ProcessingModule)
def check_analysis_parameters(module: ProcessingModule) -> list[InspectorMessage] | None:
    """Analysis results are stored next to the parameters that produced them (same processing module).

    Parameters
    ----------
    module
        A processing module, as the Inspector passes it.
    """
    names = set(module.data_interfaces)
    missing = {parameters: result for result, parameters in RESULT_PARAMETERS.items() if result in names}
    messages = [
        InspectorMessage(
            message=f"processing/{module.name}/{result} has no {parameters} table next to it; store the "
            "analysis parameters with the results."
        )
        for parameters, result in missing.items()
        if parameters not in names
    ]
    return messages or None


from nwb_ketamine.archive import extent_checks as _extent_checks  # noqa: E402,F401  (registers its checks)
