"""Controlled vocabularies shared by the study file, the NWB extension and the checks.

Routes, roles and paradigms are the ndx-drug-stress vocabulary's built-in terms (its package ships them
with their definitions in ``vocabulary.json``; ``ndx-drug-stress/docs/vocabulary.md`` lists them). They
are read from that file without importing the package, which would load pynwb: the study file's
validator, which checks against them, stays light. The study file accepts the built-in terms only.
"""

import importlib.util
import json
from pathlib import Path


def _extension_terms() -> dict[str, dict[str, str]]:
    """The built-in terms of the ndx-drug-stress vocabulary by field, with their definitions."""
    spec = importlib.util.find_spec("ndx_drug_stress")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("No module named 'ndx_drug_stress'", name="ndx_drug_stress")
    folder = Path(next(iter(spec.submodule_search_locations)))
    return json.loads((folder / "vocabulary.json").read_text(encoding="utf-8"))


EXTENSION_TERMS = _extension_terms()
ROUTES = tuple(EXTENSION_TERMS["route"])
ROLES = tuple(EXTENSION_TERMS["role"])
PARADIGMS = tuple(EXTENSION_TERMS["paradigm"])
SEX_CODES = ("M", "F", "U", "O")
CLAMP_MODES = ("voltage_clamp", "current_clamp")

# Units the converters can scale exactly. Keys are spellings accepted in study files.
DOSE_UNITS = ("mg/kg", "ug/kg", "g/kg", "mg", "ug")
CONCENTRATION_UNITS = ("M", "mM", "uM", "nM", "pM", "mg/mL", "ug/mL")
VOLUME_UNITS = ("mL", "uL", "mL/kg", "uL/g")
WEIGHT_UNITS = ("g", "kg", "mg")
DURATION_UNITS = {"s": 1 / 3600, "min": 1 / 60, "h": 1.0, "d": 24.0}  # to hours
POTENTIAL_UNITS = {"V": 1.0, "mV": 1e-3}  # to volts

# Allen Mouse Brain Common Coordinate Framework acronyms this project knows, with the full names.
# Lab labels map onto them through REGION_ALIASES; the lab's own label is kept in descriptions.
CCF_REGIONS = {
    "LH": "Lateral habenula",
    "MH": "Medial habenula",
    "CA1": "Field CA1",
    "CA2": "Field CA2",
    "CA3": "Field CA3",
    "DG": "Dentate gyrus",
    "HPF": "Hippocampal formation",
    "PL": "Prelimbic area",
    "ILA": "Infralimbic area",
    "ACA": "Anterior cingulate area",
    "ACB": "Nucleus accumbens",
    "VTA": "Ventral tegmental area",
    "DR": "Dorsal nucleus raphe",
    "BLA": "Basolateral amygdalar nucleus",
    "TH": "Thalamus",
    "ENTm": "Entorhinal area, medial part, dorsal zone",
}
REGION_ALIASES = {
    "lhb": "LH",
    "lateral habenula": "LH",
    "mhb": "MH",
    "medial habenula": "MH",
    "hippocampus ca1": "CA1",
    "hpc": "HPF",
    "hippocampus": "HPF",
    "mpfc": "PL",
    "nac": "ACB",
    "mec": "ENTm",
}


def ccf_region(label: str) -> str | None:
    """Return the Allen CCF acronym for a lab's region label, or None when unknown.

    Parameters
    ----------
    label
        A CCF acronym or one of :data:`REGION_ALIASES` (case and spaces ignored).

    Returns
    -------
    str or None

    Examples
    --------
    >>> ccf_region("LHb")
    'LH'
    >>> ccf_region("CA1")
    'CA1'
    """
    if label in CCF_REGIONS:
        return label
    return REGION_ALIASES.get(label.strip().lower())
