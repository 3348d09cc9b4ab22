"""The ``ground_truth/`` folder: what was simulated, per sweep, cell, file, session, unit, spike and burst.

Tests and benchmarks compare the converted archive with these tables; ``README.txt`` (written with
them, :data:`GROUND_TRUTH_README`) says what every file holds.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from . import abf as abf_io
from . import openephys, spikes
from .invivo import ClusterPlan, neuralynx_stream, session_params, session_recordings, sorting_folder
from .plan import CellPlan, SessionPlan, StudyPlan
from .slice_cells import file_tags

GROUND_TRUTH_README = """\
Ground truth of a study simulated by nwb-ketamine (illustrative parameters, not values from any paper).
Times in s, currents in pA, resistances in MOhm, extracellular signals in uV.

parameters.json        every simulation parameter, the seed, the size and the burst rule
slice_files.csv        per ABF file: protocol, holding potential, timing of test pulse and stimulus, bit size (pA),
                       comment tags as a JSON list of [seconds from the file start, text]
slice_sweeps.csv       per sweep: EPSC amplitude (signed peak of the noise-free EPSC), value at the fixed latency
                       after the stimulus, kinetics, Rs (= test pulse / peak transient), Rin (= test pulse /
                       steady state = Rs + Rm), holding current, number of spontaneous EPSCs
slice_cells.csv        per cell: group, mean amplitudes, NMDA/AMPA ratio, kinetics, Rs, Rin, simulated block,
                       qc_expected_rejected (True: a cell with lost access, Rs over 25 MOhm in every sweep,
                       which QC must reject; every other cell passes QC)
invivo_sessions.csv    per session: start time, injection time and sample (from the first recorded sample),
                       first Open Ephys sample number, paths
invivo_unit_epochs.csv per good unit and epoch: firing and burst statistics (definitions in
                       nwb_ketamine.simulate.spikes.burst_statistics)
invivo/<session>/units.csv   every phy cluster: label, kind, tetrode, mean waveform on its tetrode (uV)
invivo/<session>/spikes.csv  every spike: cluster, sample from the start of continuous.dat, time, burst id (-1: none)
invivo/<session>/bursts.csv  every burst: cluster, epoch, first and last spike time, spikes, intraburst frequency
invivo/<session>/edge_probes.csv  spike patterns with ISIs just under, at and just over the burst rule's onset ISI,
                       end ISI and silence (BurstRule in parameters.py): cluster, probe, ISIs in samples and ms,
                       first spike time and sample (session clock), which of its spikes are in a burst
                       (JSON list of 0/1); the same membership is in spikes.csv's burst_id

Times are on the session clock: 0 at the first recorded sample. With --invivo-variants, three more sessions:
  openephys_split  Open Ephys recording1 + recording2 with a pause in between (acquisition clock runs on);
  neuralynx        Cheetah .ncs at 32 kHz (CSC1-4, one tetrode) and 2 kHz (LFP1), same pause, Events.nev TTL;
  sorting_only     a phy folder only (its params.py names a .dat that is not there), no raw data.
