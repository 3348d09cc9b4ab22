"""The study file's structure, stated once: every field's name, type, default, description and example.

The JSON Schema (``schemas/study.schema.json``) and the reference (``docs/study-file.md``) are generated
from these models, and the structural checks of a study file are that schema's. The models describe the
file as written (quantities and date-times stay text); the domain rules read them and build the typed
study the converters use (:mod:`nwb_ketamine.metadata.study`). A model's docstring is its description in
the schema; a quantity field carries the units it accepts (:func:`~nwb_ketamine.metadata.fields.quantity`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from nwb_ketamine import vocabulary as vocab
from nwb_ketamine.filelayout import DEFAULT_TIME_POINTS
from nwb_ketamine.metadata.fields import (
    DATE_DESCRIPTION,
    DATETIME_DESCRIPTION,
    LICENSES,
    SORTING_FORMATS,
    ClampMode,
    Paradigm,
    Role,
    Route,
    SexCode,
    ident,
    model_config_of,
    quantity,
)
from nwb_ketamine.metadata.ranges import BURST_RANGES, EPSC_RANGES, ranges_schema
from nwb_ketamine.metadata.values import TIME_UNITS


class ContactEntry(BaseModel):
    """The person to contact about the data; DANDI publishes a dandiset only when it names one, with an email."""

    model_config = ConfigDict(extra="forbid", title="contact")

    name: str = Field(pattern=r"^[^,]+, [^,]+$", description="A name written as 'Last, First'.", examples=["Doe, Jane"])
    email: str = Field(
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        description="An email address (name@domain).",
        examples=["jane.doe@example.org"],
    )


class StudyEntry(BaseModel):
    """What the study is; becomes the dandiset metadata and each NWB file's general fields."""

    model_config = ConfigDict(extra="forbid", title="study")

    title: str = Field(
        min_length=1, description="Title of the study (the dandiset name).", examples=["Ketamine in LHb"]
    )
    description: str = Field(
        min_length=1,
        description="What was done and why; becomes each file's experiment_description.",
        examples=["Whole-cell recordings of NMDAR-mediated EPSCs in lateral habenula neurons."],
    )
    related_publications: tuple[
        Annotated[str, Field(pattern=r"^(doi:|https?://)\S+$", description="A DOI as 'doi:10.xxxx/...' or a URL.")],
        ...,
    ] = Field((), description="DOIs as 'doi:10.xxxx/...' or URLs.", examples=[["doi:10.1126/science.ado7010"]])
    lab: str = Field(description="Lab name.", examples=["Example lab"])
    institution: str = Field(description="Institution name.", examples=["Example University"])
    experimenters: tuple[
        Annotated[str, Field(pattern=r"^[^,]+, [^,]+$", description="A name written as 'Last, First'.")], ...
    ] = Field(min_length=1, description="Names as 'Last, First'.", examples=[["Doe, Jane"]])
    keywords: tuple[str, ...] = Field(
        (), description="Search keywords; drug and stress terms are added automatically.", examples=[["ketamine"]]
    )
    license: LICENSES = Field(description="A license DANDI accepts.", examples=["CC-BY-4.0"])
    contributors: tuple[str, ...] = Field(
        (), description="Further contributors for dandiset.yaml, as 'Last, First'.", examples=[["Roe, Richard"]]
    )
    contact: ContactEntry | None = Field(
        None,
        description="The contact person of dandiset.yaml (DANDI's dcite:ContactPerson, with an email address).",
        examples=[{"name": "Doe, Jane", "email": "jane.doe@example.org"}],
    )


class StressProtocolEntry(BaseModel):
    """A stress protocol (paradigm 'none' for unstressed controls)."""

    model_config = model_config_of("stress_protocol")

    id: str = ident(example="crs")
    paradigm: Paradigm = Field(description="The kind of stress.", examples=["chronic restraint"])
    duration_per_day: str | None = quantity("Exposure per day", "duration", tuple(vocab.DURATION_UNITS), "2 h")
    number_of_days: int | None = Field(None, ge=0, description="Days of exposure.", examples=[14])
    start_date: str | None = Field(
        None, pattern=r"^\d{4}-\d{2}-\d{2}$", description="First day, " + DATE_DESCRIPTION, examples=["2024-02-01"]
    )
    end_date: str | None = Field(
        None, pattern=r"^\d{4}-\d{2}-\d{2}$", description="Last day, " + DATE_DESCRIPTION, examples=["2024-02-14"]
    )
    apparatus: str | None = Field(None, description="Where the animal was held.", examples=["ventilated 50 mL tube"])
    description: str | None = Field(None, description="Free text.", examples=["Daily restraint in the home cage."])


