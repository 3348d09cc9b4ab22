"""pynwb schema validation of many files in one process, loading each set of cached namespaces once.

Design decision: ``pynwb.validate(path=...)`` loads the namespaces cached in the file into a fresh
catalog on every call (about 1.3 s here, more than the validation itself), and so does
``pynwb.validate(io=...)``. A batch (``convert``, ``validate``) checks many files that cache the same
namespaces, so :func:`schema_errors` keeps one catalog and one ``hdmf`` validator per namespace for each
set of cached namespace versions seen in the process, and validates each file's builder against the
most specific cached namespaces (the extensions; they include core) — what ``pynwb.validate`` does, with
its own ``get_cached_namespaces_to_validate``. A file with other namespace versions gets its own entry.

Design decision (issue 17): a slice file caches two extensions, ``ndx-dandi-icephys`` and ``ndx-drug-stress``;
each includes the whole of core, so pynwb validates the whole file twice, once per extension, and reports
every error of a core type twice. :func:`schema_errors` validates once, against a namespace that includes
all the most specific cached namespaces (:data:`UNION_NAMESPACE`, loaded once per set of cached versions
into that catalog): the same specifications, half the work; it reports the same errors as pynwb, each once
(``tests/archive/test_schema_validation.py`` breaks files in core and in each extension). The file is
always read back from disk, so what is validated is what was written.

The batch validates each file right after writing it, in the process that wrote it, whose cached
namespaces it has just written from pynwb's loaded catalog. ``against="loaded"`` then builds the union
namespace from a copy of that catalog (once per process and set of versions) instead of parsing the file's
cached specifications: ~0.8 s less on a worker's first file. It applies only when every namespace the file
caches is loaded at the same version; any other file is validated against its cached namespaces.
"""

from __future__ import annotations

import threading
from pathlib import Path

#: (namespace, version) pairs cached in a file → (namespace names to validate against, validators, catalog)
_validators: dict[tuple, tuple] = {}
#: the same, built from the namespaces loaded in this process (``schema_errors(..., against="loaded")``)
_loaded_validators: dict[tuple, tuple] = {}
_lock = threading.Lock()


def _versions_in(f) -> tuple[tuple[str, str], ...]:
    """The sorted (name, version) of every namespace cached in the open h5py file ``f``."""
    import h5py

    specs = f.get("specifications")
    if not isinstance(specs, h5py.Group):
        return ()
    groups = [(name, group) for name, group in specs.items() if isinstance(group, h5py.Group)]
    return tuple(sorted((name, version) for name, group in groups for version in group))


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
        return _versions_in(f)


#: The name of the namespace that includes every most specific cached namespace of a file (one pass).
UNION_NAMESPACE = "nwb-ketamine-validation-union"


def _union_namespace(catalog, names: list[str]):
    """A namespace of ``catalog`` that includes the whole of each namespace in ``names``, loaded once.

    Parameters
    ----------
    catalog
        The catalog of the file's cached namespaces.
    names
        The most specific of them (each includes core).

    Returns
    -------
    SpecNamespace
    """
    from hdmf.spec.namespace import SpecReader

    class _Reader(SpecReader):
        def __init__(self):
            super().__init__(source=f"{UNION_NAMESPACE}:{','.join(names)}")

        def read_namespace(self, namespace_path):
            """The union namespace, whatever the path (it exists in memory only).

            Parameters
            ----------
            namespace_path
                Ignored.

            Returns
            -------
            list of dict
            """
            return [
                {
                    "name": UNION_NAMESPACE,
                    "version": "1",
                    "doc": "Every most specific namespace cached in the file, validated in one pass.",
                    "author": ["nwb-ketamine"],
                    "contact": ["nwb-ketamine"],
                    "schema": [{"namespace": n} for n in names],
                }
            ]

        def read_spec(self, spec_path):
            """Never called: the union namespace has no source of its own, only included namespaces.

            Parameters
            ----------
            spec_path
                The source asked for.
            """
            raise ValueError(spec_path)

    # the included namespaces are resolved already: resolving every spec again would take ~1 s
    catalog.load_namespaces(UNION_NAMESPACE, reader=_Reader(), resolve=False)
    return catalog.get_namespace(UNION_NAMESPACE)


