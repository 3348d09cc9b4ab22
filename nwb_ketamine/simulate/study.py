"""Simulate a whole study: slice ABFs, Open Ephys tetrode recordings, phy sortings, study.yaml, ground truth.

Design decision: the study is first *planned* (who is in which group, which cells and sessions exist,
file names and times; cheap and deterministic), then every file is written from a random generator
seeded by ``(seed, kind, file key)``. Output therefore does not depend on the order files are written
in, a test can regenerate any one file's float data, and different seeds give different data. All
numbers come from :mod:`nwb_ketamine.simulate.parameters` (illustrative, not from the paper).

In vivo variants (``invivo_variants=True``, off by default so the default study does not change): three
more animals with one session each, for the converter paths real rigs need --

* ``openephys_split``: an Open Ephys session recorded as ``recording1`` and ``recording2`` of one
  experiment, with a pause of ``pause_s`` halfway through the post-injection epoch (the acquisition
  clock runs on, so the second recording's sample numbers jump by the pause);
* ``neuralynx``: a Cheetah folder with a tetrode at 32 kHz (CSC1-4) and an LFP channel at 2 kHz (two
  neo streams), the same pause (neo sees a gap: two segments with ``gap_tolerance_ms``), and an
  ``Events.nev`` with the injection TTL;
* ``sorting_only``: a phy/Kilosort folder whose ``params.py`` names a ``.dat`` the lab did not keep, and a
  study entry without ``raw``.

Clocks: every time in the ground truth is on the *session clock*, 0 at the first recorded sample. Spike
trains are generated on it with no spikes during a pause (nothing was recorded). The phy sortings of
the two sessions with a pause count samples of the concatenated recorded samples (what Kilosort sorts;
see :mod:`nwb_ketamine.simulate.openephys`), so ``spike_times.npy`` and ``spikes.csv``'s ``sample`` are
concatenated samples and ``time_s`` is the session clock: ``time_s = (sample + pause samples before
it) / fs``. Firing and burst rates in the ground truth are per recorded second (pauses excluded).
"""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import zlib
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import yaml

from ..errors import NwbKetamineError
from . import abf as abf_io
from . import neuralynx, openephys, phy, spikes
from .parameters import (
    DEFAULT_PARAMETERS,
    DRUGS,
    SIZES,
    STRESS_LEVELS,
    TIME_GROUPS,
    InVivoParameters,
    SimulationParameters,
)

TZ = timezone(timedelta(hours=8))
TZ_NAME = "Asia/Shanghai"
FIRST_DAY = date(2024, 3, 15)
DATE_OF_BIRTH = date(2023, 12, 20)
STRESS_PROTOCOL = {"control": "no-stress", "stress": "crs"}
DRUG_ID = {"saline": "saline", "ketamine": "ketamine-10"}
TIME_HOURS = {"1h": 1.0, "24h": 24.0}


def rng_for(seed: int, *key: str) -> np.random.Generator:
    """A generator that depends only on the seed and the key (a file or object name)."""
    return np.random.default_rng(np.random.SeedSequence([seed, *(zlib.crc32(k.encode()) for k in key)]))


# --------------------------------------------------------------------------------------------------
# Plan
# --------------------------------------------------------------------------------------------------


@dataclass
class Animal:
    subject: str
    stress: str
    drug: str
    time_group: str | None  # slice animals only
    day: date
    kind: str  # slice or invivo


@dataclass
class CellPlan:
    animal: Animal
    session_id: str
    slice_id: str
    cell_id: str
    region: str
    start: datetime
    injection: datetime
    slicing: datetime
    files: list[dict] = field(default_factory=list)  # path, protocol, holding, start, n_sweeps


#: The kinds of in vivo session the simulator writes (``SessionPlan.variant``).
VARIANTS = ("openephys", "openephys_split", "neuralynx", "sorting_only")


