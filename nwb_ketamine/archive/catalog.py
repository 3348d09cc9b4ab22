"""Building, refreshing and loading the catalog: Parquet tables of sessions, cells and units of an archive.

The rows come from the archive's NWB files alone (:mod:`nwb_ketamine.archive.catalog_read`, columns in
:mod:`nwb_ketamine.archive.catalog_columns`); this module lists the files, decides which to read, reads
them (in parallel for a large archive) and writes the tables.

Design decisions:

- **Where**: ``ARCHIVE/.nwb-ketamine/catalog/`` (``sessions.parquet``, ``cells.parquet``,
  ``units.parquet``, ``state.json``, ``files.json``). ``dandi validate`` and ``dandi upload`` find their
  files with ``dandi.files.find_dandi_files``, which skips every file and folder whose name starts with
  a dot, so the catalog is neither validated nor uploaded. For a remote archive the tables go to a local
  folder given as ``out``.
- **Incremental**: ``state.json`` records each file's size and mtime (ETag / Last-Modified over HTTP),
  the fingerprint a refresh compares, and its NWB ``identifier``, for information only: the identifier is
  deterministic (:func:`nwb_ketamine.nwbfile.session_identifier`, the same for a reconversion of the same
  inputs) and hashes only the ends of large sources, so it is not a content fingerprint. A reconverted file
  is renamed into place as a new file, so its mtime changes even when its size and identifier do not. A
  refresh rereads only files whose size or mtime changed or that are new, keeps the rows of the others
  and drops the rows of deleted files.
- **Parallel**: the per-file reads are mapped over a dask.distributed client when one is given (the one
  ``convert`` uses); otherwise a LocalCluster (``jobs`` or 2 worker processes, one thread each) is started
  only for at least :data:`LOCAL_CLUSTER_MIN_FILES` files to read. A read takes ~25 ms (88 files of
  the small study: 39 files/s in-process), a local cluster ~2 s to start and its workers ~1 s to import
  h5py and pandas, so below that the files are read in this process.
- **Over HTTP** (``build_catalog("https://…/archive/", out=…)``): files are listed from the convert
  manifest, the catalog's ``files.json`` or an HTML listing, and read with range requests
  (:mod:`nwb_ketamine.archive.remote`).
- **One generation at a time**: a build writes its three tables into a new folder ``gen-<n>/`` and then
  ``state.json`` (atomically, last) naming ``"generation": n``; readers (:func:`load_catalog`, hence the
  explorer) read the state file and then that folder, so they see the old generation or the new one, never
  a mix, even when the build is killed between two tables. After the switch, generations older than the
  previous one are removed (the previous one stays for a reader that read the old state just before).
  A catalog of the former flat layout (tables next to ``state.json``, no ``generation``) is still read.
- A file that cannot be read is listed in the result with a one-line reason; the others are catalogued.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from nwb_ketamine.archive.catalog_columns import COLUMNS, TABLES
from nwb_ketamine.archive.catalog_read import read_nwb_file
from nwb_ketamine.archive.layout import NO_DASHBOARD, STATE_DIR, state_dir
from nwb_ketamine.archive.remote import base_url, is_url, list_remote_nwb_files, stat_remote
from nwb_ketamine.atomic import atomic_path, write_text
from nwb_ketamine.errors import NwbKetamineError

CATALOG_FOLDER = "catalog"
STATE_FILE = "state.json"
FILES_INDEX = "files.json"
#: 2: sessions gained origin, contents and namespaces; foreign files got path-derived keys.
#: 3: sessions gained n_raw_series; the lab's region label is read from the electrodes' lab_region column.
#: 4: every row gained drug_role; a slice cell's time_group is its stored time point, never the group name's.
#: 5: cells gained the slice-methods columns, units the implant columns.
#: 6: every row gained nwb_ketamine_version and analysis_parameters (the file's analysis provenance).
STATE_VERSION = 6
#: Fewest files to read for which a LocalCluster is started when no client is given.
LOCAL_CLUSTER_MIN_FILES = 200


class CatalogError(NwbKetamineError):
    """The catalog cannot be built or loaded as asked."""


@dataclass
class CatalogResult:
    """What a catalog build did.

    Attributes
    ----------
    archive : str
        The archive (folder or URL).
    out : Path
        Folder of the tables.
    counts : dict
        Rows per table.
    files : int
        NWB files in the archive.
    read, skipped, removed : list of str
        Files read now, unchanged files kept from the previous build, files gone since it.
    failed : dict
        File → one-line reason, for files that could not be read.
    duplicate_keys : dict
        Cell or unit key → the files that share it (e.g. one of our files copied twice into the archive);
        the explorer opens the first. Keys of foreign files are paths and never collide.
    tables : dict
        Table name → path of its Parquet file.
    seconds : float
        Wall time.
    """

    archive: str
    out: Path
    counts: dict[str, int] = field(default_factory=dict)
    files: int = 0
    read: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    duplicate_keys: dict[str, list[str]] = field(default_factory=dict)
    tables: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0

    def __str__(self) -> str:
        counts = ", ".join(f"{n} {name}" for name, n in self.counts.items())
        failed = f", {len(self.failed)} failed" if self.failed else ""
        if self.duplicate_keys:
            key, files = next(iter(self.duplicate_keys.items()))
            failed += f", {len(self.duplicate_keys)} keys in several files (e.g. {key!r} in {', '.join(files)})"
        return (
            f"{self.files} files ({len(self.read)} read, {len(self.skipped)} unchanged, {len(self.removed)} removed"
            f"{failed}): {counts} in {self.seconds:.1f} s → {self.out}"
        )


#: One file read at a time per process. h5py serialises its calls on one global lock anyway, so threads
#: gain nothing; and two Dask threads reading files at once deadlocked once in CI (a thread waiting for
#: h5py's lock in an object's deallocation, no other thread running h5py: py-spy, test_catalog's threaded client).
_READ_LOCK = threading.Lock()


def _read_task(root: str, relpath: str, reader: Callable | None = None) -> tuple[str, dict | None, str]:
    """Read one file; never raises, so one bad file cannot stop the build. Runs on Dask workers."""
    source = base_url(root) + relpath if is_url(root) else os.path.join(root, relpath)
    try:
        with _READ_LOCK:
            rows = (reader or read_nwb_file)(source, relpath)
        return relpath, rows, ""
    except Exception as error:  # any unreadable file is reported, not raised
        message = str(error).splitlines()[0] if str(error) else ""
        return relpath, None, f"{type(error).__name__}: {message}".rstrip(": ")


def catalog_dir(archive) -> Path:
    """Folder of the catalog of a local archive: ``ARCHIVE/.nwb-ketamine/catalog``.

    Parameters
    ----------
    archive
        The archive root.

    Returns
    -------
    Path
    """
    return state_dir(Path(archive)) / CATALOG_FOLDER


def _list_local(archive: Path) -> dict[str, dict]:
    """Relative path → {size, mtime_ns} of the NWB files, skipping dot-folders as DANDI does."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(archive):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if name.endswith(".nwb") and not name.startswith("."):
                path = os.path.join(dirpath, name)
                st = os.stat(path)
                found[Path(path).relative_to(archive).as_posix()] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
    return found


