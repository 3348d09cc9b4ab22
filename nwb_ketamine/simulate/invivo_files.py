"""Write one in vivo session's files: the raw recording (Open Ephys or Neuralynx, by variant) and its phy sorting."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import numpy as np

from . import neuralynx, neuralynx_events, openephys, phy
from .extracellular import SpikeTable
from .invivo import (
    DAT_PATHS,
    ClusterPlan,
    first_timestamp_us,
    neuralynx_channels,
    neuralynx_lfp_signal,
    session_params,
    session_recordings,
    session_signal,
    session_units,
    sorting_folder,
    spike_table,
)
from .plan import TZ, SessionPlan, StudyPlan, rng_for


def write_session_files(
    out: Path, plan: StudyPlan, session: SessionPlan, progress: Callable[[int], None] | None
) -> tuple[list[ClusterPlan], dict]:
    """Write a session's raw recording and phy sorting under ``out``.

    Returns the session's clusters and the ground-truth fields that describe its clock.

    Parameters
    ----------
    out
        The study folder everything is written under.
    plan
        The study plan (seed and simulation parameters).
    session
        The in vivo session.
    progress
        Called with the number of samples written after each chunk; None for no reports.
    """
    clusters = session_units(plan, session)
    table = spike_table(plan, session, clusters)
    clock = write_raw(out, plan, session, table, progress)
    _write_sorting(out, plan, session, clusters, table)
    return clusters, clock


def write_raw(
    out: Path, plan: StudyPlan, session: SessionPlan, table: SpikeTable, progress: Callable[[int], None] | None
) -> dict:
    """Write a session's raw recording; returns the ground-truth fields that describe its clock.

    Parameters
    ----------
    out
        The study folder everything is written under.
    plan
        The study plan (seed and simulation parameters).
    session
        The in vivo session.
    table
        The session's spikes (:func:`~nwb_ketamine.simulate.invivo.spike_table`).
    progress
        Called with the number of samples written after each chunk; None for no reports.
    """
    ip = session_params(plan, session)
    fs = ip.sampling_rate_hz
    a = session.animal
    recordings = session_recordings(plan, session)
    inj = int(round(session.baseline_s * fs))
    root = out / session.folder
    if session.variant == "sorting_only":
        return {"first_sample_number": ""}
    if session.variant in ("openephys", "openephys_split"):
        chunks, n_samples = session_signal(plan, session, table)
        first_sample = int(rng_for(plan.seed, "clock", a.subject, session.session_id).integers(*ip.first_sample_range))
        openephys.write_openephys(
            root,
            chunks,
            n_samples,
            table.templates_uv.shape[2],
            first_sample,
            [(inj, inj + int(round(ip.ttl_duration_s * fs)))],
            session.start,
            ip,
            progress=progress,
            recordings=recordings if session.variant == "openephys_split" else None,
        )
        return {"first_sample_number": first_sample}
    # Neuralynx: the tetrode stream chunk by chunk, the LFP channel at once, then the events.
    tetrode, lfp_channel = neuralynx_channels(plan)
    t0_us = first_timestamp_us(plan, session)
    local = session.start.astimezone(TZ)
    chunks, _ = session_signal(plan, session, table)
    neuralynx.write_ncs_files(root, tetrode, chunks, recordings, t0_us, local, progress=progress)
    step = int(fs // ip.lfp_rate_hz)
    lfp = neuralynx_lfp_signal(plan, session)
    neuralynx.write_ncs_files(
        root, [lfp_channel], iter([(0, lfp[:, None])]), [(s // step, n // step) for s, n in recordings], t0_us, local
    )
    us = 1e6 / fs
    stretches = [(t0_us + int(round(s * us)), t0_us + int(round((s + n - 1) * us))) for s, n in recordings]
    rising = t0_us + int(round(session.baseline_s * 1e6))
    events = neuralynx_events.recording_events(stretches)
    events += neuralynx_events.ttl_events(rising, rising + int(round(ip.ttl_duration_s * 1e6)))
    stop = local + timedelta(seconds=session.duration_s)
    neuralynx_events.write_nev(root / "Events.nev", events, local, stop)
    return {"first_sample_number": "", "first_timestamp_us": t0_us}


def _write_sorting(out: Path, plan: StudyPlan, session: SessionPlan, clusters: list[ClusterPlan], table: SpikeTable):
    """Write the session's phy folder: every spike of ``table`` with its cluster's label and template."""
    ip = session_params(plan, session)
    n_ch = ip.n_tetrodes * ip.channels_per_tetrode
    positions = np.array(
        [[200.0 * (c // 4) + 20.0 * (c % 2), 20.0 * ((c % 4) // 2)] for c in range(n_ch)], dtype=np.float64
    )
    amplitudes = np.abs(table.templates_uv).max(axis=(1, 2))[table.cluster] * table.scale
    phy.write_phy(
        out / sorting_folder(session),
        table.samples,
        table.cluster,
        amplitudes,
        table.templates_uv,
        [c.label for c in clusters],
        positions,
        np.arange(n_ch) // ip.channels_per_tetrode,
        ip.sampling_rate_hz,
        DAT_PATHS[session.variant],
    )
