"""The catalog: Parquet tables of sessions, cells and units built from the archive's NWB files alone.

Design decisions:

- **The NWB files are the source of truth**; the tables are derived and can always be rebuilt. Each
  file is read with h5py by object path (the tables the converters write), not through pynwb's object
  mapper: building every container of a slice file costs about 1.4 s, reading the dozen datasets the
  catalog needs a few milliseconds, and over HTTP it is a few range requests instead of hundreds. The
  tests check the values against pynwb's readers (``read_epsc_analysis``, ``read_burst_metrics``).
- **Where**: ``ARCHIVE/.nwb-ketamine/catalog/`` (``sessions.parquet``, ``cells.parquet``,
  ``units.parquet``, ``state.json``, ``files.json``). ``dandi validate`` and ``dandi upload`` find their
  files with ``dandi.files.find_dandi_files``, which skips every file and folder whose name starts with
  a dot, so the catalog is neither validated nor uploaded. For a remote archive the tables go to a local
  folder given as ``out``.
- **Incremental**: ``state.json`` records each file's size and mtime (ETag / Last-Modified over HTTP)
  and its NWB ``identifier`` (a uuid4 per written file, i.e. a content fingerprint that costs nothing
  since the file is open anyway). A refresh rereads only files whose size or mtime changed or that are
  new, keeps the rows of the others and drops the rows of deleted files.
- **Parallel**: the per-file reads are mapped over a dask.distributed client when one is given (the one
  ``convert`` uses); otherwise a LocalCluster (``jobs`` or 2 worker processes, one thread each) is started
  only for at least :data:`LOCAL_CLUSTER_MIN_FILES` files to read. A read takes ~25 ms (88 files of
  the small study: 39 files/s in-process), a local cluster ~2 s to start and its workers ~1 s to import
  h5py and pandas, so below that the files are read in this process.
- **Over HTTP** (``build_catalog("https://…/archive/", out=…)``): files are listed from the convert
  manifest, the catalog's ``files.json`` or an HTML listing, and read with range requests
  (:mod:`nwb_ketamine.archive.remote`).
- A file that cannot be read is listed in the result with a one-line reason; the others are catalogued.
- **Files from elsewhere** (DANDI downloads, other tools' files copied into the archive) are catalogued
  by what they contain, never by their name or by what they lack. A file is *ours* (``origin``
  'nwb-ketamine') only when it carries the positive marker every converter writes
  (``nwb_ketamine.nwbfile.new_nwbfile``): the ``DrugStressMetadata`` object of the ndx-drug-stress
  namespace at ``/general/drug_stress``. Any other file is 'foreign': its drug and stress labels are
  'unknown' (not 'none', which would claim that no drug was given), our analysis tables are not looked
  for, and its keys are derived from its path in the archive (unique by construction) instead of from
  metadata it may lack or share with another file: ``FILE#/general/intracellular_ephys/ELECTRODE`` for a
  cell, ``FILE#/units/ROW`` for a unit. Its ``contents`` column counts the data objects it holds by
  neurodata type (e.g. 'acquisition: 9 TimeSeries'), so a file that is neither a cell nor a recording
  with units is still described in the sessions table.

Modality (``modality`` column, from the content)
    'icephys' when ``/general/intracellular_ephys`` holds an ``IntracellularElectrode`` (one cell row
    per electrode of a foreign file; our slice files hold one), else 'ecephys' when the file has a
    ``/units`` table or extracellular electrodes (one unit row per unit, or per unit × epoch of our burst
    metrics), else 'other' (sessions table only).

Group labels (every row of every table)
    ``subject``, ``session_id``, ``region`` (Allen CCF acronym), ``region_label`` (the lab's label),
    ``drug`` (agent of the in vivo treatment or vehicle; 'none'), ``dose`` (label, e.g. '10 mg/kg'; the
    volume for a vehicle), ``dose_value``, ``dose_unit``, ``stress`` (paradigm(s); 'none'),
    ``hours_since_injection``, ``time_group``, ``experimental_group``, ``file`` (path relative to the
    archive) and ``object_path`` (the object inside the file).

``hours_since_injection`` and ``time_group``
    Slice cells: hours from the in vivo injection to the start of the recording (the icephys
    experimental-conditions column, else ``-administration_time / 3600``). ``time_group`` is the time
    suffix of the study's experimental group when it has one ('stress-ketamine-1h' → '1h'); otherwise
    the hours snapped, on a log scale, to the nearest of :data:`TIME_GROUPS` ('pre-injection' before it,
    'none' without injection). In vivo unit × epoch rows: hours from the injection to the epoch start
    (negative for a baseline epoch) and ``time_group`` is the epoch name ('baseline', 'post-injection').

See :data:`SESSION_COLUMNS`, :data:`CELL_COLUMNS` and :data:`UNIT_COLUMNS` for the other columns.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nwb_ketamine import h5read
from nwb_ketamine.analysis.bursts import METRICS
from nwb_ketamine.archive.layout import STATE_DIR, state_dir
from nwb_ketamine.archive.remote import base_url, is_url, list_remote_nwb_files, open_remote, stat_remote
from nwb_ketamine.atomic import atomic_path, write_text
from nwb_ketamine.errors import NwbKetamineError
from nwb_ketamine.filelayout import (
    BURST_METRICS_PATH,
    BURST_PARAMETERS_PATH,
    CELL_DESCRIPTIONS,
    DRUG_STRESS_PATH,
    ELECTRODES_PATH,
    EPOCHS_PATH,
    EPSC_CELL_PATH,
    EPSC_PARAMETERS_PATH,
    UNITS_PATH,
    amount_of,
    the_injection,
)

CATALOG_FOLDER = "catalog"
TABLES = ("sessions", "cells", "units")
STATE_FILE = "state.json"
FILES_INDEX = "files.json"
#: 2: sessions gained origin, contents and namespaces; foreign files got path-derived keys.
#: 3: sessions gained n_raw_series; the lab's region label is read from the electrodes' lab_region column.
STATE_VERSION = 3
#: Fewest files to read for which a LocalCluster is started when no client is given.
LOCAL_CLUSTER_MIN_FILES = 200
#: Time groups a slice cell's hours since injection snap to when the group name carries none.
TIME_GROUPS = {"30min": 0.5, "1h": 1.0, "2h": 2.0, "4h": 4.0, "6h": 6.0, "12h": 12.0, "24h": 24.0, "48h": 48.0,
               "72h": 72.0, "7d": 168.0}  # fmt: skip

LABEL_COLUMNS = [
    "subject",
    "session_id",
    "region",
    "region_label",
    "drug",
    "dose",
    "dose_value",
    "dose_unit",
    "stress",
    "hours_since_injection",
    "time_group",
    "experimental_group",
    "file",
    "object_path",
]
SESSION_COLUMNS = LABEL_COLUMNS + [
    "modality",  # from the content: 'icephys' (intracellular electrodes), 'ecephys' (units, electrodes), 'other'
    "origin",  # 'nwb-ketamine' (carries our marker, see the module docstring) or 'foreign'
    "contents",  # foreign files: data objects per place and neurodata type; '' for ours (see _contents)
    "namespaces",  # cached namespaces and versions, e.g. 'core 2.5.0, ndx-testextension 0.1.0'
    "identifier",
    "session_start_time",  # ISO 8601
    "species",
    "sex",
    "injection_time_s",  # administration_time of the treatment (s from the session start)
    "bath_drugs",
    "epochs",  # epoch names, comma-separated
    "n_cells",
    "n_units",
    "n_good_units",
    "n_raw_series",  # raw ElectricalSeries in acquisition (one per recorded segment; 0: sorting-only or --no-raw)
    "file_size",
]
#: Cell-level EPSC results as stored (SI units).
EPSC_CELL_COLUMNS = list(CELL_DESCRIPTIONS)
#: Display-unit copies of the main measures (what the explorer plots).
CELL_DISPLAY_COLUMNS = {
    "ampa_amplitude_pa": ("ampa_peak_a", 1e12),
    "nmda_amplitude_pa": ("nmda_peak_a", 1e12),
    "nmda_value_at_latency_pa": ("nmda_value_at_latency_a", 1e12),
    "ampa_decay_tau_ms": ("ampa_decay_tau_s", 1e3),
    "nmda_decay_tau_ms": ("nmda_decay_tau_s", 1e3),
    "series_resistance_mohm": ("series_resistance_ohm", 1e-6),
    "input_resistance_mohm": ("input_resistance_ohm", 1e-6),
}
CELL_COLUMNS = (
    LABEL_COLUMNS
    + ["slice_id", "cell_id", "cell_key", "row", "bath_drugs", "has_analysis"]
    + EPSC_CELL_COLUMNS
    + list(CELL_DISPLAY_COLUMNS)
    + ["epsc_parameters"]  # JSON {parameter: value} of the analysis
)
#: Per unit and epoch, as the burst analysis stores them.
BURST_COLUMNS = list(METRICS)
UNIT_COLUMNS = (
    LABEL_COLUMNS
    + ["unit_row", "unit_id", "unit_name", "unit_key", "curation_label", "tetrode", "electrode_group"]
    + ["unit_n_spikes", "unit_firing_rate_hz", "isi_violations_fraction", "presence_ratio", "snr"]
    + ["epoch", "start_s", "stop_s"]
    + BURST_COLUMNS
    + ["metrics_path", "metrics_row", "burst_parameters"]  # burst_parameters: JSON {parameter: value}
)
COLUMNS = {"sessions": SESSION_COLUMNS, "cells": CELL_COLUMNS, "units": UNIT_COLUMNS}

#: The positive marker of a file written by this project: the object every converter writes, its
#: neurodata type and namespace (``nwb_ketamine.extension.NAMESPACE``; not imported, because that module
#: loads pynwb and the extension into every catalog worker, for one string).
OUR_MARKER_PATH = DRUG_STRESS_PATH[1:]
OUR_MARKER_TYPE = "DrugStressMetadata"
OUR_NAMESPACE = "ndx-drug-stress"
ORIGIN_OURS, ORIGIN_FOREIGN = "nwb-ketamine", "foreign"
#: Drug and stress labels of a foreign file: nothing in it says, so neither 'none' nor a guess.
UNKNOWN = "unknown"
#: Places whose children the ``contents`` column counts by neurodata type.
CONTENT_PLACES = ("acquisition", "stimulus/presentation", "stimulus/templates", "analysis", "intervals")

_TIME_SUFFIX = re.compile(r"-(\d+(?:\.\d+)?(?:min|h|d))$")
# Units-table columns that are not one value per unit, or that are read separately.
_UNIT_SKIP = {"spike_times", "electrodes", "electrode_group", "waveform_mean", "waveform_sd", "waveforms", "id"}


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


# ---------------------------------------------------------------------------------------------------
# Reading one file


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        return _text(value[()] if value.shape == () else value.ravel()[0]) if value.size else ""
    return "" if value is None else str(value)


def _scalar(group, name, default=""):
    """A scalar dataset or attribute of ``group`` as a Python value (strings decoded)."""
    if group is None:
        return default
    if name in group.attrs:
        value = group.attrs[name]
    elif name in group:
        value = group[name][()]
    else:
        return default
    if isinstance(value, bytes | str):
        return _text(value)
    if isinstance(value, np.ndarray) and value.dtype.kind in "OSU":
        return _text(value)
    return value.item() if isinstance(value, np.generic | np.ndarray) else value


def _float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _parameters(table) -> str:
    if table is None:
        return "{}"
    names, values = h5read.column(table, "parameter"), h5read.column(table, "value")
    return json.dumps({str(n): _float(v) for n, v in zip(names, values, strict=True)})


def time_group(hours: float, experimental_group: str = "") -> str:
    """The time group label of a slice cell (see the module docstring).

    >>> time_group(1.3, "stress-ketamine-1h")
    '1h'
    >>> time_group(20.0), time_group(-1.0), time_group(float("nan"))
    ('24h', 'pre-injection', 'none')
    """
    match = _TIME_SUFFIX.search(experimental_group or "")
    if match:
        return match.group(1)
    if hours is None or not math.isfinite(hours):
        return "none"
    if hours < 0:
        return "pre-injection"
    log_h = math.log(max(hours, 1e-3))
    return min(TIME_GROUPS, key=lambda label: abs(math.log(TIME_GROUPS[label]) - log_h))


def _drug_stress(f) -> dict:
    """Group labels from the drug_stress extension object (empty labels when absent)."""
    group = f.get(DRUG_STRESS_PATH[1:])
    labels = {
        "experimental_group": "",
        "drug": "none",
        "dose": "",
        "dose_value": math.nan,
        "dose_unit": "",
        "stress": "none",
        "injection_time_s": math.nan,
        "bath_drugs": "",
    }
    if group is None:
        return labels
    labels["experimental_group"] = _scalar(group, "experimental_group")
    administrations, paradigms = [], []
    for child in group.values():
        kind = _text(child.attrs.get("neurodata_type", ""))
        if kind == "DrugAdministration":
            administrations.append({k: _scalar(child, k, None) for k in child.attrs if k != "neurodata_type"})
        elif kind == "StressProtocol":
            paradigm = _scalar(child, "paradigm")
            if paradigm and paradigm != "none":
                paradigms.append(paradigm)
    labels["stress"] = "; ".join(sorted(set(paradigms))) or "none"
    adm = the_injection(administrations)
    if adm is not None:
        amount = amount_of(adm)
        if amount is not None:
            labels["dose_value"], labels["dose_unit"] = amount
            labels["dose"] = f"{amount[0]:g} {amount[1]}".strip()
        labels["drug"] = adm.get("agent") or "none"
        labels["injection_time_s"] = _float(adm.get("administration_time"))
    labels["bath_drugs"] = ", ".join(
        sorted({a.get("agent") or "" for a in administrations if a.get("route") == "bath"})
    )
    return labels


def _type_of(obj) -> str:
    return _text(obj.attrs.get("neurodata_type", ""))


def is_ours(f) -> bool:
    """Whether an open NWB file was written by this project: it carries our marker (module docstring).

    A positive test on purpose: a file lacking something we write (an analysis table, a name suffix)
    may just be incomplete, while only our converters write this object in this namespace.
    """
    marker = f.get(OUR_MARKER_PATH)
    return (
        marker is not None
        and _type_of(marker) == OUR_MARKER_TYPE
        and _text(marker.attrs.get("namespace", "")) == OUR_NAMESPACE
    )


def _icephys_electrodes(f) -> list:
    """The ``IntracellularElectrode`` groups of a file, in name order (every patch-clamp series links one)."""
    icephys = f.get("general/intracellular_ephys")
    if icephys is None:
        return []
    return [icephys[name] for name in sorted(icephys) if _type_of(icephys[name]) == "IntracellularElectrode"]


def _has_ecephys(f) -> bool:
    if "id" in f.get(UNITS_PATH[1:], {}):
        return True
    ecephys = f.get("general/extracellular_ephys")
    if ecephys is None:
        return False
    return "electrodes" in ecephys or any(_type_of(g) == "ElectrodeGroup" for g in ecephys.values())


def _type_counts(group) -> str:
    """'2 ImageSeries, 1 TimeSeriesWithID (ndx-x)': the typed children of a group, most frequent first.

    Types of a namespace other than NWB's own carry it, so a reader sees which extension is needed.
    """
    if group is None or not hasattr(group, "values"):
        return ""
    counts: dict[str, int] = {}
    for child in group.values():
        kind = _type_of(child)
        if not kind:
            continue
        namespace = _text(child.attrs.get("namespace", ""))
        label = kind if namespace in ("", "core", "hdmf-common", "hdmf-experimental") else f"{kind} ({namespace})"
        counts[label] = counts.get(label, 0) + 1
    return ", ".join(f"{n} {label}" for label, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _contents(f) -> str:
    """What a foreign file holds, place by place: 'acquisition: 9 TimeSeries; electrode groups: 4; units: 12'.

    Only the group listings and the children's type attributes are read (no data), so it stays cheap over
    HTTP. Our own files are described by their cell and unit rows instead, and skip this: a slice file
    has hundreds of sweep series, each one more object header to fetch.
    """
    parts = []
    for place in CONTENT_PLACES:
        counts = _type_counts(f.get(place))
        if counts:
            parts.append(f"{place}: {counts}")
    processing = f.get("processing")
    for name in sorted(processing) if processing is not None else []:
        parts.append(f"processing/{name}: {_type_counts(processing[name]) or 'empty'}")
    electrodes = _icephys_electrodes(f)
    if electrodes:
        parts.append(f"intracellular electrodes: {len(electrodes)}")
    ecephys = f.get("general/extracellular_ephys")
    groups = [g for g in ecephys.values() if _type_of(g) == "ElectrodeGroup"] if ecephys is not None else []
    if groups:
        parts.append(f"electrode groups: {len(groups)}")
    units = f.get(UNITS_PATH[1:])
    if units is not None and "id" in units:
        parts.append(f"units: {len(units['id'])}")
    return "; ".join(parts) or "no data objects"


def _namespaces(f) -> str:
    """The namespaces cached in the file and their versions ('core 2.5.0, ndx-testextension 0.1.0')."""
    specs = f.get("specifications")
    if specs is None:
        return ""
    return ", ".join(f"{name} {','.join(sorted(specs[name]))}" for name in sorted(specs))


def _session_row(f, relpath: str, ours: bool) -> dict:
    subject = f.get("general/subject")
    # From the content, never the file name: another tool may name a file *_icephys.nwb (DANDI's layout
    # does, from what the file holds) and a renamed file holds the same objects.
    modality = "icephys" if _icephys_electrodes(f) else "ecephys" if _has_ecephys(f) else "other"
    return {
        "subject": _scalar(subject, "subject_id"),
        "session_id": _scalar(f.get("general"), "session_id"),
        "file": relpath,
        "object_path": "/",
        "modality": modality,
        "origin": ORIGIN_OURS if ours else ORIGIN_FOREIGN,
        "contents": "" if ours else _contents(f),
        "namespaces": _namespaces(f),
        "identifier": _scalar(f, "identifier"),
        "session_start_time": _scalar(f, "session_start_time"),
        "species": _scalar(subject, "species"),
        "sex": _scalar(subject, "sex"),
        "epochs": "",
        "n_cells": 0,
        "n_units": 0,
        "n_good_units": 0,
        "n_raw_series": 0,
    }


def _cell_rows(f, labels: dict) -> list[dict]:
    icephys = f.get("general/intracellular_ephys")
    conditions = icephys.get("experimental_conditions") if icephys is not None else None
    electrode = next(
        (g for g in icephys.values() if _text(g.attrs.get("neurodata_type", "")) == "IntracellularElectrode"), None
    )
    region = _scalar(electrode, "location") if electrode is not None else ""
    row = dict(labels)
    row["region"], row["region_label"] = region, region
    if conditions is not None and "id" in conditions and len(conditions["id"]):
        for name in ("region", "region_label", "experimental_group", "drug", "dose", "stress"):
            if name in conditions:
                value = h5read.column(conditions, name)[0]
                if value != "" or name not in ("dose",):
                    row[name] = value
        if "hours_since_injection" in conditions:
            row["hours_since_injection"] = _float(h5read.column(conditions, "hours_since_injection")[0])
        if "bath_drugs" in conditions:
            bath = h5read.column(conditions, "bath_drugs")
            agents = {a.strip() for v in bath for a in str(v).split(",") if a.strip()}
            row["bath_drugs"] = ", ".join(sorted(agents))
    if not math.isfinite(_float(row.get("hours_since_injection"))) and math.isfinite(labels["injection_time_s"]):
        row["hours_since_injection"] = -labels["injection_time_s"] / 3600
    row["hours_since_injection"] = _float(row.get("hours_since_injection"))
    row["time_group"] = time_group(row["hours_since_injection"], row["experimental_group"])
    dandi = f.get("general/DandiIcephysMetadata")
    row["slice_id"] = _scalar(dandi, "slice_id") or _scalar(electrode, "slice")
    row["cell_id"] = _scalar(dandi, "cell_id") or _scalar(electrode, "cell_id")
    parts = [str(row[k]) for k in ("subject", "session_id", "slice_id", "cell_id")]
    # A file of ours missing one of these would share a '///'-like key with others: its path is unique.
    where = electrode.name if electrode is not None else "/general/intracellular_ephys"
    row["cell_key"] = "/".join(parts) if all(parts) else f"{labels['file']}#{where}"
    table = f.get(EPSC_CELL_PATH)
    row["has_analysis"] = table is not None
    row["row"] = 0
    row["object_path"] = EPSC_CELL_PATH if table is not None else "/general/intracellular_ephys"
    for name in EPSC_CELL_COLUMNS:
        if table is not None and name in table:
            value = h5read.column(table, name)[0]
            row[name] = value.item() if isinstance(value, np.generic) else value
        else:
            row[name] = "" if name == "qc_reasons" else (False if name == "accepted" else math.nan)
    for name, (source, factor) in CELL_DISPLAY_COLUMNS.items():
        row[name] = _float(row[source]) * factor
    row["epsc_parameters"] = _parameters(f.get(EPSC_PARAMETERS_PATH[1:]))
    return [row]


def _no_analysis(row: dict) -> None:
    """Fill the EPSC result columns of a cell row without our analysis tables."""
    for name in EPSC_CELL_COLUMNS:
        row[name] = "" if name == "qc_reasons" else (False if name == "accepted" else math.nan)
    for name in CELL_DISPLAY_COLUMNS:
        row[name] = math.nan
    row["has_analysis"] = False
    row["epsc_parameters"] = "{}"


def _foreign_cell_rows(f, labels: dict, relpath: str) -> list[dict]:
    """One row per intracellular electrode of a foreign file, keyed by file and electrode path.

    A foreign file has neither our experimental-conditions columns nor our analysis, so a row holds only
    what the electrode says (location, slice, cell id); ``hours_since_injection`` stays unknown.
    """
    rows = []
    for i, electrode in enumerate(_icephys_electrodes(f)):
        row = dict(labels)
        location = _scalar(electrode, "location")
        row.update(region=location, region_label=location, row=i, object_path=electrode.name)
        row.update(slice_id=str(_scalar(electrode, "slice")), cell_id=str(_scalar(electrode, "cell_id")))
        row["cell_key"] = f"{relpath}#{electrode.name}"
        row["time_group"] = time_group(math.nan)
        _no_analysis(row)
        rows.append(row)
    return rows


def _foreign_unit_columns(units, columns: dict, n: int) -> dict:
    """The Units columns of a foreign file that the catalog's units table has a column for, with its types.

    Another tool may give a column of ours another meaning or type (a text ``snr``, a float id), and one
    such value would make the whole Parquet column unwritable, so only the known columns are kept and
    coerced; the spike count comes from the ragged index when the file has no ``n_spikes`` column.
    """
    out = {}
    for name in ("unit_name", "curation_label", "brain_area"):
        if name in columns:
            out[name] = np.asarray([_text(v) for v in columns[name]], dtype=object)
    for name in ("tetrode", "n_spikes", "firing_rate_hz", "isi_violations_fraction", "presence_ratio", "snr"):
        if name in columns:
            out[name] = np.asarray([_float(v) for v in columns[name]], dtype=np.float64)
    if "n_spikes" not in out and "spike_times_index" in units and units["spike_times_index"].shape == (n,):
        ends = units["spike_times_index"][()].astype(np.int64)
        out["n_spikes"] = np.diff(np.concatenate([[0], ends]))
    return out


def _unit_rows(f, labels: dict, session: dict, ours: bool = True) -> list[dict]:
    units = f.get(UNITS_PATH[1:])
    if units is None or "id" not in units:
        return []
    ids = units["id"][()]
    n = len(ids)
    columns = {}
    for name, obj in units.items():
        if name in _UNIT_SKIP or name.endswith("_index") or not hasattr(obj, "shape") or obj.shape != (n,):
            continue
        if any(name + "_index" == other for other in units):
            continue
        columns[name] = h5read.column(units, name)
    if not ours:
        columns = _foreign_unit_columns(units, columns, n)
    groups = units["electrode_group"][()] if "electrode_group" in units else [None] * n
    lab_labels = _lab_labels(f)
    group_info = []
    for ref in groups:
        if ref is None or not ref:
            group_info.append(("", "", ""))
            continue
        group = f[ref]
        location = _scalar(group, "location")
        name = group.name.rsplit("/", 1)[-1]
        group_info.append((name, location, lab_labels.get(name, location)))
    # Burst metrics are our table: a foreign file's table at that path would mean something else.
    metrics = f.get(BURST_METRICS_PATH[1:]) if ours else None
    params = _parameters(f.get(BURST_PARAMETERS_PATH[1:])) if ours else "{}"
    if metrics is not None and len(metrics["id"]):
        m = {
            name: h5read.column(metrics, name)
            for name in ("unit", "epoch", "start_s", "stop_s", *BURST_COLUMNS)
            if name in metrics
        }
        pairs = [(int(m["unit"][i]), i) for i in range(len(m["unit"]))]
    else:
        m, pairs = {}, [(i, None) for i in range(n)]
    injection = labels["injection_time_s"]
    rows = []
    for unit, i in pairs:
        row = dict(labels)
        name, location, lab_label = group_info[unit]
        region = columns["brain_area"][unit] if "brain_area" in columns else location
        row.update(region=region, region_label=lab_label or region, object_path=UNITS_PATH)
        row.update(unit_row=unit, unit_id=int(ids[unit]), electrode_group=name)
        for column, values in columns.items():
            key = f"unit_{column}" if column in ("n_spikes", "firing_rate_hz") else column
            if key == "brain_area":
                continue
            value = values[unit]
            row[key] = value.item() if isinstance(value, np.generic) else value
        row["unit_name"] = str(row.get("unit_name", row["unit_id"]))
        if ours:
            row["unit_key"] = f"{session['subject']}/{session['session_id']}/{row['unit_name']}"
        else:  # the path is unique in the archive and the row in the file; subject, session and name may not be
            row["unit_key"] = f"{session['file']}#{UNITS_PATH}/{unit}"
        if i is None:
            row.update(epoch="", start_s=math.nan, stop_s=math.nan, metrics_path="", metrics_row=-1)
            row.update({k: math.nan for k in BURST_COLUMNS})
        else:
            row.update(epoch=str(m["epoch"][i]), metrics_path=BURST_METRICS_PATH, metrics_row=i)
            for key in ("start_s", "stop_s", *BURST_COLUMNS):
                value = m[key][i] if key in m else math.nan
                row[key] = value.item() if isinstance(value, np.generic) else value
        row["hours_since_injection"] = (_float(row["start_s"]) - injection) / 3600
        row["time_group"] = row["epoch"] or "recording"
        row["burst_parameters"] = params
        rows.append(row)
    return rows


def read_nwb_h5(f, relpath: str) -> dict[str, list[dict]]:
    """The catalog rows of one open NWB file (an ``h5py.File``).

    Parameters
    ----------
    f
        The file, open for reading.
    relpath
        Its path relative to the archive root (the ``file`` column).

    Returns
    -------
    dict
        Table name → list of row dicts (see :data:`COLUMNS`).
    """
    ours = is_ours(f)
    session = _session_row(f, relpath, ours)
    labels = _drug_stress(f)
    if not ours:
        labels.update(drug=UNKNOWN, stress=UNKNOWN)
    labels.update(subject=session["subject"], session_id=session["session_id"], file=relpath)
    labels.update(hours_since_injection=math.nan, time_group="none", region="", region_label="")
    if session["modality"] != "icephys":
        cells = []
    else:
        cells = _cell_rows(f, labels) if ours else _foreign_cell_rows(f, labels, relpath)
    units = _unit_rows(f, labels, session, ours)
    session.update({k: v for k, v in labels.items() if k not in session})
    if cells and not ours:  # one row per electrode: the session lists every region
        for key in ("region", "region_label"):
            session[key] = ",".join(sorted({c[key] for c in cells if c[key]}))
    elif cells:
        for key in ("region", "region_label", "hours_since_injection", "time_group", "drug", "dose", "stress"):
            session[key] = cells[0][key]
        session["bath_drugs"] = cells[0]["bath_drugs"]
    elif "general/extracellular_ephys" in f:
        groups = [
            g
            for g in f["general/extracellular_ephys"].values()
            if _text(g.attrs.get("neurodata_type", "")) == "ElectrodeGroup"
        ]
        session["region"] = ",".join(sorted({_scalar(g, "location") for g in groups}))
        lab_labels = _lab_labels(f)
        labels_ = {lab_labels.get(g.name.rsplit("/", 1)[-1], _scalar(g, "location")) for g in groups}
        session["region_label"] = ",".join(sorted(labels_))
        types = [_text(g.attrs.get("neurodata_type", "")) for g in (f.get("acquisition") or {}).values()]
        session["n_raw_series"] = types.count("ElectricalSeries")
    epochs = f.get(EPOCHS_PATH[1:])
    if epochs is not None and "tags" in epochs and "tags_index" in epochs:
        session["epochs"] = ", ".join(dict.fromkeys(h5read.column(epochs, "tags")[_epoch_first_tags(epochs)]))
    session["n_cells"] = len(cells)
    session["n_units"] = len(f[UNITS_PATH[1:]]["id"]) if UNITS_PATH[1:] in f else 0
    session["n_good_units"] = len({r["unit_row"] for r in units if r.get("curation_label") == "good"})
    return {"sessions": [session], "cells": cells, "units": units}


def _lab_labels(f) -> dict[str, str]:
    """Electrode group name → the lab's region label (the electrodes table's ``lab_region`` column); {} without it."""
    table = f.get(ELECTRODES_PATH[1:])
    if table is None or "lab_region" not in table or "group_name" not in table:
        return {}
    names, labels = h5read.column(table, "group_name"), h5read.column(table, "lab_region")
    return {str(h5read.decode(g)): str(h5read.decode(label)) for g, label in zip(names, labels, strict=True)}


def _epoch_first_tags(epochs) -> np.ndarray:
    """Index of each epoch's first tag (its name) in the ragged tags column."""
    ends = epochs["tags_index"][()].astype(np.int64)
    return np.concatenate([[0], ends[:-1]])[np.diff(np.concatenate([[0], ends])) > 0]


