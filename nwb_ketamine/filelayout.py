"""Where things live inside the NWB files this project writes: the one owner of that layout.

Every object path, table name and column name a writer puts into a file and a reader looks for is named
here once: the converters, :mod:`nwb_ketamine.analysis.store` and :mod:`nwb_ketamine.nwbfile` write with
these names, and the catalog, the explorer's h5py readers and the tests' pynwb references read with them,
so writers and readers cannot drift apart without a test noticing (``tests/test_filelayout.py`` checks a
converted archive against this module). The rule that picks *the* injection among a session's drug
administrations is data about the layout too, so it lives here and nowhere else, and so does the rule that
bins a slice cell's hours since the injection into a named time point (:func:`nearest_time_point`): the
converter stores its result, and the catalog applies it to files that do not.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

# -- groups and tables ---------------------------------------------------------------------------------
#: The DrugStressMetadata object (LabMetaData) in /general: our extension's marker in every file we write.
DRUG_STRESS = "drug_stress"
DRUG_STRESS_PATH = f"/general/{DRUG_STRESS}"

#: Processing modules, named after the schema modules as NWB Inspector recommends.
ICEPHYS_MODULE = "icephys"
ECEPHYS_MODULE = "ecephys"

EPSC_SWEEPS = "epsc_sweeps"  # per-sweep EPSC measures (analysis.store)
EPSC_CELL = "epsc_cell"  # one row of cell-level EPSC results
EPSC_PARAMETERS = "epsc_parameters"
BURST_METRICS = "burst_metrics"  # per unit and epoch
BURST_PARAMETERS = "burst_parameters"
UNITS_PARAMETERS = "units_parameters"
#: In each processing module we write: one row per analysis stored there, with the tool and version that
#: wrote it, its results and the name of its parameters table (:mod:`nwb_ketamine.analysis.provenance`).
ANALYSIS_PROVENANCE = "analysis_provenance"

UNITS = "units"
UNITS_PATH = f"/{UNITS}"
EPOCHS_PATH = "/intervals/epochs"
ELECTRODES_PATH = "/general/extracellular_ephys/electrodes"
EVENTS_PATH = "/events"
EVENTS_PREFIX = "events_"  # EventsTable names: events_<acquisition channel>

#: Raw ElectricalSeries in /acquisition: this name for a one-segment recording, else one per segment.
RAW_SERIES = "ElectricalSeries"
RECORDING_SEGMENTS = "recording_segments"  # TimeIntervals: one row per raw segment, with its provenance
RECORDING_GAPS = "recording_gaps"  # TimeIntervals: the time between segments
#: NWB's own places the h5py readers look in: the acquired series and the icephys metadata tables.
ACQUISITION_PATH = "/acquisition"
INTRACELLULAR_EPHYS_PATH = "/general/intracellular_ephys"
INTRACELLULAR_RESPONSES_PATH = f"{INTRACELLULAR_EPHYS_PATH}/intracellular_recordings/responses"


def _processing_path(module: str, name: str) -> str:
    """Object path of ``name`` in processing module ``module``: ``/processing/<module>/<name>``."""
    return f"/processing/{module}/{name}"


EPSC_SWEEPS_PATH = _processing_path(ICEPHYS_MODULE, EPSC_SWEEPS)
EPSC_CELL_PATH = _processing_path(ICEPHYS_MODULE, EPSC_CELL)
EPSC_PARAMETERS_PATH = _processing_path(ICEPHYS_MODULE, EPSC_PARAMETERS)
BURST_METRICS_PATH = _processing_path(ECEPHYS_MODULE, BURST_METRICS)
BURST_PARAMETERS_PATH = _processing_path(ECEPHYS_MODULE, BURST_PARAMETERS)
UNITS_PARAMETERS_PATH = _processing_path(ECEPHYS_MODULE, UNITS_PARAMETERS)
PROVENANCE_PATHS = tuple(_processing_path(m, ANALYSIS_PROVENANCE) for m in (ICEPHYS_MODULE, ECEPHYS_MODULE))
#: The analyses nwb-ketamine stores: name (the ``analysis`` column of ``analysis_provenance``) → path of
#: its parameters table. The catalog reads a file's parameters from these tables, in this order.
ANALYSIS_PARAMETERS_PATHS = {
    "epsc": EPSC_PARAMETERS_PATH,
    "bursts": BURST_PARAMETERS_PATH,
    "units": UNITS_PARAMETERS_PATH,
}


def raw_series_names(n_segments: int) -> list[str]:
    """Names of the raw ElectricalSeries of a recording with ``n_segments`` segments.

    Parameters
    ----------
    n_segments
        Number of recorded segments.
    """
    if n_segments == 1:
        return [RAW_SERIES]
    return [f"{RAW_SERIES}_segment{k}" for k in range(n_segments)]


# -- columns -------------------------------------------------------------------------------------------
#: Columns we add to the electrodes table of an in vivo file (name → description).
ELECTRODE_COLUMNS = {
    "channel_name": "channel name in the acquisition system",
    "channel_id": "channel id in the acquisition system",
    "tetrode": "index of the tetrode in the study file",
    "tetrode_number": "the rig's tetrode number (study file tetrodes[].number)",
    "lab_region": "region label the study file gives the tetrode (e.g. LHb)",
}

#: Columns we add to the Units table (name → description), besides spike times, electrodes and waveforms.
UNIT_COLUMNS = {
    "unit_name": "Unit name in the sorting software's output.",
    "curation_label": "Curation label: good, mua, noise or unsorted.",
    "tetrode": "Index of the tetrode (0-based, order of the study file).",
    "tetrode_number": "The rig's own tetrode number (Axona file .N, TT<N>.ntt, study file tetrodes[].number).",
    "brain_area": "Allen CCF acronym of the tetrode's target region.",
    "n_spikes": "Number of spikes.",
    "firing_rate_hz": "Spikes / recording duration (Hz).",
    "isi_violations_fraction": "Fraction of ISIs shorter than refractory_period_s (units_parameters).",
    "presence_ratio": "Fraction of presence_bin_s bins of the recording holding a spike (units_parameters).",
    "snr": "Peak |mean waveform| / median waveform SD on the best channel (NaN without an SD).",
}
#: Optional Units column: a sorter's template where no waveform in volts is known (phy without raw data).
TEMPLATE_COLUMN = "template_waveform"

#: Columns of the epsc_sweeps table (name → description), besides its link to intracellular_recordings.
SWEEP_COLUMNS = {
    "file": "ABF file of the sweep.",
    "sweep": "Sweep index within its file.",
    "kind": "AMPA, NMDA or other, from the holding potential.",
    "holding_potential_v": "Holding potential stated in the study file, in V.",
    "holding_current_a": "Mean current just before the test pulse, in A.",
    "series_resistance_ohm": "Series resistance from the test-pulse peak transient, in Ohm.",
    "input_resistance_ohm": "Input resistance from the test-pulse steady state, in Ohm.",
    "baseline_a": "Mean current just before the stimulus, in A.",
    "peak_a": "Signed EPSC peak from the baseline, in A.",
    "peak_time_s": "Time of the EPSC peak from the stimulus, in s.",
    "value_at_latency_a": "Signed EPSC value at the fixed latency after the stimulus, in A.",
    "decay_tau_s": "Single-exponential decay time constant, in s.",
    "decay_tau_weighted_s": "Amplitude-weighted tau of two exponentials (the single tau if one is kept), in s.",
    "decay_components": "Exponentials the decay kept (2 or 1; 0 without a fit), see analysis.decay.",
    "accepted": "Whether the sweep passed quality control.",
    "rejection_reason": "Why the sweep was rejected ('' when accepted).",
}
#: The epsc_sweeps column linking each row to its row of intracellular_recordings.
SWEEP_RECORDING_COLUMN = "intracellular_recording"
#: Column of the icephys experimental_conditions table holding each condition's holding potential (V).
HOLDING_POTENTIAL_COLUMN = "holding_potential"
#: Columns of the icephys experimental_conditions table: hours from the in vivo injection to the session
#: start, and the time point of the study those hours are binned into (:func:`nearest_time_point`).
HOURS_SINCE_INJECTION_COLUMN = "hours_since_injection"
TIME_POINT_COLUMN = "time_point"
#: Columns of the one-row epsc_cell table (name → description).
CELL_DESCRIPTIONS = {
    "ampa_peak_a": "Mean AMPAR-EPSC peak over accepted AMPA sweeps (signed, A).",
    "nmda_peak_a": "Mean NMDAR-EPSC peak over accepted NMDA sweeps (signed, A).",
    "nmda_value_at_latency_a": "Mean NMDAR-EPSC value at the fixed latency (A).",
    "nmda_ampa_ratio": "NMDA peak / |AMPA peak|.",
    "nmda_ampa_ratio_latency": "NMDA value at the fixed latency / |AMPA peak|.",
    "ampa_decay_tau_s": "Mean per-sweep AMPA decay time constant (s).",
    "nmda_decay_tau_s": "Mean per-sweep NMDA decay time constant (s).",
    "ampa_decay_tau_average_s": "Decay time constant of the average accepted AMPA sweep (s); NaN if their rates vary.",
    "nmda_decay_tau_average_s": "Decay time constant of the average accepted NMDA sweep (s); NaN if their rates vary.",
    "ampa_decay_tau_weighted_s": "Mean per-sweep AMPA weighted decay tau (two exponentials, else the single tau; s).",
    "nmda_decay_tau_weighted_s": "Mean per-sweep NMDA weighted decay tau (two exponentials, else the single tau; s).",
    "ampa_decay_tau_weighted_average_s": "Weighted decay tau of the average accepted AMPA sweep (s); NaN: rates vary.",
    "nmda_decay_tau_weighted_average_s": "Weighted decay tau of the average accepted NMDA sweep (s); NaN: rates vary.",
    "nmda_decay_tau_fast_average_s": "Fast tau of the average NMDA sweep's two-exponential decay (s); NaN: one kept.",
    "nmda_decay_tau_slow_average_s": "Slow tau of the average NMDA sweep's two-exponential decay (s); NaN: one kept.",
    "nmda_decay_fast_fraction_average": "Fast amplitude / sum at the fit start, average NMDA sweep; NaN: one kept.",
    "ampa_holding_current_a": "Mean holding current of accepted AMPA sweeps (A).",
    "nmda_holding_current_a": "Mean holding current of accepted NMDA sweeps (A).",
    "series_resistance_ohm": "Mean series resistance of accepted sweeps (Ohm).",
    "input_resistance_ohm": "Mean input resistance of accepted sweeps (Ohm).",
    "rs_change_max": "Largest relative change of Rs from the first sweep, all sweeps.",
    "n_sweeps": "Number of analysed sweeps.",
    "n_accepted": "Number of accepted sweeps.",
    "n_ampa": "Number of AMPA sweeps.",
    "n_ampa_accepted": "Number of accepted AMPA sweeps.",
    "n_nmda": "Number of NMDA sweeps.",
    "n_nmda_accepted": "Number of accepted NMDA sweeps.",
    "accepted": "Whether the cell passed quality control.",
    "qc_reasons": "Why the cell failed quality control ('' when accepted).",
}

#: Columns of the analysis_provenance table (name → description). The parameters are not repeated as JSON
#: text: NWB Inspector flags a table column holding dictionaries (check_table_values_for_dict); they are the
#: rows of the table ``parameters`` names, in the same processing module.
PROVENANCE_COLUMNS = {
    "tool": "Software that computed and stored the analysis.",
    "tool_version": "Version of that software.",
    "analysis": "Name of the analysis (epsc, bursts or units).",
    "results": "The objects holding the analysis' results, comma-separated.",
    "parameters": "Name of the table, in this processing module, of the parameters that produced them.",
}

#: Columns of the burst_metrics table that identify a row (the metrics themselves: analysis.bursts.METRICS).
BURST_METRICS_KEYS = ("unit", "epoch", "start_s", "stop_s")


# -- the injection ---------------------------------------------------------------------------------------
AMOUNTS = ("dose", "concentration", "volume")
INJECTION_ROLES = ("treatment", "vehicle control")


def the_injection(administrations: Iterable[Mapping]) -> Mapping | None:
    """The administration that is *the* injection of a session, or None.

    Bath applications are not injections. Among the others a treatment or vehicle control is preferred
    (a pre-medication or anaesthetic is not what the experiment compares), and the earliest is taken;
    one without a time counts as last.

    Parameters
    ----------
    administrations
        The DrugAdministration objects' attributes as mappings (``route``, ``role``, ``agent``,
        ``administration_time``, ``dose``/``concentration``/``volume`` and their ``*_unit``).
    """
    in_vivo = [a for a in administrations if a.get("route") != "bath"]
    preferred = [a for a in in_vivo if a.get("role") in INJECTION_ROLES] or in_vivo
    if not preferred:
        return None

    def _time(a):
        t = a.get("administration_time")
        return math.inf if t is None else float(t)

    return min(preferred, key=_time)


def amount_of(administration: Mapping) -> tuple[float, str] | None:
    """(value, unit) of an administration's dose, else its concentration, else its volume; None without any.

    Parameters
    ----------
    administration
        A DrugAdministration's attributes as a mapping.
    """
    for amount in AMOUNTS:
        if administration.get(amount) is not None:
            return float(administration[amount]), str(administration.get(f"{amount}_unit") or "")
    return None


def injection_label(administration: Mapping | None) -> str:
    """'ketamine 10 mg/kg' for an administration ('' for None).

    Parameters
    ----------
    administration
        A DrugAdministration's attributes as a mapping, or None.
    """
    if administration is None:
        return ""
    amount = amount_of(administration)
    agent = str(administration.get("agent") or "")
    return agent if amount is None else f"{agent} {amount[0]:g} {amount[1]}".strip()


# -- time points -----------------------------------------------------------------------------------------
#: Time points (name → hours after the injection) for a study file that names none, and for files
#: without a stored time point.
DEFAULT_TIME_POINTS = {"30min": 0.5, "1h": 1.0, "2h": 2.0, "4h": 4.0, "6h": 6.0, "12h": 12.0, "24h": 24.0,
                       "48h": 48.0, "72h": 72.0, "7d": 168.0}  # fmt: skip
#: The time point of a recording before the injection, and of one without an injection.
PRE_INJECTION = "pre-injection"
NO_INJECTION = "none"


def nearest_time_point(hours: float | None, points: Mapping[str, float]) -> str:
    """The time point nearest to ``hours`` after the injection, on a log scale.

    The log scale makes the boundary between two points their geometric mean (between 1 h and 24 h:
    4.9 h), so a point's bin grows with its time, as the scatter of recording times does. Hours below 0
    give :data:`PRE_INJECTION`, NaN or None (no injection) :data:`NO_INJECTION`.

    Parameters
    ----------
    hours
        Hours from the injection to the recording.
    points
        Name → hours of the study's time points (all positive); empty: :data:`DEFAULT_TIME_POINTS`.

    Returns
    -------
    str

    Examples
    --------
    >>> nearest_time_point(4.0, {"1h": 1.0, "24h": 24.0}), nearest_time_point(5.0, {"1h": 1.0, "24h": 24.0})
    ('1h', '24h')
    >>> nearest_time_point(-1.0, {}), nearest_time_point(float("nan"), {}), nearest_time_point(0.4, {})
    ('pre-injection', 'none', '30min')
    """
    if hours is None or not math.isfinite(hours):
        return NO_INJECTION
    if hours < 0:
        return PRE_INJECTION
    points = points or DEFAULT_TIME_POINTS
    log_h = math.log(max(hours, 1e-3))
    return min(points, key=lambda name: abs(math.log(points[name]) - log_h))


def time_point_description(points: Mapping[str, float], declared: bool = True) -> str:
    """The description of the :data:`TIME_POINT_COLUMN` column: the binning rule and the points.

    Parameters
    ----------
    points
        Name → hours of the time points the column's values come from.
    declared
        Whether they are the study file's ``time_points`` (else :data:`DEFAULT_TIME_POINTS`).

    Returns
    -------
    str
    """
    listed = ", ".join(f"{name} = {hours:g} h" for name, hours in sorted(points.items(), key=lambda p: p[1]))
    source = "the study file's time_points" if declared else "the default time points (the study file names none)"
    return (
        f"Time point of the study this condition belongs to: {HOURS_SINCE_INJECTION_COLUMN} binned to the nearest "
        f"of {source} on a log scale ({listed}); '{PRE_INJECTION}' before the injection, '{NO_INJECTION}' "
        "without one."
    )
