"""EPSC analysis results in the NWB file, next to the parameters that produced them.

The results live in the processing module ``icephys`` as three tables, so the catalog and the
explorer read them without recomputing and a reader sees exactly which rule produced each number:

- ``epsc_sweeps``: one row per analysed sweep, linked to its row of the icephys ``intracellular_recordings``
  table, with every per-sweep measure, the QC decision and the reason for a rejection;
- ``epsc_cell``: one row, the cell-level means, ratios, decay time constants and QC flag;
- ``epsc_parameters``: one row per parameter (parameter, value, unit, meaning).

Only voltage-clamp files are analysed; a cell without any gets no module.
"""

from __future__ import annotations

import numpy as np
from hdmf.common import DynamicTable
from pynwb import NWBFile

from nwb_ketamine.analysis.epsc import (
    EpscParameters,
    concatenate_measures,
    measure_sweeps,
    quality_control,
    summarize_cell,
)
from nwb_ketamine.analysis.parameters import parameter_table, read_parameter_table

MODULE = "icephys"  # NWB Inspector recommends the schema module names

SWEEP_COLUMNS = {
    "file": "ABF file of the sweep.",
    "sweep": "Sweep index within its file.",
    "kind": "AMPA, NMDA or other, from the holding potential.",
    "holding_potential_v": "Holding potential stated in the study file, in V.",
    "holding_current_a": "Mean current just before the test pulse, in A.",
    "series_resistance_ohm": "Series resistance from the test-pulse peak transient, in Ohm.",
    "input_resistance_ohm": "Input resistance from the test-pulse steady state, in Ohm.",
    "baseline_a": "Mean current just before the stimulus, in A.",
    "peak_a": "Signed EPSC peak from the baseline, in A.",
    "peak_time_s": "Time of the EPSC peak from the stimulus, in s.",
    "value_at_latency_a": "Signed EPSC value at the fixed latency after the stimulus, in A.",
    "decay_tau_s": "Single-exponential decay time constant, in s.",
    "accepted": "Whether the sweep passed quality control.",
    "rejection_reason": "Why the sweep was rejected ('' when accepted).",
}
CELL_DESCRIPTIONS = {
    "ampa_peak_a": "Mean AMPAR-EPSC peak over accepted AMPA sweeps (signed, A).",
    "nmda_peak_a": "Mean NMDAR-EPSC peak over accepted NMDA sweeps (signed, A).",
    "nmda_value_at_latency_a": "Mean NMDAR-EPSC value at the fixed latency (A).",
    "nmda_ampa_ratio": "NMDA peak / |AMPA peak|.",
    "nmda_ampa_ratio_latency": "NMDA value at the fixed latency / |AMPA peak|.",
    "ampa_decay_tau_s": "Mean per-sweep AMPA decay time constant (s).",
    "nmda_decay_tau_s": "Mean per-sweep NMDA decay time constant (s).",
    "ampa_decay_tau_average_s": "Decay time constant of the average accepted AMPA sweep (s); NaN if their rates vary.",
    "nmda_decay_tau_average_s": "Decay time constant of the average accepted NMDA sweep (s); NaN if their rates vary.",
    "ampa_holding_current_a": "Mean holding current of accepted AMPA sweeps (A).",
    "nmda_holding_current_a": "Mean holding current of accepted NMDA sweeps (A).",
    "series_resistance_ohm": "Mean series resistance of accepted sweeps (Ohm).",
    "input_resistance_ohm": "Mean input resistance of accepted sweeps (Ohm).",
    "rs_change_max": "Largest relative change of Rs from the first sweep, all sweeps.",
    "n_sweeps": "Number of analysed sweeps.",
    "n_accepted": "Number of accepted sweeps.",
    "n_ampa": "Number of AMPA sweeps.",
    "n_ampa_accepted": "Number of accepted AMPA sweeps.",
    "n_nmda": "Number of NMDA sweeps.",
    "n_nmda_accepted": "Number of accepted NMDA sweeps.",
    "accepted": "Whether the cell passed quality control.",
    "qc_reasons": "Why the cell failed quality control ('' when accepted).",
}


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

    ``recording_rows`` gives, for each analysed sweep in order, its row in ``intracellular_recordings``.
    """
    measures, summary = analyse_cell(sweeps, params)
    module = nwbfile.create_processing_module(
        name=MODULE,
        description="AMPAR/NMDAR-EPSC measures, quality control and cell summary computed by nwb-ketamine "
        "from the voltage-clamp sweeps of this file, with the parameters used.",
    )
    n = len(recording_rows)
    table = DynamicTable(
        name="epsc_sweeps", description="Per-sweep EPSC measures and quality control.", id=np.arange(n)
    )
    table.add_column(
        name="intracellular_recording",
        description="The sweep's row in the intracellular_recordings table.",
        data=np.asarray(recording_rows),
        table=nwbfile.intracellular_recordings,
    )
    for name, description in SWEEP_COLUMNS.items():
        table.add_column(name=name, description=description, data=_column(measures[name]))
    module.add(table)

    cell = DynamicTable(name="epsc_cell", description="Cell-level EPSC results and quality control.", id=[0])
    for name, description in CELL_DESCRIPTIONS.items():
        cell.add_column(name=name, description=description, data=_column([summary[name]]))
    module.add(cell)

    module.add(parameter_table("epsc_parameters", "Parameters of the EPSC analysis.", params))
    return summary


def _column(values):
    values = np.asarray(values)
    if values.dtype.kind == "U":
        return values.astype(object).tolist()
    return values


def read_epsc_analysis(nwbfile: NWBFile) -> tuple[dict, dict, EpscParameters] | None:
    """The stored (per-sweep measures, cell summary, parameters) of a file, or None when there are none."""
    if MODULE not in nwbfile.processing or "epsc_cell" not in nwbfile.processing[MODULE].data_interfaces:
        return None
    module = nwbfile.processing[MODULE]
    sweeps = {name: np.asarray(module["epsc_sweeps"][name].data[:]) for name in SWEEP_COLUMNS}
    summary = {name: module["epsc_cell"][name].data[0] for name in CELL_DESCRIPTIONS}
    table = module["epsc_parameters"]
    params = read_parameter_table(table, EpscParameters)
    return sweeps, summary, params