class DrugEntry(BaseModel):
    """A drug or vehicle and how it is given."""

    model_config = model_config_of("drug", "dose", "concentration", "volume")

    id: str = ident(example="ketamine-10")
    agent: str = Field(
        min_length=1, description="Name of the agent, e.g. ketamine, MK-801, saline, NBQX.", examples=["ketamine"]
    )
    agent_identifier: str | None = Field(
        None,
        pattern=r"^(CHEBI:[0-9]+|(?!CHEBI:)[A-Za-z]+:\S+)$",
        description="Ontology term of the agent, PREFIX:ID (a ChEBI term's ID is a number: CHEBI:6121).",
        examples=["CHEBI:6121"],
    )
    dose: str | None = quantity("Dose", "dose", vocab.DOSE_UNITS, "10 mg/kg")
    concentration: str | None = quantity(
        "Concentration for bath application", "concentration", vocab.CONCENTRATION_UNITS, "10 uM"
    )
    route: Route = Field(description="How it is given.", examples=["intraperitoneal"])
    vehicle: str | None = Field(None, description="What it is dissolved in.", examples=["0.9% saline"])
    volume: str | None = quantity("Volume", "volume", vocab.VOLUME_UNITS, "10 mL/kg")
    role: Role = Field(description="Why it is given.", examples=["treatment"])
    description: str | None = Field(None, description="Free text.", examples=["Racemic ketamine."])


class TimePointEntry(BaseModel):
    """A time after the injection at which the study records, e.g. 1 h and 24 h; a slice cell belongs to the one nearest its recording time (on a log scale)."""  # noqa: E501

    model_config = model_config_of("time_point")

    name: str = Field(
        min_length=1, description="The time point's label in the files and the explorer.", examples=["1h"]
    )
    after_injection: str = quantity(
        "Time from the injection to the recording", "time point", tuple(vocab.DURATION_UNITS), "1 h", required=True
    )


class SubjectEntry(BaseModel):
    """One animal, with the fields DANDI requires."""

    model_config = model_config_of("subject", "date_of_birth", "age")

    id: str = ident(example="m01")
    species: str = Field(description="Latin binomial ('Mus musculus') or an NCBITaxon IRI.", examples=["Mus musculus"])
    strain: str | None = Field(None, description="Strain name.", examples=["C57BL/6J"])
    sex: SexCode = Field(description="M, F, U (unknown) or O (other), as DANDI requires.", examples=["M"])
    date_of_birth: str | None = Field(
        None, pattern=r"^\d{4}-\d{2}-\d{2}$", description=DATE_DESCRIPTION, examples=["2023-12-01"]
    )
    age: str | None = Field(
        None, pattern=r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?$", description="ISO 8601 duration.", examples=["P8W"]
    )
    genotype: str | None = Field(None, description="Genotype.", examples=["wild type"])
    weight: str | None = quantity("Body weight", "weight", vocab.WEIGHT_UNITS, "25.3 g")
    group: str = Field(min_length=1, description="Experimental group label.", examples=["stress-ketamine"])
    stress: str | None = Field(None, description="id of a stress protocol.", examples=["crs"])
    description: str | None = Field(None, description="Free text.", examples=["Littermate of m02."])


class InjectionEntry(BaseModel):
    """The in vivo injection this session follows."""

    model_config = model_config_of("injection")

    drug: str = Field(description="id of a drug.", examples=["ketamine-10"])
    time: str = Field(description=DATETIME_DESCRIPTION, examples=["2024-02-15T09:00:00+08:00"])


