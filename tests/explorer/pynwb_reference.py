"""The explorer's readers done through pynwb's objects: the reference the h5py readers are tested against.

:mod:`~nwb_ketamine.explorer.cellread`, :mod:`~nwb_ketamine.explorer.unitread` and
:mod:`~nwb_ketamine.explorer.rawread` read cells, units and raw windows with h5py by object path (fast); these
functions read the same things from the :class:`pynwb.NWBFile` that :func:`nwbfiles.open_nwb` builds, sharing
only the readers' pure steps on values already read (the walk of the icephys tables, joining events and
windows, a sweep's stored measures, assembling the result), so that ``tests/explorer/test_readers.py`` can
compare the two value for value.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from nwb_ketamine.explorer.cellread import cell_result, spread_holding, stored_measures
from nwb_ketamine.explorer.nwbfiles import open_nwb
from nwb_ketamine.explorer.rawread import events_frame, join_events, join_windows
from nwb_ketamine.filelayout import (
    AMOUNTS,
    DRUG_STRESS,
    EPSC_SWEEPS,
    ICEPHYS_MODULE,
    SWEEP_RECORDING_COLUMN,
    the_injection,
)
from nwb_ketamine.filelayout import injection_label as label_of


def _administrations(nwbfile) -> list[dict]:
    meta = nwbfile.lab_meta_data.get(DRUG_STRESS) if nwbfile.lab_meta_data else None
    if meta is None:
        return []
    fields = ("agent", "route", "role", "administration_time", *(f"{a}{u}" for a in AMOUNTS for u in ("", "_unit")))
    return [{k: getattr(a, k, None) for k in fields} for a in meta.drug_administrations.values()]


def injection_time_s(nwbfile) -> float | None:
    """Time of the session's injection (:func:`nwb_ketamine.filelayout.the_injection`), read through pynwb."""
    adm = the_injection(_administrations(nwbfile))
    return None if adm is None or adm["administration_time"] is None else float(adm["administration_time"])


def injection_label(nwbfile) -> str:
    """'ketamine 10 mg/kg' for the injection of :func:`injection_time_s` ('' without one)."""
    adm = the_injection(_administrations(nwbfile))
    return "" if adm is None or adm["administration_time"] is None else label_of(adm)


def epochs_of(nwbfile) -> pd.DataFrame:
    """The epochs table as (name, start_s, stop_s), the name being the first tag."""
    if nwbfile.epochs is None or len(nwbfile.epochs) == 0:
        return pd.DataFrame({"name": [], "start_s": [], "stop_s": []})
    table = nwbfile.epochs
    tags = table["tags"][:] if "tags" in table.colnames else [[] for _ in range(len(table))]
    return pd.DataFrame(
        {
            "name": [str(t[0]) if len(t) else f"epoch {i}" for i, t in enumerate(tags)],
            "start_s": np.asarray(table["start_time"].data[:], dtype=float),
            "stop_s": np.asarray(table["stop_time"].data[:], dtype=float),
        }
    )


def events_of(nwbfile, t0: float = -math.inf, t1: float = math.inf) -> pd.DataFrame:
    """Events (every EventsTable of the file) at ``[t0, t1)``: start_s, stop_s, label, channel."""
    frames = []
    for name, table in (nwbfile.events or {}).items():
        if len(table) == 0:
            continue
        start = table["timestamp"].data[:]
        duration = table["duration"].data[:] if "duration" in table.colnames else np.zeros(len(start))
        labels = table["label"].data[:] if "label" in table.colnames else [""] * len(start)
        frames.append(events_frame(name, start, duration, labels, t0, t1))
    return join_events(frames)


def _ragged(column) -> list[np.ndarray]:
    """Rows of a ragged DynamicTableRegion column (VectorIndex) as arrays of target row indices."""
    ends = np.asarray(column.data[:], dtype=np.int64)
    targets = np.asarray(column.target.data[:], dtype=np.int64)
    starts = np.concatenate([[0], ends[:-1]])
    return [targets[a:b] for a, b in zip(starts, ends, strict=True)]


