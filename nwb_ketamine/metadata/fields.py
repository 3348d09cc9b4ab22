"""The building blocks of the study file's model: identifier and quantity fields, vocabularies as literals.

Used by :mod:`nwb_ketamine.metadata.model`; :func:`units` lets the rules read back the units a quantity
field accepts, so each field's units are stated once, where the field is.
"""

from __future__ import annotations

from typing import Any, Literal, cast

from pydantic import ConfigDict, Field
from pydantic.config import JsonDict
from pydantic.fields import FieldInfo

from nwb_ketamine import vocabulary as vocab
from nwb_ketamine.metadata.values import QUANTITY_PATTERN, Units

LICENSES = Literal["CC0-1.0", "CC-BY-4.0", "CC-BY-NC-4.0"]
SORTING_FORMATS = Literal["phy", "ntt", "mclust", "axona", "openephys_spikes"]
ID_DESCRIPTION = (
    "An identifier: letters, digits, '.', '+', '-'; no spaces, slashes or underscores (DANDI uses '_' as separator)."
)
DATETIME_DESCRIPTION = "ISO 8601 date-time with a UTC offset."
DATE_DESCRIPTION = "ISO 8601 date, YYYY-MM-DD."

# Literals of the vocabulary's tuples, so the allowed values are written once (mypy cannot read a runtime tuple).
ClampMode = Literal[vocab.CLAMP_MODES]  # type: ignore[valid-type]
Paradigm = Literal[vocab.PARADIGMS]  # type: ignore[valid-type]
Route = Literal[vocab.ROUTES]  # type: ignore[valid-type]
Role = Literal[vocab.ROLES]  # type: ignore[valid-type]
SexCode = Literal[vocab.SEX_CODES]  # type: ignore[valid-type]


def model_config_of(name: str, *any_of: str) -> ConfigDict:
    """Config of a file model: no unknown fields, its name in the schema, at least one of some fields given.

    Parameters
    ----------
    name : str
        The model's name in the schema (``subject``).
    *any_of : str
        Fields of which at least one must be given (none: no such rule).

    Returns
    -------
    ConfigDict
        The model's ``model_config``.
    """
    extra: JsonDict | None = {"anyOf": [{"required": [field]} for field in any_of]} if any_of else None
    return ConfigDict(extra="forbid", title=name, json_schema_extra=extra, regex_engine="python-re")


ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9.+-]*$"
#: The one definition of an identifier in the schema (``$defs/id``), which every id field refers to.
ID_SCHEMA = {"type": "string", "pattern": ID_PATTERN, "description": ID_DESCRIPTION}


#: Marks an id field's schema, which :func:`~nwb_ketamine.metadata.schema.study_schema` makes a ``$defs/id`` reference.
ID_MARK = "x-identifier"


def ident(example: str) -> Any:
    """A required identifier field.

    Parameters
    ----------
    example : str
        A valid identifier.

    Returns
    -------
    FieldInfo
        The pydantic field.
    """
    return Field(pattern=ID_PATTERN, description=ID_DESCRIPTION, examples=[example], json_schema_extra={ID_MARK: True})


def quantity(label: str, what: str, units: tuple[str, ...], example: str, *, required: bool = False) -> Any:
    """A quantity field: a number and one of ``units``, e.g. ``10 mg/kg``.

    Parameters
    ----------
    label : str
        The start of its description (``Dose``).
    what : str
        What it is in messages (``dose``).
    units : tuple of str
        The units it accepts.
    example : str
        A valid value.
    required : bool
        Whether the field must be given.

    Returns
    -------
    FieldInfo
        The pydantic field, its :class:`Units` in its metadata.
    """
    description = f"{label} ({', '.join(units)}): a number and a unit."
    default = ... if required else None
    info = cast(FieldInfo, Field(default, pattern=QUANTITY_PATTERN, description=description, examples=[example]))
    info.metadata.append(Units(tuple(units), what))
    return info


def units(field: object) -> Units | None:
    """The units a model field accepts when it is a quantity (see :func:`quantity`).

    Parameters
    ----------
    field : FieldInfo
        A field of a model's ``model_fields``.

    Returns
    -------
    Units or None
        None for a field that is not a quantity.
    """
    return next((m for m in getattr(field, "metadata", ()) if isinstance(m, Units)), None)
