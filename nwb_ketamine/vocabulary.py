"""Controlled vocabularies shared by the study file, the NWB extension and the checks.

The NWB schema language has no enumerations, so the allowed values live here, are written into
the extension's field docs by ``schemas/create_extension_spec.py`` and are enforced by the Python
API, the study-file validator and the project's NWB Inspector checks.
"""

ROUTES = ("intraperitoneal", "subcutaneous", "intravenous", "oral", "intranasal", "intracerebral", "bath", "other")
ROLES = ("treatment", "vehicle control", "pretreatment", "pharmacological isolation", "other")
PARADIGMS = (
    "none",
    "acute restraint",
    "chronic restraint",
    "chronic social defeat",
    "chronic unpredictable mild stress",
    "learned helplessness",
    "other",
)
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
