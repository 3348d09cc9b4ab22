"""Reading one NWB file into catalog rows: its session row, its cell rows and its unit rows.

Design decision: **the NWB files are the source of truth**; the tables are derived and can always be
rebuilt. Each file is read with h5py by object path (the tables the converters write), not through
pynwb's object mapper: building every container of a slice file costs about 1.4 s, reading the dozen
datasets the catalog needs a few milliseconds, and over HTTP it is a few range requests instead of
hundreds. The tests check the values against pynwb's readers (``read_epsc_analysis``,
``read_burst_metrics``). Our files and foreign ones are told apart by their content
(:mod:`nwb_ketamine.archive.catalog_foreign`); the columns are those of
:mod:`nwb_ketamine.archive.catalog_columns`.
"""

from __future__ import annotations

import json
import math

import numpy as np

from nwb_ketamine import h5read, methods
from nwb_ketamine.analysis.provenance import parameters_json
from nwb_ketamine.archive.catalog_columns import (
    BURST_COLUMNS,
    CELL_DISPLAY_COLUMNS,
    EPSC_CELL_COLUMNS,
    UNIT_IMPLANT_COLUMNS,
    as_float,
    time_group,
)
from nwb_ketamine.archive.catalog_foreign import (
    ORIGIN_FOREIGN,
    ORIGIN_OURS,
    UNKNOWN,
    cell_methods,
    contents,
    foreign_cell_rows,
    foreign_unit_columns,
    has_ecephys,
    icephys_electrodes,
    is_ours,
    namespaces,
)
from nwb_ketamine.archive.remote import is_url, open_remote
from nwb_ketamine.filelayout import (
    ANALYSIS_PARAMETERS_PATHS,
    BURST_METRICS_PATH,
    BURST_PARAMETERS_PATH,
    DRUG_STRESS_PATH,
    ELECTRODES_PATH,
    EPOCHS_PATH,
    EPSC_CELL_PATH,
    EPSC_PARAMETERS_PATH,
    HOURS_SINCE_INJECTION_COLUMN,
    PROVENANCE_PATHS,
    TIME_POINT_COLUMN,
    UNITS_PATH,
    amount_of,
    the_injection,
)

# Units-table columns that are not one value per unit, or that are read separately.
_UNIT_SKIP = {"spike_times", "electrodes", "electrode_group", "waveform_mean", "waveform_sd", "waveforms", "id"}


def _parameters(table) -> str:
    if table is None:
        return "{}"
    names, values = h5read.column(table, "parameter"), h5read.column(table, "value")
    return json.dumps({str(n): as_float(v) for n, v in zip(names, values, strict=True)})


def _provenance(f, ours: bool) -> dict:
    """``nwb_ketamine_version`` and ``analysis_parameters`` of a file (both '' for a foreign file).

    The version comes from the ``analysis_provenance`` tables (several distinct versions comma-separated),
    the parameters from the parameter tables of :data:`~nwb_ketamine.filelayout.ANALYSIS_PARAMETERS_PATHS`.
    """
    if not ours:
        return {"nwb_ketamine_version": "", "analysis_parameters": ""}
    versions: dict[str, None] = {}
    for path in PROVENANCE_PATHS:
        table = f.get(path[1:])
        if table is not None and "tool_version" in table:
            versions.update(dict.fromkeys(h5read.text(v) for v in h5read.column(table, "tool_version")))
    parameters = {}
    for analysis, path in ANALYSIS_PARAMETERS_PATHS.items():
        table = f.get(path[1:])
        if table is not None:
            parameters[analysis] = json.loads(_parameters(table))
    return {"nwb_ketamine_version": ", ".join(versions), "analysis_parameters": parameters_json(parameters)}


def _drug_stress(f) -> dict:
    """Group labels from the drug_stress extension object (empty labels when absent)."""
    group = f.get(DRUG_STRESS_PATH[1:])
    labels = {
        "experimental_group": "",
        "drug": "none",
        "drug_role": "none",
        "dose": "",
        "dose_value": math.nan,
        "dose_unit": "",
        "stress": "none",
        "injection_time_s": math.nan,
        "bath_drugs": "",
    }
    if group is None:
        return labels
    labels["experimental_group"] = h5read.scalar(group, "experimental_group")
    administrations, paradigms = [], []
    for child in group.values():
        kind = h5read.type_of(child)
        if kind == "DrugAdministration":
            administrations.append({k: h5read.scalar(child, k, None) for k in child.attrs if k != "neurodata_type"})
        elif kind == "StressProtocol":
            paradigm = h5read.scalar(child, "paradigm")
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
        labels["drug_role"] = adm.get("role") or "none"
        labels["injection_time_s"] = as_float(adm.get("administration_time"))
    labels["bath_drugs"] = ", ".join(
        sorted({a.get("agent") or "" for a in administrations if a.get("route") == "bath"})
    )
    return labels