class AbfFileEntry(BaseModel):
    """One ABF file of a slice cell, with what the ABF header cannot be trusted to say."""

    model_config = model_config_of("abf_file")

    path: str = Field(description="Path of the .abf file, relative to the study file.", examples=["raw/c1_ampa.abf"])
    protocol: str = Field(description="Protocol name, e.g. 'AMPA-EPSC', 'NMDA-EPSC'.", examples=["AMPA-EPSC"])
    holding_potential: str = quantity(
        "Holding potential", "holding potential", tuple(vocab.POTENTIAL_UNITS), "-70 mV", required=True
    )
    clamp_mode: ClampMode | None = Field(
        None, description="Overrides the session's clamp_mode for this file.", examples=["current_clamp"]
    )
    response_channel: int = Field(0, ge=0, description="ADC channel index of the response.", examples=[1])
    command_channel: int = Field(0, ge=0, description="DAC channel index of the command.", examples=[1])
    command_unit: str | None = Field(
        None,
        description="Unit of the command when the ABF header leaves it blank (seen in ABF 1.x files): a voltage unit "
        "(mV, V, uV) under voltage clamp, a current unit (pA, nA, fA, uA, mA, A) under current clamp. Never assumed; "
        "a unit the header does give must agree with it.",
        examples=["mV"],
    )
    command: Literal["none"] | None = Field(
        None,
        description="`command: none` when no command was applied: the sweeps are stored without a stimulus series "
        "and the header's command (unit, waveform) is not read. Excludes command_unit and command_channel.",
        examples=["none"],
    )
    recording_time: str | None = Field(
        None,
        description="When the file's recording started, ISO 8601 with a UTC offset, in place of the ABF header's "
        "date and time (needed when that date is missing or implausible, e.g. a rig clock reset to 1980); the "
        "header's value is kept in the NWB file's notes. Not before the session's start_time.",
        examples=["2024-03-15T14:05:00+08:00"],
    )
    bath: list[str] = Field(
        default_factory=list, description="ids of bath-applied drugs during this file.", examples=[["nbqx"]]
    )


class SliceMethodsEntry(BaseModel):
    """How a cell's slice was made and recorded; every field optional. Temperatures in °C, thickness in µm."""

    model_config = model_config_of("slice_methods")

    internal_solution: str | None = Field(
        None,
        min_length=1,
        description="The pipette (internal) solution, composition as text.",
        examples=["(in mM) 117 Cs-methanesulfonate, 20 HEPES, 0.4 EGTA, 2.8 NaCl, 5 TEA-Cl, 2.5 Mg-ATP, 0.25 Na-GTP"],
    )
    slice_thickness_um: float | None = Field(
        None, gt=0, description="Slice thickness in micrometres (µm).", examples=[300]
    )
    cutting_solution: str | None = Field(
        None, min_length=1, description="The solution the slices were cut in.", examples=["ice-cold sucrose ACSF"]
    )
    cutting_temperature_c: float | None = Field(
        None, ge=-10, le=50, description="Temperature of the cutting solution in degrees Celsius (°C).", examples=[4]
    )
    recovery: str | None = Field(
        None,
        min_length=1,
        description="How the slices recovered before recording, as text.",
        examples=["34 °C ACSF for 30 min, then room temperature for at least 1 h"],
    )
    recording_solution: str | None = Field(
        None,
        min_length=1,
        description="The bath solution during recording (the ACSF), composition as text.",
        examples=["(in mM) 125 NaCl, 2.5 KCl, 1.25 NaH2PO4, 25 NaHCO3, 2 CaCl2, 1 MgCl2, 25 glucose"],
    )
    recording_temperature_c: float | None = Field(
        None, ge=-10, le=50, description="Bath temperature during recording in degrees Celsius (°C).", examples=[32]
    )
    stimulation_site: str | None = Field(
        None,
        min_length=1,
        description="Where the synaptic responses were evoked (the stimulating electrode's site).",
        examples=["stria medullaris"],
    )


class StudySliceMethodsEntry(SliceMethodsEntry):
    """The slice methods of every slice session (a session's own ``slice_methods`` override them field by field)."""

    model_config = model_config_of("study_slice_methods")

    stimulation_sites: dict[str, Annotated[str, Field(min_length=1)]] | None = Field(
        None,
        description="Stimulation site by region label (the sessions' region), in place of stimulation_site for "
        "the cells of that region.",
        examples=[{"LHb": "stria medullaris", "CA1": "Schaffer collaterals"}],
    )


class ImplantEntry(BaseModel):
    """Where a tetrode (or a session's tetrode bundle) was implanted: stereotaxic coordinates in millimetres (mm) relative to bregma, signed as in the atlas named."""  # noqa: E501

    model_config = model_config_of("implant")

    ap_mm: float = Field(description="Anterior-posterior coordinate from bregma in mm.", examples=[-1.8])
    ml_mm: float = Field(description="Medial-lateral coordinate from the midline in mm.", examples=[0.45])
    dv_mm: float = Field(description="Dorsal-ventral coordinate in mm.", examples=[-2.9])
    atlas: str | None = Field(
        None,
        min_length=1,
        description="The atlas the coordinates follow; a tetrode's implant without one takes the session's.",
        examples=["Paxinos and Franklin 2019"],
    )


