"""The Python classes of the extension: pynwb's classes generated from the spec, with checks added.

The field docs live in one place, the spec; the classes add what the schema language cannot say: a route,
role or paradigm is a term of the vocabulary, an amount is non-negative and has its unit, an administration
gives an amount. Like pynwb's own checks (``NWBMixin._error_on_new_warn_on_construct``), a check that fails
raises :class:`~ndx_drug_stress.DrugStressValueError` when a user constructs the object, and only warns
(:class:`~ndx_drug_stress.DrugStressWarning`, the value kept) when pynwb's object mapper constructs it
while reading a file (hdmf's ``_in_construct_mode``): a file another tool wrote with an unexpected term
opens, so it can be read, fixed or its term registered.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

from hdmf.utils import docval, get_docval
from pynwb import get_class, register_class

from ndx_drug_stress.errors import DrugStressValueError, DrugStressWarning
from ndx_drug_stress.vocabulary import unknown_term_message

NAMESPACE = "ndx-drug-stress"

# Classes pynwb generates from the spec at run time; mypy cannot know them, so they are typed Any.
_DrugAdministrationBase: Any = get_class("DrugAdministration", NAMESPACE)
_StressProtocolBase: Any = get_class("StressProtocol", NAMESPACE)
DrugStressMetadata: Any = get_class("DrugStressMetadata", NAMESPACE)

AMOUNTS = ("dose", "concentration", "volume")


def _amount_problems(type_name: str, kwargs: dict) -> list[str]:
    """The problems of the amounts in ``kwargs`` (each non-negative, each with its unit)."""
    problems = []
    for field in AMOUNTS:
        value, unit = kwargs.get(field), kwargs.get(f"{field}_unit")
        if value is None:
            continue
        if value < 0:
            problems.append(f"{type_name}.{field}: {value} is negative; give a non-negative {field}")
        elif not unit:
            problems.append(f"{type_name}.{field}: {value} has no unit; set {field}_unit")
    return problems


def _file_name(source: str) -> str:
    """The path of the file read; hdmf gives '<cwd>/<_io.BufferedReader name=PATH>' for a file object."""
    found = re.search(r"<_io\.\w+ name='(.*)'>$", source)
    return found.group(1) if found else source


class _Checked:
    """Raise on construction by a user, warn (keeping the value) on construction from a file."""

    _in_construct_mode: bool
    container_source: str | None

    def _refuse(self, problems: list[str]) -> None:
        if not problems:
            return
        if not self._in_construct_mode:
            raise DrugStressValueError("; ".join(problems))
        where = f"{_file_name(self.container_source)}: " if self.container_source else ""
        for problem in problems:
            warnings.warn(f"{where}{problem} (read as it is)", DrugStressWarning, stacklevel=2)


class DrugAdministration(_DrugAdministrationBase, _Checked):
    """One administration of an agent (or its vehicle), in vivo or to the bath.

    Parameters
    ----------
    **kwargs
        The fields of the spec (name, agent, route, role, dose and its unit, ...).

    Raises
    ------
    DrugStressValueError
        For a route or role outside the vocabulary, a negative amount, an amount without a unit, or no amount
        (when a file is read, a :class:`DrugStressWarning` instead).

    Examples
    --------
    >>> DrugAdministration(name="ketamine", agent="ketamine", agent_identifier="CHEBI:6121", dose=10.0,
    ...                    dose_unit="mg/kg", route="intraperitoneal", role="treatment",
    ...                    administration_time=-3600.0).dose_unit
    'mg/kg'
    """

    @docval(*get_docval(_DrugAdministrationBase.__init__))
    def __init__(self, **kwargs):
        name = "DrugAdministration"
        problems = [m for m in (unknown_term_message(f, kwargs[f]) for f in ("route", "role")) if m]
        problems += _amount_problems(name, kwargs)
        if all(kwargs.get(field) is None for field in AMOUNTS):
            problems.append(f"DrugAdministration {kwargs['name']!r}: give a dose, concentration or volume")
        self._refuse(problems)
        super().__init__(**kwargs)


class StressProtocol(_StressProtocolBase, _Checked):
    """A stress protocol (paradigm 'none' for unstressed controls).

    Parameters
    ----------
    **kwargs
        The fields of the spec (name, paradigm, duration_per_day, number_of_days, ...).

    Raises
    ------
    DrugStressValueError
        For a paradigm outside the vocabulary or a negative duration or number of days (when a file is read,
        a :class:`DrugStressWarning` instead).
    """

    @docval(*get_docval(_StressProtocolBase.__init__))
    def __init__(self, **kwargs):
        problems = [m for m in [unknown_term_message("paradigm", kwargs["paradigm"])] if m]
        for field in ("duration_per_day", "number_of_days"):
            if kwargs.get(field) is not None and kwargs[field] < 0:
                problems.append(f"StressProtocol.{field}: {kwargs[field]} is negative")
        self._refuse(problems)
        super().__init__(**kwargs)


register_class("DrugAdministration", NAMESPACE, DrugAdministration)
register_class("StressProtocol", NAMESPACE, StressProtocol)
