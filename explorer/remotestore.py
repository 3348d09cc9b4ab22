"""The catalog of an archive served over HTTP(S), for ``nwb-ketamine explore URL``.

Design decisions:

- **The archive's own catalog when it serves one.** ``URL/.nwb-ketamine/catalog/state.json`` names the
  generation of the tables; its three Parquet tables (kilobytes, not NWB files) are fetched into the local
  cache folder and read from there. Without one (an archive uploaded to DANDI has none: the catalog's
  dot-folder is not uploaded), the catalog is built over HTTP with range requests
  (:func:`~nwb_ketamine.archive.catalog.build_catalog` with ``out``) into the cache folder, and refreshed
  there the next time: files whose size and ETag / Last-Modified did not change are not read again.
- **Where the cache is**: ``$XDG_CACHE_HOME/nwb-ketamine/remote/<key>/`` (``~/.cache`` without
  ``XDG_CACHE_HOME``), ``<key>`` the first 16 hex digits of the sha256 of the archive's URL, so two
  archives never share tables; ``--cache DIR`` puts it elsewhere. The folder holds ``url.txt`` (the URL
  the key stands for), ``served/`` or ``built/`` (the tables), and nothing of the NWB files.
- The validation report is ``URL/.nwb-ketamine/validation.json`` when the archive serves one.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from nwb_ketamine.archive.catalog import CATALOG_FOLDER, STATE_FILE, build_catalog
from nwb_ketamine.archive.catalog_columns import TABLES
from nwb_ketamine.archive.layout import STATE_DIR
from nwb_ketamine.archive.remote import RemoteArchiveError, base_url, fetch_bytes, fetch_json
from nwb_ketamine.atomic import write_text

#: The archive's catalog and validation report, relative to its URL.
SERVED_CATALOG = f"{STATE_DIR}/{CATALOG_FOLDER}/"
SERVED_VALIDATION = f"{STATE_DIR}/validation.json"


@dataclass
class RemoteCatalog:
    """Where the catalog of a remote archive was put, and what came with it.

    Attributes
    ----------
    url : str
        The archive's URL (one trailing slash).
    folder : Path
        The local folder of the catalog tables (:func:`~nwb_ketamine.archive.catalog.load_catalog` reads it).
    source : str
        ``"served"`` (the archive's own catalog, fetched) or ``"built"`` (built here over HTTP).
    files : dict
        Relative path → the catalog state's entry of the file (``size`` and its change markers).
    validation : dict or None
        The archive's validation report, when it serves one.
    """

    url: str
    folder: Path
    source: str
    files: dict
    validation: dict | None


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/nwb-ketamine/remote`` (``~/.cache/nwb-ketamine/remote`` without it).

    Returns
    -------
    Path
    """
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "nwb-ketamine" / "remote"


def cache_folder(url: str, root: str | Path | None = None) -> Path:
    """The cache folder of the archive at ``url``: ``ROOT/<first 16 hex digits of sha256(url)>``.

    Parameters
    ----------
    url
        The archive's URL.
    root
        The cache root (default :func:`cache_root`).

    Returns
    -------
    Path
    """
    key = hashlib.sha256(base_url(url).encode()).hexdigest()[:16]
    return Path(root if root is not None else cache_root()) / key


def remote_catalog(url: str, cache: str | Path | None = None, progress: bool = False) -> RemoteCatalog:
    """The catalog of the archive at ``url``: its own when served, else built over HTTP; kept in the cache.

    Parameters
    ----------
    url
        The archive's URL.
    cache
        The cache root (default :func:`cache_root`).
    progress
        Show a progress bar while building.

    Returns
    -------
    RemoteCatalog

    Raises
    ------
    RemoteArchiveError
        When the served catalog's tables cannot be fetched, or no NWB file can be found at ``url``.
    """
    root = base_url(url)
    folder = cache_folder(root, cache)
    folder.mkdir(parents=True, exist_ok=True)
    write_text(folder / "url.txt", root + "\n")
    state = fetch_json(root + SERVED_CATALOG + STATE_FILE)
    if isinstance(state, dict) and isinstance(state.get("generation"), int):
        out = folder / "served"
        tables = out / f"gen-{state['generation']}"
        tables.mkdir(parents=True, exist_ok=True)
        for name in TABLES:
            source = f"{root}{SERVED_CATALOG}gen-{state['generation']}/{name}.parquet"
            data = fetch_bytes(source)
            if data is None:
                message = f"{source}: the archive's catalog names it but the server has no such file (404 or 403)"
                raise RemoteArchiveError(message)
            (tables / f"{name}.parquet").write_bytes(data)
        write_text(out / STATE_FILE, json.dumps(state, indent=1))  # last: names the generation fetched
        source_kind = "served"
    else:
        out = folder / "built"
        if not build_catalog(root, out=out, progress=progress).files:
            raise RemoteArchiveError(
                f"{root}: no NWB files found there (no catalog, manifest or folder listing answered); "
                "give the URL of an archive's folder"
            )
        state = json.loads((out / STATE_FILE).read_text())
        source_kind = "built"
    validation = fetch_json(root + SERVED_VALIDATION)
    files = state.get("files") if isinstance(state.get("files"), dict) else {}
    return RemoteCatalog(root, out, source_kind, files, validation if isinstance(validation, dict) else None)