def read_nwb_file(source, relpath: str) -> dict[str, list[dict]]:
    """The catalog rows of one NWB file: a local path, a URL or a seekable binary file object."""
    import h5py

    if is_url(source):
        with open_remote(source) as fileobj, h5py.File(fileobj, "r") as f:
            return read_nwb_h5(f, relpath)
    with h5py.File(source, "r") as f:
        return read_nwb_h5(f, relpath)


def _read_task(root: str, relpath: str, reader: Callable | None = None) -> tuple[str, dict | None, str]:
    """Read one file; never raises, so one bad file cannot stop the build. Runs on Dask workers."""
    source = base_url(root) + relpath if is_url(root) else os.path.join(root, relpath)
    try:
        rows = (reader or read_nwb_file)(source, relpath)
        return relpath, rows, ""
    except Exception as error:  # any unreadable file is reported, not raised
        message = str(error).splitlines()[0] if str(error) else ""
        return relpath, None, f"{type(error).__name__}: {message}".rstrip(": ")


# ---------------------------------------------------------------------------------------------------
# Listing, state and tables


def catalog_dir(archive) -> Path:
    """Folder of the catalog of a local archive: ``ARCHIVE/.nwb-ketamine/catalog``."""
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
    from nwb_ketamine.archive.remote import http_filesystem

    fs = http_filesystem()
    index = (f"{STATE_DIR}/manifest.json", f"{STATE_DIR}/{CATALOG_FOLDER}/{FILES_INDEX}")
    paths = list_remote_nwb_files(url, index_paths=index, fs=fs)
    root = base_url(url)
    return {p: stat_remote(root + p, fs) for p in paths}


