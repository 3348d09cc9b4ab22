"""Analysis parameters as tables stored next to the results they produced.

Every analysis (EPSC measures, burst detection, unit quality metrics) keeps its parameters in a frozen
dataclass whose field names carry their unit (``_s``, ``_v``, ``_ohm``, ``_hz``). :class:`ParameterSet`
gives those dataclasses one way to become rows of a table and to come back from one, and
:func:`parameter_table` / :func:`read_parameter_table` are the NWB side of it, so a reader of any file
sees exactly which rule produced each number.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, ClassVar, cast

from hdmf.common import DynamicTable

UNIT_SUFFIXES = {"_s": "s", "_v": "V", "_ohm": "Ohm", "_hz": "Hz"}

# Column names avoid 'name' and 'description', which are attributes of every NWB table.
COLUMNS = {
    "parameter": "Parameter name.",
    "value": "Parameter value.",
    "unit": "Unit of the value ('' when dimensionless).",
    "meaning": "What the parameter does.",
}


def unit_of(name: str) -> str:
    """The SI unit a parameter name declares by its suffix ('' when dimensionless).

    Parameters
    ----------
    name
        A parameter (field) name such as ``baseline_window_s``.

    Returns
    -------
    str
        The unit, e.g. ``'s'``, or ``''``.
    """
    return next((unit for suffix, unit in UNIT_SUFFIXES.items() if name.endswith(suffix)), "")


class ParameterSet:
    """Mixin for frozen parameter dataclasses: rows for a table, and back.

    Subclasses define ``DESCRIPTIONS`` (one line per field) and ``LABEL`` (used in error messages).
    """

    DESCRIPTIONS: ClassVar[dict[str, str]] = {}
    LABEL: ClassVar[str] = "analysis"

    def rows(self) -> list[tuple[str, float, str, str]]:
        """The parameters as ``(name, value, unit, description)`` rows, one per field, in field order."""
        return [
            (f.name, float(getattr(self, f.name)), unit_of(f.name), self.DESCRIPTIONS[f.name])
            for f in fields(cast(Any, self))
        ]

    @classmethod
    def from_rows(cls, rows):
        """Rebuild the parameters from :meth:`rows` output (or any ``(name, value, ...)``); unknown names raise.

        Parameters
        ----------
        rows
            Iterable of sequences whose first two items are a field name and its value (in the field's unit).

        Returns
        -------
        ParameterSet
            An instance of ``cls``; fields not in ``rows`` keep their defaults.
        """
        types = {f.name: f.type for f in fields(cast(Any, cls))}
        kwargs = {}
        for row in rows:
            name, value = str(row[0]), row[1]
            if name not in types:
                raise ValueError(f"unknown {cls.LABEL} parameter {name!r}")
            kwargs[name] = int(value) if types[name] in (int, "int") else float(value)
        return cls(**kwargs)


def parameter_table(name: str, description: str, params: ParameterSet) -> DynamicTable:
    """An NWB table with one row per parameter: parameter, value, unit, meaning.

    Parameters
    ----------
    name
        Name of the table in the NWB file.
    description
        Description of the table.
    params
        The parameters to store.

    Returns
    -------
    hdmf.common.DynamicTable
        The table, with the :data:`COLUMNS` columns.
    """
    table = DynamicTable(name=name, description=description)
    for column, meaning in COLUMNS.items():
        table.add_column(name=column, description=meaning)
    for parameter, value, unit, meaning in params.rows():
        table.add_row(parameter=parameter, value=value, unit=unit, meaning=meaning)
    return table


def read_parameter_table(table, cls: type[ParameterSet]):
    """The parameters stored by :func:`parameter_table`, as an instance of ``cls``.

    Parameters
    ----------
    table
        The stored table (a DynamicTable with ``parameter`` and ``value`` columns).
    cls
        The :class:`ParameterSet` subclass to build.

    Returns
    -------
    ParameterSet
        An instance of ``cls``.
    """
    return cls.from_rows(zip(table["parameter"].data[:], table["value"].data[:], strict=True))
