"""The study metadata file: load it with line numbers, validate it, and give back a typed study.

A study file is YAML (or JSON). Its structure is stated once, by the pydantic models of
:mod:`~nwb_ketamine.metadata.model`; ``schemas/study.schema.json`` and ``docs/study-file.md`` are generated
from them. Loading runs in two passes over the whole file and collects every problem before reporting:
the schema (structure, types, required fields, enumerations, patterns) and the domain rules DANDI and the
converters need (declared references, units, timezone-aware datetimes, files that exist...).

=============  ====================================================================
module         job
=============  ====================================================================
``loader``     YAML with the line of every field; locating problems
``values``     quantities with units, dates, timezone-aware date-times
``fields``     identifier and quantity fields, vocabularies as literals
``model``      the file's structure (pydantic models)
``schema``     the JSON Schema generated from the model; its errors as messages
``partial``    the model of a file that breaks it, for the rules
``rules``      domain rules on declarations (ids, references, units, species...)
``sessions``   domain rules on sessions
``study``      the typed study the converters use
``validate``   :func:`load_study`: the passes in order
=============  ====================================================================

The validating loader (pydantic models, JSON Schema) is imported on first use of ``load_study`` or
``validate_study`` (PEP 562): a conversion worker receives a parsed :class:`Study` and needs only its types.
"""

from typing import TYPE_CHECKING

from nwb_ketamine.lazy import lazy_names
from nwb_ketamine.metadata.loader import locate, read_study_file
from nwb_ketamine.metadata.study import (
    AbfFileInfo,
    Contact,
    DrugInfo,
    Epoch,
    Implant,
    Injection,
    InVivoSession,
    SliceMethods,
    SliceSession,
    StressProtocolInfo,
    Study,
    StudyInfo,
    SubjectInfo,
    Tetrode,
    time_since_injection,
)
from nwb_ketamine.metadata.values import ABF_COMMAND_UNITS, ABF_CURRENT_UNITS, ABF_VOLTAGE_UNITS, Quantity

if TYPE_CHECKING:
    from nwb_ketamine.metadata.validate import load_study, validate_study

__all__ = [
    "ABF_COMMAND_UNITS",
    "ABF_CURRENT_UNITS",
    "ABF_VOLTAGE_UNITS",
    "AbfFileInfo",
    "Contact",
    "DrugInfo",
    "Epoch",
    "Implant",
    "InVivoSession",
    "Injection",
    "Quantity",
    "SliceMethods",
    "SliceSession",
    "StressProtocolInfo",
    "Study",
    "StudyInfo",
    "SubjectInfo",
    "Tetrode",
    "load_study",
    "locate",
    "read_study_file",
    "time_since_injection",
    "validate_study",
]

__getattr__, __dir__ = lazy_names(__name__, {"load_study": "validate", "validate_study": "validate"})