def _read_state(out: Path) -> dict:
    try:
        state = json.loads((out / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    if state.get("version") != STATE_VERSION or not all((out / f"{t}.parquet").exists() for t in TABLES):
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

            own_cluster = LocalCluster(n_workers=jobs or 2, threads_per_worker=1, processes=True)
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
    out = Path(out) if out is not None else catalog_dir(archive)
    out.mkdir(parents=True, exist_ok=True)

    state = {} if full else _read_state(out)
    known = state.get("files", {}) if state.get("archive") == root else {}
    failed_before = set(state.get("failed", {})) if state.get("archive") == root else set()

    def unchanged(relpath: str) -> bool:
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
            old = pd.read_parquet(out / f"{name}.parquet")
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
        target = out / f"{name}.parquet"
        _write_table(frame, target)
        result.tables[name] = target
        result.counts[name] = len(frame)

    write_text(out / FILES_INDEX, json.dumps({"files": sorted(new_state)}, indent=1))
    write_text(
        out / STATE_FILE,
        json.dumps({"version": STATE_VERSION, "archive": root, "files": new_state, "failed": result.failed}, indent=1),
    )
    result.seconds = time.perf_counter() - start
    return result


def load_catalog(archive_or_out) -> dict:
    """The catalog tables as pandas DataFrames: ``{"sessions": …, "cells": …, "units": …}``.

    ``archive_or_out`` is an archive folder (its ``.nwb-ketamine/catalog``) or the folder of the tables.
    """
    import pandas as pd

    folder = Path(archive_or_out)
    if not (folder / "sessions.parquet").exists():
        folder = catalog_dir(folder)
    missing = [t for t in TABLES if not (folder / f"{t}.parquet").exists()]
    if missing:
        raise CatalogError(f"{archive_or_out}: no catalog ({', '.join(missing)} missing); run nwb-ketamine catalog")
    return {t: pd.read_parquet(folder / f"{t}.parquet") for t in TABLES}
