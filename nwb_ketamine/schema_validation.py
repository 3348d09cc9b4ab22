"""pynwb schema validation of many files in one process, loading each set of cached namespaces once.

Design decision: ``pynwb.validate(path=...)`` loads the namespaces cached in the file into a fresh
catalog on every call (about 1.3 s here, more than the validation itself), and so does
``pynwb.validate(io=...)``. A batch (``convert``, ``validate``) checks many files that cache the same
namespaces, so :func:`schema_errors` keeps one catalog and one ``hdmf`` validator per namespace for each
set of cached namespace versions seen in the process, and validates each file's builder against the
most specific cached namespaces (the extensions; they include core) — what ``pynwb.validate`` does, with
its own ``get_cached_namespaces_to_validate``. A file with other namespace versions gets its own entry.
"""

from __future__ import annotations

import threading
from pathlib import Path

#: (namespace, version) pairs cached in a file → (namespace names to validate against, validators, catalog)
_validators: dict[tuple, tuple] = {}
_lock = threading.Lock()


def cached_namespace_versions(path: str | Path) -> tuple[tuple[str, str], ...]:
    """The (name, version) of every namespace cached in the file's ``/specifications`` (empty when none).

    Parameters
    ----------
    path : str or Path
        The NWB file.

    Returns
    -------
    tuple of (str, str)
        Sorted (namespace, version) pairs.
    """
    import h5py

    with h5py.File(path, "r") as f:
        specs = f.get("specifications")
        if not isinstance(specs, h5py.Group):
            return ()
        groups = [(name, group) for name, group in specs.items() if isinstance(group, h5py.Group)]
        return tuple(sorted((name, version) for name, group in groups for version in group))


def _validators_for(path: str, key: tuple) -> tuple | None:
    with _lock:
        if key not in _validators:
            from hdmf.validate import ValidatorMap
            from pynwb.validation import get_cached_namespaces_to_validate

            names, manager, _ = get_cached_namespaces_to_validate(path=path)
            if not names:  # nothing cached: pynwb falls back to its core namespace
                return None
            catalog = manager.namespace_catalog
            _validators[key] = (names, [ValidatorMap(catalog.get_namespace(name=n)) for n in names], catalog)
        return _validators[key]


def schema_errors(path: str | Path) -> list:
    """The schema validation errors of the NWB file at ``path`` (``[]`` when valid), as ``pynwb.validate``.

    Parameters
    ----------
    path : str or Path
        The NWB file.

    Returns
    -------
    list
        pynwb's validation errors; ``[]`` when the file is valid.
    """
    import warnings

    from hdmf.build import BuildManager, TypeMap
    from pynwb import NWBHDF5IO, validate

    path = str(path)
    key = cached_namespace_versions(path)
    entry = _validators_for(path, key) if key else None
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The file path provided")
        if entry is None:
            errors = validate(path=path)
            return list(errors[0] if isinstance(errors, tuple) else errors)
        _, validators, catalog = entry
        # a manager of its own per file (it caches what it reads); the catalog and validators are shared
        with NWBHDF5IO(path, "r", manager=BuildManager(TypeMap(namespaces=catalog))) as io:
            builder = io.read_builder()
            return [error for validator in validators for error in validator.validate(builder)]