def _holding_of_recordings(nwbfile, n_rows: int) -> np.ndarray:
    """Holding potential (V) of each intracellular recording row, walked down from the conditions table."""
    holding = np.full(n_rows, np.nan)
    try:
        conditions = nwbfile.icephys_experimental_conditions
        if conditions is None or "holding_potential" not in conditions.colnames:
            return holding
        repetitions = _ragged(conditions["repetitions"])
        sequentials = _ragged(nwbfile.icephys_repetitions["sequential_recordings"])
        simultaneous = _ragged(nwbfile.icephys_sequential_recordings["simultaneous_recordings"])
        recordings = _ragged(nwbfile.icephys_simultaneous_recordings["recordings"])
        values = np.asarray(conditions["holding_potential"].data[:], dtype=float)
        spread_holding(values, repetitions, sequentials, simultaneous, recordings, holding)
    except (KeyError, AttributeError, TypeError, IndexError):
        pass
    return holding


def cell_sweeps_pynwb(path) -> dict:
    """``cellread.cell_sweeps(path)`` read through pynwb's objects: the same dict (see there)."""
    from pynwb.icephys import VoltageClampSeries

    from nwb_ketamine.analysis.store import read_epsc_analysis

    nwbfile = open_nwb(path)
    table = nwbfile.intracellular_recordings
    refs = table.category_tables["responses"]["response"].data[:] if table is not None else []
    rows = [
        (i, int(start), int(count), series)
        for i, (start, count, series) in enumerate(refs)
        if isinstance(series, VoltageClampSeries)
    ]
    holding = _holding_of_recordings(nwbfile, len(refs))
    stored = read_epsc_analysis(nwbfile)
    measures = None
    if stored is not None:
        measures, summary, parameters = stored
        analysed = np.asarray(nwbfile.processing[ICEPHYS_MODULE][EPSC_SWEEPS][SWEEP_RECORDING_COLUMN].data[:])
        position = {int(r): k for k, r in enumerate(analysed)}
    else:
        summary = parameters = None
        position = {}

    rates = {float(series.rate) for *_, series in rows if series.rate}
    rate = max(rates) if rates else float("nan")
    width = max((count if count >= 0 else len(series.data)) for _, _, count, series in rows) if rows else 0
    current = np.full((len(rows), width), np.nan)
    records = []
    for k, (i, start, count, series) in enumerate(rows):
        stop = len(series.data) if count < 0 else start + count
        values = np.asarray(series.data[start:stop], dtype=np.float64) * series.conversion + series.offset
        current[k, : values.size] = values
        record = {
            "name": series.name,
            "recording": i,
            "protocol": series.stimulus_description,
            "start_time_s": float(series.starting_time or 0.0) + start / float(series.rate or 1.0),
            "holding_potential_v": holding[i] if i < holding.size else np.nan,
            "rate_hz": float(series.rate) if series.rate else np.nan,
        }
        records.append(record | stored_measures(measures, position.get(i)))
    electrode = {}
    if rows:
        e = rows[0][3].electrode
        electrode = {"name": e.name, "location": getattr(e, "location", ""), "slice": getattr(e, "slice", ""),
                     "cell_id": getattr(e, "cell_id", "")}  # fmt: skip
    return cell_result(current, rate, records, summary, parameters, electrode, injection_time_s(nwbfile))


