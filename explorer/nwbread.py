"""Reading what the detail views show from one NWB file: sweeps of a cell, spikes of a unit, a raw window.

Design decisions:

- The detail views read our catalog files with h5py by object path (:func:`cell_sweeps`,
  :func:`unit_spikes`, :func:`raw_window`), like the catalog does: building every pynwb container of a
  file (``io.read()``) took about a second per file, while the views need a few tables. Readers of the same
  values through pynwb's objects are the tests' reference (``tests/explorer/pynwb_reference.py``), and
  :func:`open_nwb` keeps serving the generic view.
  :func:`raw_window` keeps its files open (:func:`open_h5`, with hdmf's 32 MB chunk cache) because the
  traces view reads a window per pan or zoom.
- :func:`open_nwb` opens files read-only once and keeps them open (a small LRU cache keyed by the resolved
  path and its modification time); HDF5 reads are serialised by h5py's own lock, and the cache by ours.
  The namespaces cached in a file are loaded only when one of them is not already loaded in this process
  with the same version (our files cache exactly the ones the package registers).
- Nothing is loaded that the view does not show: the raw ElectricalSeries is sliced in h5py to the
  visible window only (HDF5 then decompresses just the chunks that window touches) and reduced to about
  ``max_points`` per channel by min/max decimation, streamed in blocks so that memory stays bounded
  whatever the window length. Min/max keeps every spike's extreme: the decimated envelope equals the
  full-resolution one exactly.
- Stored analysis results are read as stored (``read_epsc_analysis``, ``read_burst_metrics``); the views
  recompute only what the user changes (burst parameters).
- Functions return plain dicts of NumPy arrays and pandas frames, in SI units except where the key says
  otherwise (``_uv``), so views and tests need no pynwb.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pandas as pd

from nwb_ketamine import h5read
from nwb_ketamine.filelayout import (
    BURST_METRICS,
    BURST_PARAMETERS,
    CELL_DESCRIPTIONS,
    DRUG_STRESS_PATH,
    ECEPHYS_MODULE,
    EPOCHS_PATH,
    EPSC_CELL,
    EPSC_PARAMETERS,
    EPSC_SWEEPS,
    EVENTS_PATH,
    EVENTS_PREFIX,
    ICEPHYS_MODULE,
    SWEEP_COLUMNS,
    UNITS,
    injection_label,
    the_injection,
)

#: Files kept open at once.
MAX_OPEN_FILES = 16
#: Samples (rows × channels) decompressed and reduced at a time by :func:`raw_window`.
BLOCK_VALUES = 4_000_000

#: HDF5 chunk cache of the files :func:`raw_window` keeps open (hdmf's value: a raw chunk of 10 s × 16
#: channels is 10 MB, so panning within it decompresses it once).
RDCC_NBYTES = 32 * 1024**2

_lock = threading.RLock()
_open: OrderedDict[tuple[str, int], tuple[object, object]] = OrderedDict()
_open_h5: OrderedDict[tuple[str, int], object] = OrderedDict()


def open_h5(path):
    """The HDF5 file at ``path`` opened read-only with h5py and kept open (an LRU like :func:`open_nwb`)."""
    import h5py

    path = Path(path).resolve()
    key = (str(path), path.stat().st_mtime_ns)
    with _lock:
        if key in _open_h5:
            _open_h5.move_to_end(key)
            return _open_h5[key]
        f = h5py.File(path, "r", rdcc_nbytes=RDCC_NBYTES)
        _open_h5[key] = f
        while len(_open_h5) > MAX_OPEN_FILES:
            _, old = _open_h5.popitem(last=False)
            old.close()
        return f


def open_nwb(path):
    """The NWBFile at ``path``, opened read-only and cached (namespaces cached in the file are loaded
    unless the same versions are loaded already).

    Parameters
    ----------
    path
        An NWB (HDF5) file. The caller resolves it (the store, never user input).

    Returns
    -------
    pynwb.NWBFile

    Raises
    ------
    OSError, ValueError, ...
        Whatever h5py or pynwb raises for a file that is not readable NWB.
    """
    from pynwb import NWBHDF5IO

    import nwb_ketamine.extension  # noqa: F401  (registers the drug_stress classes)

    path = Path(path).resolve()
    key = (str(path), path.stat().st_mtime_ns)
    with _lock:
        if key in _open:
            _open.move_to_end(key)
            return _open[key][1]
        if _namespaces_loaded(path):
            io = NWBHDF5IO(str(path), mode="r", load_namespaces=False)
        else:
            io = NWBHDF5IO(str(path), mode="r", load_namespaces=True)
        try:
            nwbfile = io.read()
        except BaseException:
            io.close()
            raise
        _open[key] = (io, nwbfile)
        while len(_open) > MAX_OPEN_FILES:
            _, (old, _) = _open.popitem(last=False)
            old.close()
        return nwbfile


def _namespaces_loaded(path) -> bool:
    """Whether every namespace cached in ``path`` is loaded in pynwb's global type map, same version."""
    from pynwb import get_type_map

    from nwb_ketamine.schema_validation import cached_namespace_versions

    try:
        cached = cached_namespace_versions(path)
    except OSError:
        return False  # let pynwb raise its own error
    catalog = get_type_map(copy=False).namespace_catalog
    loaded = {name: str(catalog.get_namespace(name).version) for name in catalog.namespaces}
    # one loaded version per name: a file caching two versions of a namespace is not covered either
    return all(loaded.get(name) == version for name, version in cached) and len({n for n, _ in cached}) == len(cached)


