"""Exceptions a user can cause. The CLI prints them as one line each, never as a traceback.

``ExtensionValueError`` (a drug or stress object given a value the extension does not allow) is
:class:`ndx_drug_stress.DrugStressValueError`, the error the extension's own package raises; it is
resolved on first use, since importing the extension loads pynwb and this module must stay light.
"""

from typing import Any


class NwbKetamineError(Exception):
    """Base class of errors caused by input: a bad file, a bad field, a bad argument."""


class StudyFileError(NwbKetamineError):
    """The study metadata file has problems; ``problems`` lists every one as a line.

    Parameters
    ----------
    problems
        One line per problem (``study.yaml:LINE field: message``).
    """

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class ConversionError(NwbKetamineError):
    """A source file cannot be converted as the study file asks."""


def __getattr__(name: str) -> Any:
    """``ExtensionValueError``, imported from ndx_drug_stress when first asked for.

    Parameters
    ----------
    name : str
        The attribute asked for.

    Returns
    -------
    Any
        The ndx_drug_stress error class.
    """
    if name == "ExtensionValueError":
        from ndx_drug_stress import DrugStressValueError

        return DrugStressValueError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
