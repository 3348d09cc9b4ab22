"""Where an exported CSV's numbers came from: the nwb-ketamine version and a hash of the catalog.

Design decisions:

- The catalog's hash is the sha256 of its current generation's tables as files (``sessions.parquet``,
  ``cells.parquet``, ``units.parquet``, in that order, read whole), so a reader can check a CSV against
  an archive with ``sha256sum`` of the three files concatenated (:func:`catalog_digest`). A store built from
  tables in memory (tests, benchmarks) has no files: then the hash is of the tables' rows (pandas' row
  hashes), marked as such.
- It is computed once per store, when a view first needs it (reading the files again per export would
  also risk hashing a newer generation than the one loaded; at first use that risk is the time since
  the store was opened).
"""

from __future__ import annotations

import hashlib
import json

import pandas as pd

from nwb_ketamine import __version__

#: The catalog tables, in the order their files are hashed.
TABLES = ("sessions", "cells", "units")


def _file_digest(store) -> tuple[str, str] | None:
    """sha256 of the generation's table files and the generation's name; None without files."""
    from nwb_ketamine.archive.catalog import STATE_FILE, catalog_dir

    folder = getattr(store, "catalog", None) or catalog_dir(store.archive)
    try:
        state = json.loads((folder / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    generation = state.get("generation") if isinstance(state, dict) else None
    tables = folder / f"gen-{generation}" if isinstance(generation, int) else folder
    files = [tables / f"{name}.parquet" for name in TABLES]
    if not all(f.is_file() for f in files):
        return None
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.read_bytes())
    return digest.hexdigest(), tables.name if isinstance(generation, int) else "flat"


def _table_digest(store) -> str:
    """sha256 of the store's tables' row hashes (a store without catalog files)."""
    digest = hashlib.sha256()
    for name in TABLES:
        table = getattr(store, name)
        try:
            rows = pd.util.hash_pandas_object(table, index=False)
        except TypeError:  # unhashable cells (lists, dicts): their text
            rows = pd.util.hash_pandas_object(table.astype(str), index=False)
        digest.update(name.encode())
        digest.update(rows.to_numpy().tobytes())
    return digest.hexdigest()


def catalog_digest(store) -> dict[str, str]:
    """The catalog's hash and where it was taken from, computed once per store.

    Parameters
    ----------
    store : ArchiveStore
        The explorer's catalog.

    Returns
    -------
    dict
        ``catalog_sha256`` (hex) and ``catalog_source`` ('gen-N/{sessions,cells,units}.parquet' of the
        archive's catalog, or 'tables in memory').
    """
    cached = getattr(store, "_catalog_digest", None)
    if cached is None:
        found = _file_digest(store)
        if found is None:
            cached = {"catalog_sha256": _table_digest(store), "catalog_source": "tables in memory"}
        else:
            cached = {"catalog_sha256": found[0], "catalog_source": f"{found[1]}/{{sessions,cells,units}}.parquet"}
        store._catalog_digest = cached
    return cached


def provenance(store) -> dict[str, str]:
    """The columns every exported CSV ends with: the tool's version and the catalog's hash.

    Parameters
    ----------
    store : ArchiveStore
        The explorer's catalog.

    Returns
    -------
    dict
        ``nwb_ketamine_version``, ``catalog_sha256``, ``catalog_source``.
    """
    return {"nwb_ketamine_version": __version__, **catalog_digest(store)}