def close_all() -> None:
    """Close every cached file (tests, shutdown)."""
    with _lock:
        while _open:
            _, (io, _) = _open.popitem()
            io.close()
        while _open_h5:
            _, f = _open_h5.popitem()
            f.close()


# --------------------------------------------------------------------------------------------------
# Reading with h5py by object path (what the detail views use)


def _h5_attr(obj, name, default=None):
    value = obj.attrs.get(name, default)
    if isinstance(value, np.generic):
        value = value.item()
    return h5read.decode(value)


def _h5_scalar(group, name, default=None):
    """A scalar dataset of ``group`` (strings decoded), ``default`` when absent."""
    if group is None or name not in group:
        return default
    value = group[name][()]
    return h5read.decode(value.item() if isinstance(value, np.generic) else value)


def _h5_ragged(table, name) -> list[np.ndarray]:
    """Every row of a ragged column (``name`` with ``name_index``) as an array."""
    ends = np.asarray(table[f"{name}_index"][()], dtype=np.int64)
    values = table[name][()]
    starts = np.concatenate([[0], ends[:-1]])
    return [values[a:b] for a, b in zip(starts, ends, strict=True)]


def _h5_row_span(table, name, row: int) -> tuple[int, int]:
    """The element range of row ``row`` of the ragged column ``name``."""
    index = table[f"{name}_index"]
    return (int(index[row - 1]) if row else 0), int(index[row])


def _h5_colnames(table) -> list[str]:
    return [str(h5read.decode(c)) for c in table.attrs.get("colnames", [])]


def _h5_type(obj) -> str:
    return str(h5read.decode(obj.attrs.get("neurodata_type", "")))


def _h5_injection(f) -> tuple[float | None, str]:
    """(time, label) of the session's injection (:func:`nwb_ketamine.filelayout.the_injection`), with h5py."""
    meta = f.get(DRUG_STRESS_PATH[1:])
    if meta is None:
        return None, ""
    administrations = [
        {k: _h5_attr(g, k) for k in g.attrs}
        for g in meta.values()
        if _h5_type(g) == "DrugAdministration"
    ]  # fmt: skip
    adm = the_injection(administrations)
    if adm is None or adm.get("administration_time") is None:
        return None, ""
    return float(adm["administration_time"]), injection_label(adm)