invivo_sessions.csv then also gives per session: variant, sampling_rate_hz, recorded_s (stretches recorded
without a pause, session clock), recorded_samples ([start sample, n] of each), first_timestamp_us (Neuralynx
acquisition clock of the first sample) and stream (neo's name of the tetrode stream). In spikes.csv of a
session with a pause, sample counts recorded samples (the recordings concatenated, as in spike_times.npy),
time_s is the session clock. Rates in invivo_unit_epochs.csv are per recorded second (pauses excluded).
"""


def _write_csv(path: Path, rows: list[dict]) -> None:
    """Write rows as CSV with every column of every row, in first-seen order (an empty file if no rows)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        if not rows:
            return
        # Every column of every row, in first-seen order (variant sessions add columns).
        fieldnames = list(dict.fromkeys(key for row in rows for key in row))
        writer = csv.DictWriter(f, fieldnames=fieldnames, restval="")
        writer.writeheader()
        writer.writerows(rows)


def cell_truth(plan: StudyPlan, cell: CellPlan, truths: list[list[dict]]) -> tuple[list[dict], dict, list[dict]]:
    """The sweep rows, the cell row and the file rows of one cell, from each file's per-sweep truth.

    Parameters
    ----------
    plan
        The study plan (seed and simulation parameters).
    cell
        The slice cell.
    truths
        Per-sweep truth of each of the cell's files, in file order (what
        :func:`~nwb_ketamine.simulate.slice_cells.write_cell_files` returns).
    """
    sp = plan.params.slice
    sweep_rows, file_rows = [], []
    means = {}
    for f, truth in zip(cell.files, truths, strict=True):
        tags = file_tags(f["protocol"])
        ident = {
            "subject": cell.animal.subject,
            "session_id": cell.session_id,
            "slice_id": cell.slice_id,
            "cell_id": cell.cell_id,
            "path": f["path"],
        }
        for row in truth:
            row = dict(ident, **row)
            row["n_spontaneous"] = len(row.pop("spontaneous_onsets_s"))
            row.pop("spontaneous_amplitudes_pa")
            sweep_rows.append(row)
        file_rows.append(
            dict(
                ident,
                protocol=f["protocol"],
                holding_potential_mv=f["holding_mv"],
                start_time=f["start"].isoformat(),
                n_sweeps=f["n_sweeps"],
                sampling_rate_hz=sp.sampling_rate_hz,
                sweep_duration_s=sp.sweep_duration_s,
                sweep_interval_s=sp.sweep_interval_s,
                test_pulse_start_s=sp.test_pulse_start_s,
                test_pulse_stop_s=sp.test_pulse_start_s + sp.test_pulse_duration_s,
                test_pulse_mv=sp.test_pulse_mv,
                stimulus_time_s=sp.stimulus_time_s,
                lsb_pa=abf_io.lsb_pa(sp),
                spontaneous_onsets_s=json.dumps([t["spontaneous_onsets_s"] for t in truth]),
                tags=json.dumps(tags),
            )
        )
        means[f["protocol"]] = {
            key: float(np.mean([t[key] for t in truth]))
            for key in (
                "epsc_amplitude_pa",
                "epsc_value_at_fixed_latency_pa",
                "rise_tau_ms",
                "decay_tau_ms",
                "rs_mohm",
                "rin_mohm",
            )
        }
    a = cell.animal
    block = plan.params.slice.ketamine_block_fraction[f"{cell.region}|{a.stress}|{a.time_group}"]
    ampa, nmda = means["AMPA-EPSC"], means["NMDA-EPSC"]
    cell_row = {
        "subject": a.subject,
        "session_id": cell.session_id,
        "slice_id": cell.slice_id,
        "cell_id": cell.cell_id,
        "region": cell.region,
        "stress": a.stress,
        "drug": a.drug,
        "time_group": a.time_group,
        "group": a.group,
        "hours_since_injection": (cell.start - cell.injection).total_seconds() / 3600,
        "ampa_amplitude_pa": ampa["epsc_amplitude_pa"],
        "nmda_amplitude_pa": nmda["epsc_amplitude_pa"],
        "nmda_value_at_fixed_latency_pa": nmda["epsc_value_at_fixed_latency_pa"],
        "nmda_ampa_ratio": abs(nmda["epsc_amplitude_pa"] / ampa["epsc_amplitude_pa"]),
        "ampa_rise_tau_ms": ampa["rise_tau_ms"],
        "ampa_decay_tau_ms": ampa["decay_tau_ms"],
        "nmda_rise_tau_ms": nmda["rise_tau_ms"],
        "nmda_decay_tau_ms": nmda["decay_tau_ms"],
        "rs_mohm": float(np.mean([ampa["rs_mohm"], nmda["rs_mohm"]])),
        "rin_mohm": float(np.mean([ampa["rin_mohm"], nmda["rin_mohm"]])),
        "simulated_block_fraction": block if a.drug == "ketamine" else 0.0,
        # Lost access (Rs over the QC threshold in every sweep): QC must reject exactly these cells.
        "qc_expected_rejected": cell.high_rs,
    }
    return sweep_rows, cell_row, file_rows


def session_truth(
    out: Path, plan: StudyPlan, session: SessionPlan, clusters: list[ClusterPlan], clock: dict
) -> tuple[list[dict], list[dict], dict]:
    """Write a session's ``units.csv``, ``spikes.csv`` and ``bursts.csv``; returns its epoch, unit and session rows.

    ``clock`` holds the fields :func:`~nwb_ketamine.simulate.invivo_files.write_raw` returns.

    Parameters
    ----------
    out
        The study folder everything is written under.
    plan
        The study plan (seed and simulation parameters).
    session
        The in vivo session.
    clusters
        The session's clusters with their trains.
    clock
        The fields :func:`~nwb_ketamine.simulate.invivo_files.write_raw` returns.
    """
    ip = session_params(plan, session)
    fs = ip.sampling_rate_hz
    a = session.animal
    inj = int(round(session.baseline_s * fs))
    recordings = session_recordings(plan, session)
    n_samples = sum(n for _, n in recordings)
    gt = out / "ground_truth" / "invivo" / f"{a.subject}-{session.session_id}"
    gt.mkdir(parents=True, exist_ok=True)
    ids = np.concatenate([np.full(c.train.samples.size, i) for i, c in enumerate(clusters)])
    samples = np.concatenate([c.train.samples for c in clusters])
    bursts = np.concatenate([c.train.burst_id for c in clusters])
    order = np.lexsort((samples, ids))
    # sample: as in spike_times.npy (recorded samples); time_s: the session clock.
    recorded = openephys.session_to_concatenated(samples, recordings) if session.pauses else samples
    with open(gt / "spikes.csv", "w") as f:
        f.write("cluster_id,sample,time_s,burst_id\n")
        np.savetxt(
            f,
            np.column_stack([ids[order], recorded[order], samples[order] / fs, bursts[order]]),
            fmt=["%d", "%d", "%.7f", "%d"],
            delimiter=",",
        )
    epochs = [("baseline", 0.0, session.baseline_s), ("post-injection", session.baseline_s, session.duration_s)]
    unit_rows, epoch_rows = [], []
    for i, c in enumerate(clusters):
        best = int(np.abs(c.template_uv).max(axis=0).argmax())
        unit_rows.append(
            {
                "session": f"{a.subject}-{session.session_id}",
                "cluster_id": i,
                "unit": c.unit,
                "label": c.label,
                "kind": c.kind,
                "tetrode": c.tetrode + 1,
                "best_channel": best,
                "peak_uv": float(np.abs(c.template_uv).max()),
                "n_spikes": int(c.train.samples.size),
                "event_rate_hz": c.event_rate_hz,
                "waveform_uv": json.dumps(
                    np.round(c.template_uv[:, c.tetrode * 4 : (c.tetrode + 1) * 4].T, 3).tolist()
                ),
            }
        )
        if c.label != "good":
            continue
        for name, t0, t1 in epochs:
            stats = spikes.burst_statistics(c.train, t0, t1, fs, gaps=session.pauses)
            epoch_rows.append(
                {
                    "session": f"{a.subject}-{session.session_id}",
                    "subject": a.subject,
                    "stress": a.stress,
                    "drug": a.drug,
                    "group": a.group,
                    "cluster_id": i,
                    "unit": c.unit,
                    "kind": c.kind,
                    "epoch": name,
                    "start_s": t0,
                    "stop_s": t1,
                    **stats,
                }
            )
    _write_csv(gt / "units.csv", unit_rows)
    burst_rows = []
    for i, c in enumerate(clusters):
        for row in spikes.burst_table(c.train, fs):
            name = "baseline" if row["first_spike_s"] < session.baseline_s else "post-injection"
            burst_rows.append({"cluster_id": i, "unit": c.unit, "epoch": name, **row})
    _write_csv(gt / "bursts.csv", burst_rows)
    probe_rows = []
    for i, c in enumerate(clusters):
        for probe in c.probes:
            t0 = probe["first_sample"] / fs
            probe_rows.append(
                {
                    "cluster_id": i,
                    "unit": c.unit,
                    "probe": probe["probe"],
                    "epoch": "baseline" if t0 < session.baseline_s else "post-injection",
                    "first_spike_s": t0,
                    "first_sample": probe["first_sample"],
                    "isis_samples": json.dumps(probe["isis_samples"]),
                    "isis_ms": json.dumps([1e3 * n / fs for n in probe["isis_samples"]]),
                    "in_burst": json.dumps(list(probe["in_burst"])),
                }
            )
    _write_csv(gt / "edge_probes.csv", probe_rows)
    session_row = {
        "session": f"{a.subject}-{session.session_id}",
        "subject": a.subject,
        "session_id": session.session_id,
        "stress": a.stress,
        "drug": a.drug,
        "group": a.group,
        "start_time": session.start.isoformat(),
        "duration_s": session.duration_s,
        "n_samples": n_samples,
        "first_sample_number": clock["first_sample_number"],
        "injection_time": session.injection.isoformat(),
        "injection_s": inj / fs,
        "injection_sample": inj,
        "ttl_line": "" if session.variant == "sorting_only" else ip.ttl_line,
        "ttl_duration_s": "" if session.variant == "sorting_only" else ip.ttl_duration_s,
        "raw_path": "" if session.variant == "sorting_only" else session.folder,
        "sorting_path": sorting_folder(session),
        "n_good_units": sum(c.label == "good" for c in clusters),
        "n_clusters": len(clusters),
    }
    if plan.has_variants:
        session_row.update(
            variant=session.variant,
            sampling_rate_hz=fs,
            recorded_s=json.dumps([[t0, t1] for t0, t1 in session.recorded_stretches_s]),
            recorded_samples=json.dumps(recordings),
            first_timestamp_us=clock.get("first_timestamp_us", ""),
            stream=neuralynx_stream(plan) if session.variant == "neuralynx" else "",
        )
    return epoch_rows, unit_rows, session_row


def write_study_truth(out: Path, plan: StudyPlan, cell_results: list[tuple], session_results: list[tuple]) -> None:
    """Write the study-wide tables, ``parameters.json`` and ``README.txt`` from the per-cell and per-session rows.

    ``cell_results`` and ``session_results`` are what :func:`cell_truth` and :func:`session_truth` return, in plan
    order.

    Parameters
    ----------
    out
        The study folder everything is written under.
    plan
        The study plan (seed and simulation parameters).
    cell_results
        What :func:`cell_truth` returns for each cell, in plan order.
    session_results
        What :func:`session_truth` returns for each session, in plan order.
    """
    sweep_rows, cell_rows, file_rows, epoch_rows, session_rows = [], [], [], [], []
    for s, c, f in cell_results:
        sweep_rows += s
        cell_rows.append(c)
        file_rows += f
    for e, _, row in session_results:
        epoch_rows += e
        session_rows.append(row)

    gt = out / "ground_truth"
    gt.mkdir(exist_ok=True)
    _write_csv(gt / "slice_sweeps.csv", sweep_rows)
    _write_csv(gt / "slice_cells.csv", cell_rows)
    _write_csv(gt / "slice_files.csv", file_rows)
    _write_csv(gt / "invivo_sessions.csv", session_rows)
    _write_csv(gt / "invivo_unit_epochs.csv", epoch_rows)
    (gt / "parameters.json").write_text(
        json.dumps(
            {
                "seed": int(plan.seed),
                "size": plan.size,
                "study_size": asdict(plan.dimensions) if plan.dimensions is not None else None,
                "parameters": plan.params.to_dict(),
            },
            indent=2,
            default=str,
        )
    )
    (gt / "README.txt").write_text(GROUND_TRUTH_README)
