"""Slice cells: draw each cell's protocol specs from its group's parameters and write its ABF files.

Every cell's amplitudes, kinetics and access come from a generator keyed by the cell, and every file's
sweeps from one keyed by the file's path (:func:`~nwb_ketamine.simulate.plan.rng_for`), so any one
file can be regenerated on its own (:func:`simulate_cell_file`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import abf as abf_io
from .plan import TZ, CellPlan, StudyPlan, rng_for


def _clipped(rng, mean_sd, lo_hi=None):
    value = rng.normal(*mean_sd)
    return float(np.clip(value, *lo_hi)) if lo_hi else float(value)


def cell_specs(plan: StudyPlan, cell: CellPlan) -> list[abf_io.ProtocolSpec]:
    """The protocol specs of one cell, drawn from its group's parameters (deterministic per cell).

    Parameters
    ----------
    plan
        The study plan (seed and simulation parameters).
    cell
        The slice cell.
    """
    sp = plan.params.slice
    a = cell.animal
    animal_factor = float(np.exp(rng_for(plan.seed, "animal", a.subject).normal(0.0, sp.animal_amplitude_cv)))
    rng = rng_for(plan.seed, "cell", a.subject, cell.cell_id)
    cell_factor = float(np.exp(rng.normal(0.0, sp.cell_amplitude_cv)))
    ampa_factor = float(np.exp(rng.normal(0.0, sp.cell_amplitude_cv)))
    nmda = sp.nmda_saline_amplitude_pa[f"{cell.region}|{a.stress}"] * animal_factor * cell_factor
    if a.drug == "ketamine":
        nmda *= 1.0 - sp.ketamine_block_fraction[f"{cell.region}|{a.stress}|{a.time_group}"]
    ampa = sp.ampa_amplitude_pa[cell.region] * animal_factor * ampa_factor
    rs = _clipped(rng, sp.rs_mohm, sp.rs_range_mohm)
    if cell.high_rs:  # its own generator: the cell's other properties are those it would have had
        rs = float(rng_for(plan.seed, "high-rs", a.subject, cell.cell_id).uniform(*sp.high_rs_mohm))
    drift = float(rng.normal(*sp.rs_drift_per_sweep))
    rm = max(_clipped(rng, sp.rm_mohm[cell.region]), 30.0)
    cm = max(_clipped(rng, sp.cm_pf[cell.region]), 5.0)
    latency = max(_clipped(rng, sp.latency_s), 0.001)
    kinetics = {
        "AMPA-EPSC": (
            _clipped(rng, sp.ampa_rise_ms, sp.ampa_rise_range_ms) * 1e-3,
            _clipped(rng, sp.ampa_decay_ms, sp.ampa_decay_range_ms) * 1e-3,
        ),
        "NMDA-EPSC": (
            _clipped(rng, sp.nmda_rise_ms, sp.nmda_rise_range_ms) * 1e-3,
            _clipped(rng, sp.nmda_decay_ms[cell.region], sp.nmda_decay_range_ms) * 1e-3,
        ),
    }
    specs = []
    for f in cell.files:
        protocol = f["protocol"]
        holding_i = _clipped(rng, sp.holding_current_pa[f"{f['holding_mv']:g}"])
        signed = -ampa if protocol == "AMPA-EPSC" else nmda
        rise, decay = kinetics[protocol]
        specs.append(
            abf_io.ProtocolSpec(
                protocol=protocol,
                holding_mv=f["holding_mv"],
                n_sweeps=f["n_sweeps"],
                amplitude_pa=signed,
                rise_s=rise,
                decay_s=decay,
                latency_s=latency,
                rs_mohm=rs,
                rs_drift_per_sweep=drift,
                rm_mohm=rm,
                cm_pf=cm,
                holding_current_pa=holding_i,
                spontaneous=protocol == "AMPA-EPSC",
            )
        )
    return specs


def simulate_cell_file(plan: StudyPlan, cell: CellPlan, index: int) -> tuple[np.ndarray, list[dict]]:
    """Float sweeps (pA) and per-sweep truth of one file of one cell; what ``simulate_study`` writes.

    Parameters
    ----------
    plan
        The study plan (seed and simulation parameters).
    cell
        The slice cell.
    index
        Index of the file in ``cell.files``.
    """
    spec = cell_specs(plan, cell)[index]
    rng = rng_for(plan.seed, "abf", cell.files[index]["path"])
    return abf_io.simulate_protocol(spec, plan.params.slice, rng)


def file_tags(protocol: str) -> tuple[tuple[float, str], ...]:
    """The comment tags of a file: ``(seconds from the file start, text)``.

    Parameters
    ----------
    protocol
        The file's protocol name, e.g. ``NMDA-EPSC``.
    """
    # The experimenter tags the wash-in of NBQX when the NMDA protocol starts, as labs do in pClamp.
    return ((2.0, "NBQX 10 uM in bath"),) if protocol == "NMDA-EPSC" else ()


def write_cell_files(out: Path, plan: StudyPlan, cell: CellPlan) -> list[list[dict]]:
    """Write the ABF files of one cell under ``out``; returns each file's per-sweep truth, in file order.

    Parameters
    ----------
    out
        The study folder everything is written under.
    plan
        The study plan (seed and simulation parameters).
    cell
        The slice cell.
    """
    sp = plan.params.slice
    truths = []
    for i, f in enumerate(cell.files):
        sweeps, truth = simulate_cell_file(plan, cell, i)
        local = f["start"].astimezone(TZ).replace(tzinfo=None)
        abf_io.write_abf(
            out / f["path"],
            sweeps,
            sp,
            start_time=local,
            protocol=f["protocol"],
            holding_mv=f["holding_mv"],
            tags=file_tags(f["protocol"]),
        )
        truths.append(truth)
    return truths
