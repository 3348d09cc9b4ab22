"""EPSC analysis results in the NWB file, next to the parameters that produced them.

The results live in the processing module ``icephys`` as three tables, so the catalog and the
explorer read them without recomputing and a reader sees exactly which rule produced each number:

- ``epsc_sweeps``: one row per analysed sweep, linked to its row of the icephys ``intracellular_recordings``
  table, with every per-sweep measure, the QC decision and the reason for a rejection;
- ``epsc_cell``: one row, the cell-level means, ratios, decay time constants and QC flag;
- ``epsc_parameters``: one row per parameter (parameter, value, unit, meaning);
- ``analysis_provenance``: the nwb-ketamine version that stored them (:mod:`~nwb_ketamine.analysis.provenance`).

Only voltage-clamp files are analysed; a cell without any gets no module.
"""

from __future__ import annotations

import numpy as np
from hdmf.common import DynamicTable
from pynwb import NWBFile

from nwb_ketamine.analysis.cell_summary import concatenate_measures, quality_control, summarize_cell
from nwb_ketamine.analysis.epsc import measure_sweeps
from nwb_ketamine.analysis.epsc_parameters import EpscParameters
from nwb_ketamine.analysis.parameters import parameter_table, read_parameter_table
from nwb_ketamine.analysis.provenance import add_provenance, analysed_by
from nwb_ketamine.filelayout import (
    ANALYSIS_PROVENANCE,
    CELL_DESCRIPTIONS,
    EPSC_CELL,
    EPSC_PARAMETERS,
    EPSC_SWEEPS,
    ICEPHYS_MODULE,
    SWEEP_COLUMNS,
)


def _padded(arrays: list[np.ndarray]) -> np.ndarray:
    """Stack sweeps of unequal length, right-padded with NaN (the analysis expects that)."""
    width = max(a.shape[1] for a in arrays)
    return np.vstack([np.pad(a, ((0, 0), (0, width - a.shape[1])), constant_values=np.nan) for a in arrays])


def analyse_cell(sweeps: list[dict], params: EpscParameters) -> tuple[dict, dict]:
    """Measure, quality-control and summarise the voltage-clamp files of one cell.

    Parameters
    ----------
    sweeps
        One dict per file in recording order: ``current_a`` (n_sweeps, n_samples) in A, ``rate_hz`` (the
        file's own; files of one cell may differ), ``holding_v`` (the file's holding potential) and ``file``
        (its name).
    params
        The analysis parameters.

    Returns
    -------
    measures : dict of arrays
        Per-sweep measures with ``file``, ``sweep``, ``accepted`` and ``rejection_reason`` added.
    summary : dict
        Cell-level results (see :func:`nwb_ketamine.analysis.epsc.summarize_cell`).
    """
    # Each file is measured at its own sampling rate: windows are in seconds, so files of one cell may
    # differ in rate (a rig's setting changed between protocols). QC and the cell means then work on the
    # per-sweep measures, which no longer depend on the rate.
    parts = [
        measure_sweeps(f["current_a"], f["rate_hz"], np.full(len(f["current_a"]), f["holding_v"]), params)
        for f in sweeps
    ]
    measures = concatenate_measures(parts)
    accepted, reasons = quality_control(measures, params)
    rates = np.concatenate([np.full(len(f["current_a"]), float(f["rate_hz"])) for f in sweeps])
    summary = summarize_cell(measures, accepted, _padded([f["current_a"] for f in sweeps]), rates, params)
    measures["file"] = np.concatenate([np.full(len(f["current_a"]), f["file"]) for f in sweeps])
    measures["sweep"] = np.concatenate([np.arange(len(f["current_a"])) for f in sweeps])
    measures["accepted"], measures["rejection_reason"] = accepted, reasons
    return measures, summary


def add_epsc_analysis(nwbfile: NWBFile, sweeps: list[dict], recording_rows: list[int], params: EpscParameters) -> dict:
    """Analyse the cell and store results and parameters in ``nwbfile``; return the cell summary.

    Parameters
    ----------
    nwbfile
        The file being written; it receives the ``icephys`` processing module.
    sweeps
        The cell's sweeps as :func:`analyse_cell` takes them.
    recording_rows
        For each analysed sweep in order, its row in ``intracellular_recordings``.
    params
        The EPSC analysis parameters; stored next to the results.

    Returns
    -------
    dict
        The cell summary.
    """
    measures, summary = analyse_cell(sweeps, params)
    module = nwbfile.create_processing_module(
        name=ICEPHYS_MODULE,
        description=f"AMPAR/NMDAR-EPSC measures, quality control and cell summary computed by {analysed_by()} "
        f"from the voltage-clamp sweeps of this file, with the parameters used ({EPSC_PARAMETERS}; "
        f"{ANALYSIS_PROVENANCE}).",
    )
    n = len(recording_rows)
    table = DynamicTable(name=EPSC_SWEEPS, description="Per-sweep EPSC measures and quality control.", id=np.arange(n))
    table.add_column(
        name="intracellular_recording",
        description="The sweep's row in the intracellular_recordings table.",
        data=np.asarray(recording_rows),
        table=nwbfile.intracellular_recordings,
    )
    for name, description in SWEEP_COLUMNS.items():
        table.add_column(name=name, description=description, data=_column(measures[name]))
    module.add(table)

    cell = DynamicTable(name=EPSC_CELL, description="Cell-level EPSC results and quality control.", id=[0])
    for name, description in CELL_DESCRIPTIONS.items():
        cell.add_column(name=name, description=description, data=_column([summary[name]]))
    module.add(cell)

    module.add(parameter_table(EPSC_PARAMETERS, f"Parameters of the EPSC analysis ({analysed_by()}).", params))
    add_provenance(module, "epsc", [EPSC_SWEEPS, EPSC_CELL], EPSC_PARAMETERS)
    return summary


def _column(values):
    values = np.asarray(values)
    if values.dtype.kind == "U":
        return values.astype(object).tolist()
    return values


def read_epsc_analysis(nwbfile: NWBFile) -> tuple[dict, dict, EpscParameters] | None:
    """The stored (per-sweep measures, cell summary, parameters) of a file, or None when there are none.

    Parameters
    ----------
    nwbfile
        An open NWB file.

    Returns
    -------
    tuple of (dict, dict, EpscParameters) or None
        Per-sweep measures (column name to array), cell summary, and the parameters that produced them.
    """
    module = nwbfile.processing.get(ICEPHYS_MODULE)
    if module is None or EPSC_CELL not in module.data_interfaces:
        return None
    # Files written before a column was added lack it: the sweeps miss it, the summary holds NaN.
    table, cell = module[EPSC_SWEEPS], module[EPSC_CELL]
    sweeps = {name: np.asarray(table[name].data[:]) for name in SWEEP_COLUMNS if name in table.colnames}
    summary = {name: cell[name].data[0] if name in cell.colnames else np.nan for name in CELL_DESCRIPTIONS}
    params = read_parameter_table(module[EPSC_PARAMETERS], EpscParameters)
    return sweeps, summary, params
