"""The explorer's data store: the archive's catalog tables, and the only way from a key to a file.

Design decision: the explorer never turns text from a URL or a widget into a path. Every reference to a
cell, a unit or a file is a *key* looked up in the catalog (``cell_key``, ``unit_key``, the ``file``
column); :meth:`ArchiveStore.path_of` returns ``archive / file`` only for a file the catalog lists, so a
traversal attempt (``../../etc/passwd``, ``/etc/passwd``, ``..%2F``) is simply an unknown key. The store
is read-only and loaded once per server; the views (one set per browser session) share it.

An archive at an http(s) URL gets its catalog from :mod:`~nwb_ketamine.explorer.remotestore` (the
archive's own, or one built over HTTP, kept in a local cache folder); :meth:`ArchiveStore.path_of` then
returns a :class:`~nwb_ketamine.archive.remote.RemoteFile` (the file's URL, size and version) that the
readers open with range requests, refusing the same keys.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

from nwb_ketamine.archive.layout import state_dir
from nwb_ketamine.archive.remote import RemoteFile, is_url
from nwb_ketamine.errors import NwbKetamineError
from nwb_ketamine.filelayout import EPSC_CELL_PATH, UNITS_PATH

#: Where the explorer looks for a validation report (``nwb-ketamine validate ARCHIVE --json`` this path).
VALIDATION_REPORT = "validation.json"


class StoreError(NwbKetamineError):
    """A key that the catalog does not list, or an archive without a catalog."""


def _short(key) -> str:
    text = str(key)
    return text if len(text) <= 80 else text[:77] + "..."


class ArchiveStore:
    """The catalog tables of one archive, with key lookups.

    Parameters
    ----------
    archive : str or Path
        The archive folder (its catalog is in ``ARCHIVE/.nwb-ketamine/catalog``), or its http(s) URL.
    validation_report : str or Path, optional
        A JSON report written by ``nwb-ketamine validate --json``; by default
        ``ARCHIVE/.nwb-ketamine/validation.json`` when it exists (fetched for a URL).
    cache : str or Path, optional
        For a URL: the cache root of its catalog (default
        :func:`~nwb_ketamine.explorer.remotestore.cache_root`).

    Attributes
    ----------
    archive : Path
        The archive folder; for a URL, the local folder of its catalog.
    url : str or None
        The archive's URL (None for a local archive).
    catalog : Path or None
        The folder of the catalog tables read.
    sessions, cells, units : pandas.DataFrame
        The catalog tables (see :mod:`nwb_ketamine.archive.catalog_columns`).
    validation : dict or None
        The validation report, if one was found.
    """

    def __init__(
        self, archive: str | Path, validation_report: str | Path | None = None, cache: str | Path | None = None
    ):
        from nwb_ketamine.archive.catalog import CatalogError, catalog_dir, load_catalog

        self.url: str | None = None
        self._remote_files: dict = {}
        served_validation = None
        if is_url(str(archive)):
            from nwb_ketamine.explorer.remotestore import remote_catalog

            remote = remote_catalog(str(archive), cache)
            self.url, self._remote_files, served_validation = remote.url, remote.files, remote.validation
            self.archive = self.catalog = remote.folder
        else:
            self.archive = Path(archive).resolve()
            self.catalog = catalog_dir(self.archive)
        try:
            tables = load_catalog(self.catalog)
        except CatalogError:
            raise StoreError(f"{archive}: no catalog; run nwb-ketamine catalog ARCHIVE") from None
        self.sessions = tables["sessions"]
        self.cells = tables["cells"]
        self.units = tables["units"]
        self._cells_by_key = self.cells.set_index("cell_key", drop=False)
        self._sessions_by_file = self.sessions.set_index("file", drop=False)
        self._files = set(self.sessions["file"]) | set(self.cells["file"]) | set(self.units["file"])
        if self.url is not None and validation_report is None:
            self.validation = served_validation
        else:
            self.validation = self._read_validation(validation_report)

    @classmethod
    def from_tables(cls, archive: str | Path, sessions, cells, units, validation: dict | None = None) -> ArchiveStore:
        """A store on tables in memory (tests, benchmarks); ``archive`` is only used to resolve files.

        Parameters
        ----------
        archive : str or Path
            The folder the tables' ``file`` keys are relative to.
        sessions, cells, units : pandas.DataFrame
            The catalog tables.
        validation : dict, optional
            A validation report.

        Returns
        -------
        ArchiveStore
        """
        store = cls.__new__(cls)
        store.archive = Path(archive).resolve()
        store.url, store.catalog, store._remote_files = None, None, {}
        store.sessions, store.cells, store.units = sessions, cells, units
        store._cells_by_key = cells.set_index("cell_key", drop=False)
        store._sessions_by_file = sessions.set_index("file", drop=False)
        store._files = set(sessions["file"]) | set(cells["file"]) | set(units["file"])
        store.validation = validation
        return store

    def _read_validation(self, report) -> dict | None:
        path = Path(report) if report else state_dir(self.archive) / VALIDATION_REPORT
        if not path.is_file():
            if report:
                raise StoreError(f"{report}: no such validation report; write one with nwb-ketamine validate --json")
            return None
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise StoreError(f"{path}: not a validation report ({exc})") from None

    def cell(self, cell_key: str):
        """The catalog row (a pandas Series) of the cell ``cell_key``; :class:`StoreError` for an unknown key.

        Parameters
        ----------
        cell_key : str
            A ``cell_key`` of the cells table.
        """
        try:
            row = self._cells_by_key.loc[cell_key]
        except (KeyError, TypeError):
            raise StoreError(f"no cell {_short(cell_key)!r} in the catalog") from None
        return row.iloc[0] if row.ndim == 2 else row

    def unit(self, unit_key: str):
        """The catalog rows of a unit, one per epoch (a pandas DataFrame); :class:`StoreError` if it has none.

        Parameters
        ----------
        unit_key : str
            A ``unit_key`` of the units table.
        """
        rows = self.units[self.units["unit_key"] == unit_key]
        if rows.empty:
            raise StoreError(f"no unit {_short(unit_key)!r} in the catalog")
        return rows

    def session(self, file_key: str):
        """The catalog row (a pandas Series) of the session in file ``file_key``; :class:`StoreError` if unlisted.

        Parameters
        ----------
        file_key : str
            A ``file`` of the sessions table.
        """
        try:
            return self._sessions_by_file.loc[file_key]
        except (KeyError, TypeError):
            raise StoreError(f"no file {_short(file_key)!r} in the catalog") from None

    @property
    def label(self) -> str:
        """The archive as the page names it: its URL, or its folder's name.

        Returns
        -------
        str
        """
        return self.url if self.url is not None else self.archive.name

    def path_of(self, file_key: str) -> Path | RemoteFile:
        """``archive / file`` for a file the catalog lists; any other text is refused, never resolved.

        Parameters
        ----------
        file_key : str
            A ``file`` of any catalog table. :class:`StoreError` when no table lists it, or when its path
            leads outside the archive.

        Returns
        -------
        Path or RemoteFile
            The file; for an archive at a URL, its URL with the size and version the catalog read.
        """
        if not isinstance(file_key, str) or file_key not in self._files:
            raise StoreError(f"no file {_short(file_key)!r} in the catalog")
        if self.url is not None:
            parts = file_key.split("/")
            if file_key.startswith("/") or "\\" in file_key or any(p in ("", ".", "..") for p in parts):
                raise StoreError(f"file {_short(file_key)!r} is outside the archive")
            entry = self._remote_files.get(file_key) or {}
            size = entry.get("size") if isinstance(entry.get("size"), int) else None
            return RemoteFile(self.url + quote(file_key), size=size, version=json.dumps(entry, sort_keys=True))
        path = (self.archive / file_key).resolve()
        if not path.is_relative_to(self.archive):  # a catalog row itself pointing outside: refuse too
            raise StoreError(f"file {_short(file_key)!r} is outside the archive")
        return path

    def validation_status(self):
        """Per file of the catalog: number of findings per severity and an overall status.

        Returns
        -------
        pandas.DataFrame
            Columns ``file``, ``status`` ('not validated' without a report, else 'ok', 'warnings' or
            'errors'), and one count column per severity found.
        """
        import pandas as pd

        files = sorted(self.sessions["file"].unique())
        if not self.validation:
            return pd.DataFrame({"file": files, "status": "not validated"})
        findings = pd.DataFrame(self.validation.get("findings", []))
        out = pd.DataFrame({"file": files})
        if findings.empty:
            out["status"] = "ok"
            return out
        counts = findings.groupby(["file", "severity"]).size().unstack(fill_value=0)
        out = out.join(counts, on="file").fillna(0)
        severities = [c for c in counts.columns]
        for column in severities:
            out[column] = out[column].astype(int)
        errors = [c for c in severities if c in ("CRITICAL", "ERROR")]
        warnings = [c for c in severities if c not in errors]
        has_errors = out[errors].sum(axis=1) > 0 if errors else pd.Series(False, index=out.index)
        has_warnings = out[warnings].sum(axis=1) > 0 if warnings else pd.Series(False, index=out.index)
        validated = set(self.validation.get("files", files))
        out["status"] = "ok"
        out.loc[has_warnings, "status"] = "warnings"
        out.loc[has_errors, "status"] = "errors"
        out.loc[~out["file"].isin(validated), "status"] = "not validated"
        return out[["file", "status", *severities]]


def synthetic_store(n_rows: int = 200, n_sessions: int = 20, seed: int = 0, archive: str | Path = ".") -> ArchiveStore:
    """A store on a synthetic catalog (for tests and benchmarks; no files behind it).

    ``n_rows`` cells and ``n_rows`` unit × epoch rows over ``n_sessions`` sessions (one animal each), in
    two regions (LH, CA1) × two drugs (saline, ketamine) × two stress levels × two time groups. Ketamine
    lowers NMDAR-EPSCs and bursting in LH only. A unit's two epochs (baseline, post-injection) are
    consecutive rows of one session.

    Parameters
    ----------
    n_rows : int
        Cells, and unit × epoch rows.
    n_sessions : int
        Sessions (one animal each).
    seed : int
        Of the random values.
    archive : str or Path
        The folder the store resolves files against.

    Returns
    -------
    ArchiveStore
    """
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    sessions = pd.DataFrame(
        {
            "subject": [f"m{i:04d}" for i in range(n_sessions)],
            "session_id": [f"2024{i:04d}" for i in range(n_sessions)],
            "region": np.where(np.arange(n_sessions) % 2 == 0, "LH", "CA1"),
            "drug": np.where((np.arange(n_sessions) // 2) % 2 == 0, "saline", "ketamine"),
            "stress": np.where((np.arange(n_sessions) // 4) % 2 == 0, "none", "chronic restraint"),
            "time_group": np.where((np.arange(n_sessions) // 8) % 2 == 0, "1h", "24h"),
        }
    )
    sessions["region_label"] = sessions["region"].replace({"LH": "LHb"})
    sessions["dose"] = np.where(sessions["drug"] == "saline", "10 mL/kg", "10 mg/kg")
    sessions["drug_role"] = np.where(sessions["drug"] == "saline", "vehicle control", "treatment")
    sessions["hours_since_injection"] = sessions["time_group"].map({"1h": 1.0, "24h": 24.0})
    sessions["experimental_group"] = sessions["stress"] + "-" + sessions["drug"]
    pairs = zip(sessions.subject, sessions.session_id, strict=True)
    sessions["file"] = [f"sub-{s}/sub-{s}_ses-{d}.nwb" for s, d in pairs]
    sessions["object_path"] = "/"
    sessions["modality"] = "icephys"
    sessions["n_cells"] = 0
    sessions["n_units"] = 0

    def _rows(kind: str) -> pd.DataFrame:
        pick = rng.integers(0, n_sessions, n_rows)
        if kind == "units":  # a unit's two epochs come from its one session
            pick = np.repeat(pick[: (n_rows + 1) // 2], 2)[:n_rows]
        out = sessions.iloc[pick].reset_index(drop=True).drop(columns=["modality", "n_cells", "n_units"])
        block = ((out["region"] == "LH") & (out["drug"] == "ketamine")).to_numpy()
        if kind == "cells":
            pairs = zip(out.subject, out.session_id, strict=True)
            out["cell_key"] = [f"{s}/{d}/s1/c{i}" for i, (s, d) in enumerate(pairs)]
            out["nmda_amplitude_pa"] = rng.lognormal(np.log(150), 0.3, n_rows) * np.where(block, 0.6, 1.0)
            out["ampa_amplitude_pa"] = -rng.lognormal(np.log(200), 0.3, n_rows)
            out["nmda_ampa_ratio"] = out["nmda_amplitude_pa"] / -out["ampa_amplitude_pa"]
            out["nmda_decay_tau_ms"] = rng.normal(100, 20, n_rows)
            # Their own generator, so that the values above (and the units after them) stay as they were.
            more = np.random.default_rng(seed + 1)
            out["nmda_value_at_latency_pa"] = out["nmda_amplitude_pa"] * more.uniform(0.6, 0.8, n_rows)
            out["nmda_ampa_ratio_latency"] = out["nmda_value_at_latency_pa"] / -out["ampa_amplitude_pa"]
            out["nmda_decay_tau_weighted_ms"] = out["nmda_decay_tau_ms"] * more.uniform(0.8, 1.0, n_rows)
            out["ampa_decay_tau_ms"] = more.normal(5, 1, n_rows)
            out["series_resistance_mohm"] = more.uniform(8, 25, n_rows)
            out["input_resistance_mohm"] = more.lognormal(np.log(300), 0.3, n_rows)
            out["ampa_holding_current_pa"] = more.normal(-40, 15, n_rows)
            out["nmda_holding_current_pa"] = more.normal(120, 40, n_rows)
            out["accepted"] = rng.random(n_rows) > 0.05
            out["object_path"] = EPSC_CELL_PATH
        else:
            out["unit_row"] = np.arange(n_rows) // 2
            triples = zip(out.subject, out.session_id, out.unit_row, strict=True)
            out["unit_key"] = [f"{s}/{d}/{r}" for s, d, r in triples]
            out["epoch"] = np.where(np.arange(n_rows) % 2 == 0, "baseline", "post-injection")
            out["time_group"] = out["epoch"]
            out["curation_label"] = np.where(rng.random(n_rows) > 0.1, "good", "mua")
            out["firing_rate_hz"] = rng.gamma(2.0, 5.0, n_rows)
            out["percent_spikes_in_bursts"] = np.clip(rng.normal(30, 10, n_rows) * np.where(block, 0.3, 1.0), 0, 100)
            out["burst_rate_hz"] = rng.gamma(2.0, 0.5, n_rows)
            out["mean_spikes_per_burst"] = 2 + rng.gamma(1.0, 1.0, n_rows)
            out["mean_intraburst_frequency_hz"] = rng.normal(150, 30, n_rows)
            out["tonic_rate_hz"] = out["firing_rate_hz"] * (1 - out["percent_spikes_in_bursts"] / 100)
            out["object_path"] = UNITS_PATH
        return out

    return ArchiveStore.from_tables(archive, sessions, _rows("cells"), _rows("units"))