def _list_remote(url: str) -> dict[str, dict]:
    index = (f"{STATE_DIR}/manifest.json", f"{STATE_DIR}/{CATALOG_FOLDER}/{FILES_INDEX}")
    paths = list_remote_nwb_files(url, index_paths=index)
    root = base_url(url)
    return {p: stat_remote(root + p) for p in paths}


def _tables_dir(out: Path, state: dict) -> Path:
    """Folder of the tables of the generation ``state`` names (the flat former layout: ``out`` itself)."""
    generation = state.get("generation")
    return out / f"gen-{generation}" if isinstance(generation, int) else out


def _generations(out: Path) -> list[int]:
    """Numbers of the ``gen-<n>`` folders in ``out``."""
    found = []
    for child in out.glob("gen-*"):
        suffix = child.name[4:]
        if child.is_dir() and suffix.isdigit():
            found.append(int(suffix))
    return sorted(found)


def _read_state(out: Path) -> dict:
    try:
        state = json.loads((out / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(state, dict):
        return {}
    tables = _tables_dir(out, state)
    if state.get("version") != STATE_VERSION or not all((tables / f"{t}.parquet").exists() for t in TABLES):
        return {}  # an old or damaged state only costs a full rebuild
    return state


def _frame(name: str, rows: list[dict]):
    import pandas as pd

    columns = COLUMNS[name]
    frame = pd.DataFrame.from_records(rows, columns=columns) if rows else pd.DataFrame(columns=columns)
    return frame


def _write_table(frame, path: Path) -> None:
    with atomic_path(path) as partial:
        frame.to_parquet(partial, index=False)


def _map_reads(root: str, relpaths: list[str], *, client, jobs, progress: bool, reader) -> list[tuple]:
    from tqdm.auto import tqdm

    if not relpaths:
        return []
    bar = tqdm(total=len(relpaths), desc="catalog", unit="file", disable=not progress)
    own_cluster = None
    try:
        if client is None and len(relpaths) >= LOCAL_CLUSTER_MIN_FILES:
            from dask.distributed import Client, LocalCluster

            own_cluster = LocalCluster(
                n_workers=jobs or 2,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                scheduler_kwargs=NO_DASHBOARD,
            )
            client = Client(own_cluster)
        if client is None:
            results = []
            for relpath in relpaths:
                results.append(_read_task(root, relpath, reader))
                bar.update()
            return results
        from dask.distributed import as_completed

        futures = client.map(_read_task, [root] * len(relpaths), relpaths, [reader] * len(relpaths), pure=False)
        results = []
        for future in as_completed(futures):
            results.append(future.result())
            bar.update()
        return results
    finally:
        bar.close()
        if own_cluster is not None:
            client.close()
            own_cluster.close()


def build_catalog(
    archive,
    *,
    client=None,
    jobs: int | None = None,
    progress: bool = True,
    out=None,
    full: bool = False,
    reader: Callable | None = None,
) -> CatalogResult:
    """Build or refresh the catalog tables of an archive.

    Parameters
    ----------
    archive
        The archive folder, or its http(s) URL (then ``out`` is required).
    client
        A dask.distributed ``Client`` to read the files on; without one, a LocalCluster of ``jobs``
        workers is started for at least :data:`LOCAL_CLUSTER_MIN_FILES` files, else files are read here.
    jobs
        Workers of that LocalCluster (default 2).
    progress
        Show a progress bar.
    out
        Folder of the tables (default ``ARCHIVE/.nwb-ketamine/catalog``).
    full
        Reread every file instead of only new and changed ones.
    reader
        ``reader(source, relpath) -> {table: [rows]}``; default :func:`read_nwb_file` (for tests and
        other file kinds; must be picklable to run on a cluster).

    Returns
    -------
    CatalogResult

    Examples
    --------
    >>> result = build_catalog("archive", progress=False)  # doctest: +SKIP
    >>> load_catalog("archive")["cells"].groupby(["region", "drug"]).nmda_amplitude_pa.mean()  # doctest: +SKIP
    """
    import pandas as pd

    start = time.perf_counter()
    remote = is_url(archive)
    if remote:
        if out is None:
            raise CatalogError(f"{archive}: a remote archive needs a local output folder; pass out=FOLDER (--out)")
        root = base_url(archive)
        files = _list_remote(root)
    else:
        path = Path(archive)
        if not path.is_dir():
            raise CatalogError(f"{archive}: not an archive folder; give the folder that holds the sub-* folders")
        root = str(path.resolve())
        files = _list_local(path)
        if not files and not state_dir(path).is_dir():  # e.g. the study folder given by mistake
            raise CatalogError(f"{archive}: no NWB files in it; give the archive folder that convert wrote")
    out = Path(out) if out is not None else catalog_dir(archive)
    out.mkdir(parents=True, exist_ok=True)

    state = {} if full else _read_state(out)
    previous = _read_state(out) if full else state
    generation = max([0, *_generations(out)]) + 1
    tables_out = out / f"gen-{generation}"
    known = state.get("files", {}) if state.get("archive") == root else {}
    failed_before = set(state.get("failed", {})) if state.get("archive") == root else set()

    def unchanged(relpath: str) -> bool:
        """Whether a file is as the previous build read it (and it did not fail).

        Parameters
        ----------
        relpath
            The file, relative to the archive.

        Returns
        -------
        bool
        """
        old = known.get(relpath)
        return (
            old is not None and relpath not in failed_before and all(old.get(k) == v for k, v in files[relpath].items())
        )

    keep = sorted(p for p in files if unchanged(p))
    todo = sorted(p for p in files if not unchanged(p))
    removed = sorted(p for p in known if p not in files)

    results = _map_reads(root, todo, client=client, jobs=jobs, progress=progress, reader=reader)
    result = CatalogResult(archive=str(archive), out=out, files=len(files), skipped=keep, removed=removed)
    new_rows: dict[str, list[dict]] = {name: [] for name in TABLES}
    new_state = {p: known[p] for p in keep}
    for relpath, rows, error in sorted(results, key=lambda r: r[0]):
        if rows is None:
            result.failed[relpath] = error
            continue
        result.read.append(relpath)
        for session in rows.get("sessions", []):
            session["file_size"] = files[relpath].get("size")
        for name in TABLES:
            new_rows[name].extend(rows.get(name, []))
        identifier = rows["sessions"][0].get("identifier", "") if rows.get("sessions") else ""
        new_state[relpath] = {**files[relpath], "identifier": identifier}

    keep_set = set(keep)
    for name in TABLES:
        frame = _frame(name, new_rows[name])
        if keep and state:
            old = pd.read_parquet(_tables_dir(out, state) / f"{name}.parquet")
            old = old[old["file"].isin(keep_set)]
            frame = pd.concat([f for f in (old, frame) if len(f)], ignore_index=True) if len(old) else frame
            if frame.empty:
                frame = _frame(name, [])
        sort = [c for c in ("file", "row", "unit_row", "metrics_row") if c in frame.columns]
        frame = frame.sort_values(sort, kind="stable").reset_index(drop=True)[COLUMNS[name]]
        key = {"cells": "cell_key", "units": "unit_key"}.get(name)
        if key and len(frame):
            files = frame.groupby(key)["file"].unique()
            per_row = frame.groupby(key)["file"].size() if name == "cells" else None
            for value, where in files.items():
                if len(where) > 1 or (per_row is not None and per_row[value] > 1):
                    result.duplicate_keys[str(value)] = sorted(where)
        target = tables_out / f"{name}.parquet"
        _write_table(frame, target)
        result.tables[name] = target
        result.counts[name] = len(frame)

    write_text(out / FILES_INDEX, json.dumps({"files": sorted(new_state)}, indent=1))
    write_text(
        out / STATE_FILE,
        json.dumps(
            {
                "version": STATE_VERSION,
                "generation": generation,
                "archive": root,
                "files": new_state,
                "failed": result.failed,
            },
            indent=1,
        ),
    )
    _remove_old_generations(
        out, keep={generation, previous.get("generation")}, flat=isinstance(previous.get("generation"), int)
    )
    result.seconds = time.perf_counter() - start
    return result


def _remove_old_generations(out: Path, keep: set, flat: bool) -> None:
    """Remove the ``gen-<n>`` folders not in ``keep`` (and the flat former tables when ``flat``)."""
    import shutil

    for number in _generations(out):
        if number not in keep:
            shutil.rmtree(out / f"gen-{number}", ignore_errors=True)
    if flat:
        for name in TABLES:
            (out / f"{name}.parquet").unlink(missing_ok=True)


def load_catalog(archive_or_out) -> dict:
    """The catalog tables as pandas DataFrames: ``{"sessions": …, "cells": …, "units": …}``.

    Parameters
    ----------
    archive_or_out
        An archive folder (its ``.nwb-ketamine/catalog``) or the folder of the tables.

    Returns
    -------
    dict
        Table name → DataFrame.

    Raises
    ------
    CatalogError
        When the folder holds no catalog.
    """
    import pandas as pd

    folder = Path(archive_or_out)
    if not (folder / STATE_FILE).exists() and not (folder / "sessions.parquet").exists():
        folder = catalog_dir(folder)
    try:
        state = json.loads((folder / STATE_FILE).read_text())
    except (OSError, ValueError):
        state = {}
    folder = _tables_dir(folder, state if isinstance(state, dict) else {})
    missing = [t for t in TABLES if not (folder / f"{t}.parquet").exists()]
    if missing:
        raise CatalogError(f"{archive_or_out}: no catalog ({', '.join(missing)} missing); run nwb-ketamine catalog")
    return {t: pd.read_parquet(folder / f"{t}.parquet") for t in TABLES}
