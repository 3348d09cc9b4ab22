"""Reading one slice cell's NWB file for the cell view: its voltage-clamp sweeps, their QC and the stored analysis.

Read with h5py by object path (:mod:`~nwb_ketamine.explorer.h5tables`); the tests compare
:func:`cell_sweeps` with a reader through pynwb's objects. Stored analysis results are read as stored
(what :func:`nwb_ketamine.analysis.store.read_epsc_analysis` returns); nothing is recomputed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nwb_ketamine import h5read
from nwb_ketamine.explorer import h5tables, nwbfiles
from nwb_ketamine.filelayout import (
    CELL_DESCRIPTIONS,
    EPSC_CELL_PATH,
    EPSC_PARAMETERS_PATH,
    EPSC_SWEEPS_PATH,
    HOLDING_POTENTIAL_COLUMN,
    INTRACELLULAR_EPHYS_PATH,
    INTRACELLULAR_RESPONSES_PATH,
    SWEEP_COLUMNS,
    SWEEP_RECORDING_COLUMN,
)


def spread_holding(values, repetitions, sequentials, simultaneous, recordings, holding: np.ndarray) -> None:
    """Write each experimental condition's holding potential into ``holding`` at its recordings' rows.

    The icephys tables nest: a condition holds repetitions, a repetition sequential recordings, those
    simultaneous recordings and those rows of intracellular_recordings.

    Parameters
    ----------
    values
        Holding potential of each condition (V).
    repetitions, sequentials, simultaneous, recordings
        The ragged reference columns, row by row: repetitions of each condition, sequential recordings of
        each repetition, simultaneous recordings of each sequential recording, recordings of each of those.
    holding
        One value per row of intracellular_recordings, updated in place.
    """
    for value, reps in zip(values, repetitions, strict=True):
        for rep in reps:
            for seq in sequentials[rep]:
                for sim in simultaneous[seq]:
                    holding[recordings[sim]] = value


def _holding(f, n_rows: int) -> np.ndarray:
    """The holding potential of each row of intracellular_recordings (NaN where no condition states one)."""
    holding = np.full(n_rows, np.nan)
    icephys = f.get(INTRACELLULAR_EPHYS_PATH)
    try:
        conditions = icephys["experimental_conditions"]
        if HOLDING_POTENTIAL_COLUMN not in h5tables.colnames(conditions):
            return holding
        spread_holding(
            np.asarray(conditions[HOLDING_POTENTIAL_COLUMN][()], dtype=float),
            h5tables.ragged(conditions, "repetitions"),
            h5tables.ragged(icephys["repetitions"], "sequential_recordings"),
            h5tables.ragged(icephys["sequential_recordings"], "simultaneous_recordings"),
            h5tables.ragged(icephys["simultaneous_recordings"], "recordings"),
            holding,
        )
    except (KeyError, TypeError, IndexError, ValueError):
        pass
    return holding


def _epsc_analysis(f):
    """The stored EPSC analysis: (per-sweep measures, cell summary, EpscParameters, analysed rows) or None."""
    from nwb_ketamine.analysis.epsc_parameters import EpscParameters

    if EPSC_CELL_PATH not in f:
        return None
    table = f[EPSC_SWEEPS_PATH]
    # Files written before a column was added lack it: the sweeps miss it, the summary holds NaN.
    sweeps = {name: h5read.column(table, name) for name in SWEEP_COLUMNS if name in table}
    cell = f[EPSC_CELL_PATH]
    summary = {name: h5read.decode(cell[name][0]) if name in cell else np.nan for name in CELL_DESCRIPTIONS}
    params = h5tables.parameters(f[EPSC_PARAMETERS_PATH], EpscParameters)
    analysed = np.asarray(table[SWEEP_RECORDING_COLUMN][()])
    return sweeps, summary, params, analysed


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
    with nwbfiles.reading(path) as f:
        table = f.get(INTRACELLULAR_RESPONSES_PATH)
        refs = table["response"][()] if table is not None and "response" in table else []
        rows = []
        for i, (start, count, ref) in enumerate(refs):
            if not ref:
                continue
            series = f[ref]
            if h5read.type_of(series) == "VoltageClampSeries":
                rows.append((i, int(start), int(count), series))
        holding = _holding(f, len(refs))
        stored = _epsc_analysis(f)
        measures = None
        if stored is not None:
            measures, summary, parameters, analysed = stored
            position = {int(r): k for k, r in enumerate(analysed)}
        else:
            summary = parameters = None
            position = {}
        timing = [h5tables.series_timing(series) for *_, series in rows]
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
                "protocol": h5tables.attr(series, "stimulus_description"),
                "start_time_s": t0 + start / float(series_rate or 1.0),
                "holding_potential_v": holding[i] if i < holding.size else np.nan,
                "rate_hz": series_rate if series_rate else np.nan,
            }
            records.append(record | stored_measures(measures, position.get(i)))
        electrode = {}
        if rows and "electrode" in rows[0][3]:
            e = rows[0][3]["electrode"]
            electrode = {"name": e.name.rsplit("/", 1)[-1]}
            electrode.update({field: h5read.scalar(e, field, None) for field in ("location", "slice", "cell_id")})
        injection, _ = h5tables.injection(f)
    return cell_result(current, rate, records, summary, parameters, electrode, injection)


def stored_measures(measures: dict | None, row: int | None) -> dict:
    """A sweep's stored measures (row ``row`` of ``measures``), or those of a sweep that was not analysed.

    Parameters
    ----------
    measures
        The epsc_sweeps columns (name → values), or None for a file without analysis.
    row
        The sweep's row in them, or None when it is not among the analysed sweeps.

    Returns
    -------
    dict
        The measures (strings decoded) and ``analysed``.
    """
    if measures is None or row is None:
        return {"kind": "other", "accepted": False, "rejection_reason": "not analysed", "analysed": False}
    return {name: h5read.decode(values[row]) for name, values in measures.items()} | {"analysed": True}


def cell_result(current, rate: float, records: list[dict], summary, parameters, electrode: dict, injection) -> dict:
    """The dict :func:`cell_sweeps` returns, from what was read (the tests' pynwb reference builds it too).

    Parameters
    ----------
    current
        The sweeps' current (n_sweeps, n_samples) in A, NaN-padded.
    rate
        Sampling rate of the sweeps (Hz).
    records
        One dict per sweep: its identity, timing and holding with :func:`stored_measures`.
    summary, parameters
        The stored cell results and EpscParameters, or None.
    electrode
        The intracellular electrode's name, location, slice and cell id.
    injection
        The injection's time on the session clock (s), or None.

    Returns
    -------
    dict
        See :func:`cell_sweeps`.
    """
    sweeps = pd.DataFrame.from_records(records)
    if len(sweeps):
        sweeps["holding_potential_v"] = sweeps["holding_potential_v"].astype(float)
        for column in ("series_resistance_ohm", "input_resistance_ohm", "decay_tau_s", "peak_a", "baseline_a"):
            if column not in sweeps:
                sweeps[column] = np.nan
        sweeps["accepted"] = sweeps["accepted"].astype(bool)
    return {
        "current_a": current,
        "time_s": np.arange(current.shape[1]) / rate if len(current) else np.zeros(0),
        "rate_hz": rate,
        "sweeps": sweeps,
        "summary": summary,
        "parameters": parameters,
        "electrode": electrode,
        "injection_time_s": injection,
    }