def unit_spikes_pynwb(path, unit_row: int) -> dict:
    """``unitread.unit_spikes(path, unit_row)`` read through pynwb's objects: the same dict (see there)."""
    from nwb_ketamine.analysis.burst_store import read_burst_metrics

    nwbfile = open_nwb(path)
    units = nwbfile.units
    if units is None or not 0 <= int(unit_row) < len(units):
        raise KeyError(f"{path}: no row {unit_row} in the units table")
    row = int(unit_row)
    spikes = np.asarray(units["spike_times"][row], dtype=np.float64)
    mean = sd = None
    if "waveform_mean" in units.colnames:
        mean = np.asarray(units["waveform_mean"][row], dtype=np.float64) * 1e6
        if mean.ndim == 1:
            mean = mean[:, None]
    if "waveform_sd" in units.colnames:
        sd = np.asarray(units["waveform_sd"][row], dtype=np.float64) * 1e6
        if sd.ndim == 1:
            sd = sd[:, None]
    skip = {
        "spike_times",
        "waveform_mean",
        "waveform_sd",
        "waveforms",
        "electrodes",
        "electrode_group",
        "obs_intervals",
    }
    metrics = {}
    for name in units.colnames:
        if name in skip:
            continue
        try:
            value = units[name][row]
        except Exception:  # a column this reader cannot index; not worth failing the view
            continue
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, bytes):
            value = value.decode()
        metrics[name] = value
    group = units["electrode_group"][row] if "electrode_group" in units.colnames else None
    channels = []
    if "electrodes" in units.colnames:
        electrodes = units["electrodes"][row]
        if isinstance(electrodes, pd.DataFrame):
            column = "channel_name" if "channel_name" in electrodes else None
            channels = [str(c) for c in electrodes[column]] if column else [str(i) for i in electrodes.index]
            if group is None and "group" in electrodes:
                group = electrodes["group"].iloc[0]
    epochs = epochs_of(nwbfile)
    stored = read_burst_metrics(nwbfile)
    stored_metrics = params = None
    if stored is not None:
        table, params = stored
        frame = pd.DataFrame({k: v for k, v in table.items()})
        stored_metrics = frame[frame["unit"] == row].reset_index(drop=True)
    found = _raw_series(nwbfile)
    if found:
        last = found[-1]
        span = (float(found[0].starting_time or 0.0), float(last.starting_time) + last.data.shape[0] / float(last.rate))
    else:
        ends = [float(spikes[-1]) if spikes.size else 0.0] + list(epochs["stop_s"])
        span = (min([0.0] + list(epochs["start_s"])), max(ends))
    return {
        "spike_times_s": spikes,
        "waveform_mean_uv": mean,
        "waveform_sd_uv": sd,
        "waveform_rate_hz": float(units.waveform_rate) if units.waveform_rate else None,
        "metrics": metrics,
        "electrode_group": group.name if group is not None else "",
        "region": group.location if group is not None else metrics.get("brain_area", ""),
        "channels": channels,
        "injection_time_s": injection_time_s(nwbfile),
        "injection_label": injection_label(nwbfile),
        "epochs": epochs,
        "stored_metrics": stored_metrics,
        "burst_parameters": params,
        "recording_s": span,
    }


def _raw_series(nwbfile, name: str | None = None) -> list:
    """The raw ElectricalSeries: ``name`` in acquisition, else all ElectricalSeries there in time order."""
    from pynwb.ecephys import ElectricalSeries

    if name is not None:
        return [nwbfile.acquisition[name]]
    found = [obj for obj in nwbfile.acquisition.values() if isinstance(obj, ElectricalSeries)]
    return sorted(found, key=lambda s: s.starting_time or 0.0)


def raw_window_pynwb(
    path, t0: float, t1: float, channels=None, max_points: int = 4000, series_name: str | None = None
) -> dict:
    """``rawread.raw_window(...)`` read through pynwb's objects: the same dict (see there)."""
    nwbfile = open_nwb(path)
    found = _raw_series(nwbfile, series_name)
    if not found:
        raise LookupError(f"{Path(path).name}: no raw ElectricalSeries in acquisition (converted without raw data)")
    out = join_windows(found, t0, t1, channels, max_points)
    series = found[0]
    electrodes = series.electrodes
    rows = np.asarray(electrodes.data[:], dtype=np.int64)[out["channel_index"]]
    table = electrodes.table
    names = table["channel_name"].data[:] if "channel_name" in table.colnames else rows
    groups = table["group_name"].data[:] if "group_name" in table.colnames else [""] * len(table)
    out["channels"] = [str(names[r]) for r in rows]
    out["groups"] = [str(groups[r]) for r in rows]
    out["events"] = events_of(nwbfile, t0, t1)
    injection = injection_time_s(nwbfile)
    out["injection_time_s"] = injection if injection is not None and t0 <= injection < t1 else None
    out["injection_label"] = injection_label(nwbfile)
    return out
