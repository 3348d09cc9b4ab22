"""The catalog's tables: their columns, the group labels every row carries and the time-group rule.

Modality (``modality`` column, from the content)
    'icephys' when ``/general/intracellular_ephys`` holds an ``IntracellularElectrode`` (one cell row
    per electrode of a foreign file; our slice files hold one), else 'ecephys' when the file has a
    ``/units`` table or extracellular electrodes (one unit row per unit, or per unit × epoch of our burst
    metrics), else 'other' (sessions table only).

Group labels (every row of every table)
    ``subject``, ``session_id``, ``region`` (Allen CCF acronym), ``region_label`` (the lab's label),
    ``drug`` (agent of the in vivo treatment or vehicle; 'none'), ``drug_role`` (that administration's
    role, one of the extension's roles, e.g. 'treatment' or 'vehicle control'; 'none' without an
    injection, '' for a foreign file), ``dose`` (label, e.g. '10 mg/kg'; the volume for a vehicle),
    ``dose_value``, ``dose_unit``, ``stress`` (paradigm(s); 'none'), ``hours_since_injection``,
    ``time_group``, ``experimental_group``, ``file`` (path relative to the archive) and ``object_path``
    (the object inside the file).

    The control group is found by ``drug_role``, never by the drug's name: a study may call its vehicle
    'PBS' (the explorer's :func:`~nwb_ketamine.explorer.factors.control_level`). The experimental group
    is the study's label of the subject, kept for display; no other label is parsed from it.

``hours_since_injection`` and ``time_group``
    Slice cells: hours from the in vivo injection to the start of the recording (the icephys
    experimental-conditions column, else ``-administration_time / 3600``). ``time_group`` is the
    condition's stored ``time_point`` (the converter bins the hours into the study file's own time points,
    :func:`~nwb_ketamine.filelayout.nearest_time_point`); a file without that column (foreign, or written
    before it existed) gets the hours binned the same way into :data:`TIME_GROUPS` ('pre-injection'
    before the injection, 'none' without one). In vivo unit × epoch rows: hours from the injection to
    the epoch start (negative for a baseline epoch) and ``time_group`` is the epoch name ('baseline',
    'post-injection').

Provenance (every row of every table, :data:`PROVENANCE_COLUMNS`)
    ``nwb_ketamine_version``: the version of nwb-ketamine that stored the analysis of the row's file (its
    ``analysis_provenance`` tables; several versions comma-separated); ``analysis_parameters``: compact JSON
    of analysis → {parameter: value} read from the file's parameter tables (``epsc``, ``bursts``,
    ``units``). Both '' for a foreign file and for a file without analysis (a file of ours written before
    the provenance table existed has parameters but no version).

See :data:`SESSION_COLUMNS`, :data:`CELL_COLUMNS` and :data:`UNIT_COLUMNS` for the other columns.
"""

from __future__ import annotations

import math

from nwb_ketamine.analysis.bursts import METRICS
from nwb_ketamine.filelayout import CELL_DESCRIPTIONS, DEFAULT_TIME_POINTS, nearest_time_point

TABLES = ("sessions", "cells", "units")
#: Time groups a slice cell's hours since injection are binned into when its file stores no time point.
TIME_GROUPS = DEFAULT_TIME_POINTS

