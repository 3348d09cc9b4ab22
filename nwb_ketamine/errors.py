"""Exceptions a user can cause. The CLI prints them as one line each, never as a traceback."""


class NwbKetamineError(Exception):
    """Base class of errors caused by input: a bad file, a bad field, a bad argument."""


class ExtensionValueError(NwbKetamineError, ValueError):
    """A drug or stress object was given a value the extension does not allow."""


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