def _h5_holding(f, n_rows: int) -> np.ndarray:
    """:func:`_holding_of_recordings` from the icephys tables under ``/general/intracellular_ephys``."""
    holding = np.full(n_rows, np.nan)
    icephys = f.get("general/intracellular_ephys")
    try:
        conditions = icephys["experimental_conditions"]
        if "holding_potential" not in _h5_colnames(conditions):
            return holding
        repetitions = _h5_ragged(conditions, "repetitions")
        sequentials = _h5_ragged(icephys["repetitions"], "sequential_recordings")
        simultaneous = _h5_ragged(icephys["sequential_recordings"], "simultaneous_recordings")
        recordings = _h5_ragged(icephys["simultaneous_recordings"], "recordings")
        values = np.asarray(conditions["holding_potential"][()], dtype=float)
        for value, reps in zip(values, repetitions, strict=True):
            for rep in reps:
                for seq in sequentials[rep]:
                    for sim in simultaneous[seq]:
                        holding[recordings[sim]] = value
    except (KeyError, TypeError, IndexError, ValueError):
        pass
    return holding


def _h5_parameters(table, cls):
    """A parameter table (:func:`nwb_ketamine.analysis.parameters.parameter_table`) as ``cls``."""
    return cls.from_rows(zip(h5read.column(table, "parameter"), table["value"][()], strict=True))


def _h5_epsc_analysis(f):
    """:func:`nwb_ketamine.analysis.store.read_epsc_analysis` with h5py: (measures, summary, params) or None."""
    from nwb_ketamine.analysis.epsc import EpscParameters

    module = f.get(f"processing/{ICEPHYS_MODULE}")
    if module is None or EPSC_CELL not in module:
        return None
    sweeps = {name: h5read.column(module[EPSC_SWEEPS], name) for name in SWEEP_COLUMNS}
    summary = {name: h5read.decode(module[EPSC_CELL][name][0]) for name in CELL_DESCRIPTIONS}
    params = _h5_parameters(module[EPSC_PARAMETERS], EpscParameters)
    analysed = np.asarray(module[EPSC_SWEEPS]["intracellular_recording"][()])
    return sweeps, summary, params, analysed


def _h5_series_timing(group) -> tuple[float, float | None]:
    """(starting_time or 0, rate or None) of a TimeSeries group."""
    if "starting_time" in group:
        start = group["starting_time"]
        rate = start.attrs.get("rate")
        return float(start[()]), (float(rate) if rate is not None else None)
    return 0.0, None