@dataclass
class SessionPlan:
    animal: Animal
    session_id: str
    start: datetime
    baseline_s: float
    post_s: float
    folder: str  # relative to OUT
    variant: str = "openephys"
    #: Stretches of the session clock (s) when recording was paused; nothing is recorded in them.
    pauses: tuple[tuple[float, float], ...] = ()

    @property
    def duration_s(self) -> float:
        """Length of the session clock, first to last recorded sample, pauses included."""
        return self.baseline_s + self.post_s

    @property
    def recorded_stretches_s(self) -> list[tuple[float, float]]:
        """``(start, stop)`` of each stretch recorded without a pause, on the session clock."""
        edges = [0.0] + [t for pause in self.pauses for t in pause] + [self.duration_s]
        return list(zip(edges[::2], edges[1::2], strict=True))

    @property
    def injection(self) -> datetime:
        return self.start + timedelta(seconds=self.baseline_s)


@dataclass
class StudyPlan:
    seed: int
    size: str
    animals: list[Animal]
    cells: list[CellPlan]
    sessions: list[SessionPlan]
    params: SimulationParameters

    @property
    def has_variants(self) -> bool:
        """Whether the plan holds in vivo variant sessions (their ground truth has extra columns)."""
        return any(s.variant != "openephys" for s in self.sessions)


