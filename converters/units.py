"""Write a spike sorting into an NWB file: the Units table with its quality metrics and waveforms.

Design decisions:

- Mean and SD waveforms come from the raw data when it is given
  (:func:`~nwb_ketamine.analysis.waveforms.raw_waveforms`), else from the spike files when they hold
  samples with a known scale to uV. Nothing of unknown unit goes into ``waveform_mean`` (volts):
  phy/Kilosort templates without raw data go to a separate ``template_waveform`` column whose
  description states their unit.
- Without raw data the recording span (firing rates, presence ratio, the default epoch) is
  ``[0, duration_s]`` when the sorting's files state the duration, and a spike outside it is refused;
  otherwise the span covers the epochs and the spikes.
- Every number that changes a stored result is a parameter stored next to it: the quality-metric
  parameters (:class:`~nwb_ketamine.analysis.quality.UnitsParameters`) in ``units_parameters`` and the
  burst rule in ``burst_parameters``, both in the ``ecephys`` processing module with the
  ``burst_metrics`` table (:mod:`nwb_ketamine.analysis.burst_store`).
"""

from __future__ import annotations

import math

import numpy as np
from pynwb import NWBFile
from pynwb.misc import Units

from nwb_ketamine.analysis.burst_store import add_burst_metrics
from nwb_ketamine.analysis.bursts import BurstParameters
from nwb_ketamine.analysis.parameters import parameter_table
from nwb_ketamine.analysis.provenance import add_provenance, analysed_by
from nwb_ketamine.analysis.quality import UnitsParameters, isi_violations_fraction, presence_ratio, waveform_snr
from nwb_ketamine.analysis.waveforms import raw_waveforms, stack_padded
from nwb_ketamine.converters.sorted_units import SortedUnits
from nwb_ketamine.errors import ConversionError
from nwb_ketamine.filelayout import (
    ANALYSIS_PROVENANCE,
    BURST_PARAMETERS,
    ECEPHYS_MODULE,
    TEMPLATE_COLUMN,
    UNIT_COLUMNS,
    UNITS,
    UNITS_PARAMETERS,
)

#: The Units columns computed with the units_parameters (the others are the sorting's and the study's).
UNIT_QUALITY_COLUMNS = ("firing_rate_hz", "isi_violations_fraction", "presence_ratio", "snr")