def cell_sweeps(path) -> dict:
    """The voltage-clamp sweeps of one slice-cell NWB file with their QC and the stored analysis.

    Read with h5py by object path (the tests compare it with a reader through pynwb's objects).

    Parameters
    ----------
    path
        The cell's NWB file (written by :class:`nwb_ketamine.converters.abf.AbfSliceConverter`).

    Returns
    -------
    dict
        ``current_a`` (n_sweeps, n_samples) in A, NaN-padded; ``time_s`` (n_samples,) from the sweep start;
        ``rate_hz``; ``sweeps`` (DataFrame, one row per sweep: ``name``, ``recording`` (row of
        intracellular_recordings), ``protocol``, ``file``, ``sweep``, ``start_time_s`` (session clock),
        ``holding_potential_v``, ``kind``, ``accepted``, ``rejection_reason``, ``series_resistance_ohm``,
        ``input_resistance_ohm`` and the other stored per-sweep measures; NaN / '' without analysis);
        ``summary`` (dict, stored cell results, or None); ``parameters`` (EpscParameters or None);
        ``electrode`` (dict: name, location, slice, cell_id); ``injection_time_s``.
    """
    import h5py

    with h5py.File(Path(path), "r") as f:
        table = f.get("general/intracellular_ephys/intracellular_recordings/responses")
        refs = table["response"][()] if table is not None and "response" in table else []
        rows = []
        for i, (start, count, ref) in enumerate(refs):
            if not ref:
                continue
            series = f[ref]
            if _h5_type(series) == "VoltageClampSeries":
                rows.append((i, int(start), int(count), series))
        holding = _h5_holding(f, len(refs))
        stored = _h5_epsc_analysis(f)
        measures = None
        if stored is not None:
            measures, summary, parameters, analysed = stored
            position = {int(r): k for k, r in enumerate(analysed)}
        else:
            summary = parameters = None
            position = {}
        timing = [_h5_series_timing(series) for *_, series in rows]
        rates = {rate for _, rate in timing if rate}
        rate = max(rates) if rates else float("nan")
        width = max((count if count >= 0 else len(s["data"])) for _, _, count, s in rows) if rows else 0
        current = np.full((len(rows), width), np.nan)
        records = []
        for k, ((i, start, count, series), (t0, series_rate)) in enumerate(zip(rows, timing, strict=True)):
            data = series["data"]
            stop = len(data) if count < 0 else start + count
            values = np.asarray(data[start:stop], dtype=np.float64) * float(data.attrs.get("conversion", 1.0))
            values += float(data.attrs.get("offset", 0.0))
            current[k, : values.size] = values
            record = {
                "name": series.name.rsplit("/", 1)[-1],
                "recording": i,
                "protocol": _h5_attr(series, "stimulus_description"),
                "start_time_s": t0 + start / float(series_rate or 1.0),
                "holding_potential_v": holding[i] if i < holding.size else np.nan,
                "rate_hz": series_rate if series_rate else np.nan,
            }
            j = position.get(i)
            if measures is not None and j is not None:
                for name, values_ in measures.items():
                    record[name] = h5read.decode(values_[j])
                record["analysed"] = True
            else:
                record.update(kind="other", accepted=False, rejection_reason="not analysed", analysed=False)
            records.append(record)
        electrode = {}
        if rows and "electrode" in rows[0][3]:
            e = rows[0][3]["electrode"]
            electrode = {"name": e.name.rsplit("/", 1)[-1], "location": _h5_scalar(e, "location"),
                         "slice": _h5_scalar(e, "slice"), "cell_id": _h5_scalar(e, "cell_id")}  # fmt: skip
        injection, _ = _h5_injection(f)
    sweeps = pd.DataFrame.from_records(records)
    if len(sweeps):
        sweeps["holding_potential_v"] = sweeps["holding_potential_v"].astype(float)
        for column in ("series_resistance_ohm", "input_resistance_ohm", "decay_tau_s", "peak_a", "baseline_a"):
            if column not in sweeps:
                sweeps[column] = np.nan
        sweeps["accepted"] = sweeps["accepted"].astype(bool)
    return {
        "current_a": current,
        "time_s": np.arange(width) / rate if rows else np.zeros(0),
        "rate_hz": rate,
        "sweeps": sweeps,
        "summary": summary,
        "parameters": parameters,
        "electrode": electrode,
        "injection_time_s": injection,
    }


def _h5_epochs(f) -> pd.DataFrame:
    """The epochs table as (name, start_s, stop_s), the name being the first tag, from ``/intervals/epochs``."""
    table = f.get(EPOCHS_PATH[1:])
    if table is None or "id" not in table or len(table["id"]) == 0:
        return pd.DataFrame({"name": [], "start_s": [], "stop_s": []})
    n = len(table["id"])
    tags = _h5_ragged(table, "tags") if "tags" in table and "tags_index" in table else [[] for _ in range(n)]
    return pd.DataFrame(
        {
            "name": [str(h5read.decode(t[0])) if len(t) else f"epoch {i}" for i, t in enumerate(tags)],
            "start_s": np.asarray(table["start_time"][()], dtype=float),
            "stop_s": np.asarray(table["stop_time"][()], dtype=float),
        }
    )


