"""The error and the warning of the extension's checks.

The error is raised when an object is constructed with a value the extension does not allow; the warning
is issued instead when such a value is read from a file.
"""


class DrugStressValueError(ValueError):
    """A DrugAdministration or StressProtocol was constructed with a value the extension does not allow."""


class DrugStressWarning(UserWarning):
    """A file holds a value the constructor would refuse; it was read as it is, to be fixed or registered."""
