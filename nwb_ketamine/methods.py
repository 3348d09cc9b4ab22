"""Methods facts of the study file in NWB core text fields: how they are written and read back.

NWB has few typed fields for slice methods, so the facts go into the core text fields made for them, one
``Label: value`` line per fact, so that a person reads them and the catalog can parse them back:

- ``NWBFile.slices``: slice thickness, cutting solution and temperature, recovery, recording solution
  (ACSF) and temperature (:func:`slices_text`);
- ``NWBFile.stimulus_notes`` ("notes about stimuli, such as how and where presented"): the stimulation
  site (:func:`stimulus_notes_text`);
- the ``IntracellularElectrode``'s ``description``: a line ``Internal solution: ...`` (NWB 2.x's
  IntracellularElectrode has no solution field);
- an ``ElectrodeGroup``'s ``position`` (x, y, z) holds the tetrode's implant (AP, ML, DV) in mm relative
  to bregma, and its ``description`` says so and names the atlas on a line ``Atlas: ...``
  (:func:`implant_text`).

Line breaks inside a value are written as spaces, so one line is one fact. A file from elsewhere whose
text has none of these labels gives nothing (empty text, NaN).
"""

from __future__ import annotations

import math
import re

from nwb_ketamine.metadata.study import Implant, SliceMethods

THICKNESS = "Slice thickness"
CUTTING_SOLUTION = "Cutting solution"
CUTTING_TEMPERATURE = "Cutting temperature"
RECOVERY = "Recovery"
RECORDING_SOLUTION = "Recording solution (ACSF)"
RECORDING_TEMPERATURE = "Recording temperature"
STIMULATION_SITE = "Stimulation site"
INTERNAL_SOLUTION = "Internal solution"
IMPLANT = "Implant"
ATLAS = "Atlas"
#: The lines of ``slices`` that describe how the slices were prepared (the catalog's ``slice_preparation``).
PREPARATION_LABELS = (CUTTING_SOLUTION, CUTTING_TEMPERATURE, RECOVERY)
_NUMBER = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*(µm|°C)\s*$")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def line(label: str, value: object) -> str:
    """``label: value`` on one line.

    Parameters
    ----------
    label : str
        The fact's label (:data:`THICKNESS`...).
    value : object
        Its value; white space is collapsed to single spaces.

    Returns
    -------
    str
    """
    return f"{label}: {_one_line(str(value))}"


def slices_text(methods: SliceMethods) -> str | None:
    """The ``slices`` text of a cell's methods, None when they give none of its facts.

    Parameters
    ----------
    methods : SliceMethods
        The cell's slice methods.

    Returns
    -------
    str or None
    """
    facts = [
        (THICKNESS, None if methods.slice_thickness_um is None else f"{methods.slice_thickness_um:g} µm"),
        (CUTTING_SOLUTION, methods.cutting_solution),
        (
            CUTTING_TEMPERATURE,
            None if methods.cutting_temperature_c is None else f"{methods.cutting_temperature_c:g} °C",
        ),
        (RECOVERY, methods.recovery),
        (RECORDING_SOLUTION, methods.recording_solution),
        (
            RECORDING_TEMPERATURE,
            None if methods.recording_temperature_c is None else f"{methods.recording_temperature_c:g} °C",
        ),
    ]
    lines = [line(label, value) for label, value in facts if value is not None]
    return "\n".join(lines) or None


def stimulus_notes_text(site: str | None) -> str | None:
    """The ``stimulus_notes`` text naming the stimulation site; None without one.

    Parameters
    ----------
    site : str or None
        Where the synaptic responses were evoked.

    Returns
    -------
    str or None
    """
    if site is None:
        return None
    return (
        line(STIMULATION_SITE, site)
        + "\nSynaptic responses were evoked by an extracellular stimulating electrode there."
    )


def implant_text(implant: Implant) -> str:
    """The sentences an ElectrodeGroup's description gets for its implant (and its atlas line).

    Parameters
    ----------
    implant : Implant
        The tetrode's implant.

    Returns
    -------
    str
    """
    text = line(
        IMPLANT,
        f"AP {implant.ap_mm:g} mm, ML {implant.ml_mm:g} mm, DV {implant.dv_mm:g} mm relative to bregma; the "
        "group's position (x, y, z) holds (AP, ML, DV) in mm.",
    )
    return text + ("\n" + line(ATLAS, implant.atlas) if implant.atlas else "")


def labelled(text: object) -> dict[str, str]:
    """The ``Label: value`` lines of a text field, by label (first of each; other lines are skipped).

    Parameters
    ----------
    text : object
        The field's value (None, '' or anything without such lines gives {}).

    Returns
    -------
    dict
    """
    out: dict[str, str] = {}
    for raw in str(text or "").splitlines():
        label, sep, value = raw.partition(": ")
        if sep and label.strip() and value.strip():
            out.setdefault(label.strip(), value.strip())
    return out


def number(text: str | None) -> float:
    """The number of a ``300 µm`` or ``32 °C`` value; NaN when absent or not one.

    Parameters
    ----------
    text : str or None
        The value.

    Returns
    -------
    float
    """
    match = _NUMBER.match(text or "")
    return float(match.group(1)) if match else math.nan


def read_slices(text: object) -> dict[str, object]:
    """The catalog's slice columns of a ``slices`` text (see :func:`slices_text`).

    Parameters
    ----------
    text : object
        The file's ``/general/slices``.

    Returns
    -------
    dict
        ``slice_thickness_um`` and ``recording_temperature_c`` (float, NaN when absent),
        ``slice_preparation`` (the preparation lines joined by '; ') and ``recording_solution`` (text, '').
    """
    facts = labelled(text)
    return {
        "slice_thickness_um": number(facts.get(THICKNESS)),
        "slice_preparation": "; ".join(f"{k.lower()}: {facts[k]}" for k in PREPARATION_LABELS if k in facts),
        "recording_solution": facts.get(RECORDING_SOLUTION, ""),
        "recording_temperature_c": number(facts.get(RECORDING_TEMPERATURE)),
    }