def _h5_burst_metrics(f, units):
    """:func:`nwb_ketamine.converters.units.read_burst_metrics` with h5py: (metrics dict, rule) or None."""
    from nwb_ketamine.analysis.bursts import METRICS, BurstParameters

    module = f.get(f"processing/{ECEPHYS_MODULE}")
    if module is None or BURST_METRICS not in module:
        return None
    table = module[BURST_METRICS]
    out = {"unit": np.asarray(table["unit"][()], dtype=np.int64)}
    names = h5read.column(units, "unit_name") if units is not None and "unit_name" in units else None
    out["unit_name"] = names[out["unit"]] if names is not None and out["unit"].size else np.zeros(0, dtype=object)
    out["epoch"] = np.asarray([str(e) for e in h5read.column(table, "epoch")], dtype=object)
    for name in ("start_s", "stop_s", *METRICS):
        out[name] = np.asarray(table[name][()])
    return out, _h5_parameters(module[BURST_PARAMETERS], BurstParameters)


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
    import h5py

    with h5py.File(Path(path), "r") as f:
        units = f.get(UNITS)
        n = len(units["id"]) if units is not None and "id" in units else 0
        if not 0 <= int(unit_row) < n:
            raise KeyError(f"{path}: no row {unit_row} in the units table")
        row = int(unit_row)
        colnames = _h5_colnames(units)
        a, b = _h5_row_span(units, "spike_times", row)
        spikes = np.asarray(units["spike_times"][a:b], dtype=np.float64)
        waveforms, rate = {}, None
        for name in ("waveform_mean", "waveform_sd"):
            if name not in colnames:
                waveforms[name] = None
                continue
            ds = units[name]
            if f"{name}_index" in units:
                a, b = _h5_row_span(units, name, row)
                value = ds[a:b]
            else:
                value = ds[row]
            value = np.asarray(value, dtype=np.float64) * 1e6
            waveforms[name] = value[:, None] if value.ndim == 1 else value
            if rate is None and ds.attrs.get("sampling_rate") is not None:
                rate = float(ds.attrs["sampling_rate"])
        if rate is None and "waveforms" in units and units["waveforms"].attrs.get("sampling_rate") is not None:
            rate = float(units["waveforms"].attrs["sampling_rate"])
        skip = {"spike_times", "waveform_mean", "waveform_sd", "waveforms", "electrodes", "electrode_group",
                "obs_intervals"}  # fmt: skip
        metrics = {}
        for name in colnames:
            if name in skip or name not in units or "table" in units[name].attrs:
                continue
            if f"{name}_index" in units:
                a, b = _h5_row_span(units, name, row)
                value = [h5read.decode(v) for v in units[name][a:b]]
            else:
                value = units[name][row]
                if isinstance(value, np.generic):
                    value = value.item()
                value = h5read.decode(value)
            metrics[name] = value
        group = f[units["electrode_group"][row]] if "electrode_group" in units else None
        channels = []
        if "electrodes" in colnames and "electrodes_index" in units:
            a, b = _h5_row_span(units, "electrodes", row)
            rows_e = np.asarray(units["electrodes"][a:b], dtype=np.int64)
            table = f[units["electrodes"].attrs["table"]]
            if "channel_name" in table:
                names = h5read.column(table, "channel_name")
                channels = [str(names[r]) for r in rows_e]
            else:
                channels = [str(i) for i in table["id"][()][rows_e]]
            if group is None and "group" in table and rows_e.size:
                group = f[table["group"][rows_e[0]]]
        epochs = _h5_epochs(f)
        stored = _h5_burst_metrics(f, units)
        stored_metrics = params = None
        if stored is not None:
            table, params = stored
            frame = pd.DataFrame({k: v for k, v in table.items()})
            stored_metrics = frame[frame["unit"] == row].reset_index(drop=True)
        raw = _h5_raw_series(f)
        start, raw_rate = _h5_series_timing(raw[0]) if raw else (0.0, None)
        if raw and raw_rate:
            end, rate = _h5_series_timing(raw[-1])
            span = (start, end + raw[-1]["data"].shape[0] / rate)
        else:
            ends = [float(spikes[-1]) if spikes.size else 0.0] + list(epochs["stop_s"])
            span = (min([0.0] + list(epochs["start_s"])), max(ends))
        injection, label = _h5_injection(f)
        group_name = group.name.rsplit("/", 1)[-1] if group is not None else ""
        region = _h5_attr(group, "location") if group is not None else metrics.get("brain_area", "")
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