def add_units(
    nwbfile: NWBFile,
    units: SortedUnits,
    *,
    session,
    electrode_rows_of_tetrode: list[list[int]],
    raw=None,
    first_sample_time_s: float = 0.0,
    burst_parameters: BurstParameters | None = None,
    units_parameters: UnitsParameters | None = None,
    spike_times_s: list[np.ndarray] | None = None,
) -> None:
    """Write the Units table, the quality metrics and the per-epoch burst metrics into ``nwbfile``.

    Parameters
    ----------
    nwbfile
        Must already have its electrodes table (rows given by ``electrode_rows_of_tetrode``).
    units
        The sorting, from :func:`~nwb_ketamine.converters.registry.read_sorting`.
    session
        The in vivo session: tetrode regions and epochs (s from the session start).
    electrode_rows_of_tetrode
        Rows of the electrodes table of each tetrode, in the order of ``session.tetrodes``.
    raw
        Optional raw recording (``read(start, stop, channels)``, ``gain_uv``, ``sampling_rate_hz``,
        ``n_samples``); when given, waveforms are computed from it and it gives the recording span.
        Without it (a sorting-only session) the span is ``[0, units.duration_s]`` when the sorting's
        files state the duration (a spike outside it is refused), else it covers the epochs and spikes;
        waveforms come from the spike files.
    first_sample_time_s
        Session time of the raw recording's first sample (of the sorting clock's zero without raw).
    burst_parameters, units_parameters
        The burst rule and quality-metric parameters (defaults: :class:`BurstParameters`,
        :class:`UnitsParameters`); both are stored.
    spike_times_s
        Per unit, spike times on the session clock (s) when the caller maps the sorting's clock itself
        (e.g. a raw recording with gaps); default ``spike_samples / sampling_rate_hz + first_sample_time_s``.

    Raises
    ------
    ConversionError
        The sorting's rate differs from the raw recording's, or (without raw) a spike lies outside the
        duration the sorting's files state.
    """
    bp = burst_parameters or BurstParameters()
    up = units_parameters or UnitsParameters()
    rate = float(units.sampling_rate_hz)
    if raw is not None and abs(float(raw.sampling_rate_hz) - rate) > 1e-6 * rate:
        raise ConversionError(
            f"sorting at {rate} Hz but raw recording at {raw.sampling_rate_hz} Hz; pass the raw rate to read_sorting"
        )
    if spike_times_s is None:
        times = [s / rate + first_sample_time_s for s in units.spike_samples]
    else:
        if len(spike_times_s) != len(units):
            raise ValueError(f"spike_times_s has {len(spike_times_s)} entries for {len(units)} units")
        times = [np.asarray(t, dtype=np.float64) for t in spike_times_s]

    # Waveforms: from the raw data when present, else from the sorting.
    mean_uv, sd_uv = units.waveforms_mean_uv, units.waveforms_sd_uv
    if raw is not None and len(units):
        pairs = [
            raw_waveforms(raw, s, session.tetrodes[t].channels, up)
            for s, t in zip(units.spike_samples, units.tetrode, strict=True)
        ]
        mean_uv, sd_uv = stack_padded([p[0] for p in pairs]), stack_padded([p[1] for p in pairs])
    waveform_rate = float(units.waveform_rate_hz or rate) if raw is None else rate

    # Recording span for rates and presence: the raw data; else the duration the sorting's files state;
    # else the epochs and the spikes.
    if raw is not None:
        start_s, stop_s = first_sample_time_s, first_sample_time_s + raw.n_samples / rate
    elif units.duration_s is not None:
        start_s, stop_s = first_sample_time_s, first_sample_time_s + float(units.duration_s)
        tolerance = 0.5 / rate
        for i, t in enumerate(times):
            if t.size and (t[0] < start_s - tolerance or t[-1] > stop_s + tolerance):
                raise ConversionError(
                    f"{units.file_of(i)}: unit {units.ids[i]} has spikes from {t[0] - start_s:.6g} s to "
                    f"{t[-1] - start_s:.6g} s, outside the recording's {units.duration_s:g} s its files state; "
                    "sorting.path must name this session's sorting"
                )
    else:
        last = max((float(t[-1]) for t in times if t.size), default=first_sample_time_s)
        stop_s = max([last + 1.0 / rate] + [e.stop for e in session.epochs])
        start_s = min([first_sample_time_s] + [e.start for e in session.epochs])
    duration = stop_s - start_s

    description = "Units from spike sorting, with curation label, tetrode, waveforms and quality metrics."
    if units.reader:
        description += f" Read by {units.reader}."
    if mean_uv is not None:
        origin = "the raw recording" if raw is not None else "the spike files"
        description += f" Mean and SD waveforms from {origin}."
    table = Units(
        name=UNITS,
        description=description,
        resolution=1.0 / rate,
        waveform_rate=waveform_rate if mean_uv is not None else None,
        waveform_unit="volts",
    )
    columns = dict(UNIT_COLUMNS)
    templates = units.templates
    if templates is not None:
        columns[TEMPLATE_COLUMN] = (
            f"{units.templates_description} (n_samples x n_channels of the tetrode, at {waveform_rate:g} Hz; "
            "NaN on channels the template does not cover). Not volts: see waveform_mean for uV-scaled waveforms."
        )
    for name, column_description in columns.items():
        table.add_column(name=name, description=column_description)
    nwbfile.units = table
    group_column = nwbfile.electrodes["group"]
    for i in range(len(units)):
        rows = list(electrode_rows_of_tetrode[units.tetrode[i]])
        t = times[i]
        kwargs = {}
        if mean_uv is not None:
            kwargs["waveform_mean"] = mean_uv[i] * 1e-6
            kwargs["waveform_sd"] = (sd_uv[i] if sd_uv is not None else np.full_like(mean_uv[i], np.nan)) * 1e-6
        if templates is not None:
            kwargs[TEMPLATE_COLUMN] = np.asarray(templates[i], dtype=np.float64)
        tetrode = session.tetrodes[units.tetrode[i]]
        table.add_unit(
            spike_times=t,
            electrodes=rows,
            electrode_group=group_column[rows[0]],
            unit_name=str(units.ids[i]),
            curation_label=units.labels[i],
            tetrode=int(units.tetrode[i]),
            tetrode_number=int(getattr(tetrode, "number", 0) or units.tetrode[i] + 1),
            brain_area=tetrode.ccf_region,
            n_spikes=int(t.size),
            firing_rate_hz=t.size / duration if duration > 0 else math.nan,
            isi_violations_fraction=isi_violations_fraction(t, up.refractory_period_s),
            presence_ratio=presence_ratio(t, start_s, stop_s, up.presence_bin_s),
            snr=waveform_snr(mean_uv[i] if mean_uv is not None else None, sd_uv[i] if sd_uv is not None else None),
            **kwargs,
        )

    module = nwbfile.processing.get(ECEPHYS_MODULE) or nwbfile.create_processing_module(
        name=ECEPHYS_MODULE,
        description=f"Extracellular electrophysiology results computed by {analysed_by()}: burst metrics "
        f"({BURST_PARAMETERS}) and the Units table's quality metrics and waveforms ({UNITS_PARAMETERS}); "
        f"see {ANALYSIS_PROVENANCE}.",
    )
    epochs = [(e.name, e.start, e.stop) for e in session.epochs]
    if not epochs and len(units):
        epochs = [("recording", start_s, stop_s)]
    add_burst_metrics(module, table, times, epochs, bp)
    module.add(
        parameter_table(UNITS_PARAMETERS, f"Parameters of the quality metrics and waveforms ({analysed_by()}).", up)
    )
    # Waveforms are computed with the parameters only when cut from the raw data (else the sorting's own).
    computed = [*UNIT_QUALITY_COLUMNS, *(("waveform_mean", "waveform_sd") if raw is not None and len(units) else ())]
    add_provenance(module, "units", [f"{UNITS}.{c}" for c in computed], UNITS_PARAMETERS)
