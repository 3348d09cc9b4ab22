"""Values written as text in a study file: quantities with units, dates and timezone-aware date-times.

Each parser reports a problem and returns None when the text does not hold a valid value, so that
validation goes on and every problem is reported at once.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime

from nwb_ketamine.metadata.loader import FieldPath, Problems

#: A number followed by a unit (the structural check; the unit is checked against the field's units).
QUANTITY_PATTERN = r"^[-+]?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?\s*[A-Za-zµ%]\S*$"
_QUANTITY = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*([A-Za-zµ%]\S*)\s*$")
#: Units of an epoch's start and stop, with their factor to seconds.
TIME_UNITS = {"s": 1.0, "min": 60.0, "h": 3600.0}

#: Units an ABF channel may be in, with their SI factor: the converter scales by these exactly.
ABF_CURRENT_UNITS = {"fA": 1e-15, "pA": 1e-12, "nA": 1e-9, "uA": 1e-6, "µA": 1e-6, "mA": 1e-3, "A": 1.0}
ABF_VOLTAGE_UNITS = {"uV": 1e-6, "µV": 1e-6, "mV": 1e-3, "V": 1.0}
#: The unit a command (DAC) is in under each clamp mode: a voltage step under voltage clamp, a current
#: injection under current clamp.
ABF_COMMAND_UNITS = {"voltage_clamp": ABF_VOLTAGE_UNITS, "current_clamp": ABF_CURRENT_UNITS}


@dataclass(frozen=True)
class Quantity:  # numpydoc ignore=PR02
    """A number with its unit, as written in the study file (e.g. ``10 mg/kg``).

    Parameters
    ----------
    value : float
        The number.
    unit : str
        The unit, as spelled in the file.
    """

    value: float
    unit: str

    def __str__(self):
        return f"{self.value:g} {self.unit}"


@dataclass(frozen=True)
class Units:  # numpydoc ignore=PR02
    """Marks a model field as a quantity: a number and one of ``units``; ``what`` names it in messages.

    Parameters
    ----------
    units : tuple of str
        The units the field accepts, as spelled in study files.
    what : str
        What the quantity is (``dose``, ``holding potential``...), for messages.
    """

    units: tuple[str, ...]
    what: str


def parse_quantity(problems: Problems, path: FieldPath, text: object, units: Units) -> Quantity | None:
    """The quantity written at ``path``, or None (and a problem) when it is not one in the field's units.

    Parameters
    ----------
    problems : Problems
        Where to report.
    path : tuple
        The field's path.
    text : object
        The value in the file; anything but a string (absent, or reported by the schema) gives None.
    units : Units
        The field's units.

    Returns
    -------
    Quantity or None
        The parsed quantity.
    """
    if not isinstance(text, str):
        return None
    match = _QUANTITY.match(text)
    if not match:
        problems.add(path, f"{text!r} is not a number with a unit, e.g. '10 {units.units[0]}'")
        return None
    value, unit = float(match.group(1)), match.group(2)
    if unit not in units.units:
        problems.add(path, f"unknown unit {unit!r} for {units.what} (use one of: {', '.join(units.units)})")
        return None
    if not math.isfinite(value):
        problems.add(path, f"{text!r} is not a finite number")
        return None
    return Quantity(value, unit)


def parse_datetime(problems: Problems, path: FieldPath, text: object, now: datetime) -> datetime | None:
    """The timezone-aware date-time written at ``path``, or None (and a problem) when it is not one.

    Parameters
    ----------
    problems : Problems
        Where to report.
    path : tuple
        The field's path.
    text : object
        The value in the file (None when absent).
    now : datetime
        The time that counts as now: a later date-time is reported as in the future.

    Returns
    -------
    datetime or None
        The parsed date-time, with its UTC offset.
    """
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(str(text))
    except ValueError:
        problems.add(path, f"{text!r} is not an ISO 8601 date-time, e.g. '2024-02-15T10:30:00+08:00'")
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        problems.add(path, f"{text!r} has no UTC offset (naive date-time); add one, e.g. '{text}+08:00'")
        return None
    if value > now:
        problems.add(path, f"{text!r} is in the future; check the date")
    return value


def parse_date(problems: Problems, path: FieldPath, text: object) -> date | None:
    """The calendar date written at ``path``, or None (and a problem) when it is not one.

    Parameters
    ----------
    problems : Problems
        Where to report.
    path : tuple
        The field's path.
    text : object
        The value in the file (None when absent).

    Returns
    -------
    date or None
        The parsed date.
    """
    if text is None:
        return None
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        problems.add(path, f"{text!r} is not a valid date (YYYY-MM-DD)")
        return None
