"""Public names of a package imported from their submodules on first use (PEP 562).

A package lists ``{name: submodule}`` and assigns what :func:`lazy_names` returns to its module-level
``__getattr__`` and ``__dir__``: importing the package then imports none of those submodules, and the
first access to a name imports its submodule once and keeps the name in the package's namespace.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib import import_module


def lazy_names(package: str, names: dict[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package`` for its lazily imported ``names``.

    Parameters
    ----------
    package
        The package's ``__name__``.
    names
        Each public name → the submodule (relative to ``package``) that defines it.

    Returns
    -------
    tuple
        ``(__getattr__, __dir__)`` for the package's module namespace.
    """

    def __getattr__(name: str) -> object:
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f"{package}.{names[name]}"), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(names))

    return __getattr__, __dir__