# --------------------------------------------------------------------------------------------------
# Raw traces


def minmax_decimate(data: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Reduce ``data`` (n_samples, n_channels) to two points per bin of ``width`` samples.

    Returns
    -------
    positions : ndarray of int64
        Sample index (into ``data``) of each output point: first and last sample of every bin.
    values : ndarray
        (2 × n_bins, n_channels): per bin and channel, the minimum and the maximum in the order they
        occur, so the line drawn through them keeps every extreme.
    """
    n, n_ch = data.shape
    n_bins = -(-n // width)
    pad = n_bins * width - n
    if pad:
        # Repeat the last sample: it changes neither the min nor the max of the last bin.
        data = np.concatenate([data, np.repeat(data[-1:], pad, axis=0)])
    blocks = data.reshape(n_bins, width, n_ch)
    imin, imax = blocks.argmin(axis=1), blocks.argmax(axis=1)
    vmin = np.take_along_axis(blocks, imin[:, None, :], axis=1)[:, 0]
    vmax = np.take_along_axis(blocks, imax[:, None, :], axis=1)[:, 0]
    min_first = imin <= imax
    out = np.empty((n_bins, 2, n_ch), dtype=data.dtype)
    out[:, 0] = np.where(min_first, vmin, vmax)
    out[:, 1] = np.where(min_first, vmax, vmin)
    starts = np.arange(n_bins, dtype=np.int64) * width
    positions = np.stack([starts, np.minimum(starts + width - 1, n - 1)], axis=1).ravel()
    return positions, out.reshape(2 * n_bins, n_ch)


def read_raw_window(series, t0: float, t1: float, channels=None, max_points: int = 4000) -> dict:
    """:func:`raw_window` on an open ElectricalSeries (its ``data`` an h5py dataset or an array)."""
    rate = float(series.rate)
    start = float(series.starting_time or 0.0)
    n_total, n_ch = series.data.shape if len(series.data.shape) == 2 else (series.data.shape[0], 1)
    i0 = int(np.clip(math.floor((t0 - start) * rate), 0, n_total))
    i1 = int(np.clip(math.ceil((t1 - start) * rate), i0, n_total))
    chans = np.arange(n_ch) if channels is None else np.asarray(channels, dtype=np.int64)
    scale = np.full(chans.size, float(series.conversion) * 1e6)
    if series.channel_conversion is not None:
        scale *= np.asarray(series.channel_conversion[:], dtype=np.float64)[chans]
    offset = float(getattr(series, "offset", 0.0) or 0.0) * 1e6
    n = i1 - i0
    points = max(2, int(max_points))
    data = series.data
    if n <= points:
        block = np.asarray(data[i0:i1]).reshape(n, n_ch)[:, chans]
        times = start + (i0 + np.arange(n)) / rate
        values = block.astype(np.float64) * scale + offset
        decimated = False
    else:
        width = -(-n // (points // 2))
        # Whole bins per block, so each bin is reduced once, from all its samples.
        bins_per_block = max(1, BLOCK_VALUES // (width * max(1, n_ch)))
        parts_t, parts_v = [], []
        for a in range(i0, i1, bins_per_block * width):
            b = min(i1, a + bins_per_block * width)
            block = np.asarray(data[a:b]).reshape(b - a, n_ch)[:, chans]
            positions, reduced = minmax_decimate(block, width)
            parts_t.append(start + (a + positions) / rate)
            parts_v.append(reduced.astype(np.float64) * scale + offset)
        times, values = np.concatenate(parts_t), np.concatenate(parts_v)
        decimated = True
    return {"time_s": times, "data_uv": values, "i0": i0, "i1": i1, "decimated": decimated, "rate_hz": rate,
            "channel_index": chans}  # fmt: skip


class _H5Series:
    """The fields of an ElectricalSeries group that :func:`read_raw_window` uses, read with h5py."""

    def __init__(self, group):
        self.data = group["data"]
        self.starting_time, self.rate = _h5_series_timing(group)
        if self.rate is None:
            raise LookupError(f"{group.name}: timestamps instead of a sampling rate are not supported")
        self.conversion = float(self.data.attrs.get("conversion", 1.0))
        self.offset = float(self.data.attrs.get("offset", 0.0))
        self.channel_conversion = group.get("channel_conversion")


def _h5_events(f, t0: float, t1: float) -> pd.DataFrame:
    """Events (every EventsTable in ``/events``) at ``[t0, t1)``: start_s, stop_s (start + duration), label, channel."""
    frames = []
    for name, table in (f.get(EVENTS_PATH[1:]) or {}).items():
        if "timestamp" not in table or len(table["timestamp"]) == 0:
            continue
        start = np.asarray(table["timestamp"][()], dtype=float)
        duration = np.asarray(table["duration"][()], dtype=float) if "duration" in table else np.zeros(len(start))
        labels = h5read.column(table, "label") if "label" in table else np.full(len(start), "")
        frames.append(events_frame(name, start, duration, labels, t0, t1))
    return join_events(frames)


def events_frame(name: str, start, duration, labels, t0: float, t1: float) -> pd.DataFrame:
    """One EventsTable's events at ``[t0, t1)`` as rows of start_s, stop_s, label, channel (the table's name)."""
    start = np.asarray(start, dtype=float)
    keep = (start >= t0) & (start < t1)
    duration = np.nan_to_num(np.asarray(duration, dtype=float), nan=0.0)
    return pd.DataFrame(
        {
            "start_s": start[keep],
            "stop_s": start[keep] + duration[keep],
            "label": [str(h5read.decode(v)) for v in np.asarray(labels, dtype=object)[keep]],
            "channel": [name.removeprefix(EVENTS_PREFIX)] * int(keep.sum()),
        }
    )


def join_events(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The events of several tables in time order."""
    if not frames:
        return pd.DataFrame({"start_s": [], "stop_s": [], "label": [], "channel": []})
    return pd.concat(frames, ignore_index=True).sort_values("start_s", kind="stable").reset_index(drop=True)


