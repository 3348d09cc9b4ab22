"""What each in vivo session holds: its clusters and spike trains, spike table, LFP and signal, clocks and folders.

Everything here is computed from generators keyed by the session (no I/O), so the writers, the ground
truth and the tests see the same data.

Clocks: every time in the ground truth is on the *session clock*, 0 at the first recorded sample. Spike
trains are generated on it with no spikes during a pause (nothing was recorded). The phy sortings of
the two sessions with a pause count samples of the concatenated recorded samples (what Kilosort sorts;
see :mod:`nwb_ketamine.simulate.openephys`), so ``spike_times.npy`` and ``spikes.csv``'s ``sample`` are
concatenated samples and ``time_s`` is the session clock: ``time_s = (sample + pause samples before
it) / fs``. Firing and burst rates in the ground truth are per recorded second (pauses excluded).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from . import neuralynx, openephys, spikes
from .extracellular import SpikeTable, make_lfp, signal_chunks
from .parameters import InVivoParameters
from .plan import SessionPlan, StudyPlan, rng_for


@dataclass
class ClusterPlan:
    """One cluster of a session's sorting, with its spike train and waveform.

    Attributes
    ----------
    unit
        Ground-truth name, e.g. ``t1u2``.
    label
        phy's label: ``good``, ``mua`` or ``noise``.
    kind
        ``bursting``, ``tonic``, ``mua`` or ``noise``.
    tetrode
        Index (0-based) of the tetrode the cluster was recorded on.
    template_uv
        Mean waveform, shape (n_samples, n_channels), in uV.
    train
        The spike train on the session clock.
    event_rate_hz
        Events (single spikes or bursts) per second the train was drawn with, in Hz.
    probes
        The edge probes written into the train (:func:`~nwb_ketamine.simulate.spikes.add_edge_probes`).
    """

    unit: str
    label: str
    kind: str
    tetrode: int
    template_uv: np.ndarray
    train: spikes.SpikeTrain
    event_rate_hz: float
    probes: list[dict] = field(default_factory=list)


def _waveform(rng, params, peak_uv, channels, n_channels, kind) -> np.ndarray:
    w, p = params.waveform_samples, params.waveform_peak_index
    i = np.arange(w)
    if kind == "noise":
        shape = np.sin(2 * np.pi * (i - p) / w) * np.exp(-(((i - p) / (w / 3)) ** 2))
        gains = np.ones(len(channels))
    else:
        s1, s2 = rng.uniform(2.5, 4.5), rng.uniform(5.0, 9.0)
        delay = rng.uniform(8.0, 14.0)
        shape = -np.exp(-(((i - p) / s1) ** 2)) + rng.uniform(0.2, 0.45) * np.exp(-(((i - p - delay) / s2) ** 2))
        gains = np.concatenate(([1.0], rng.uniform(0.15, 0.85, len(channels) - 1)))
        rng.shuffle(gains)
    template = np.zeros((w, n_channels), dtype=np.float32)
    template[:, channels] = (peak_uv * shape[:, None] * gains[None, :]).astype(np.float32)
    return template


def session_params(plan: StudyPlan, session: SessionPlan) -> InVivoParameters:
    """The in vivo parameters a session is written with: a Neuralynx session has one tetrode at 32 kHz.

    Parameters
    ----------
    plan
        The study plan (seed and simulation parameters).
    session
        The in vivo session.
    """
    ip = plan.params.invivo
    if session.variant == "neuralynx":
        return replace(
            ip,
            sampling_rate_hz=float(ip.neuralynx_sampling_rate_hz),
            lfp_rate_hz=float(ip.neuralynx_lfp_rate_hz),
            n_tetrodes=1,
        )
    return ip


def session_recordings(plan: StudyPlan, session: SessionPlan) -> list[tuple[int, int]]:
    """``(start, n_samples)`` of each stretch recorded without a pause, in samples of the session clock.

    Parameters
    ----------
    plan
        The study plan (seed and simulation parameters).
    session
        The in vivo session.
    """
    fs = session_params(plan, session).sampling_rate_hz
    out = []
    for t0, t1 in session.recorded_stretches_s:
        a, b = int(round(t0 * fs)), int(round(t1 * fs))
        out.append((a, b - a))
    return out


def _in_pause(samples: np.ndarray, session: SessionPlan, fs: float) -> np.ndarray:
    t = samples / fs
    out = np.zeros(samples.size, dtype=bool)
    for t0, t1 in session.pauses:
        out |= (t >= t0) & (t < t1)
    return out


def session_units(plan: StudyPlan, session: SessionPlan) -> list[ClusterPlan]:
    """All clusters of one session (good units, MUA, noise) with their trains; ordered by cluster id.

    Trains are on the session clock (samples from the first recorded sample) and have no spike during a
    pause of recording.

    Parameters
    ----------
    plan
        The study plan (seed and simulation parameters).
    session
        The in vivo session.
    """
    ip, spk = session_params(plan, session), plan.params.spikes
    a = session.animal
    rng = rng_for(plan.seed, "units", a.subject, session.session_id)
    fs = ip.sampling_rate_hz
    n_ch = ip.n_tetrodes * ip.channels_per_tetrode
    end = session.duration_s - 0.01
    # The post-injection epoch is generated stretch by stretch around the pauses (same statistics).
    post_edges = [session.baseline_s] + [t for pause in session.pauses for t in pause] + [end]
    post_stretches = list(zip(post_edges[::2], post_edges[1::2], strict=True))
    clusters = []
    for t in range(ip.n_tetrodes):
        channels = list(range(t * ip.channels_per_tetrode, (t + 1) * ip.channels_per_tetrode))
        for u in range(int(rng.integers(ip.good_units_per_tetrode[0], ip.good_units_per_tetrode[1] + 1))):
            bursting = rng.random() < spk.bursting_unit_fraction[a.stress]
            if bursting:
                rate = float(np.clip(rng.normal(*spk.burst_unit_event_rate_hz), 1.0, 6.0))
                p0 = spk.burst_probability[a.stress]
                p1 = p0 * spk.post_injection_burst_factor[a.drug]
            else:
                rate = float(np.clip(rng.normal(*spk.tonic_rate_hz), *spk.tonic_rate_range_hz))
                p0 = p1 = 0.0
            epochs = [spikes.Epoch("baseline", 0.0, session.baseline_s, p0)]
            epochs += [spikes.Epoch("post-injection", t0, t1, p1) for t0, t1 in post_stretches]
            train = spikes.generate_unit(rng, epochs, rate, fs, spk)
            template = _waveform(rng, ip, rng.uniform(*ip.unit_peak_uv), channels, n_ch, "unit")
            kind = "bursting" if bursting else "tonic"
            clusters.append(ClusterPlan(f"t{t + 1}u{u + 1}", "good", kind, t, template, train, rate))
    for k in range(ip.mua_clusters_per_session + ip.noise_clusters_per_session):
        is_noise = k >= ip.mua_clusters_per_session
        t = int(rng.integers(ip.n_tetrodes))
        channels = list(range(t * ip.channels_per_tetrode, (t + 1) * ip.channels_per_tetrode))
        if is_noise:
            samples = spikes.poisson_train(rng, end, ip.noise_event_rate_hz, 0.5, fs)
            template = _waveform(rng, ip, rng.uniform(*ip.noise_peak_uv), channels, n_ch, "noise")
            name, label, rate = f"noise{k + 1}", "noise", ip.noise_event_rate_hz
        else:
            samples = spikes.poisson_train(rng, end, ip.mua_rate_hz, 0.0015, fs)
            template = _waveform(rng, ip, rng.uniform(*ip.mua_peak_uv), channels, n_ch, "unit")
            name, label, rate = f"mua{k + 1}", "mua", ip.mua_rate_hz
        if session.pauses:
            samples = samples[~_in_pause(samples, session, fs)]
        train = spikes.SpikeTrain(samples, np.full(samples.size, -1, dtype=np.int64))
        clusters.append(ClusterPlan(name, label, label, t, template, train, rate))
    _add_edge_probes(plan, session, clusters, [(0.0, session.baseline_s), *post_stretches], fs)
    order = rng.permutation(len(clusters))  # cluster ids do not reveal the labels
    return [clusters[i] for i in order]


def _add_edge_probes(
    plan: StudyPlan, session: SessionPlan, clusters: list[ClusterPlan], windows: list[tuple[float, float]], fs: float
) -> None:
    """Write the edge probes into ``edge_probe_units_per_session`` good units, from their own generator."""
    spk = plan.params.spikes
    good = [c for c in clusters if c.label == "good"]
    n = min(spk.edge_probe_units_per_session, len(good))
    if n <= 0 or spk.edge_probe_repeats <= 0:
        return
    rng = rng_for(plan.seed, "edge-probes", session.animal.subject, session.session_id)
    for i in sorted(rng.choice(len(good), n, replace=False)):
        c = good[int(i)]
        c.train, c.probes = spikes.add_edge_probes(rng, c.train, windows, plan.params.burst_rule, spk, fs)


def spike_table(plan: StudyPlan, session: SessionPlan, clusters: list[ClusterPlan]) -> SpikeTable:
    """All spikes of a session sorted by sample, with per-spike amplitude factors.

    Samples count the recorded samples (the recordings concatenated, as Kilosort sees them); without a
    pause they are the session clock's samples.

    Parameters
    ----------
    plan
        The study plan (seed and simulation parameters).
    session
        The in vivo session.
    clusters
        The session's clusters (:func:`session_units`).
    """
    rng = rng_for(plan.seed, "amplitudes", session.animal.subject, session.session_id)
    samples = np.concatenate([c.train.samples for c in clusters])
    if session.pauses:
        samples = openephys.session_to_concatenated(samples, session_recordings(plan, session))
    cluster = np.concatenate([np.full(c.train.samples.size, i, dtype=np.int64) for i, c in enumerate(clusters)])
    scale = rng.normal(1.0, plan.params.invivo.spike_amplitude_cv, samples.size)
    # Later spikes of a burst are smaller, as in real bursts: factor decay ** (position in the burst).
    position = np.concatenate([spikes.position_in_burst(c.train.burst_id) for c in clusters])
    scale *= plan.params.invivo.burst_amplitude_decay**position
    scale = scale.astype(np.float32)
    order = np.argsort(samples, kind="stable")
    templates = np.stack([c.template_uv for c in clusters])
    return SpikeTable(samples[order], cluster[order], scale[order], templates)


def _session_lfp(plan: StudyPlan, session: SessionPlan) -> tuple[np.ndarray, np.ndarray]:
    """The LFP (uV at ``lfp_rate_hz``, over the recorded samples) and each channel's LFP gain."""
    ip = session_params(plan, session)
    rng = rng_for(plan.seed, "lfp", session.animal.subject, session.session_id)
    recorded_s = session.duration_s
    if session.pauses:
        recorded_s = sum(n for _, n in session_recordings(plan, session)) / ip.sampling_rate_hz
    lfp = make_lfp(rng, recorded_s, ip)
    gains = (1.0 + 0.05 * rng.standard_normal(ip.n_tetrodes * ip.channels_per_tetrode)).astype(np.float32)
    return lfp, gains


