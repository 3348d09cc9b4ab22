"""The study's methods facts of a catalog row as (field, value) pairs of the detail views, in words with units.

A fact the row does not give (empty text, NaN, a catalog built before the column existed) gives no pair,
so a file without methods shows nothing about them.
"""

from __future__ import annotations

import math


def _text(row, name: str) -> str:
    value = row.get(name, "")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _number(row, name: str) -> float | None:
    try:
        value = float(row.get(name))
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def cell_methods_fields(row) -> list[tuple[str, str]]:
    """The slice-methods fields of a cell row (the catalog's slice-methods columns).

    Parameters
    ----------
    row : mapping
        A cells-table row (a dict or a pandas Series).

    Returns
    -------
    list of (str, str)
        e.g. ``("slice thickness", "300 µm")``; only the facts the row gives.
    """
    fields = []
    texts = {
        "internal_solution": "internal solution",
        "slice_preparation": "slice preparation",
        "recording_solution": "recording solution (ACSF)",
        "stimulation_site": "stimulation site",
    }
    numbers = {
        "slice_thickness_um": ("slice thickness", "µm"),
        "recording_temperature_c": ("recording temperature", "°C"),
    }
    for name in ("internal_solution", "slice_thickness_um", "slice_preparation", "recording_solution",
                 "recording_temperature_c", "stimulation_site"):  # fmt: skip
        if name in texts:
            value = _text(row, name)
            if value:
                fields.append((texts[name], value))
        else:
            number = _number(row, name)
            if number is not None:
                label, unit = numbers[name]
                fields.append((label, f"{number:g} {unit}"))
    return fields


def implant_fields(row) -> list[tuple[str, str]]:
    """The implant field of a unit row (the catalog's implant columns), when its tetrode's implant is known.

    Parameters
    ----------
    row : mapping
        A units-table row.

    Returns
    -------
    list of (str, str)
        ``[("implant", "AP -1.8 mm, ML 0.45 mm, DV -2.9 mm from bregma (Paxinos and Franklin 2019)")]`` or [].
    """
    coordinates = [_number(row, f"implant_{axis}_mm") for axis in ("ap", "ml", "dv")]
    if any(value is None for value in coordinates):
        return []
    ap, ml, dv = coordinates
    atlas = _text(row, "implant_atlas")
    text = f"AP {ap:g} mm, ML {ml:g} mm, DV {dv:g} mm from bregma" + (f" ({atlas})" if atlas else "")
    return [("implant", text)]