def plan_study(
    seed: int, size: str, params: SimulationParameters = DEFAULT_PARAMETERS, invivo_variants: bool = False
) -> StudyPlan:
    """Decide every animal, cell, session, file name and time of a simulated study (no I/O).

    Parameters
    ----------
    seed
        Random seed.
    size
        One of ``parameters.SIZES``.
    params
        Simulation parameters.
    invivo_variants
        Add three animals with one in vivo session each: Open Ephys in two recordings, Neuralynx with
        mixed rates and a gap, and a sorting-only phy folder (see the module docstring). The other
        animals, cells and sessions are the same as without them.
    """
    s = SIZES[size]
    rng = rng_for(seed, "plan")
    animals: list[Animal] = []
    if s.tiny:
        slice_groups = [("stress", "ketamine", "1h"), ("stress", "saline", "1h")]
        invivo_groups = [("stress", "ketamine")]
    else:
        slice_groups = [
            (st, d, tg)
            for st in STRESS_LEVELS
            for d in DRUGS
            for tg in TIME_GROUPS
            for _ in range(s.slice_animals_per_group)
        ]
        invivo_groups = [(st, d) for st in STRESS_LEVELS for d in DRUGS for _ in range(s.invivo_animals_per_group)]
    for i, (st, d, tg) in enumerate(slice_groups):
        animals.append(Animal(f"m{len(animals) + 1:03d}", st, d, tg, FIRST_DAY + timedelta(days=i), "slice"))
    for i, (st, d) in enumerate(invivo_groups):
        animals.append(Animal(f"m{len(animals) + 1:03d}", st, d, None, FIRST_DAY + timedelta(days=i), "invivo"))
    long_animal = None
    if s.long_session_s > 0:
        long_animal = Animal(f"m{len(animals) + 1:03d}", "stress", "ketamine", None, FIRST_DAY, "invivo")
        animals.append(long_animal)
    variant_animals = {}
    if invivo_variants:
        groups = (("stress", "ketamine"), ("stress", "saline"), ("control", "ketamine"))
        for i, (variant, (st, d)) in enumerate(zip(VARIANTS[1:], groups, strict=True)):
            day = FIRST_DAY + timedelta(days=len(invivo_groups) + i)
            variant_animals[variant] = Animal(f"m{len(animals) + 1:03d}", st, d, None, day, "invivo")
            animals.append(variant_animals[variant])
    variant_of = {id(a): v for v, a in variant_animals.items()}

    sp = params.slice
    cells: list[CellPlan] = []
    for a in (a for a in animals if a.kind == "slice"):
        # The nominal time group is the time from injection to the first cell; later cells are later.
        first_cell = datetime(a.day.year, a.day.month, a.day.day, 10, 0, tzinfo=TZ)
        slicing = first_cell - timedelta(minutes=30)
        injection = first_cell - timedelta(hours=TIME_HOURS[a.time_group])
        session_id = a.day.strftime("%Y%m%d")
        if s.tiny:
            regions = ["LHb"] if a.drug == "ketamine" else ["CA1"]
        else:
            regions = ["LHb"] * s.lhb_cells_per_animal + ["CA1"] * s.ca1_cells_per_animal
        start = first_cell
        file_no = 0
        for c, region in enumerate(regions):
            # Two LHb slices and one or two hippocampal slices per animal, cells spread over them.
            first_ca1 = regions.index("CA1") if "CA1" in regions else len(regions)
            slice_no = 1 + (c % 2) if region == "LHb" else 3 + ((c - first_ca1) % 2)
            cell = CellPlan(a, session_id, f"s{slice_no}", f"c{c + 1}", region, start, injection, slicing)
            t = start
            for protocol, holding in (("AMPA-EPSC", sp.ampa_holding_mv), ("NMDA-EPSC", sp.nmda_holding_mv)):
                file_no += 1
                n_sweeps = int(rng.integers(s.sweeps_per_file[0], s.sweeps_per_file[1] + 1))
                name = f"raw/slice/{a.subject}/{a.day.strftime('%Y_%m_%d')}_{file_no:04d}.abf"
                cell.files.append(
                    {"path": name, "protocol": protocol, "holding_mv": holding, "start": t, "n_sweeps": n_sweeps}
                )
                t = t + timedelta(seconds=n_sweeps * sp.sweep_interval_s + sp.gap_between_files_s)
            cells.append(cell)
            start = start + timedelta(seconds=sp.cell_interval_s)

    sessions: list[SessionPlan] = []
    for a in (a for a in animals if a.kind == "invivo"):
        start = datetime(a.day.year, a.day.month, a.day.day, 14, 0, tzinfo=TZ)
        baseline, post = s.baseline_s, s.post_injection_s
        if a is long_animal:
            baseline, post = s.long_session_s / 4, s.long_session_s * 3 / 4
            start = start + timedelta(hours=3)
        folder = f"raw/invivo/{a.subject}/{start.strftime('%Y-%m-%d_%H-%M-%S')}"
        variant = variant_of.get(id(a), "openephys")
        pauses = ()
        if variant in ("openephys_split", "neuralynx"):
            # On a 1 ms grid: whole samples at 30 kHz, 32 kHz and 2 kHz, whole microseconds.
            pause_start = round((baseline + post / 2) * 1000) / 1000
            pauses = ((pause_start, round((pause_start + params.invivo.pause_s) * 1000) / 1000),)
            if pauses[0][1] >= baseline + post:
                raise NwbKetamineError(f"pause_s {params.invivo.pause_s} does not fit in the post-injection epoch")
        sessions.append(SessionPlan(a, a.day.strftime("%Y%m%d"), start, baseline, post, folder, variant, pauses))
    return StudyPlan(seed, size, animals, cells, sessions, params)


# --------------------------------------------------------------------------------------------------
# Slice cells
# --------------------------------------------------------------------------------------------------


def _clipped(rng, mean_sd, lo_hi=None):
    value = rng.normal(*mean_sd)
    return float(np.clip(value, *lo_hi)) if lo_hi else float(value)


def cell_specs(plan: StudyPlan, cell: CellPlan) -> list[abf_io.ProtocolSpec]:
    """The protocol specs of one cell, drawn from its group's parameters (deterministic per cell)."""
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
    """Float sweeps (pA) and per-sweep truth of one file of one cell; what ``simulate_study`` writes."""
    spec = cell_specs(plan, cell)[index]
    rng = rng_for(plan.seed, "abf", cell.files[index]["path"])
    return abf_io.simulate_protocol(spec, plan.params.slice, rng)