def session_signal(plan: StudyPlan, session: SessionPlan, table: SpikeTable):
    """Iterator of the float signal chunks (uV) of a session's recorded samples, and their number.

    Exactly what is written to ``continuous.dat`` (the recordings one after the other) or to the
    Neuralynx tetrode channels.

    Parameters
    ----------
    plan
        The study plan (seed and simulation parameters).
    session
        The in vivo session.
    table
        The session's spikes (:func:`spike_table`).
    """
    ip = session_params(plan, session)
    a = session.animal
    lfp, gains = _session_lfp(plan, session)
    n_samples = sum(n for _, n in session_recordings(plan, session))
    noise_rng = rng_for(plan.seed, "noise", a.subject, session.session_id)
    return signal_chunks(noise_rng, n_samples, lfp, gains, table, ip), n_samples


def neuralynx_channels(plan: StudyPlan) -> tuple[list[neuralynx.NcsChannel], neuralynx.NcsChannel]:
    """The tetrode channels (CSC1-4, wide band at 32 kHz) and the LFP channel (LFP1, 2 kHz) of a Cheetah folder.

    Parameters
    ----------
    plan
        The study plan (seed and simulation parameters).
    """
    ip = plan.params.invivo
    tetrode = [
        neuralynx.NcsChannel(
            f"CSC{i + 1}", i, ip.neuralynx_sampling_rate_hz, ip.neuralynx_input_range_uv, 0.1, 9000, 64, 984
        )
        for i in range(4)
    ]
    lfp = neuralynx.NcsChannel(
        "LFP1", 16, ip.neuralynx_lfp_rate_hz, ip.neuralynx_lfp_input_range_uv, 0.1, 500, 256, 3984
    )
    return tetrode, lfp