def _implant(group) -> dict:
    """The implant columns of an electrode group of ours (:data:`UNIT_IMPLANT_COLUMNS`)."""
    row = dict(UNIT_IMPLANT_COLUMNS)
    position = group.get("position") if group is not None else None
    if position is not None and position.dtype.names and all(k in position.dtype.names for k in "xyz"):
        value = position[()]
        value = value[0] if value.shape else value  # a scalar compound, or an array of one
        for key, name in zip("xyz", ("implant_ap_mm", "implant_ml_mm", "implant_dv_mm"), strict=True):
            row[name] = float(f"{float(value[key]):.7g}")  # float32 in the file: its 7 digits, as written
    row["implant_atlas"] = methods.labelled(h5read.scalar(group, "description")).get(methods.ATLAS, "")
    return row


def _session_row(f, relpath: str, ours: bool) -> dict:
    subject = f.get("general/subject")
    # From the content, never the file name: another tool may name a file *_icephys.nwb (DANDI's layout
    # does, from what the file holds) and a renamed file holds the same objects.
    modality = "icephys" if icephys_electrodes(f) else "ecephys" if has_ecephys(f) else "other"
    return {
        "subject": h5read.scalar(subject, "subject_id"),
        "session_id": h5read.scalar(f.get("general"), "session_id"),
        "file": relpath,
        "object_path": "/",
        "modality": modality,
        "origin": ORIGIN_OURS if ours else ORIGIN_FOREIGN,
        "contents": "" if ours else contents(f),
        "namespaces": namespaces(f),
        "identifier": h5read.scalar(f, "identifier"),
        "session_start_time": h5read.scalar(f, "session_start_time"),
        "species": h5read.scalar(subject, "species"),
        "sex": h5read.scalar(subject, "sex"),
        "epochs": "",
        "n_cells": 0,
        "n_units": 0,
        "n_good_units": 0,
        "n_raw_series": 0,
    }


def _cell_rows(f, labels: dict) -> list[dict]:
    icephys = f.get("general/intracellular_ephys")
    conditions = icephys.get("experimental_conditions") if icephys is not None else None
    electrode = next((g for g in icephys.values() if h5read.type_of(g) == "IntracellularElectrode"), None)
    region = h5read.scalar(electrode, "location") if electrode is not None else ""
    row = dict(labels)
    row["region"], row["region_label"] = region, region
    stored_point = ""  # the condition's time point, when the converter stored one
    if conditions is not None and "id" in conditions and len(conditions["id"]):
        for name in ("region", "region_label", "experimental_group", "drug", "dose", "stress"):
            if name in conditions:
                value = h5read.column(conditions, name)[0]
                if value != "" or name not in ("dose",):
                    row[name] = value
        if HOURS_SINCE_INJECTION_COLUMN in conditions:
            row["hours_since_injection"] = as_float(h5read.column(conditions, HOURS_SINCE_INJECTION_COLUMN)[0])
        if TIME_POINT_COLUMN in conditions:
            stored_point = h5read.text(h5read.column(conditions, TIME_POINT_COLUMN)[0])
        if "bath_drugs" in conditions:
            bath = h5read.column(conditions, "bath_drugs")
            agents = {a.strip() for v in bath for a in str(v).split(",") if a.strip()}
            row["bath_drugs"] = ", ".join(sorted(agents))
    if not math.isfinite(as_float(row.get("hours_since_injection"))) and math.isfinite(labels["injection_time_s"]):
        row["hours_since_injection"] = -labels["injection_time_s"] / 3600
    row["hours_since_injection"] = as_float(row.get("hours_since_injection"))
    row["time_group"] = stored_point or time_group(row["hours_since_injection"])
    dandi = f.get("general/DandiIcephysMetadata")
    row["slice_id"] = h5read.scalar(dandi, "slice_id") or h5read.scalar(electrode, "slice")
    row["cell_id"] = h5read.scalar(dandi, "cell_id") or h5read.scalar(electrode, "cell_id")
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
        row[name] = as_float(row[source]) * factor
    row["epsc_parameters"] = _parameters(f.get(EPSC_PARAMETERS_PATH[1:]))
    row.update(cell_methods(f, electrode))
    return [row]


