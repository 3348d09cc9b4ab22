"""The ``study.yaml`` of a simulated study: subjects, drugs, stress protocols and one entry per cell and session.

The document is what a lab would write for these files (see docs/study-file.md); it is built from the
plan alone, so it can be checked without writing any data file.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import yaml

from .invivo import neuralynx_stream, session_params, sorting_folder
from .parameters import TIME_GROUPS
from .plan import SessionPlan, StudyPlan, rng_for

TZ_NAME = "Asia/Shanghai"
DATE_OF_BIRTH = date(2023, 12, 20)
STRESS_PROTOCOL = {"control": "no-stress", "stress": "crs"}
DRUG_ID = {"saline": "saline", "ketamine": "ketamine-10"}
#: The slice methods of a simulated study: plausible values of this literature, so the demo shows them (they
#: are written into the files and shown by the explorer; the simulated traces do not depend on them).
SLICE_METHODS: dict[str, Any] = {
    "internal_solution": (
        "Cs-based voltage-clamp solution (in mM): 117 Cs-methanesulfonate, 20 HEPES, 0.4 EGTA, 2.8 NaCl, 5 TEA-Cl, "
        "5 QX-314, 2.5 Mg-ATP, 0.25 Na-GTP; pH 7.3, 285 mOsm"
    ),
    "slice_thickness_um": 300,
    "cutting_solution": (
        "coronal slices cut in sucrose ACSF (in mM): 230 sucrose, 2.5 KCl, 1.25 NaH2PO4, 26 NaHCO3, 0.5 CaCl2, "
        "10 MgSO4, 10 glucose; bubbled with 95% O2 / 5% CO2"
    ),
    "cutting_temperature_c": 4,
    "recovery": "ACSF at 34 °C for 30 min, then room temperature for at least 1 h",
    "recording_solution": (
        "ACSF (in mM): 125 NaCl, 2.5 KCl, 1.25 NaH2PO4, 25 NaHCO3, 2 CaCl2, 1 MgCl2, 25 glucose; bubbled with 95% "
        "O2 / 5% CO2, perfused at 2 mL/min"
    ),
    "recording_temperature_c": 32,
    "stimulation_sites": {"LHb": "stria medullaris", "CA1": "Schaffer collaterals (stratum radiatum)"},
}
#: Where the simulated tetrodes were implanted (LHb, mm from bregma).
IMPLANT: dict[str, Any] = {"ap_mm": -1.8, "ml_mm": 0.45, "dv_mm": -2.9, "atlas": "Paxinos and Franklin 2019"}


def _duration(seconds: float) -> str:
    if seconds % 60 == 0 and seconds >= 60:
        return f"{int(seconds // 60)} min"
    return f"{seconds:g} s"


def study_document(plan: StudyPlan) -> dict:
    """The study.yaml content of a plan, as plain data.

    Parameters
    ----------
    plan
        The study plan (seed and simulation parameters).
    """
    rng = rng_for(plan.seed, "subjects")
    doc: dict[str, Any] = {
        "format_version": 1,
        "study": {
            "title": f"Simulated study of region-specific NMDAR block by ketamine (seed {plan.seed}, {plan.size})",
            "description": (
                "Simulated by nwb-ketamine: whole-cell NMDAR- and AMPAR-EPSCs of lateral habenula and CA1 "
                "neurons of control and restraint-stressed mice given ketamine or saline, and tetrode "
                "recordings of lateral habenula units before and after injection. Effect sizes are "
                "illustrative, not values from the paper."
            ),
            "related_publications": ["doi:10.1126/science.ado7010"],
            "lab": "Simulated lab",
            "institution": "nwb-ketamine simulator",
            "experimenters": ["Doe, Jane", "Roe, Richard"],
            "contact": {"name": "Doe, Jane", "email": "jane.doe@example.org"},
            "keywords": [
                "ketamine",
                "lateral habenula",
                "NMDA receptor",
                "depression",
                "chronic restraint stress",
                "simulated data",
            ],
            "license": "CC-BY-4.0",
        },
        "timezone": TZ_NAME,
        "stress_protocols": [
            {"id": "no-stress", "paradigm": "none", "description": "Handled controls kept in the home cage."},
            {
                "id": "crs",
                "paradigm": "chronic restraint",
                "duration_per_day": "2 h",
                "number_of_days": 14,
                "start_date": "2024-03-01",
                "end_date": "2024-03-14",
                "apparatus": "ventilated 50 mL conical tube",
                "description": "Daily restraint in the home-cage room.",
            },
        ],
        "drugs": [
            {
                "id": "ketamine-10",
                "agent": "ketamine",
                "agent_identifier": "CHEBI:6121",
                "dose": "10 mg/kg",
                "route": "intraperitoneal",
                "vehicle": "0.9% saline",
                "volume": "10 mL/kg",
                "role": "treatment",
            },
            {
                "id": "saline",
                "agent": "saline",
                "vehicle": "0.9% saline",
                "volume": "10 mL/kg",
                "route": "intraperitoneal",
                "role": "vehicle control",
            },
            {
                "id": "nbqx",
                "agent": "NBQX",
                "agent_identifier": "CHEBI:34867",
                "concentration": "10 uM",
                "route": "bath",
                "role": "pharmacological isolation",
            },
            {
                "id": "picrotoxin",
                "agent": "picrotoxin",
                "agent_identifier": "CHEBI:8207",
                "concentration": "100 uM",
                "route": "bath",
                "role": "pharmacological isolation",
            },
        ],
        # The design's time points; the converter stores each cell's nearest one (its recorded time binned).
        "time_points": [{"name": name, "after_injection": f"{hours:g} h"} for name, hours in TIME_GROUPS.items()],
        "subjects": [],
    }
    if plan.cells:
        # The protocol timing every ABF file shares; the analysis needs it and cannot guess it.
        sp = plan.params.slice
        doc["analysis"] = {
            "epsc": {
                "stimulus_time_s": sp.stimulus_time_s,
                "test_pulse_start_s": sp.test_pulse_start_s,
                "test_pulse_duration_s": sp.test_pulse_duration_s,
                "test_pulse_amplitude_v": sp.test_pulse_mv * 1e-3,
                "nmda_latency_s": sp.fixed_latency_rule_s,
            }
        }
        doc["slice_methods"] = {**SLICE_METHODS, "stimulation_sites": dict(SLICE_METHODS["stimulation_sites"])}
    doc["sessions"] = []
    for a in plan.animals:
        doc["subjects"].append(
            {
                "id": a.subject,
                "species": "Mus musculus",
                "strain": "C57BL/6J",
                "sex": "M",
                "date_of_birth": DATE_OF_BIRTH.isoformat(),
                "weight": f"{rng.uniform(22.0, 28.0):.1f} g",
                "group": a.group,
                "stress": STRESS_PROTOCOL[a.stress],
            }
        )
    for c in plan.cells:
        doc["sessions"].append(
            {
                "type": "slice",
                "session_id": c.session_id,
                "subject": c.animal.subject,
                "start_time": c.start.isoformat(),
                "injection": {"drug": DRUG_ID[c.animal.drug], "time": c.injection.isoformat()},
                "slicing_time": c.slicing.isoformat(),
                "slice_id": c.slice_id,
                "cell_id": c.cell_id,
                "region": c.region,
                "clamp_mode": "voltage_clamp",
                "files": [
                    {
                        "path": f["path"],
                        "protocol": f["protocol"],
                        "holding_potential": f"{f['holding_mv']:+g} mV",
                        "bath": ["picrotoxin"] if f["protocol"] == "AMPA-EPSC" else ["picrotoxin", "nbqx"],
                    }
                    for f in c.files
                ],
            }
        )
    for s in plan.sessions:
        doc["sessions"].append(_invivo_entry(plan, s))
    return doc


def _invivo_entry(plan: StudyPlan, s: SessionPlan) -> dict:
    """The study.yaml entry of one in vivo session (the variants' ``raw``, ``sorting`` and ``tetrodes``)."""
    n_tetrodes = session_params(plan, s).n_tetrodes
    description = "Freely moving tetrode recording of lateral habenula units; injection marked by TTL 1."
    raw: dict[str, Any] | None = {"path": s.folder, "format": "openephys_binary"}
    tetrodes: list[dict[str, Any]] = [
        {"channels": list(range(4 * t, 4 * t + 4)), "region": "LHb"} for t in range(n_tetrodes)
    ]
    if s.pauses:
        pause = ", ".join(f"{_duration(a)} to {_duration(b)}" for a, b in s.pauses)
        description = description[:-1] + f"; recording paused from {pause} after the start."
    if s.variant == "openephys_split":
        description += " Open Ephys wrote recording1 and recording2; Kilosort sorted their concatenation."
    elif s.variant == "neuralynx":
        description = description.replace("TTL 1", "TTL port 0 bit 0")
        description += " Neuralynx Cheetah: tetrode 1 wide band at 32 kHz (CSC1-4), LFP at 2 kHz (LFP1)."
        raw = {
            "path": s.folder,
            "format": "neuralynx",
            "stream": neuralynx_stream(plan),
            "neo_options": {"gap_tolerance_ms": 1.0},
        }
        # this rig's one tetrode gives its own implant (the session's atlas still applies)
        tetrodes = [
            {
                "number": 1,
                "channels": [0, 1, 2, 3],
                "region": "LHb",
                "implant": {"ap_mm": -1.7, "ml_mm": 0.5, "dv_mm": -2.8},
            }
        ]
    elif s.variant == "sorting_only":
        description = (
            "Freely moving tetrode recording of lateral habenula units; only the Kilosort/phy sorting was kept "
            "(no raw data, no TTL)."
        )
        raw = None
        tetrodes = [{"number": t + 1, "region": "LHb"} for t in range(n_tetrodes)]
    entry = {
        "type": "invivo",
        "session_id": s.session_id,
        "subject": s.animal.subject,
        "start_time": s.start.isoformat(),
        "injection": {"drug": DRUG_ID[s.animal.drug], "time": s.injection.isoformat()},
        "description": description,
        "raw": raw,
        "sorting": {"path": sorting_folder(s), "format": "phy"},
        "tetrodes": tetrodes,
        "epochs": [
            {"name": "baseline", "start": "0 s", "stop": _duration(s.baseline_s)},
            {"name": "post-injection", "start": _duration(s.baseline_s), "stop": _duration(s.duration_s)},
        ],
        "implant": dict(IMPLANT),
    }
    if raw is None:
        del entry["raw"]
    if s.variant == "sorting_only":  # a session whose study file gives no implant
        del entry["implant"]
    return entry


def write_study_file(out: Path, plan: StudyPlan) -> Path:
    """Write ``out/study.yaml`` with a header comment naming the seed and size; returns its path.

    Parameters
    ----------
    out
        The study folder.
    plan
        The study plan (seed and simulation parameters).
    """
    study_path = out / "study.yaml"
    header = (
        "# nwb-ketamine study file, written by `nwb-ketamine simulate` "
        f"(seed {plan.seed}, size {plan.size}).\n# Paths are relative to this file. Simulated data: effect sizes are "
        "illustrative, not values from the paper.\n"
    )
    study_path.write_text(header + yaml.safe_dump(study_document(plan), sort_keys=False, width=120))
    return study_path
