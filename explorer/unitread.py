"""Reading one unit of a session's NWB file for the unit view: its spikes, waveforms, metrics and context.

Read with h5py by object path (:mod:`~nwb_ketamine.explorer.h5tables`), only this unit's rows of the
ragged columns; the tests compare :func:`unit_spikes` with a reader through pynwb's objects. The stored
burst metrics and rule are read as stored (what :func:`nwb_ketamine.analysis.store.read_burst_metrics`
returns); the unit view recomputes only what the user changes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nwb_ketamine import h5read
from nwb_ketamine.explorer import h5tables, nwbfiles
from nwb_ketamine.filelayout import (
    BURST_METRICS_KEYS,
    BURST_METRICS_PATH,
    BURST_PARAMETERS_PATH,
    UNITS_PATH,
)

UNIT, EPOCH, START, STOP = BURST_METRICS_KEYS
#: Units-table columns that are not one value per unit (shown elsewhere or not at all).
NOT_METRICS = {"spike_times", "waveform_mean", "waveform_sd", "waveforms", "electrodes", "electrode_group",
               "obs_intervals"}  # fmt: skip


def _burst_metrics(f, units):
    """The stored burst metrics and rule: (metrics dict, BurstParameters) or None."""
    from nwb_ketamine.analysis.bursts import METRICS, BurstParameters

    if BURST_METRICS_PATH not in f:
        return None
    table = f[BURST_METRICS_PATH]
    out = {UNIT: np.asarray(table[UNIT][()], dtype=np.int64)}
    names = h5read.column(units, "unit_name") if units is not None and "unit_name" in units else None
    out["unit_name"] = names[out[UNIT]] if names is not None and out[UNIT].size else np.zeros(0, dtype=object)
    out[EPOCH] = np.asarray([str(e) for e in h5read.column(table, EPOCH)], dtype=object)
    for name in (START, STOP, *METRICS):
        out[name] = np.asarray(table[name][()])
    return out, h5tables.parameters(f[BURST_PARAMETERS_PATH], BurstParameters)


def unit_spikes(path, unit_row: int) -> dict:
    """Spikes, waveforms, quality metrics and context of one unit (one row of the units table).

    Read with h5py by object path, only this unit's rows of the ragged columns (the tests compare it with a
    reader through pynwb's objects).

    Parameters
    ----------
    path
        The session's NWB file.
    unit_row
        Row of the units table (the catalog's ``unit_row``).

    Returns
    -------
    dict
        ``spike_times_s`` (session clock); ``waveform_mean_uv`` and ``waveform_sd_uv`` (n_samples,
        n_channels) or None, ``waveform_rate_hz``; ``metrics`` (dict of the units-table columns of the
        row); ``electrode_group``, ``region``, ``channels`` (channel names of its electrodes);
        ``injection_time_s`` (or None), ``injection_label``; ``epochs`` (DataFrame name, start_s, stop_s);
        ``stored_metrics`` (DataFrame of the stored per-epoch burst metrics of the unit, or None) and
        ``burst_parameters`` (the stored rule, or None); ``recording_s`` (start, stop).
    """
    with nwbfiles.reading(path) as f:
        units = f.get(UNITS_PATH)
        n = len(units["id"]) if units is not None and "id" in units else 0
        if not 0 <= int(unit_row) < n:
            raise KeyError(f"{path}: no row {unit_row} in the units table")
        row = int(unit_row)
        colnames = h5tables.colnames(units)
        a, b = h5tables.row_span(units, "spike_times", row)
        spikes = np.asarray(units["spike_times"][a:b], dtype=np.float64)
        waveforms: dict[str, np.ndarray | None] = {}
        rate: float | None = None
        for name in ("waveform_mean", "waveform_sd"):
            if name not in colnames:
                waveforms[name] = None
                continue
            ds = units[name]
            if f"{name}_index" in units:
                a, b = h5tables.row_span(units, name, row)
                value = ds[a:b]
            else:
                value = ds[row]
            value = np.asarray(value, dtype=np.float64) * 1e6
            waveforms[name] = value[:, None] if value.ndim == 1 else value
            if rate is None and ds.attrs.get("sampling_rate") is not None:
                rate = float(ds.attrs["sampling_rate"])
        if rate is None and "waveforms" in units and units["waveforms"].attrs.get("sampling_rate") is not None:
            rate = float(units["waveforms"].attrs["sampling_rate"])
        metrics = {}
        for name in colnames:
            if name in NOT_METRICS or name not in units or "table" in units[name].attrs:
                continue
            if f"{name}_index" in units:
                a, b = h5tables.row_span(units, name, row)
                value = [h5read.decode(v) for v in units[name][a:b]]
            else:
                value = units[name][row]
                if isinstance(value, np.generic):
                    value = value.item()
                value = h5read.decode(value)
            metrics[name] = value
        group = f[units["electrode_group"][row]] if "electrode_group" in units else None
        channels: list[str] = []
        if "electrodes" in colnames and "electrodes_index" in units:
            a, b = h5tables.row_span(units, "electrodes", row)
            rows_e = np.asarray(units["electrodes"][a:b], dtype=np.int64)
            table = f[units["electrodes"].attrs["table"]]
            if "channel_name" in table:
                names = h5read.column(table, "channel_name")
                channels = [str(names[r]) for r in rows_e]
            else:
                channels = [str(i) for i in table["id"][()][rows_e]]
            if group is None and "group" in table and rows_e.size:
                group = f[table["group"][rows_e[0]]]
        epochs = h5tables.epochs(f)
        stored = _burst_metrics(f, units)
        stored_metrics = params = None
        if stored is not None:
            table, params = stored
            frame = pd.DataFrame({k: v for k, v in table.items()})
            stored_metrics = frame[frame[UNIT] == row].reset_index(drop=True)
        raw = h5tables.raw_series(f)
        start, raw_rate = h5tables.series_timing(raw[0]) if raw else (0.0, None)
        if raw and raw_rate:
            end, last_rate = h5tables.series_timing(raw[-1])
            span = (start, end + raw[-1]["data"].shape[0] / (last_rate or raw_rate))
        else:
            ends = [float(spikes[-1]) if spikes.size else 0.0] + list(epochs["stop_s"])
            span = (min([0.0] + list(epochs["start_s"])), max(ends))
        injection, label = h5tables.injection(f)
        group_name = group.name.rsplit("/", 1)[-1] if group is not None else ""
        region = h5tables.attr(group, "location") if group is not None else metrics.get("brain_area", "")
    return {
        "spike_times_s": spikes,
        "waveform_mean_uv": waveforms["waveform_mean"],
        "waveform_sd_uv": waveforms["waveform_sd"],
        "waveform_rate_hz": rate,
        "metrics": metrics,
        "electrode_group": group_name,
        "region": region,
        "channels": channels,
        "injection_time_s": injection,
        "injection_label": label,
        "epochs": epochs,
        "stored_metrics": stored_metrics,
        "burst_parameters": params,
        "recording_s": span,
    }
