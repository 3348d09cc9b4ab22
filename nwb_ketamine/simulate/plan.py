"""Plan a simulated study: every animal, cell, session, file name and time, cheap and without I/O.

Design decision: the plan is decided before any file is written, from a generator seeded by the seed
alone, and every file is later written from a generator seeded by ``(seed, kind, file key)``
(:func:`rng_for`). Output therefore does not depend on the order files are written in, a test can
regenerate any one file's float data, and different seeds give different data.

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
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import numpy as np

from ..errors import NwbKetamineError
from .parameters import DEFAULT_PARAMETERS, DRUGS, SIZES, TIME_GROUPS, SimulationParameters, StudySize

#: The labs' time zone: slice ABF headers and Cheetah headers are local wall-clock time.
TZ = timezone(timedelta(hours=8))
FIRST_DAY = date(2024, 3, 15)


def rng_for(seed: int, *key: str) -> np.random.Generator:
    """A generator that depends only on the seed and the key (a file or object name).

    Parameters
    ----------
    seed
        The study's random seed.
    *key
        Names that identify what the generator is for, e.g. ``("abf", path)``.
    """
    return np.random.default_rng(np.random.SeedSequence([seed, *(zlib.crc32(k.encode()) for k in key)]))


@dataclass
class Animal:
    """One simulated animal and its group.

    Attributes
    ----------
    subject
        Subject id.
    stress
        One of ``parameters.STRESS_LEVELS``.
    drug
        One of ``parameters.DRUGS``.
    time_group
        One of ``parameters.TIME_GROUPS`` for slice animals; None for in vivo animals.
    day
        Day of the experiment.
    kind
        ``'slice'`` or ``'invivo'``.
    """

    subject: str
    stress: str
    drug: str
    time_group: str | None
    day: date
    kind: str

    @property
    def group(self) -> str:
        """The group label, e.g. ``stress-ketamine-1h`` (slice) or ``stress-saline`` (in vivo)."""
        parts = [self.stress, self.drug] + ([self.time_group] if self.time_group else [])
        return "-".join(parts)


@dataclass
class CellPlan:
    """One patched slice cell and the ABF files recorded from it.

    Attributes
    ----------
    animal
        The animal the slice came from.
    session_id, slice_id, cell_id
        Identifiers of the recording session, the slice and the cell.
    region
        One of ``parameters.SLICE_REGIONS``.
    start
        Start of the cell's first file.
    injection
        Time of the animal's injection.
    slicing
        Time the slices were cut.
    files
        One dict per ABF file: ``path``, ``protocol``, ``holding_mv``, ``start``, ``n_sweeps``.
    high_rs
        The cell lost access: its series resistance is drawn from ``SliceParameters.high_rs_mohm``, over the
        analysis' QC threshold, so QC must reject it.
    """

    animal: Animal
    session_id: str
    slice_id: str
    cell_id: str
    region: str
    start: datetime
    injection: datetime
    slicing: datetime
    files: list[dict] = field(default_factory=list)
    high_rs: bool = False


#: The kinds of in vivo session the simulator writes (``SessionPlan.variant``).
VARIANTS = ("openephys", "openephys_split", "neuralynx", "sorting_only")


@dataclass
class SessionPlan:
    """One in vivo recording session: baseline, injection, post-injection recording.

    Attributes
    ----------
    animal
        The recorded animal.
    session_id
        Session identifier.
    start
        Time of the first recorded sample.
    baseline_s
        Recording before the injection, in s.
    post_s
        Recording after the injection, in s (pauses included).
    folder
        The session's folder, relative to the study folder.
    variant
        One of :data:`VARIANTS`: how the session's files are written.
    pauses
        Stretches of the session clock (s) when recording was paused; nothing is recorded in them.
    """

    animal: Animal
    session_id: str
    start: datetime
    baseline_s: float
    post_s: float
    folder: str
    variant: str = "openephys"
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
        """Time of the injection: the end of the baseline."""
        return self.start + timedelta(seconds=self.baseline_s)


@dataclass
class StudyPlan:
    """Every animal, cell and session of a simulated study, with the parameters it is drawn from.

    Attributes
    ----------
    seed
        Random seed; with ``size`` and ``params`` it determines every file.
    size
        Name of the study size (a key of ``parameters.SIZES``, or the name of a custom ``StudySize``).
    animals
        Every animal, slice and in vivo.
    cells
        Every slice cell.
    sessions
        Every in vivo session.
    params
        The simulation parameters.
    dimensions
        The study size itself (animals, cells, sweeps, epoch lengths).
    """

    seed: int
    size: str
    animals: list[Animal]
    cells: list[CellPlan]
    sessions: list[SessionPlan]
    params: SimulationParameters
    dimensions: StudySize | None = None

    @property
    def has_variants(self) -> bool:
        """Whether the plan holds in vivo variant sessions (their ground truth has extra columns)."""
        return any(s.variant != "openephys" for s in self.sessions)


def plan_study(
    seed: int,
    size: str | StudySize,
    params: SimulationParameters = DEFAULT_PARAMETERS,
    invivo_variants: bool = False,
) -> StudyPlan:
    """Decide every animal, cell, session, file name and time of a simulated study (no I/O).

    Parameters
    ----------
    seed
        Random seed.
    size
        One of ``parameters.SIZES``, or a ``StudySize`` (e.g. one of them with fewer sweeps, for a test).
    params
        Simulation parameters.
    invivo_variants
        Add three animals with one in vivo session each: Open Ephys in two recordings, Neuralynx with
        mixed rates and a gap, and a sorting-only phy folder (see the module docstring). The other
        animals, cells and sessions are the same as without them.
    """
    s = size if isinstance(size, StudySize) else SIZES[size]
    rng = rng_for(seed, "plan")
    animals: list[Animal] = []
    if s.tiny:
        slice_groups = [("stress", "ketamine", "1h"), ("stress", "saline", "1h")]
        invivo_groups = [("stress", "ketamine")]
    else:
        slice_groups = [
            (st, d, tg)
            for st in s.stress_levels
            for d in DRUGS
            for tg in TIME_GROUPS
            for _ in range(s.slice_animals_per_group)
        ]
        invivo_groups = [(st, d) for st in s.stress_levels for d in DRUGS for _ in range(s.invivo_animals_per_group)]
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
        assert a.time_group is not None, a  # every slice animal has a time group
        injection = first_cell - timedelta(hours=TIME_GROUPS[a.time_group])
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
    # Lost access: drawn from their own generator, so the other cells are the same with or without them.
    high_rs = rng_for(seed, "high-rs").random(len(cells)) < sp.high_rs_cell_fraction
    for cell, lost in zip(cells, high_rs, strict=True):
        cell.high_rs = bool(lost) and not s.tiny

    sessions: list[SessionPlan] = []
    for a in (a for a in animals if a.kind == "invivo"):
        start = datetime(a.day.year, a.day.month, a.day.day, 14, 0, tzinfo=TZ)
        baseline, post = s.baseline_s, s.post_injection_s
        if a is long_animal:
            baseline, post = s.long_session_s / 4, s.long_session_s * 3 / 4
            start = start + timedelta(hours=3)
        folder = f"raw/invivo/{a.subject}/{start.strftime('%Y-%m-%d_%H-%M-%S')}"
        variant = variant_of.get(id(a), "openephys")
        pauses: tuple[tuple[float, float], ...] = ()
        if variant in ("openephys_split", "neuralynx"):
            # On a 1 ms grid: whole samples at 30 kHz, 32 kHz and 2 kHz, whole microseconds.
            pause_start = round((baseline + post / 2) * 1000) / 1000
            pauses = ((pause_start, round((pause_start + params.invivo.pause_s) * 1000) / 1000),)
            if pauses[0][1] >= baseline + post:
                raise NwbKetamineError(f"pause_s {params.invivo.pause_s} does not fit in the post-injection epoch")
        sessions.append(SessionPlan(a, a.day.strftime("%Y%m%d"), start, baseline, post, folder, variant, pauses))
    return StudyPlan(seed, s.name, animals, cells, sessions, params, s)
