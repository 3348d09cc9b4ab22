"""Every number the simulator uses, in one place.

.. warning::
   ILLUSTRATIVE VALUES. The effect sizes, kinetics and rates below were chosen so that the demo
   shows the qualitative findings of Chen et al., Science 2024 (and Yang et al. 2018, Ma et al. 2023):
   ketamine blocks LHb but not CA1 NMDAR-EPSCs, the block outlasts the drug, stress raises LHb
   bursting and ketamine lowers it. They are **not** values reported in those papers and must never
   be quoted as such.

Design decision: parameters are frozen dataclasses with defaults, so one object describes a whole
simulated study, is written next to the data (``ground_truth/parameters.json``) and can be replaced
wholesale in tests. Times are in seconds, currents in pA, resistances in MOhm, capacitances in pF,
voltages in mV and extracellular signals in uV unless a field name says otherwise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

ILLUSTRATIVE_NOTE = (
    "Illustrative parameters chosen for a meaningful demo; NOT values from Chen et al. 2024 or any paper."
)

STRESS_LEVELS = ("control", "stress")
DRUGS = ("saline", "ketamine")
SLICE_REGIONS = ("LHb", "CA1")
#: Time points (name → hours): the nominal time from an animal's injection to its first recorded cell. The
#: study file declares them as its time_points.
TIME_GROUPS = {"1h": 1.0, "24h": 24.0}


@dataclass(frozen=True)
class SliceParameters:
    """Whole-cell voltage-clamp recordings in acute slices (one ABF file per protocol and cell)."""

    sampling_rate_hz: float = 10_000.0
    sweep_duration_s: float = 1.0
    sweep_interval_s: float = 10.0  # start to start
    gap_between_files_s: float = 300.0  # NBQX wash-in between the AMPA and the NMDA protocol
    cell_interval_s: float = 900.0  # from one cell's first file to the next cell's
    ampa_holding_mv: float = -70.0
    nmda_holding_mv: float = 40.0

    # Hyperpolarising test pulse at the start of every sweep (series and input resistance).
    test_pulse_start_s: float = 0.05
    test_pulse_duration_s: float = 0.1
    test_pulse_mv: float = -5.0

    # Extracellular stimulation: artefact at stimulus_time_s, EPSC after a synaptic latency.
    stimulus_time_s: float = 0.3
    artefact_amplitude_pa: float = 600.0
    artefact_tau_s: float = 0.0001
    latency_s: tuple[float, float] = (0.0025, 0.0005)  # mean, sd between cells
    fixed_latency_rule_s: float = 0.05  # the "value 50 ms after the stimulus" NMDA measure

    # EPSC kinetics (difference of exponentials), (mean, sd) between cells; clipped to the ranges.
    ampa_rise_ms: tuple[float, float] = (1.0, 0.15)
    ampa_rise_range_ms: tuple[float, float] = (0.6, 1.5)
    ampa_decay_ms: tuple[float, float] = (5.0, 0.8)
    ampa_decay_range_ms: tuple[float, float] = (3.0, 8.0)
    nmda_rise_ms: tuple[float, float] = (7.0, 1.2)
    nmda_rise_range_ms: tuple[float, float] = (5.0, 10.0)
    nmda_decay_ms: dict = field(default_factory=lambda: {"LHb": (85.0, 15.0), "CA1": (110.0, 15.0)})
    nmda_decay_range_ms: tuple[float, float] = (50.0, 150.0)

    # Amplitudes (pA, absolute value; AMPA is inward at -70 mV, NMDA outward at +40 mV).
    ampa_amplitude_pa: dict = field(default_factory=lambda: {"LHb": 120.0, "CA1": 180.0})
    # NMDAR-EPSC in saline-injected animals, by region and stress.
    nmda_saline_amplitude_pa: dict = field(
        default_factory=lambda: {
            "LHb|control": 210.0,
            "LHb|stress": 240.0,
            "CA1|control": 230.0,
            "CA1|stress": 230.0,
        }
    )
    # Fraction of the NMDAR-EPSC blocked by ketamine trapped in vivo, by region|stress|time group.
    # Use-dependent trapping: bursting (stressed) LHb neurons trap more; CA1 traps almost none.
    ketamine_block_fraction: dict = field(
        default_factory=lambda: {
            "LHb|control|1h": 0.35,
            "LHb|control|24h": 0.25,
            "LHb|stress|1h": 0.55,
            "LHb|stress|24h": 0.45,
            "CA1|control|1h": 0.03,
            "CA1|control|24h": 0.0,
            "CA1|stress|1h": 0.05,
            "CA1|stress|24h": 0.0,
        }
    )
    animal_amplitude_cv: float = 0.10  # between animals of one group
    cell_amplitude_cv: float = 0.20  # between cells of one animal
    sweep_amplitude_cv: float = 0.08  # between sweeps of one cell

    # Passive properties, (mean, sd) between cells.
    rs_mohm: tuple[float, float] = (15.0, 3.0)
    # Clipped under the analysis' QC threshold (EpscParameters.rs_max_ohm, 25 MOhm) with a margin for the
    # drift over the first sweeps of a file, so that only the high-Rs cells below fail QC.
    rs_range_mohm: tuple[float, float] = (8.0, 22.0)
    # A fraction of cells with lost access: Rs uniform in high_rs_mohm, well over 25 MOhm in every sweep,
    # so QC rejects exactly these cells (slice_cells.csv: qc_expected_rejected). None in the tiny study.
    high_rs_cell_fraction: float = 0.05
    high_rs_mohm: tuple[float, float] = (32.0, 45.0)
    rs_drift_per_sweep: tuple[float, float] = (0.002, 0.002)  # relative change of Rs from sweep to sweep
    rm_mohm: dict = field(default_factory=lambda: {"LHb": (600.0, 120.0), "CA1": (150.0, 30.0)})
    cm_pf: dict = field(default_factory=lambda: {"LHb": (15.0, 3.0), "CA1": (90.0, 15.0)})

    # Baseline: holding current, slow drift, noise, spontaneous EPSCs.
    holding_current_pa: dict = field(default_factory=lambda: {"-70": (-30.0, 10.0), "40": (80.0, 25.0)})
    drift_pa_per_sweep: float = 0.6  # sd of the per-sweep random walk of the holding current
    within_sweep_slope_pa_per_s: float = 2.0  # sd of the slow drift within a sweep
    noise_pa: float = 3.0
    spontaneous_rate_hz: float = 1.5  # AMPA protocol only: NBQX blocks AMPAR sEPSCs in the NMDA protocol
    spontaneous_amplitude_pa: tuple[float, float] = (8.0, 25.0)  # uniform range
    spontaneous_exclusion_s: float = 0.02  # no onset this close to the test pulse or before the evoked EPSC

    # ABF acquisition (an Axon amplifier with a 0.5 V/nA headstage and a gain of 5 on a Digidata).
    adc_range_v: float = 10.0
    adc_resolution: int = 32768
    instrument_scale_factor_v_per_pa: float = 0.0005
    signal_gain: float = 5.0


@dataclass(frozen=True)
class BurstRule:
    """Burst definition the generated spike trains satisfy unambiguously.

    A burst starts at a spike preceded by at least ``min_silence_s`` of silence and followed within
    ``onset_isi_s`` by the next spike; it continues while ISIs are at most ``end_isi_s``; it has at
    least ``min_spikes`` spikes. The generator keeps intraburst ISIs in ``intraburst_isi_s`` (well
    under the thresholds), silences before bursts at least ``pre_burst_silence_s`` and every other
    ISI at least ``min_nonburst_isi_s``, so any detector thresholds with
    ``max intraburst ISI < onset/end ISI < min_nonburst_isi_s`` and ``min_silence <= pre_burst_silence_s``
    recover the same bursts.

    Except the *edge probes* (``SpikeParameters.edge_probe_*``): short spike patterns whose ISIs sit
    just under, at and just over this rule's onset ISI, end ISI and silence (e.g. 19.9, 20.0 and
    20.1 ms), written into one good unit per session. Their burst membership holds for this rule only
    (``ground_truth/invivo/<session>/edge_probes.csv``), so they test a detector's edges; "at most"
    and "at least" include the threshold itself.
    """

    onset_isi_s: float = 0.020
    end_isi_s: float = 0.020
    min_silence_s: float = 0.100
    min_spikes: int = 2


@dataclass(frozen=True)
class SpikeParameters:
    """LHb unit spike trains: bursting and tonic units, stress and ketamine effects."""

    burst_spikes_range: tuple[int, int] = (2, 10)
    burst_size_geometric_p: float = 0.4  # extra spikes beyond 2 ~ geometric
    intraburst_isi_s: tuple[float, float] = (0.003, 0.012)  # uniform
    pre_burst_silence_s: float = 0.150
    min_nonburst_isi_s: float = 0.040
    # Fraction of LHb units that are burst-firing, by stress.
    bursting_unit_fraction: dict = field(default_factory=lambda: {"control": 0.35, "stress": 0.65})
    # Burst-firing units: events (a single spike or a burst) per second and probability an event is a burst.
    burst_unit_event_rate_hz: tuple[float, float] = (3.0, 0.8)
    burst_probability: dict = field(default_factory=lambda: {"control": 0.25, "stress": 0.45})
    # After injection the burst probability is multiplied by this factor.
    post_injection_burst_factor: dict = field(default_factory=lambda: {"saline": 1.0, "ketamine": 0.3})
    tonic_rate_hz: tuple[float, float] = (8.0, 3.0)
    tonic_rate_range_hz: tuple[float, float] = (2.0, 18.0)
    # Edge probes (BurstRule docstring; spikes.EDGE_PROBES): in this many good units per session, every
    # probe pattern this many times, ISIs at a threshold and this far on either side of it (rounded to
    # the sampling clock), the other ISIs of a pattern edge_probe_intraburst_isi_s; the spikes of the
    # unit within pre_burst_silence_s of a probe are left out, so a probe is isolated.
    edge_probe_units_per_session: int = 1
    edge_probe_repeats: int = 1
    edge_probe_offset_s: float = 0.0001
    edge_probe_intraburst_isi_s: float = 0.005


@dataclass(frozen=True)
class InVivoParameters:
    """Tetrode recordings in Open Ephys binary format and their phy/Kilosort sorting."""

    sampling_rate_hz: float = 30_000.0
    n_tetrodes: int = 4
    channels_per_tetrode: int = 4
    bit_volts: float = 0.195  # uV per bit, as the Open Ephys acquisition board
    noise_uv: float = 8.0
    noise_table_samples: int = 1 << 22  # background noise is cut from a table this long (140 s at 30 kHz)
    lfp_uv: float = 60.0
    lfp_theta_hz: float = 7.0
    lfp_rate_hz: float = 1_000.0  # the LFP is made at this rate and interpolated
    chunk_s: float = 5.0  # streaming chunk; bounds memory whatever the duration
    first_sample_range: tuple[int, int] = (150_000, 1_800_000)  # acquisition ran before recording
    good_units_per_tetrode: tuple[int, int] = (1, 3)
    mua_clusters_per_session: int = 2
    noise_clusters_per_session: int = 1
    mua_rate_hz: float = 12.0
    noise_event_rate_hz: float = 0.3
    waveform_samples: int = 48
    waveform_peak_index: int = 16
    unit_peak_uv: tuple[float, float] = (90.0, 300.0)  # uniform, on the unit's best channel
    mua_peak_uv: tuple[float, float] = (30.0, 50.0)
    noise_peak_uv: tuple[float, float] = (200.0, 400.0)
    spike_amplitude_cv: float = 0.05
    burst_amplitude_decay: float = 0.9  # each later spike of a burst is this much smaller than the one before
    ttl_duration_s: float = 0.5
    ttl_line: int = 1
    # The in vivo variants (``simulate_study(..., invivo_variants=True)``): sessions with a pause in
    # recording (Open Ephys recording1/recording2, a Neuralynx gap) and a sorting-only session.
    pause_s: float = 2.0  # recording stopped and restarted, halfway through the post-injection epoch
    neuralynx_sampling_rate_hz: int = 32_000  # tetrode channels (CSC1-4)
    neuralynx_lfp_rate_hz: int = 2_000  # the LFP channel, a second neo stream
    neuralynx_input_range_uv: int = 1_000
    neuralynx_lfp_input_range_uv: int = 3_000
    neuralynx_first_timestamp_range_us: tuple[int, int] = (5_000_000, 60_000_000)  # Cheetah ran before recording


@dataclass(frozen=True)
class StudySize:
    """How much of everything a simulated study has."""

    name: str
    slice_animals_per_group: int  # per stress x drug x time group
    lhb_cells_per_animal: int
    ca1_cells_per_animal: int
    sweeps_per_file: tuple[int, int]  # inclusive range
    invivo_animals_per_group: int  # per stress x drug group
    baseline_s: float
    post_injection_s: float
    long_session_s: float = 0.0  # one extra in vivo session of this length (benchmarks)
    tiny: bool = False  # one ketamine LHb cell, one saline CA1 cell, one in vivo session, no high-Rs cell
    stress_levels: tuple[str, ...] = STRESS_LEVELS  # the groups' stress levels (a test may keep fewer)


#: ``demo`` is what ``nwb-ketamine demo`` simulates: 4 animals per stress x drug x time group (slice) and
#: per stress x drug group (in vivo), the fewest with which a rank test on animal means can reach
#: p < 0.05 (Mann-Whitney, 4 vs 4: smallest p 0.029), with few sweeps and short epochs so that it
#: converts in minutes.
SIZES = {
    "tiny": StudySize("tiny", 1, 1, 1, (10, 10), 1, 4.0, 6.0, tiny=True),
    "small": StudySize("small", 2, 3, 2, (10, 15), 2, 60.0, 90.0),
    "demo": StudySize("demo", 4, 2, 2, (8, 10), 4, 30.0, 60.0),
    "paper": StudySize("paper", 3, 4, 3, (15, 25), 5, 120.0, 240.0),
    "large": StudySize("large", 3, 4, 3, (15, 25), 5, 120.0, 240.0, long_session_s=3_600.0),
}


@dataclass(frozen=True)
class SimulationParameters:
    """Everything the simulator needs besides the seed and the size."""

    slice: SliceParameters = field(default_factory=SliceParameters)
    spikes: SpikeParameters = field(default_factory=SpikeParameters)
    burst_rule: BurstRule = field(default_factory=BurstRule)
    invivo: InVivoParameters = field(default_factory=InVivoParameters)
    note: str = ILLUSTRATIVE_NOTE

    def to_dict(self) -> dict:
        """All parameters as plain JSON-able values."""
        return asdict(self)


DEFAULT_PARAMETERS = SimulationParameters()