def _validators_for(path: str, key: tuple) -> tuple | None:
    with _lock:
        if key not in _validators:
            from hdmf.validate import ValidatorMap
            from pynwb.validation import get_cached_namespaces_to_validate

            names, manager, _ = get_cached_namespaces_to_validate(path=path)
            if not names:  # nothing cached: pynwb falls back to its core namespace
                return None
            catalog = manager.namespace_catalog
            # pynwb validates the whole file once per most specific namespace (each includes core); one pass
            # against a namespace that includes them all checks the same specs once (issue 17)
            namespaces = [catalog.get_namespace(name=n) for n in names]
            if len(names) > 1:
                namespaces = [_union_namespace(catalog, names)]
            _validators[key] = (names, [ValidatorMap(ns) for ns in namespaces], catalog)
        return _validators[key]


def _loaded_validators_for(key: tuple) -> tuple | None:
    """Validators from pynwb's loaded namespaces for a file caching ``key``; None unless all are loaded as cached.

    The file's cached namespaces as hdmf writes them (``NamespaceToBuilderHelper``) include the whole of
    every namespace an extension takes types from, so the union namespace includes those too: the same
    specifications as :func:`_validators_for` builds from the file, without parsing them.
    """
    from copy import deepcopy

    from hdmf.validate import ValidatorMap
    from pynwb import get_type_map

    loaded = get_type_map(copy=False).namespace_catalog
    versions = {name: loaded.get_namespace(name).version for name in loaded.namespaces}
    if not key or any(versions.get(name) != version for name, version in key):
        return None
    with _lock:
        if key not in _loaded_validators:
            catalog = deepcopy(loaded)  # the union namespace goes into a copy, never into pynwb's own catalog
            cached = {name for name, _ in key}

            def includes(names) -> set[str]:
                return {e["namespace"] for n in names for e in catalog.get_namespace(n).schema if "namespace" in e}

            names = sorted(cached - includes(cached) - {"hdmf-experimental"})  # pynwb's most specific ones
            if not names:
                return None
            union = _union_namespace(catalog, sorted(set(names) | includes(names)))
            _loaded_validators[key] = (names, [ValidatorMap(union)], catalog)
        return _loaded_validators[key]


def schema_errors(path: str | Path, *, against: str = "cached") -> list:
    """The schema validation errors of the NWB file at ``path`` (``[]`` when valid), as ``pynwb.validate``.

    Parameters
    ----------
    path : str or Path
        The NWB file.
    against : {"cached", "loaded"}
        ``"cached"``: the namespaces cached in the file, as pynwb. ``"loaded"``: the same namespaces as loaded
        in this process, when the file caches only loaded namespaces at their loaded versions (a file this
        process has just written and cached them into), else the cached ones; the cached specifications are
        then not parsed, not even for a process's first file.

    Returns
    -------
    list
        pynwb's validation errors; ``[]`` when the file is valid.
    """
    import h5py
    from hdmf.build import BuildManager, TypeMap
    from pynwb import NWBHDF5IO

    path = str(path)
    with h5py.File(path, "r") as f:  # opened once: for the cached versions and for reading the builder
        key = _versions_in(f)
        entry = _loaded_validators_for(key) if against == "loaded" else None
        if entry is None and key:
            entry = _validators_for(path, key)
        if entry is not None:
            _, validators, catalog = entry
            # a manager of its own per file (it caches what it reads); the catalog and validators are shared
            with NWBHDF5IO(file=f, mode="r", manager=BuildManager(TypeMap(namespaces=catalog))) as io:
                builder = io.read_builder()
                return [error for validator in validators for error in validator.validate(builder)]
    return _pynwb_errors(path)


def _pynwb_errors(path: str) -> list:
    """``pynwb.validate`` of a file that caches no namespace (pynwb then validates against its core)."""
    import warnings

    from pynwb import validate

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The file path provided")
        errors = validate(path=path)
    return list(errors[0] if isinstance(errors, tuple) else errors)