def join_windows(series: list, t0: float, t1: float, channels=None, max_points: int = 4000) -> dict:
    """:func:`read_raw_window` over the segments of a recording (one series each, in time order).

    The window's samples of every segment that overlaps it are joined on the session clock, with one
    row of NaN between segments so a drawn line breaks at each recording gap instead of bridging it.
    Also returns the recording's span (``start_s``, ``duration_s``: first sample to end of the last
    segment) and ``gaps`` (list of (end of a segment, start of the next)).
    """
    spans = [(float(s.starting_time or 0.0), float(s.starting_time or 0.0) + s.data.shape[0] / float(s.rate))
             for s in series]  # fmt: skip
    parts = [read_raw_window(s, t0, t1, channels, max_points) for s, (a, b) in zip(series, spans, strict=True)
             if a < t1 and b > t0]  # fmt: skip
    if not parts:  # a window in a gap or outside the recording: nothing to draw, but the same keys
        parts = [read_raw_window(series[0], t0, t0, channels, max_points)]
    times, values = [], []
    for k, part in enumerate(parts):
        if k:
            times.append([(times[-1][-1] + part["time_s"][0]) / 2 if len(part["time_s"]) else times[-1][-1]])
            values.append(np.full((1, part["data_uv"].shape[1]), np.nan))
        times.append(part["time_s"])
        values.append(part["data_uv"])
    out = dict(parts[0])
    out["time_s"] = np.concatenate(times)
    out["data_uv"] = np.concatenate(values)
    out["decimated"] = any(p["decimated"] for p in parts)
    out["start_s"] = spans[0][0]
    out["duration_s"] = spans[-1][1] - spans[0][0]
    out["gaps"] = [(spans[k][1], spans[k + 1][0]) for k in range(len(spans) - 1)]
    out["t0"], out["t1"] = max(t0, spans[0][0]), min(t1, spans[-1][1])
    return out