def neuralynx_stream(plan: StudyPlan) -> str:
    """The name neo gives the 32 kHz tetrode stream of the simulated Neuralynx folder.

    Parameters
    ----------
    plan
        The study plan (seed and simulation parameters).
    """
    tetrode, lfp = neuralynx_channels(plan)
    return neuralynx.neo_stream_names([*tetrode, lfp])[tetrode[0].name]


def neuralynx_lfp_signal(plan: StudyPlan, session: SessionPlan) -> np.ndarray:
    """The LFP channel's signal (uV) over the recorded samples at 2 kHz: the LFP every tetrode wire carries.

    Parameters
    ----------
    plan
        The study plan (seed and simulation parameters).
    session
        The in vivo session.
    """
    ip = session_params(plan, session)
    lfp, _ = _session_lfp(plan, session)
    step = int(ip.sampling_rate_hz // ip.lfp_rate_hz)
    n = sum(n for _, n in session_recordings(plan, session)) // step
    return lfp[:n]


def first_timestamp_us(plan: StudyPlan, session: SessionPlan) -> int:
    """Cheetah's acquisition-clock timestamp (us) of a Neuralynx session's first recorded sample.

    Parameters
    ----------
    plan
        The study plan (seed and simulation parameters).
    session
        The in vivo session.
    """
    ip = plan.params.invivo
    return int(
        rng_for(plan.seed, "clock", session.animal.subject, session.session_id).integers(
            *ip.neuralynx_first_timestamp_range_us
        )
    )


def sorting_folder(session: SessionPlan) -> str:
    """Path of the phy folder relative to the study folder.

    Parameters
    ----------
    session
        The in vivo session; its variant decides where Kilosort's output sits.
    """
    if session.variant == "openephys":
        return str(Path(session.folder) / openephys.stream_folder(Path("")).as_posix() / "kilosort")
    if session.variant == "openephys_split":
        return str(Path(session.folder) / openephys.RECORD_NODE / "experiment1" / "kilosort")
    return str(Path(session.folder) / "kilosort")


#: ``dat_path`` in each variant's ``params.py``. SpikeInterface's Kilosort wrappers sort a concatenated
#: ``recording.dat`` and delete it afterwards; the sorting-only lab kept only the phy folder.
DAT_PATHS = {
    "openephys": "../continuous.dat",
    "openephys_split": "recording.dat",
    "neuralynx": "recording.dat",
    "sorting_only": "../continuous.dat",
}