def _write_cell(out: Path, plan: StudyPlan, cell: CellPlan) -> tuple[list[dict], dict, list[dict]]:
    sp = plan.params.slice
    sweep_rows, file_rows = [], []
    means = {}
    for i, f in enumerate(cell.files):
        sweeps, truth = simulate_cell_file(plan, cell, i)
        local = f["start"].astimezone(TZ).replace(tzinfo=None)
        # The experimenter tags the wash-in of NBQX when the NMDA protocol starts, as labs do in pClamp.
        tags = ((2.0, "NBQX 10 uM in bath"),) if f["protocol"] == "NMDA-EPSC" else ()
        abf_io.write_abf(
            out / f["path"],
            sweeps,
            sp,
            start_time=local,
            protocol=f["protocol"],
            holding_mv=f["holding_mv"],
            tags=tags,
        )
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
        "group": _group(a),
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
    }
    return sweep_rows, cell_row, file_rows


# --------------------------------------------------------------------------------------------------
# In vivo sessions
# --------------------------------------------------------------------------------------------------


@dataclass
class ClusterPlan:
    unit: str  # ground-truth name, e.g. t1u2
    label: str  # good, mua, noise
    kind: str  # bursting, tonic, mua, noise
    tetrode: int
    template_uv: np.ndarray  # (n_samples, n_channels)
    train: spikes.SpikeTrain
    event_rate_hz: float


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
    """The in vivo parameters a session is written with: a Neuralynx session has one tetrode at 32 kHz."""
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
    """``(start, n_samples)`` of each stretch recorded without a pause, in samples of the session clock."""
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
    order = rng.permutation(len(clusters))  # cluster ids do not reveal the labels
    return [clusters[i] for i in order]


def spike_table(plan: StudyPlan, session: SessionPlan, clusters: list[ClusterPlan]) -> openephys.SpikeTable:
    """All spikes of a session sorted by sample, with per-spike amplitude factors.

    Samples count the recorded samples (the recordings concatenated, as Kilosort sees them); without a
    pause they are the session clock's samples.
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
    return openephys.SpikeTable(samples[order], cluster[order], scale[order], templates)


def session_lfp(plan: StudyPlan, session: SessionPlan) -> tuple[np.ndarray, np.ndarray]:
    """The LFP (uV at ``lfp_rate_hz``, over the recorded samples) and each channel's LFP gain."""
    ip = session_params(plan, session)
    rng = rng_for(plan.seed, "lfp", session.animal.subject, session.session_id)
    recorded_s = session.duration_s
    if session.pauses:
        recorded_s = sum(n for _, n in session_recordings(plan, session)) / ip.sampling_rate_hz
    lfp = openephys.make_lfp(rng, recorded_s, ip)
    gains = (1.0 + 0.05 * rng.standard_normal(ip.n_tetrodes * ip.channels_per_tetrode)).astype(np.float32)
    return lfp, gains


def session_signal(plan: StudyPlan, session: SessionPlan, table: openephys.SpikeTable):
    """Iterator of the float signal chunks (uV) of a session's recorded samples, and their number.

    Exactly what is written to ``continuous.dat`` (the recordings one after the other) or to the
    Neuralynx tetrode channels.
    """
    ip = session_params(plan, session)
    a = session.animal
    lfp, gains = session_lfp(plan, session)
    n_samples = sum(n for _, n in session_recordings(plan, session))
    noise_rng = rng_for(plan.seed, "noise", a.subject, session.session_id)
    return openephys.signal_chunks(noise_rng, n_samples, lfp, gains, table, ip), n_samples


