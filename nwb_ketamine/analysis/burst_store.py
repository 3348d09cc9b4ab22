"""Per-unit, per-epoch burst metrics in an NWB file: the ``burst_metrics`` table and its rule, written and read.

The table lives in the ``ecephys`` processing module with the ``burst_parameters`` table of the rule
that produced it and its row of ``analysis_provenance`` (:mod:`~nwb_ketamine.analysis.provenance`), so the
catalog and the explorer read results without recomputing.
"""

from __future__ import annotations

import numpy as np
from hdmf.common import DynamicTable
from pynwb import NWBFile, ProcessingModule

from nwb_ketamine.analysis.bursts import METRICS, BurstParameters, epoch_burst_metrics
from nwb_ketamine.analysis.parameters import parameter_table, read_parameter_table
from nwb_ketamine.analysis.provenance import add_provenance, analysed_by
from nwb_ketamine.filelayout import BURST_METRICS, BURST_PARAMETERS, ECEPHYS_MODULE


def add_burst_metrics(
    module: ProcessingModule,
    units_table,
    spike_times_s: list[np.ndarray],
    epochs: list[tuple[str, float, float]],
    params: BurstParameters,
) -> None:
    """Add the ``burst_metrics`` table (one row per unit and epoch) and ``burst_parameters`` to ``module``.

    Parameters
    ----------
    module
        The ``ecephys`` processing module.
    units_table
        The Units table the ``unit`` column points into.
    spike_times_s
        Per unit (row of ``units_table``), spike times on the session clock.
    epochs
        (name, start_s, stop_s) of each epoch.
    params
        The burst rule; stored as ``burst_parameters``.
    """
    rows = [
        dict(unit=i, **row)
        for i, times in enumerate(spike_times_s)
        for row in epoch_burst_metrics(times, epochs, params)
    ]
    metrics = DynamicTable(
        name=BURST_METRICS,
        description="Per unit and per epoch firing and burst statistics (rule in burst_parameters).",
        id=np.arange(len(rows)),
    )
    metrics.add_column(
        name="unit", description="Row of the units table.", data=[r["unit"] for r in rows], table=units_table
    )
    metrics.add_column(name="epoch", description="Epoch name (epochs table).", data=[r["epoch"] for r in rows])
    for name, what in (("start_s", "Epoch start"), ("stop_s", "Epoch stop")):
        metrics.add_column(name=name, description=f"{what} (s, session clock).", data=_f([r[name] for r in rows]))
    for name, description in METRICS.items():
        values = [r[name] for r in rows]
        data = np.asarray(values, dtype=np.int64) if name.startswith("n_") else _f(values)
        metrics.add_column(name=name, description=description, data=data)
    module.add(metrics)
    module.add(parameter_table(BURST_PARAMETERS, f"Parameters of the burst detection ({analysed_by()}).", params))
    add_provenance(module, "bursts", [BURST_METRICS], BURST_PARAMETERS)


def _f(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def read_burst_metrics(nwbfile: NWBFile) -> tuple[dict[str, np.ndarray], BurstParameters] | None:
    """The stored per-unit, per-epoch burst metrics and the rule that produced them, or None.

    Parameters
    ----------
    nwbfile
        An NWB file read with pynwb.

    Returns
    -------
    metrics : dict of str to ndarray
        ``unit`` (row of the units table), ``unit_name``, ``epoch``, ``start_s``, ``stop_s`` and the
        keys of :data:`nwb_ketamine.analysis.bursts.METRICS`, one entry per (unit, epoch).
    params : BurstParameters
        The burst rule stored with them.
    """
    module = nwbfile.processing.get(ECEPHYS_MODULE)
    if module is None or BURST_METRICS not in module.data_interfaces:
        return None
    table = module[BURST_METRICS]
    out = {"unit": np.asarray(table["unit"].data[:], dtype=np.int64)}
    names = np.asarray(nwbfile.units["unit_name"].data[:], dtype=object) if nwbfile.units is not None else None
    out["unit_name"] = names[out["unit"]] if names is not None and out["unit"].size else np.zeros(0, dtype=object)
    out["epoch"] = np.asarray([str(e) for e in table["epoch"].data[:]], dtype=object)
    for name in ("start_s", "stop_s", *METRICS):
        out[name] = np.asarray(table[name].data[:])
    rule = read_parameter_table(module[BURST_PARAMETERS], BurstParameters)
    return out, rule