class SliceSessionEntry(BaseModel):
    """One cell recorded in an acute slice; becomes one NWB file."""

    model_config = model_config_of("slice_session")

    type: Literal["slice"] = Field(description="slice", examples=["slice"])
    session_id: str = ident(example="20240215")
    subject: str = Field(description="id of a subject.", examples=["m01"])
    start_time: str = Field(
        description="When the recording started. " + DATETIME_DESCRIPTION, examples=["2024-02-15T10:30:00+08:00"]
    )
    injection: InjectionEntry | None = None
    slicing_time: str | None = Field(
        None, description="When the slices were cut. " + DATETIME_DESCRIPTION, examples=["2024-02-15T09:40:00+08:00"]
    )
    slice_id: str = ident(example="s1")
    cell_id: str = ident(example="c1")
    region: str = Field(description="Allen CCF acronym or a known lab label (LHb, CA1...).", examples=["LHb"])
    clamp_mode: ClampMode = Field(
        description="Default for the files; a file may override it.", examples=["voltage_clamp"]
    )
    description: str | None = Field(
        None, description="Free text for the session description.", examples=["AMPA then NMDA EPSCs."]
    )
    files: list[AbfFileEntry] = Field(min_length=1, description="The cell's ABF files, in recording order.")
    slice_methods: SliceMethodsEntry | None = Field(
        None, description="This cell's slice methods, each field in place of the study's slice_methods."
    )


class TetrodeEntry(BaseModel):
    """One tetrode (or any channel group) and where it was."""

    model_config = model_config_of("tetrode")

    number: int | None = Field(
        None,
        ge=1,
        description="The rig's tetrode number (Axona file .6, Neuralynx TT6, MClust TT6_1.t); default the position "
        "in this list, from 1.",
        examples=[6],
    )
    channels: list[Annotated[int, Field(ge=0)]] | None = Field(
        None,
        min_length=1,
        description="Channel indices in the recording; default the four of the tetrode number (number 6: 20-23), "
        "else the next four.",
        examples=[[20, 21, 22, 23]],
    )
    region: str = Field(description="Allen CCF acronym or a known lab label (LHb...).", examples=["LHb"])
    implant: ImplantEntry | None = Field(None, description="This tetrode's implant, in place of the session's.")


class EpochEntry(BaseModel):
    """A named interval, e.g. baseline or post-injection."""

    model_config = model_config_of("epoch")

    name: str = Field(min_length=1, description="Name of the interval.", examples=["baseline"])
    start: str = quantity("Start relative to the session start", "time", tuple(TIME_UNITS), "0 min", required=True)
    stop: str = quantity("Stop relative to the session start", "time", tuple(TIME_UNITS), "30 min", required=True)


class RawRecordingEntry(BaseModel):
    """The raw recording of an in vivo session, as neo reads it. Optional when the session has a sorting (a sorting-only session: units, waveforms and events, no ElectricalSeries)."""  # noqa: E501

    model_config = model_config_of("raw_recording")

    path: str = Field(description="Folder, relative to the study file.", examples=["raw/2024-03-15_14-00-00"])
    format: str | None = Field(
        None,
        description="openephys_binary, openephys_legacy, neuralynx, intan, blackrock, plexon or any neo RawIO name; "
        "recognised from the files when absent.",
        examples=["neuralynx"],
    )
    stream: str | int | None = Field(
        None,
        description="Stream name or id, as neo lists them. Required when the recording holds several streams (e.g. "
        "Intan amplifier and auxiliary inputs, Neuralynx channels at 32 kHz and 2 kHz); `nwb-ketamine check` lists "
        "them.",
        examples=["stream0_32000Hz"],
    )
    file: str | None = Field(
        None,
        description="The recording file inside the folder, for formats read file by file (Intan .rhd, Blackrock "
        ".ns5, Plexon .plx...). Required when the folder holds several.",
        examples=["session_240315_140000.rhd"],
    )
    neo_options: dict[str, int | float | str | bool | None] | None = Field(
        None,
        description="Keyword arguments of the neo RawIO reader that change how the recording is read, stored in the "
        "NWB file. Default none (neo's defaults): e.g. Neuralynx refuses a recording with gaps unless "
        "gap_tolerance_ms is given. Choose a tolerance below the shortest real gap: neo joins parts separated by "
        "less than it, and every later time then shifts by the gap.",
        examples=[{"gap_tolerance_ms": 1.0}],
    )
    gain: float | None = Field(
        None,
        description="Gain per count of channels whose header gives no physical unit, in `unit` (e.g. Intan's 0.195 "
        "uV per count); never assumed.",
        examples=[0.195],
    )
    unit: Literal["uV", "mV", "V"] | None = Field(
        None, description="Unit of `gain` (uV, mV or V); required with gain.", examples=["uV"]
    )