def _h5_raw_series(f) -> list:
    """The raw ElectricalSeries groups in acquisition, in time order (one per recorded segment)."""
    acquisition = f.get("acquisition")
    if acquisition is None:
        return []
    groups = [g for g in acquisition.values() if _h5_type(g) == "ElectricalSeries"]
    return sorted(groups, key=lambda g: _h5_series_timing(g)[0])


def raw_window(path, t0: float, t1: float, channels=None, max_points: int = 4000, series_name: str | None = None):
    """The raw signal of ``[t0, t1)`` (session clock, s), read from the file window only and downsampled.

    Read with h5py by object path, without building the file's pynwb objects (the tests compare it with a
    reader through them).

    Parameters
    ----------
    path
        The session's NWB file.
    t0, t1
        The window; clipped to the recording.
    channels
        Column indices of the series to return (default: all).
    max_points
        About this many points per channel are returned: at full resolution when the window holds
        fewer samples, else two per bin (min and max) — see :func:`minmax_decimate`.
    series_name
        One ElectricalSeries in acquisition (default: all of them, one per recorded segment, joined on the
        session clock by :func:`join_windows`).

    Returns
    -------
    dict
        ``time_s`` (m,), ``data_uv`` (m, n_channels) in µV (``conversion``, ``channel_conversion`` and
        ``offset`` applied; a NaN row at each gap between segments), ``channels`` (names), ``groups``
        (electrode group per channel), ``decimated``, ``rate_hz``, ``start_s`` and ``duration_s`` (of the
        recording, gaps included), ``gaps`` (pairs of times), ``t0``, ``t1``, ``events``
        (DataFrame of events starting in the window), ``injection_time_s`` (None when outside the
        window or absent) and ``injection_label``.

    Raises
    ------
    LookupError
        When the file has no raw ElectricalSeries (converted with ``--no-raw``).
    """
    f = open_h5(path)
    with _lock:
        groups = [f["acquisition"][series_name]] if series_name is not None else _h5_raw_series(f)
        if not groups:
            raise LookupError(f"{Path(path).name}: no raw ElectricalSeries in acquisition (converted without raw data)")
        out = join_windows([_H5Series(g) for g in groups], t0, t1, channels, max_points)
        electrodes = groups[0]["electrodes"]
        rows = np.asarray(electrodes[()], dtype=np.int64)[out["channel_index"]]
        table = f[electrodes.attrs["table"]]
        names = h5read.column(table, "channel_name") if "channel_name" in _h5_colnames(table) else rows
        n_rows = len(table["id"])
        groups = h5read.column(table, "group_name") if "group_name" in _h5_colnames(table) else [""] * n_rows
        out["channels"] = [str(names[r]) for r in rows]
        out["groups"] = [str(groups[r]) for r in rows]
        out["events"] = _h5_events(f, t0, t1)
        injection, label = _h5_injection(f)
    out["injection_time_s"] = injection if injection is not None and t0 <= injection < t1 else None
    out["injection_label"] = label
    return out
