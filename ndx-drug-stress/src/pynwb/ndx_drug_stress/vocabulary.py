"""The vocabulary of routes, roles and paradigms: documented terms, open to a lab's own.

The NWB schema language has no enumerations, and a closed list would not fit every lab's protocols. So
each of the three fields takes a term of this vocabulary: the built-in terms (``vocabulary.json`` beside
this module, each with its definition; ``docs/vocabulary.md`` lists them) or a term a lab registered with
:func:`register_term`, with its definition, before constructing the objects that use it. The constructors
of :class:`~ndx_drug_stress.DrugAdministration` and :class:`~ndx_drug_stress.StressProtocol` refuse any
other term, with a message saying how to register one; reading a file never refuses one (it warns).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files

#: The fields that take a term of the vocabulary, and the type and attribute each belongs to.
FIELDS = {"route": "DrugAdministration.route", "role": "DrugAdministration.role", "paradigm": "StressProtocol.paradigm"}


@dataclass(frozen=True)
class Term:
    """A term of the vocabulary of one field.

    Attributes
    ----------
    field : str
        ``'route'``, ``'role'`` or ``'paradigm'``.
    term : str
        The value written in the file, e.g. ``'intraperitoneal'``.
    definition : str
        What the term means, in a sentence.
    source : str
        ``'ndx-drug-stress'`` for a built-in term, else who registered it (a lab, a protocol).
    """

    field: str
    term: str
    definition: str
    source: str


def _builtin() -> dict[str, dict[str, Term]]:
    data = json.loads(files(__package__).joinpath("vocabulary.json").read_text(encoding="utf-8"))
    return {
        field: {term: Term(field, term, definition, "ndx-drug-stress") for term, definition in data[field].items()}
        for field in FIELDS
    }


BUILTIN = _builtin()
_registered: dict[str, dict[str, Term]] = {field: {} for field in FIELDS}

#: The built-in terms of each field, in the order the docs list them.
ROUTES = tuple(BUILTIN["route"])
ROLES = tuple(BUILTIN["role"])
PARADIGMS = tuple(BUILTIN["paradigm"])


def _field(field: str) -> str:
    if field not in FIELDS:
        raise ValueError(f"{field!r} is not a field with a vocabulary; use one of {', '.join(FIELDS)}")
    return field


def terms(field: str) -> tuple[str, ...]:
    """The terms a field accepts now: the built-in ones, then those registered in this process.

    Parameters
    ----------
    field : str
        ``'route'``, ``'role'`` or ``'paradigm'``.

    Returns
    -------
    tuple of str

    Examples
    --------
    >>> terms("route")[:2]
    ('intraperitoneal', 'subcutaneous')
    """
    return tuple(BUILTIN[_field(field)]) + tuple(_registered[field])


def term(field: str, value: str) -> Term | None:
    """The term ``value`` of ``field`` with its definition, or None when the vocabulary has no such term.

    Parameters
    ----------
    field : str
        ``'route'``, ``'role'`` or ``'paradigm'``.
    value : str
        The term, e.g. ``'bath'``.

    Returns
    -------
    Term or None

    Examples
    --------
    >>> term("route", "bath").definition
    'Applied to an ex vivo preparation (a brain slice) through the bath that perfuses it.'
    """
    _field(field)
    return BUILTIN[field].get(value) or _registered[field].get(value)


def register_term(field: str, value: str, definition: str, source: str = "registered") -> Term:
    """Add a lab's own term to the vocabulary of ``field``, so the constructors accept it in this process.

    Registering the same term again with the same definition does nothing; a built-in term or a
    different definition of a registered one is refused, so a term means one thing.

    Parameters
    ----------
    field : str
        ``'route'``, ``'role'`` or ``'paradigm'``.
    value : str
        The term as it will be written in files, e.g. ``'intrathecal'``.
    definition : str
        What it means, in a sentence (readers of the file have no other source).
    source : str
        Who defines it: the lab or protocol, shown in error messages and docs.

    Returns
    -------
    Term
        The registered term.

    Raises
    ------
    ValueError
        For an unknown field, an empty term or definition, a built-in term or a conflicting definition.

    Examples
    --------
    >>> register_term("route", "intrathecal", "Injected into the subarachnoid space of the spinal cord.").term
    'intrathecal'
    """
    _field(field)
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise ValueError(f"register_term: the {field} term {value!r} must be a non-empty string without outer spaces")
    if not isinstance(definition, str) or not definition.strip():
        raise ValueError(
            f"register_term: give the {field} term {value!r} a definition (a sentence saying what it means)"
        )
    if value in BUILTIN[field]:
        raise ValueError(
            f"register_term: {value!r} is already a built-in {field} term: {BUILTIN[field][value].definition}"
        )
    new = Term(field, value, definition.strip(), source)
    old = _registered[field].get(value)
    if old is not None and old.definition != new.definition:
        raise ValueError(f"register_term: the {field} term {value!r} is already registered as: {old.definition}")
    _registered[field][value] = new
    return new


def unknown_term_message(field: str, value: object) -> str | None:
    """The error for a value outside the vocabulary of ``field``, saying how to register it; None when known.

    Parameters
    ----------
    field : str
        ``'route'``, ``'role'`` or ``'paradigm'``.
    value : object
        The value given.

    Returns
    -------
    str or None
    """
    if isinstance(value, str) and term(field, value) is not None:
        return None
    return (
        f"{FIELDS[field]}: {value!r} is not one of {', '.join(terms(field))} (the ndx-drug-stress vocabulary); "
        f"for a term of your own, register it with its definition first: "
        f"ndx_drug_stress.register_term({field!r}, {value!r}, definition='...')"
    )