def neuralynx_channels(plan: StudyPlan) -> tuple[list[neuralynx.NcsChannel], neuralynx.NcsChannel]:
    """The tetrode channels (CSC1-4, wide band at 32 kHz) and the LFP channel (LFP1, 2 kHz) of a Cheetah folder."""
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
    """The name neo gives the 32 kHz tetrode stream of the simulated Neuralynx folder."""
    tetrode, lfp = neuralynx_channels(plan)
    return neuralynx.neo_stream_names([*tetrode, lfp])[tetrode[0].name]


def neuralynx_lfp_signal(plan: StudyPlan, session: SessionPlan) -> np.ndarray:
    """The LFP channel's signal (uV) over the recorded samples at 2 kHz: the LFP every tetrode wire carries."""
    ip = session_params(plan, session)
    lfp, _ = session_lfp(plan, session)
    step = int(ip.sampling_rate_hz // ip.lfp_rate_hz)
    n = sum(n for _, n in session_recordings(plan, session)) // step
    return lfp[:n]


def first_timestamp_us(plan: StudyPlan, session: SessionPlan) -> int:
    """Cheetah's acquisition-clock timestamp (us) of a Neuralynx session's first recorded sample."""
    ip = plan.params.invivo
    return int(
        rng_for(plan.seed, "clock", session.animal.subject, session.session_id).integers(
            *ip.neuralynx_first_timestamp_range_us
        )
    )


def sorting_folder(session: SessionPlan) -> str:
    """Path of the phy folder relative to the study folder."""
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


def _write_raw(out: Path, plan: StudyPlan, session: SessionPlan, table, progress) -> dict:
    """Write a session's raw recording; returns the ground-truth fields that describe its clock."""
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
    events = neuralynx.recording_events(stretches)
    events += neuralynx.ttl_events(rising, rising + int(round(ip.ttl_duration_s * 1e6)))
    stop = local + timedelta(seconds=session.duration_s)
    neuralynx.write_nev(root / "Events.nev", events, local, stop)
    return {"first_sample_number": "", "first_timestamp_us": t0_us}


def _write_session(out: Path, plan: StudyPlan, session: SessionPlan, progress) -> tuple[list[dict], list[dict], dict]:
    ip = session_params(plan, session)
    fs = ip.sampling_rate_hz
    a = session.animal
    clusters = session_units(plan, session)
    table = spike_table(plan, session, clusters)
    clock = _write_raw(out, plan, session, table, progress)
    inj = int(round(session.baseline_s * fs))
    recordings = session_recordings(plan, session)
    n_samples = sum(n for _, n in recordings)

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
        fs,
        DAT_PATHS[session.variant],
    )

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
                    "group": _group(a),
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
    session_row = {
        "session": f"{a.subject}-{session.session_id}",
        "subject": a.subject,
        "session_id": session.session_id,
        "stress": a.stress,
        "drug": a.drug,
        "group": _group(a),
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


# --------------------------------------------------------------------------------------------------
# study.yaml and the study
# --------------------------------------------------------------------------------------------------


def _group(a: Animal) -> str:
    parts = [a.stress, a.drug] + ([a.time_group] if a.time_group else [])
    return "-".join(parts)


def _duration(seconds: float) -> str:
    if seconds % 60 == 0 and seconds >= 60:
        return f"{int(seconds // 60)} min"
    return f"{seconds:g} s"


def study_document(plan: StudyPlan) -> dict:
    """The study.yaml content of a plan, as plain data."""
    rng = rng_for(plan.seed, "subjects")
    doc = {
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
                "group": _group(a),
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
    raw = {"path": s.folder, "format": "openephys_binary"}
    tetrodes = [{"channels": list(range(4 * t, 4 * t + 4)), "region": "LHb"} for t in range(n_tetrodes)]
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
        tetrodes = [{"number": 1, "channels": [0, 1, 2, 3], "region": "LHb"}]
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
    }
    if raw is None:
        del entry["raw"]
    return entry


def _write_csv(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        if not rows:
            return
        # Every column of every row, in first-seen order (variant sessions add columns).
        fieldnames = list(dict.fromkeys(key for row in rows for key in row))
        writer = csv.DictWriter(f, fieldnames=fieldnames, restval="")
        writer.writeheader()
        writer.writerows(rows)


GROUND_TRUTH_README = """\
Ground truth of a study simulated by nwb-ketamine (illustrative parameters, not values from any paper).
Times in s, currents in pA, resistances in MOhm, extracellular signals in uV.

parameters.json        every simulation parameter, the seed, the size and the burst rule
slice_files.csv        per ABF file: protocol, holding potential, timing of test pulse and stimulus, bit size (pA),
                       comment tags as a JSON list of [seconds from the file start, text]
slice_sweeps.csv       per sweep: EPSC amplitude (signed peak of the noise-free EPSC), value at the fixed latency
                       after the stimulus, kinetics, Rs (= test pulse / peak transient), Rin (= test pulse /
                       steady state = Rs + Rm), holding current, number of spontaneous EPSCs
slice_cells.csv        per cell: group, mean amplitudes, NMDA/AMPA ratio, kinetics, Rs, Rin, simulated block
invivo_sessions.csv    per session: start time, injection time and sample (from the first recorded sample),
                       first Open Ephys sample number, paths
invivo_unit_epochs.csv per good unit and epoch: firing and burst statistics (definitions in
                       nwb_ketamine.simulate.spikes.burst_statistics)
invivo/<session>/units.csv   every phy cluster: label, kind, tetrode, mean waveform on its tetrode (uV)
invivo/<session>/spikes.csv  every spike: cluster, sample from the start of continuous.dat, time, burst id (-1: none)
invivo/<session>/bursts.csv  every burst: cluster, epoch, first and last spike time, spikes, intraburst frequency

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


LONG_SESSION_S = 600.0  # recordings longer than this get their own progress bar
CELL_BATCH = 8


def _run_task(out: Path, plan: StudyPlan, kind: str, ids: tuple[int, ...]) -> list[tuple[tuple[str, int], tuple]]:
    if kind == "cells":
        return [(("cells", i), _write_cell(out, plan, plan.cells[i])) for i in ids]
    return [(("session", i), _write_session(out, plan, plan.sessions[i], None)) for i in ids]


def _check_arguments(out: Path, seed, size: str) -> None:
    if size not in SIZES:
        raise NwbKetamineError(f"size {size!r} is not one of {', '.join(SIZES)}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise NwbKetamineError(f"seed {seed!r} is not a non-negative integer")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise NwbKetamineError(f"OUT {out} exists and is not an empty folder; choose a new folder")


def simulate_study(
    out: Path,
    seed: int = 0,
    size: str = "small",
    progress: bool = True,
    params: SimulationParameters = DEFAULT_PARAMETERS,
    workers: int | None = None,
    invivo_variants: bool = False,
) -> Path:
    """Write a simulated raw study: vendor-format files, ``study.yaml`` and ``ground_truth/``.

    Parameters
    ----------
    out
        Folder to create; must not exist or be empty.
    seed
        Random seed; the same seed gives byte-identical files, different seeds different data.
    size
        ``tiny`` (tests), ``small`` (demo), ``paper`` (a study of realistic size) or ``large``
        (paper plus a 1 h recording, for benchmarks).
    progress
        Show tqdm progress bars.
    params
        Simulation parameters (illustrative defaults).
    workers
        Processes to use (default: one per core). The output does not depend on it.
    invivo_variants
        Also write three in vivo sessions for the converter's harder paths: Open Ephys in two
        recordings with a pause, Neuralynx with 32 kHz and 2 kHz channels and a gap, and a sorting-only
        phy folder (module docstring). Off by default: the default study has the same files without it.

    Returns
    -------
    Path
        The written ``study.yaml``.

    Raises
    ------
    NwbKetamineError
        If ``out`` is not empty, ``size`` is unknown or ``seed`` is not a non-negative integer; nothing is written.

    Examples
    --------
    >>> from nwb_ketamine.simulate import simulate_study
    >>> study = simulate_study(tmp_path / "sim", seed=1, size="tiny", progress=False)  # doctest: +SKIP
    """

    out = Path(out)
    _check_arguments(out, seed, size)
    plan = plan_study(int(seed), size, params, invivo_variants=bool(invivo_variants))
    # Write next to OUT and rename at the end, so a failure or an interrupt leaves nothing half-written.
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    work.chmod(0o755)  # mkdtemp makes it private
    try:
        _write_study(work, plan, progress, workers)
        if out.exists():
            out.rmdir()  # checked empty above
        work.rename(out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return out / "study.yaml"


def _write_study(out: Path, plan: StudyPlan, progress: bool, workers: int | None) -> None:
    from tqdm.auto import tqdm

    params, seed, size = plan.params, plan.seed, plan.size
    # Long recordings are written here with a per-second bar; everything else goes to a process pool.
    # Results are put back in plan order, so the output does not depend on scheduling.
    long_ids = [i for i, s in enumerate(plan.sessions) if s.duration_s > LONG_SESSION_S]
    tasks = [
        ("cells", tuple(range(i, min(i + CELL_BATCH, len(plan.cells))))) for i in range(0, len(plan.cells), CELL_BATCH)
    ]
    tasks += [("session", (i,)) for i in range(len(plan.sessions)) if i not in long_ids]
    results: dict[tuple[str, int], tuple] = {}
    n_workers = max(1, min(workers if workers is not None else (os.cpu_count() or 1), len(tasks)))
    pool, futures = None, {}
    if n_workers > 1:
        # Fork before any progress-bar thread exists; workers only compute and write files.
        context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else None)
        pool = ProcessPoolExecutor(max_workers=n_workers, mp_context=context)
        futures = {pool.submit(_run_task, out, plan, kind, ids): ids for kind, ids in tasks}
    with tqdm(total=len(plan.cells) + len(plan.sessions), desc="simulating", unit="file", disable=not progress) as bar:
        if pool is None:
            for kind, ids in tasks:
                for key, value in _run_task(out, plan, kind, ids):
                    results[key] = value
                bar.update(len(ids))
        try:
            for i in long_ids:
                session = plan.sessions[i]
                fs = session_params(plan, session).sampling_rate_hz
                n = sum(n for _, n in session_recordings(plan, session))
                with tqdm(
                    total=n / fs,
                    desc=f"{session.animal.subject} recording",
                    unit="s",
                    disable=not progress,
                    leave=False,
                ) as seconds:
                    results[("session", i)] = _write_session(
                        out, plan, session, lambda k, seconds=seconds, fs=fs: seconds.update(k / fs)
                    )
                bar.update(1)
            for future in as_completed(futures):
                for key, value in future.result():
                    results[key] = value
                bar.update(len(futures[future]))
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)

    sweep_rows, cell_rows, file_rows, epoch_rows, session_rows = [], [], [], [], []
    for i in range(len(plan.cells)):
        s, c, f = results[("cells", i)]
        sweep_rows += s
        cell_rows.append(c)
        file_rows += f
    for i in range(len(plan.sessions)):
        e, _, row = results[("session", i)]
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
        json.dumps({"seed": int(seed), "size": size, "parameters": params.to_dict()}, indent=2, default=str)
    )
    (gt / "README.txt").write_text(GROUND_TRUTH_README)

    study_path = out / "study.yaml"
    header = (
        "# nwb-ketamine study file, written by `nwb-ketamine simulate` "
        f"(seed {seed}, size {size}).\n# Paths are relative to this file. Simulated data: effect sizes are "
        "illustrative, not values from the paper.\n"
    )
    study_path.write_text(header + yaml.safe_dump(study_document(plan), sort_keys=False, width=120))