LABEL_COLUMNS = [
    "subject",
    "session_id",
    "region",
    "region_label",
    "drug",
    "drug_role",
    "dose",
    "dose_value",
    "dose_unit",
    "stress",
    "hours_since_injection",
    "time_group",
    "experimental_group",
    "file",
    "object_path",
]
#: Which version stored the analysis of the row's file and with which parameters (see the module docstring).
PROVENANCE_COLUMNS = ["nwb_ketamine_version", "analysis_parameters"]
SESSION_COLUMNS = LABEL_COLUMNS + [
    "modality",  # from the content: 'icephys' (intracellular electrodes), 'ecephys' (units, electrodes), 'other'
    "origin",  # 'nwb-ketamine' (carries our marker, see the module docstring) or 'foreign'
    "contents",  # foreign files: data objects per place and neurodata type; '' for ours (see _contents)
    "namespaces",  # cached namespaces and versions, e.g. 'core 2.5.0, ndx-testextension 0.1.0'
    "identifier",
    "session_start_time",  # ISO 8601
    "species",
    "sex",
    "injection_time_s",  # administration_time of the treatment (s from the session start)
    "bath_drugs",
    "epochs",  # epoch names, comma-separated
    "n_cells",
    "n_units",
    "n_good_units",
    "n_raw_series",  # raw ElectricalSeries in acquisition (one per recorded segment; 0: sorting-only or --no-raw)
    "file_size",
    *PROVENANCE_COLUMNS,
]
#: Cell-level EPSC results as stored (SI units).
EPSC_CELL_COLUMNS = list(CELL_DESCRIPTIONS)
#: Display-unit copies of the main measures (what the explorer plots).
CELL_DISPLAY_COLUMNS = {
    "ampa_amplitude_pa": ("ampa_peak_a", 1e12),
    "nmda_amplitude_pa": ("nmda_peak_a", 1e12),
    "nmda_value_at_latency_pa": ("nmda_value_at_latency_a", 1e12),
    "ampa_decay_tau_ms": ("ampa_decay_tau_s", 1e3),
    "nmda_decay_tau_ms": ("nmda_decay_tau_s", 1e3),
    "ampa_decay_tau_weighted_ms": ("ampa_decay_tau_weighted_s", 1e3),
    "nmda_decay_tau_weighted_ms": ("nmda_decay_tau_weighted_s", 1e3),
    "series_resistance_mohm": ("series_resistance_ohm", 1e-6),
    "input_resistance_mohm": ("input_resistance_ohm", 1e-6),
    "ampa_holding_current_pa": ("ampa_holding_current_a", 1e12),
    "nmda_holding_current_pa": ("nmda_holding_current_a", 1e12),
}
#: The study file's slice methods as the files hold them (:mod:`nwb_ketamine.methods`): text columns are ''
#: and numbers NaN when the file does not give them (a study file without slice_methods, a foreign file).
CELL_METHODS_COLUMNS = {
    "internal_solution": "",  # the electrode description's 'Internal solution:' line
    "slice_thickness_um": math.nan,  # /general/slices ...
    "slice_preparation": "",  # cutting solution, cutting temperature, recovery, joined by '; '
    "recording_solution": "",  # the ACSF
    "recording_temperature_c": math.nan,
    "stimulation_site": "",  # /general/stimulus (pynwb: stimulus_notes)
}
CELL_COLUMNS = (
    LABEL_COLUMNS
    + ["slice_id", "cell_id", "cell_key", "row", "bath_drugs", "has_analysis"]
    + EPSC_CELL_COLUMNS
    + list(CELL_DISPLAY_COLUMNS)
    + ["epsc_parameters"]  # JSON {parameter: value} of the analysis
    + list(CELL_METHODS_COLUMNS)
    + PROVENANCE_COLUMNS
)
#: The implant of the unit's tetrode: its electrode group's position (AP, ML, DV in mm from bregma) and the
#: atlas its description names, in files of ours; NaN and '' when the study file gave none, and for a foreign
#: file (whose position may be in other units or another frame).
UNIT_IMPLANT_COLUMNS = {"implant_ap_mm": math.nan, "implant_ml_mm": math.nan, "implant_dv_mm": math.nan,
                        "implant_atlas": ""}  # fmt: skip
#: Per unit and epoch, as the burst analysis stores them.
BURST_COLUMNS = list(METRICS)
UNIT_COLUMNS = (
    LABEL_COLUMNS
    + ["unit_row", "unit_id", "unit_name", "unit_key", "curation_label", "tetrode", "electrode_group"]
    + ["unit_n_spikes", "unit_firing_rate_hz", "isi_violations_fraction", "presence_ratio", "snr"]
    + ["epoch", "start_s", "stop_s"]
    + BURST_COLUMNS
    + ["metrics_path", "metrics_row", "burst_parameters"]  # burst_parameters: JSON {parameter: value}
    + list(UNIT_IMPLANT_COLUMNS)
    + PROVENANCE_COLUMNS
)
COLUMNS = {"sessions": SESSION_COLUMNS, "cells": CELL_COLUMNS, "units": UNIT_COLUMNS}


def as_float(value) -> float:
    """``float(value)``, NaN for a value that is not a number (``None``, '', text).

    Parameters
    ----------
    value
        Anything.

    Returns
    -------
    float
    """
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def time_group(hours: float) -> str:
    """The time group of a slice cell whose file stores no time point (see the module docstring).

    Parameters
    ----------
    hours
        Hours from the injection to the recording (NaN or None: no injection).

    Returns
    -------
    str
        The nearest of :data:`TIME_GROUPS` on a log scale, 'pre-injection' or 'none'.

    Examples
    --------
    >>> time_group(1.3), time_group(20.0), time_group(-1.0), time_group(float("nan"))
    ('1h', '24h', 'pre-injection', 'none')
    """
    return nearest_time_point(hours, TIME_GROUPS)