class SortingEntry(BaseModel):
    """Spike sorting output of an in vivo session."""

    model_config = model_config_of("sorting")

    path: str = Field(description="Folder or file, relative to the study file.", examples=["sorting/kilosort"])
    format: SORTING_FORMATS = Field(description="The spike sorter's output format.", examples=["phy"])


class InVivoSessionEntry(BaseModel):
    """One in vivo tetrode recording session; becomes one NWB file. It needs a raw recording, a spike sorting, or both."""  # noqa: E501

    model_config = model_config_of("invivo_session", "raw", "sorting")

    type: Literal["invivo"] = Field(description="invivo", examples=["invivo"])
    session_id: str = ident(example="20240315")
    subject: str = Field(description="id of a subject.", examples=["m01"])
    start_time: str = Field(
        description="When the recording started. " + DATETIME_DESCRIPTION, examples=["2024-03-15T14:00:00+08:00"]
    )
    injection: InjectionEntry | None = None
    description: str | None = Field(
        None, description="Free text for the session description.", examples=["Tetrodes in LHb."]
    )
    raw: RawRecordingEntry | None = None
    sorting: SortingEntry | None = None
    tetrodes: list[TetrodeEntry] = Field(
        min_length=1, description="Channel groups in order; channels default to consecutive groups of four."
    )
    epochs: list[EpochEntry] = Field(default_factory=list, description="Epochs relative to the session start.")
    implant: ImplantEntry | None = Field(
        None, description="Implant coordinates of the session's tetrodes (a tetrode may give its own)."
    )


class AnalysisEntry(BaseModel):
    """Analysis parameters, by analysis; each value is stored in the NWB files next to the results it produced."""

    model_config = model_config_of("analysis")

    epsc: dict[str, float] | None = Field(
        None,
        description="EPSC analysis of slice cells: parameter names carry their unit (stimulus_time_s, "
        "test_pulse_amplitude_v, rs_max_ohm...); the full list with defaults is in docs/analysis.md. "
        "stimulus_time_s, test_pulse_start_s, test_pulse_duration_s and test_pulse_amplitude_v describe the protocol "
        "and are required when there are slice sessions.",
        examples=[{"stimulus_time_s": 0.3}],
        json_schema_extra=ranges_schema(EPSC_RANGES),
    )
    bursts: dict[str, float] | None = Field(
        None,
        description="Burst detection of in vivo units: parameter names carry their unit.",
        examples=[{"min_spikes": 3}],
        json_schema_extra=ranges_schema(BURST_RANGES),
    )


SessionEntry = Annotated[SliceSessionEntry | InVivoSessionEntry, Field(discriminator="type")]


class StudyFile(BaseModel):
    """One file describes a study: who got which drug and which stress protocol when, and where the raw recordings are. Paths are relative to this file."""  # noqa: E501

    model_config = ConfigDict(extra="forbid", title="nwb-ketamine study metadata file")

    format_version: Literal[1] = Field(description="Version of this file format. Currently 1.", examples=[1])
    study: StudyEntry
    data_roots: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list,
        description="Folders outside the study file's folder that hold raw data (e.g. a lab's data drive), "
        "absolute or relative to this file. Every source path, after resolving symlinks, must lie in the study "
        "file's folder or in one of these.",
        examples=[["/mnt/lab-data/ketamine"]],
    )
    timezone: str = Field(
        description="IANA time zone of the lab; used for rig clocks that record local time.",
        examples=["Asia/Shanghai"],
    )
    stress_protocols: list[StressProtocolEntry] = Field(
        default_factory=list, description="Stress protocols, defined once and referred to by id from subjects."
    )
    drugs: list[DrugEntry] = Field(
        default_factory=list,
        description="Drugs and vehicles (in vivo injections and bath applications), referred to by id.",
    )
    time_points: list[TimePointEntry] = Field(
        default_factory=list,
        description="The study's times after the injection. Each slice cell's hours since its injection are binned "
        "into the nearest (on a log scale) and stored with the cell; without time_points the converter uses "
        + ", ".join(DEFAULT_TIME_POINTS)
        + ".",
    )
    subjects: list[SubjectEntry] = Field(min_length=1, description="The animals.")
    sessions: list[SessionEntry] = Field(
        min_length=1,
        description="Recordings: one entry per slice cell (type slice) or per tetrode session (type invivo).",
    )
    slice_methods: StudySliceMethodsEntry | None = Field(
        None, description="Slice methods of every slice session; a session's own slice_methods override them."
    )
    analysis: AnalysisEntry | None = None