def _unit_rows(f, labels: dict, session: dict, ours: bool, lab_labels: dict[str, str]) -> list[dict]:
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
        columns = foreign_unit_columns(units, columns, n)
    groups = units["electrode_group"][()] if "electrode_group" in units else [None] * n
    group_info = []
    implants = []
    for ref in groups:
        if ref is None or not ref:
            group_info.append(("", "", ""))
            implants.append(dict(UNIT_IMPLANT_COLUMNS))
            continue
        group = f[ref]
        location = h5read.scalar(group, "location")
        name = group.name.rsplit("/", 1)[-1]
        group_info.append((name, location, lab_labels.get(name, location)))
        implants.append(_implant(group) if ours else dict(UNIT_IMPLANT_COLUMNS))
    # Burst metrics are our table: a foreign file's table at that path would mean something else.
    metrics = f.get(BURST_METRICS_PATH[1:]) if ours else None
    params = _parameters(f.get(BURST_PARAMETERS_PATH[1:])) if ours else "{}"
    if metrics is not None and len(metrics["id"]):
        m = {
            name: h5read.column(metrics, name)
            for name in ("unit", "epoch", "start_s", "stop_s", *BURST_COLUMNS)
            if name in metrics
        }
        pairs: list[tuple[int, int | None]] = [(int(m["unit"][i]), i) for i in range(len(m["unit"]))]
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
        row["hours_since_injection"] = (as_float(row["start_s"]) - injection) / 3600
        row["time_group"] = row["epoch"] or "recording"
        row["burst_parameters"] = params
        row.update(implants[unit])
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
        Table name → list of row dicts (see :data:`~nwb_ketamine.archive.catalog_columns.COLUMNS`).
    """
    ours = is_ours(f)
    session = _session_row(f, relpath, ours)
    labels = _drug_stress(f)
    if not ours:
        labels.update(drug=UNKNOWN, stress=UNKNOWN, drug_role="")
    labels.update(subject=session["subject"], session_id=session["session_id"], file=relpath)
    labels.update(hours_since_injection=math.nan, time_group="none", region="", region_label="")
    labels.update(_provenance(f, ours))  # every row of the file carries them
    if session["modality"] != "icephys":
        cells = []
    else:
        cells = _cell_rows(f, labels) if ours else foreign_cell_rows(f, labels, relpath)
    lab_labels = _lab_labels(f)  # read once: the unit rows and the session's region labels use it
    units = _unit_rows(f, labels, session, ours, lab_labels)
    session.update({k: v for k, v in labels.items() if k not in session})
    if cells and not ours:  # one row per electrode: the session lists every region
        for key in ("region", "region_label"):
            session[key] = ",".join(sorted({c[key] for c in cells if c[key]}))
    elif cells:
        for key in ("region", "region_label", "hours_since_injection", "time_group", "drug", "dose", "stress"):
            session[key] = cells[0][key]
        session["bath_drugs"] = cells[0]["bath_drugs"]
    elif "general/extracellular_ephys" in f:
        groups = [g for g in f["general/extracellular_ephys"].values() if h5read.type_of(g) == "ElectrodeGroup"]
        session["region"] = ",".join(sorted({h5read.scalar(g, "location") for g in groups}))
        labels_ = {lab_labels.get(g.name.rsplit("/", 1)[-1], h5read.scalar(g, "location")) for g in groups}
        session["region_label"] = ",".join(sorted(labels_))
        types = [h5read.type_of(g) for g in (f.get("acquisition") or {}).values()]
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
    return {h5read.text(g): h5read.text(label) for g, label in zip(names, labels, strict=True)}


def _epoch_first_tags(epochs) -> np.ndarray:
    """Index of each epoch's first tag (its name) in the ragged tags column."""
    ends = epochs["tags_index"][()].astype(np.int64)
    return np.concatenate([[0], ends[:-1]])[np.diff(np.concatenate([[0], ends])) > 0]


def read_nwb_file(source, relpath: str) -> dict[str, list[dict]]:
    """The catalog rows of one NWB file: a local path, a URL or a seekable binary file object.

    Parameters
    ----------
    source
        The file.
    relpath
        Its path relative to the archive root (the ``file`` column).

    Returns
    -------
    dict
        Table name → list of row dicts (see :data:`~nwb_ketamine.archive.catalog_columns.COLUMNS`).
    """
    import h5py

    if is_url(source):
        with open_remote(source) as fileobj, h5py.File(fileobj, "r") as f:
            return read_nwb_h5(f, relpath)
    with h5py.File(source, "r") as f:
        return read_nwb_h5(f, relpath)
