"""Generate the ndx-drug-stress NWB extension spec (the ndx-template way).

Run ``python src/spec/create_extension_spec.py`` (from the ``ndx-drug-stress`` folder) after editing; it
rewrites ``spec/ndx-drug-stress.namespace.yaml`` and ``spec/ndx-drug-stress.extensions.yaml``. The
generated YAML is committed and shipped inside the wheel; this script is not needed at run time.

The types are generic on purpose: any agent (ketamine, memantine, MK-801, saline vehicle,
bath-applied AP5/NBQX/picrotoxin) and any stress paradigm fit.
Route, role and paradigm take terms of the vocabulary (``src/pynwb/ndx_drug_stress/vocabulary.json``,
read here as data), enforced by the Python API since the NWB schema language has no enumerations;
a lab adds its own terms with ``ndx_drug_stress.register_term``.
"""

import json
from pathlib import Path

from pynwb.spec import NWBAttributeSpec, NWBGroupSpec, NWBNamespaceBuilder, export_spec

NAME = "ndx-drug-stress"
VERSION = "0.2.0"
ROOT = Path(__file__).resolve().parents[2]
VOCABULARY = json.loads((ROOT / "src" / "pynwb" / "ndx_drug_stress" / "vocabulary.json").read_text(encoding="utf-8"))


def _terms(field):
    return (
        f"a term of the ndx-drug-stress vocabulary: {', '.join(VOCABULARY[field])}, or a lab's own term "
        "registered with its definition (ndx_drug_stress.register_term)"
    )


def _text(name, doc, required=True):
    return NWBAttributeSpec(name=name, doc=doc, dtype="text", required=required)


def _number(name, doc, dtype="float64", required=False):
    return NWBAttributeSpec(name=name, doc=doc, dtype=dtype, required=required)


def _build_types():
    administration = NWBGroupSpec(
        neurodata_type_def="DrugAdministration",
        neurodata_type_inc="NWBContainer",
        doc="One administration of a pharmacological agent (or its vehicle) to the subject or, for ex vivo "
        "preparations, to the bath.",
        attributes=[
            _text("agent", "Name of the agent as given, e.g. 'ketamine', 'MK-801', 'saline'."),
            _text(
                "agent_identifier",
                "Ontology identifier of the agent, e.g. 'CHEBI:6121' for ketamine. Empty when none applies.",
                required=False,
            ),
            _number("dose", "Dose given to the subject, in dose_unit. Non-negative. Absent for bath application."),
            _text("dose_unit", "Unit of dose, e.g. 'mg/kg'. Required when dose is given.", required=False),
            _number("concentration", "Concentration, in concentration_unit, e.g. of a bath-applied drug."),
            _text(
                "concentration_unit", "Unit of concentration, e.g. 'uM'. Required with concentration.", required=False
            ),
            _text("route", f"Route of administration, {_terms('route')}."),
            _text("vehicle", "Vehicle the agent was dissolved in, e.g. '0.9% saline'.", required=False),
            _number("volume", "Volume administered, in volume_unit."),
            _text("volume_unit", "Unit of volume, e.g. 'mL' or 'mL/kg'. Required with volume.", required=False),
            _number(
                "administration_time",
                "Time of administration in seconds relative to the session start time; negative when before it.",
            ),
            _text("role", f"Role of this administration in the design, {_terms('role')}."),
            _text("description", "Free-text description, e.g. lot number or preparation.", required=False),
        ],
    )
    stress = NWBGroupSpec(
        neurodata_type_def="StressProtocol",
        neurodata_type_inc="NWBContainer",
        doc="A stress protocol the subject went through before the session (or 'none' for controls).",
        attributes=[
            _text("paradigm", f"Stress paradigm, {_terms('paradigm')}."),
            _number("duration_per_day", "Duration of stress exposure per day, in hours (h)."),
            _number("number_of_days", "Number of days of stress exposure.", dtype="int32"),
            _text("start_date", "First day of the protocol, ISO 8601 date (YYYY-MM-DD).", required=False),
            _text("end_date", "Last day of the protocol, ISO 8601 date (YYYY-MM-DD).", required=False),
            _text("apparatus", "Apparatus used, e.g. '50 mL ventilated conical tube'.", required=False),
            _text("description", "Free-text description of the protocol.", required=False),
        ],
    )
    container = NWBGroupSpec(
        neurodata_type_def="DrugStressMetadata",
        neurodata_type_inc="LabMetaData",
        doc="Pharmacology and stress history of the subject for this session, with its experimental group.",
        attributes=[
            _text("experimental_group", "Label of the experimental group, e.g. 'stress-ketamine'."),
        ],
        groups=[
            NWBGroupSpec(
                neurodata_type_inc="DrugAdministration",
                doc="Drug administrations, in vivo or in the bath.",
                quantity="*",
            ),
            NWBGroupSpec(neurodata_type_inc="StressProtocol", doc="Stress protocols.", quantity="*"),
        ],
    )
    return [administration, stress, container]


def main(out_dir=None):
    """Write the namespace and extensions YAML into ``out_dir`` (default: the package's ``spec/`` folder).

    Parameters
    ----------
    out_dir
        Folder to write into; None writes into ``spec/``.
    """
    builder = NWBNamespaceBuilder(
        doc="Drug administration and stress protocol metadata for pharmacology studies.",
        name=NAME,
        version=VERSION,
        author=["nwb-ketamine developers"],
        contact=["nwb-ketamine@example.org"],
    )
    builder.include_namespace("core")
    export_spec(builder, _build_types(), str(out_dir or ROOT / "spec"))


if __name__ == "__main__":
    main()
