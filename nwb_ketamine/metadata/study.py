"""The validated study as the converters use it: typed values, absolute paths, declared references resolved.

Built by :func:`nwb_ketamine.metadata.load_study` from a study file that passed every check; quantities are
:class:`~nwb_ketamine.metadata.values.Quantity`, date-times carry their UTC offset, epochs are in seconds.
Each value's meaning is documented once, on the file model's field it comes from
(:mod:`nwb_ketamine.metadata.model`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from nwb_ketamine import vocabulary as vocab
from nwb_ketamine.metadata.values import Quantity


def _ccf(region: str) -> str:
    """The CCF acronym of a validated region label."""
    acronym = vocab.ccf_region(region)
    if acronym is None:
        raise ValueError(f"region {region!r} has no Allen CCF acronym; check the study file first")
    return acronym


@dataclass(frozen=True)
class Contact:
    """The contact person of the dandiset (fields as in the file's ``study.contact``)."""

    name: str
    email: str


@dataclass(frozen=True)
class StudyInfo:
    """What the study is (fields as in the file's ``study`` section)."""

    title: str
    description: str
    institution: str
    lab: str
    experimenters: tuple[str, ...]
    license: str
    related_publications: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    contributors: tuple[str, ...] = ()
    contact: Contact | None = None

    @property
    def publication_urls(self) -> tuple[str, ...]:
        """The related publications as URLs, a DOI ``doi:10.x/y`` as ``https://doi.org/10.x/y``.

        The form the NWB files store: dandi's asset metadata keeps a related publication only when it is a
        doi.org URL, and the NWB Inspector accepts it like ``doi:``.

        Returns
        -------
        tuple of str
        """
        return tuple(
            f"https://doi.org/{p.removeprefix('doi:')}" if p.startswith("doi:") else p
            for p in self.related_publications
        )


@dataclass(frozen=True)
class StressProtocolInfo:
    """A declared stress protocol (fields as in the file's ``stress_protocols`` entries)."""

    id: str
    paradigm: str
    duration_per_day: Quantity | None = None
    number_of_days: int | None = None
    start_date: str | None = None
    end_date: str | None = None
    apparatus: str | None = None
    description: str | None = None

    @property
    def hours_per_day(self) -> float | None:
        """The exposure per day in hours, or None when the file does not give it."""
        if self.duration_per_day is None:
            return None
        return self.duration_per_day.value * vocab.DURATION_UNITS[self.duration_per_day.unit]


@dataclass(frozen=True)
class DrugInfo:
    """A declared drug (fields as in the file's ``drugs`` entries)."""

    id: str
    agent: str
    route: str
    role: str
    agent_identifier: str | None = None
    dose: Quantity | None = None
    concentration: Quantity | None = None
    vehicle: str | None = None
    volume: Quantity | None = None
    description: str | None = None

    @property
    def amount(self) -> str:
        """Dose, concentration or volume as text, whichever defines the administration."""
        return str(self.dose or self.concentration or self.volume)


@dataclass(frozen=True)
class SubjectInfo:
    """A declared animal (fields as in the file's ``subjects`` entries)."""

    id: str
    species: str
    sex: str
    group: str
    strain: str | None = None
    date_of_birth: date | None = None
    age: str | None = None
    genotype: str | None = None
    weight: Quantity | None = None
    stress: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class Injection:  # numpydoc ignore=PR02
    """The injection a session follows.

    Parameters
    ----------
    drug : str
        The id of a declared drug.
    time : datetime
        When it was given.
    """

    drug: str
    time: datetime


@dataclass(frozen=True)
class AbfFileInfo:  # numpydoc ignore=PR02
    """One ABF file of a slice cell, with what the study file says about it (the header is only checked).

    Parameters
    ----------
    path : Path
        The file, absolute.
    protocol : str
        The protocol name.
    holding_potential : Quantity
        The holding potential.
    clamp_mode : str
        The file's clamp mode (the session's unless the file overrides it).
    response_channel, command_channel : int
        ADC and DAC channel indices.
    bath : tuple of str
        ids of the drugs in the bath.
    command_unit : str or None
        Unit of the command when the ABF header leaves it blank (``command_unit: mV``); never assumed.
    has_command : bool
        False when the study file says no command was applied (``command: none``): no stimulus series.
    recording_time : datetime or None
        When the recording started (``recording_time``), in place of the ABF header's date and time.
    where : str
        Where the file is described, e.g. ``study.yaml:42 sessions[0].files[1]``, for conversion messages.
    """

    path: Path
    protocol: str
    holding_potential: Quantity
    clamp_mode: str
    response_channel: int = 0
    command_channel: int = 0
    bath: tuple[str, ...] = ()
    command_unit: str | None = None
    has_command: bool = True
    recording_time: datetime | None = None
    where: str = ""

    @property
    def holding_potential_volts(self) -> float:
        """The holding potential in volts."""
        return self.holding_potential.value * vocab.POTENTIAL_UNITS[self.holding_potential.unit]


@dataclass(frozen=True)
class SliceMethods:
    """A slice cell's methods: the study's defaults and the session's overrides merged.

    Fields as in the file's ``slice_methods``, ``stimulation_site`` resolved for the cell's region; None when
    not given.
    """

    internal_solution: str | None = None
    slice_thickness_um: float | None = None
    cutting_solution: str | None = None
    cutting_temperature_c: float | None = None
    recovery: str | None = None
    recording_solution: str | None = None
    recording_temperature_c: float | None = None
    stimulation_site: str | None = None

    @property
    def given(self) -> bool:
        """Whether any field is given."""
        return any(value is not None for value in vars(self).values())


@dataclass(frozen=True)
class Implant:  # numpydoc ignore=PR02
    """Where a tetrode was implanted (fields as in the file's ``implant``).

    Parameters
    ----------
    ap_mm, ml_mm, dv_mm : float
        Stereotaxic coordinates in mm relative to bregma.
    atlas : str or None
        The atlas they follow (the session's when the tetrode's own implant names none).
    """

    ap_mm: float
    ml_mm: float
    dv_mm: float
    atlas: str | None = None


@dataclass(frozen=True)
class SliceSession:
    """One slice cell (fields as in the file's ``slice`` sessions; ``files`` resolved)."""

    session_id: str
    subject: str
    start_time: datetime
    slice_id: str
    cell_id: str
    region: str
    clamp_mode: str
    files: tuple[AbfFileInfo, ...]
    injection: Injection | None = None
    slicing_time: datetime | None = None
    description: str | None = None
    methods: SliceMethods = field(default_factory=SliceMethods)
    type: str = "slice"

    @property
    def ccf_region(self) -> str:
        """The Allen CCF acronym of the region (the validator refuses a region without one)."""
        return _ccf(self.region)

    @property
    def key(self) -> str:
        """Unique name of the session in the archive, as DANDI's entities would order it."""
        return f"sub-{self.subject}_ses-{self.session_id}_slice-{self.slice_id}_cell-{self.cell_id}"


@dataclass(frozen=True)
class Tetrode:  # numpydoc ignore=PR02
    """One tetrode (or channel group) of an in vivo session.

    Parameters
    ----------
    channels : tuple of int
        Channel indices in the recording.
    region : str
        The region label, as the study file gives it.
    number : int
        The rig's own tetrode number (Axona's ``.6`` file, Neuralynx ``TT6``, MClust ``TT6_1.t``).
    implant : Implant or None
        Where it was implanted (the tetrode's own implant, else the session's); None when not given.
    """

    channels: tuple[int, ...]
    region: str
    number: int = 0
    implant: Implant | None = None

    @property
    def ccf_region(self) -> str:
        """The Allen CCF acronym of the region (the validator refuses a region without one)."""
        return _ccf(self.region)


@dataclass(frozen=True)
class Epoch:  # numpydoc ignore=PR02
    """A named interval of an in vivo session.

    Parameters
    ----------
    name : str
        Its name (baseline, post-injection...).
    start, stop : float
        Its bounds, in seconds from the session start.
    """

    name: str
    start: float
    stop: float


@dataclass(frozen=True)
class InVivoSession:  # numpydoc ignore=PR02
    """One in vivo session: a raw recording (``raw_*``), a spike sorting (``sorting_*``), or both.

    Parameters
    ----------
    session_id, subject : str
        As in the file.
    start_time : datetime
        When the recording started.
    raw_path : Path or None
        The raw recording's folder, absolute; None for a sorting-only session.
    tetrodes : tuple of Tetrode
        The channel groups, defaults filled in.
    raw_format, raw_stream, raw_file : str or None
        The ``raw`` entry's ``format``, ``stream`` (as text) and ``file``.
    raw_neo_options : tuple of (str, object)
        The ``raw`` entry's ``neo_options`` as sorted (name, value) pairs (a frozen session stays hashable).
    raw_gain : float or None
        Gain per count for channels whose header gives no physical unit; never assumed.
    raw_unit : str or None
        The unit of ``raw_gain``.
    sorting_path : Path or None
        The spike sorting's folder or file, absolute.
    sorting_format : str or None
        The spike sorting's format.
    injection : Injection or None
        The injection the session follows.
    epochs : tuple of Epoch
        The named intervals.
    description : str or None
        Free text.
    type : str
        ``invivo``.
    """

    session_id: str
    subject: str
    start_time: datetime
    raw_path: Path | None
    tetrodes: tuple[Tetrode, ...]
    raw_format: str | None = None
    raw_stream: str | None = None
    raw_file: str | None = None
    raw_neo_options: tuple[tuple[str, object], ...] = ()
    raw_gain: float | None = None
    raw_unit: str | None = None
    sorting_path: Path | None = None
    sorting_format: str | None = None
    injection: Injection | None = None
    epochs: tuple[Epoch, ...] = ()
    description: str | None = None
    type: str = "invivo"

    @property
    def key(self) -> str:
        """Unique name of the session in the archive."""
        return f"sub-{self.subject}_ses-{self.session_id}"


@dataclass(frozen=True)
class Study:  # numpydoc ignore=PR02
    """A validated study file. Paths in it are absolute.

    Parameters
    ----------
    path : Path
        The study file.
    info : StudyInfo
        The ``study`` section.
    timezone : str
        The lab's IANA time zone.
    subjects, stress_protocols, drugs : dict
        The declared entries by id.
    sessions : tuple
        The :class:`SliceSession` and :class:`InVivoSession` entries, in file order.
    analysis : dict
        Analysis parameters by analysis (``epsc``, ``bursts``).
    time_points : dict
        The ``time_points``: hours after the injection by name, in file order (empty when the file names none).
    raw : dict
        The parsed file.
    """

    path: Path
    info: StudyInfo
    timezone: str
    subjects: dict[str, SubjectInfo]
    stress_protocols: dict[str, StressProtocolInfo]
    drugs: dict[str, DrugInfo]
    sessions: tuple[SliceSession | InVivoSession, ...]
    analysis: dict[str, dict[str, float]] = field(default_factory=dict)
    time_points: dict[str, float] = field(default_factory=dict)
    raw: dict = field(repr=False, compare=False, default_factory=dict)

    @property
    def slice_sessions(self) -> list[SliceSession]:
        """The slice cells, in file order."""
        return [s for s in self.sessions if isinstance(s, SliceSession) and s.type == "slice"]

    @property
    def invivo_sessions(self) -> list[InVivoSession]:
        """The in vivo sessions, in file order."""
        return [s for s in self.sessions if isinstance(s, InVivoSession) and s.type == "invivo"]

    def summary(self) -> str:
        """One line saying what the study contains.

        Returns
        -------
        str
            Title, subjects, groups and counts of sessions, drugs and stress protocols.
        """
        groups = sorted({s.group for s in self.subjects.values()})
        return (
            f"{self.path.name}: '{self.info.title}' - {len(self.subjects)} subjects in {len(groups)} groups "
            f"({', '.join(groups)}), {len(self.slice_sessions)} slice cells, "
            f"{len(self.invivo_sessions)} in vivo sessions, {len(self.drugs)} drugs, "
            f"{len(self.stress_protocols)} stress protocols"
        )


def time_since_injection(session: SliceSession | InVivoSession) -> timedelta | None:
    """Time from the injection to the session start.

    Parameters
    ----------
    session : SliceSession or InVivoSession
        A session of the study.

    Returns
    -------
    timedelta or None
        None when there was no injection.
    """
    if session.injection is None:
        return None
    return session.start_time - session.injection.time
