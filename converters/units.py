"""Spike sorting → NWB Units table, quality metrics and per-epoch burst metrics.

Design decisions:

- Every sorting format is read into one neutral object, :class:`SortedUnits`, whose spike times are
  integer sample indices of ``sampling_rate_hz`` counted from the session start: the first raw sample
  when there is a raw recording, else the origin of the sorting's own clock (Axona: the trial start;
  Neuralynx and MClust without ``.ncs`` files: the zero of the Neuralynx clock). Time-stamped formats
  (Neuralynx, MClust, Axona, Open Ephys .spikes) are converted to that clock by their readers, so the
  writer never guesses an origin and spike times stay exact (``sample / rate + first_sample_time_s``).
  Without a raw rate a reader keeps its own clock (Axona 96 kHz timebase, MClust 0.1 ms ticks...) so no
  time is rounded.
- A reader also returns what the electrodes table and the provenance need when there is no raw file:
  the acquisition system's channel names per tetrode, the recording's duration as its files state it,
  every file it read and a line naming the reader. Tetrodes are matched by the rig's own number
  (``Tetrode.number``: Axona ``<base>.6``, ``TT6.ntt``, ``TT6_01.t`` → number 6) with
  :func:`tetrode_index`, never by position.
- Mean and SD waveforms come from the raw data when it is given (a bounded subsample of spikes, short
  windows read one at a time, so memory does not grow with the recording), else from the spike files
  when they hold samples with a known scale to uV. Nothing of unknown unit goes into ``waveform_mean``
  (volts): phy/Kilosort templates without raw data go to a separate ``template_waveform`` column whose
  description states their unit.
- Without raw data the recording span (firing rates, presence ratio, the default epoch) is
  ``[0, duration_s]`` when the sorting's files state the duration, and a spike outside it is refused;
  otherwise the span covers the epochs and the spikes.
- Every number that changes a stored result is a parameter stored next to it: the quality-metric
  parameters (:class:`UnitsParameters`) in ``units_parameters`` and the burst rule in
  ``burst_parameters``, both in the ``ecephys`` processing module with the ``burst_metrics`` table,
  so the catalog and the explorer read results without recomputing.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from hdmf.common import DynamicTable
from pynwb import NWBFile
from pynwb.misc import Units

from nwb_ketamine.analysis.bursts import METRICS, BurstParameters, epoch_burst_metrics
from nwb_ketamine.analysis.parameters import ParameterSet, parameter_table, read_parameter_table
from nwb_ketamine.errors import ConversionError
from nwb_ketamine.filelayout import (
    BURST_METRICS,
    BURST_PARAMETERS,
    ECEPHYS_MODULE,
    TEMPLATE_COLUMN,
    UNIT_COLUMNS,
    UNITS,
    UNITS_PARAMETERS,
)

LABELS = ("good", "mua", "noise", "unsorted")
FORMATS = ("phy", "ntt", "mclust", "axona", "openephys_spikes")


@dataclass
class SortedUnits:
    """The units of one session, whatever sorting software produced them.

    Attributes
    ----------
    ids
        Unit name as the sorting software calls it (phy cluster id, ``TT2_03``...).
    spike_samples
        Per unit, int64 sample indices of ``sampling_rate_hz`` counted from the session start (the first
        raw sample when there is raw data; Axona: the trial start), sorted.
    sampling_rate_hz
        Rate of that sample clock.
    labels
        Curation label per unit: 'good', 'mua', 'noise' or 'unsorted'.
    tetrode
        Per unit, index into ``session.tetrodes``.
    waveforms_mean_uv, waveforms_sd_uv
        (n_units, n_waveform_samples, n_channels_of_tetrode) in uV, or None when the files carry none
        with a known scale.
    channel_names
        Per tetrode index (into ``session.tetrodes``), the acquisition system's names of that tetrode's
        channels, from the sorting's own files; None when they say nothing. Used for the electrodes
        table when there is no raw recording.
    duration_s
        The recording's length as the sorting's own files state it (Axona header ``duration``), None
        when unknown.
    source_files
        Every file read, for provenance.
    reader
        What read them, e.g. ``"nwb_ketamine.converters.axona (Axona DacqUSB tetrode files + Tint .cut)"``.
    waveform_rate_hz
        Sampling rate of the waveform samples when it differs from ``sampling_rate_hz`` (Axona: 48 kHz
        waveforms on a 96 kHz timebase); None: ``sampling_rate_hz``.
    templates
        (n_units, n_samples, n_channels_of_tetrode) template waveforms whose unit is not known to be uV
        (phy/Kilosort without raw data), or None; described by ``templates_description``.
    templates_description
        What ``templates`` holds and in which unit.
    unit_files
        Per unit, the file its spikes came from (for error messages); None: ``source_files``.
    """

    ids: list[str]
    spike_samples: list[np.ndarray]
    sampling_rate_hz: float
    labels: list[str]
    tetrode: list[int]
    waveforms_mean_uv: np.ndarray | None = None
    waveforms_sd_uv: np.ndarray | None = None
    channel_names: dict[int, list[str]] | None = None
    duration_s: float | None = None
    source_files: tuple[str, ...] = ()
    reader: str = ""
    waveform_rate_hz: float | None = None
    templates: np.ndarray | None = None
    templates_description: str | None = None
    unit_files: list[str] | None = field(default=None, repr=False)

    def __post_init__(self):
        n = len(self.ids)
        for name in ("spike_samples", "labels", "tetrode"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"SortedUnits.{name} has {len(getattr(self, name))} entries for {n} units")
        if self.unit_files is not None and len(self.unit_files) != n:
            raise ValueError(f"SortedUnits.unit_files has {len(self.unit_files)} entries for {n} units")
        bad = sorted(set(self.labels) - set(LABELS))
        if bad:
            raise ValueError(f"unknown curation labels {bad}; expected one of {LABELS}")
        if self.duration_s is not None and not (math.isfinite(self.duration_s) and self.duration_s > 0):
            raise ValueError(f"SortedUnits.duration_s must be a positive number of seconds, not {self.duration_s}")
        if self.templates is not None and not self.templates_description:
            raise ValueError("SortedUnits.templates needs templates_description (what they are, in which unit)")
        self.spike_samples = [np.sort(np.asarray(s, dtype=np.int64)) for s in self.spike_samples]
        self.source_files = tuple(str(f) for f in self.source_files)
        if self.channel_names is not None:
            self.channel_names = {int(k): [str(v) for v in names] for k, names in self.channel_names.items()}

    def __len__(self):
        return len(self.ids)

    def file_of(self, i: int) -> str:
        """The file unit ``i`` came from (the sorting's files when unknown)."""
        if self.unit_files is not None:
            return self.unit_files[i]
        return ", ".join(self.source_files) or "the sorting"


@dataclass(frozen=True)
class UnitsParameters(ParameterSet):
    """Parameters of the quality metrics and of the waveforms taken from raw data.

    Parameters
    ----------
    refractory_period_s
        ISIs shorter than this are violations (default 1.5 ms, a common convention).
    presence_bin_s
        The recording is cut into bins this long; presence ratio = fraction of bins with a spike
        (default 60 s, as SpikeInterface).
    waveform_before_s, waveform_after_s
        Raw waveform window around each spike sample (default 0.5 ms before, 1.1 ms after).
    max_waveform_spikes
        At most this many spikes per unit (evenly spread over the recording) are averaged.
    """

    LABEL = "units"

    refractory_period_s: float = 0.0015
    presence_bin_s: float = 60.0
    waveform_before_s: float = 0.0005
    waveform_after_s: float = 0.0011
    max_waveform_spikes: int = 500


UnitsParameters.DESCRIPTIONS = {
    "refractory_period_s": "ISIs shorter than this count as refractory-period violations",
    "presence_bin_s": "presence ratio = fraction of bins of this length holding at least one spike",
    "waveform_before_s": "raw waveform window starts this long before the spike sample",
    "waveform_after_s": "raw waveform window ends this long after the spike sample",
    "max_waveform_spikes": "at most this many spikes per unit, evenly spread, are averaged for the waveform",
}


# --------------------------------------------------------------------------------------------------
# Reading


def read_sorting(path, fmt: str, *, session, sampling_rate_hz: float | None) -> SortedUnits:
    """Read a spike sorting in any supported format.

    Parameters
    ----------
    path
        The sorting folder or file (phy folder; folder of .ntt / .t / Axona / .spikes files, or one file).
    fmt
        One of :data:`FORMATS`.
    session
        The :class:`~nwb_ketamine.metadata.InVivoSession`; its tetrodes map files and channels to
        tetrodes, its raw folder gives the clock origin of time-stamped formats.
    sampling_rate_hz
        Rate of the raw recording; spike times are converted to its samples. None: the sorting's own.

    Raises
    ------
    ConversionError
        Unreadable or inconsistent files, with one line naming the file.
    """
    path = Path(path)
    axona_base = fmt == "axona" and Path(f"{path}.set").exists()  # a trial named by its base name
    if not path.exists() and not axona_base:
        raise ConversionError(f"{path}: sorting not found; check sorting.path in the study file")
    if fmt == "phy":
        from nwb_ketamine.converters.phy import read_phy

        units = read_phy(path, session=session, sampling_rate_hz=sampling_rate_hz)
    elif fmt == "ntt":
        from nwb_ketamine.converters.ntt import read_ntt

        units = read_ntt(path, session=session, sampling_rate_hz=sampling_rate_hz)
    elif fmt == "mclust":
        from nwb_ketamine.converters.mclust import read_mclust

        units = read_mclust(path, session=session, sampling_rate_hz=sampling_rate_hz)
    elif fmt == "axona":
        from nwb_ketamine.converters.axona import read_axona

        units = read_axona(path, session=session, sampling_rate_hz=sampling_rate_hz)
    elif fmt == "openephys_spikes":
        from nwb_ketamine.converters.openephys_spikes import read_openephys_spikes

        units = read_openephys_spikes(path, session=session, sampling_rate_hz=sampling_rate_hz)
    else:
        raise ConversionError(f"{path}: unknown sorting format {fmt!r}; use one of {', '.join(FORMATS)}")
    if session is not None:
        n = len(session.tetrodes)
        for uid, tet in zip(units.ids, units.tetrode, strict=True):
            if not 0 <= tet < n:
                raise ConversionError(
                    f"{path}: unit {uid} is on tetrode index {tet} but the study file declares {n} tetrodes; "
                    "add its tetrode to tetrodes"
                )
    return units


def tetrode_index(session, number: int, path) -> int:
    """Index into ``session.tetrodes`` of the tetrode the rig calls ``number`` (Axona ``.6``, ``TT6``).

    Parameters
    ----------
    session
        The in vivo session, or None: then the index is ``number - 1`` (tetrodes numbered from 1 in the
        order of the files), for callers that read a sorting without a study file.
    number
        The rig's tetrode number, as the file name carries it.
    path
        The file, named in the error.

    Raises
    ------
    ConversionError
        No tetrode of the session has that number: one line naming the file and what to add.
    """
    number = int(number)
    if session is None:
        if number < 1:
            raise ConversionError(f"{path}: tetrode number {number}; tetrode numbers start at 1")
        return number - 1
    for i, tetrode in enumerate(session.tetrodes):
        if (getattr(tetrode, "number", 0) or i + 1) == number:
            return i
    raise ConversionError(
        f"{path}: tetrode {number} is not in the study file; add a tetrode with number: {number} to tetrodes"
    )


def tetrode_number(path: Path, pattern: str) -> int:
    """The rig's tetrode number a file name carries (``TT3.ntt`` → 3), from the first group of ``pattern``."""
    match = re.search(pattern, Path(path).name)
    if not match:
        raise ConversionError(
            f"{path}: cannot tell the tetrode from the file name (expected {pattern!r}); rename the file "
            "or point sorting.path at the tetrode's file"
        )
    return int(match.group(1))


def tetrode_of_channel(session, channel: int, path) -> int:
    """Index of the tetrode of ``session`` that holds recording channel ``channel``."""
    for i, tetrode in enumerate(session.tetrodes):
        if channel in tetrode.channels:
            return i
    raise ConversionError(
        f"{path}: channel {channel} is on no tetrode of the study file; add it to the channels of a tetrode"
    )


def to_samples(times_s: np.ndarray, rate_hz: float) -> np.ndarray:
    """Times in s from the first raw sample → nearest int64 sample index."""
    return np.rint(np.asarray(times_s, dtype=np.float64) * rate_hz).astype(np.int64)


# --------------------------------------------------------------------------------------------------
# Quality metrics (pure functions, known inputs in the tests)


def isi_violations_fraction(spike_times_s, refractory_period_s: float) -> float:
    """Fraction of ISIs shorter than the refractory period (NaN with fewer than two spikes)."""
    t = np.asarray(spike_times_s, dtype=np.float64)
    if t.size < 2:
        return math.nan
    return float(np.count_nonzero(np.diff(t) < refractory_period_s) / (t.size - 1))


def presence_ratio(spike_times_s, start_s: float, stop_s: float, bin_s: float) -> float:
    """Fraction of the bins of ``[start_s, stop_s)`` (``bin_s`` long, the last one may be shorter) with a spike."""
    duration = stop_s - start_s
    if duration <= 0:
        return math.nan
    n_bins = max(1, math.ceil(duration / bin_s - 1e-9))
    t = np.asarray(spike_times_s, dtype=np.float64)
    t = t[(t >= start_s) & (t < stop_s)]
    occupied = np.unique(np.minimum(((t - start_s) // bin_s).astype(np.int64), n_bins - 1))
    return occupied.size / n_bins


def waveform_snr(mean_uv, sd_uv) -> float:
    """Peak |mean waveform| on the best channel / median SD of the waveform on that channel.

    The SD across spikes of a waveform is the background noise plus the amplitude jitter, so this is
    a conservative signal-to-noise ratio that needs no raw data. NaN without an SD.
    """
    if mean_uv is None or sd_uv is None:
        return math.nan
    mean = np.asarray(mean_uv, dtype=np.float64)
    sd = np.asarray(sd_uv, dtype=np.float64)
    if not np.isfinite(mean).any():
        return math.nan
    best = int(np.nanargmax(np.nanmax(np.abs(mean), axis=0)))
    noise = float(np.nanmedian(sd[:, best]))
    return float(np.nanmax(np.abs(mean[:, best])) / noise) if noise > 0 else math.nan


def raw_waveforms(raw, samples: np.ndarray, channels, params: UnitsParameters) -> tuple[np.ndarray, np.ndarray]:
    """Mean and SD waveform (uV) of a unit on ``channels`` from raw data, over a subsample of spikes.

    Each window has its per-channel median removed first (the slow LFP and offsets are not part of the
    spike). Windows that would cross the ends of the recording are skipped.
    """
    rate = float(raw.sampling_rate_hz)
    before = int(round(params.waveform_before_s * rate))
    width = before + int(round(params.waveform_after_s * rate))
    channels = list(channels)
    samples = np.asarray(samples, dtype=np.int64)
    samples = samples[(samples - before >= 0) & (samples - before + width <= raw.n_samples)]
    if samples.size == 0:
        nan = np.full((width, len(channels)), np.nan)
        return nan, nan.copy()
    if samples.size > params.max_waveform_spikes:
        samples = samples[np.linspace(0, samples.size - 1, params.max_waveform_spikes).round().astype(np.int64)]
    gain = np.asarray(raw.gain_uv, dtype=np.float64)
    gain = gain[channels] if gain.ndim and gain.size > 1 else np.full(len(channels), float(gain))
    total = np.zeros((width, len(channels)))
    total_sq = np.zeros((width, len(channels)))
    for s in samples:
        w = np.asarray(raw.read(int(s - before), int(s - before + width), channels), dtype=np.float64) * gain
        w -= np.median(w, axis=0)
        total += w
        total_sq += w * w
    n = samples.size
    mean = total / n
    sd = np.sqrt(np.maximum(total_sq / n - mean * mean, 0.0) * (n / max(n - 1, 1)))
    return mean, sd


# --------------------------------------------------------------------------------------------------
# Writing


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
        The sorting, from :func:`read_sorting`.
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
        mean_uv, sd_uv = _stack([p[0] for p in pairs]), _stack([p[1] for p in pairs])
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
        name=ECEPHYS_MODULE, description="Extracellular electrophysiology results computed by nwb-ketamine."
    )
    epochs = [(e.name, e.start, e.stop) for e in session.epochs]
    if not epochs and len(units):
        epochs = [("recording", start_s, stop_s)]
    rows = [dict(unit=i, **row) for i in range(len(units)) for row in epoch_burst_metrics(times[i], epochs, bp)]
    metrics = DynamicTable(
        name=BURST_METRICS,
        description="Per unit and per epoch firing and burst statistics (rule in burst_parameters).",
        id=np.arange(len(rows)),
    )
    metrics.add_column(name="unit", description="Row of the units table.", data=[r["unit"] for r in rows], table=table)
    metrics.add_column(name="epoch", description="Epoch name (epochs table).", data=[r["epoch"] for r in rows])
    for name, what in (("start_s", "Epoch start"), ("stop_s", "Epoch stop")):
        metrics.add_column(name=name, description=f"{what} (s, session clock).", data=_f([r[name] for r in rows]))
    for name, description in METRICS.items():
        values = [r[name] for r in rows]
        data = np.asarray(values, dtype=np.int64) if name.startswith("n_") else _f(values)
        metrics.add_column(name=name, description=description, data=data)
    module.add(metrics)
    module.add(parameter_table(BURST_PARAMETERS, "Parameters of the burst detection.", bp))
    module.add(parameter_table(UNITS_PARAMETERS, "Parameters of the quality metrics and waveforms.", up))


def _f(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def _stack(arrays: list[np.ndarray]) -> np.ndarray:
    """Stack per-unit waveforms, NaN-padding tetrodes with fewer channels."""
    width = max(a.shape[1] for a in arrays)
    return np.stack([np.pad(a, ((0, 0), (0, width - a.shape[1])), constant_values=np.nan) for a in arrays])


def read_burst_metrics(nwbfile: NWBFile) -> tuple[dict[str, np.ndarray], BurstParameters] | None:
    """The stored per-unit, per-epoch burst metrics and the rule that produced them, or None.

    Returns
    -------
    metrics : dict of str to ndarray
        ``unit`` (row of the units table), ``unit_name``, ``epoch``, ``start_s``, ``stop_s`` and the
        keys of :data:`nwb_ketamine.analysis.bursts.METRICS`, one entry per (unit, epoch).
    params : BurstParameters
    """
    module = nwbfile.processing.get(ECEPHYS_MODULE)
    if module is None or BURST_METRICS not in module.data_interfaces:
        return None
    table = module[BURST_METRICS]
    out = {"unit": np.asarray(table["unit"].data[:], dtype=np.int64)}
    names = np.asarray(nwbfile.units["unit_name"].data[:], dtype=object) if nwbfile.units is not None else None
    out["unit_name"] = names[out["unit"]] if names is not None and out["unit"].size else np.zeros(0, dtype=object)
    out["epoch"] = np.asarray([str(e) for e in table["epoch"].data[:]], dtype=object)
    for name in ("start_s", "stop_s", *METRICS):
        out[name] = np.asarray(table[name].data[:])
    rule = read_parameter_table(module[BURST_PARAMETERS], BurstParameters)
    return out, rule


def label_of_cluster(cluster: int) -> str:
    """Cluster 0 of manual cluster cutters (SpikeSort3D, Tint, the Open Ephys box sorter) holds the
    spikes no cluster claimed: 'unsorted'; every other cluster was cut by a person: 'good'."""
    return "unsorted" if cluster == 0 else "good"


def neuralynx_clock_origin(session) -> int | None:
    """Timestamp (µs) of the first record of the session's first ``.ncs`` file: the raw recording's first
    sample on the Neuralynx clock; None when the session has no Neuralynx raw folder."""
    raw_path = getattr(session, "raw_path", None)
    if raw_path is None or not Path(raw_path).is_dir():
        return None
    for ncs in sorted(Path(raw_path).glob("*.[nN][cC][sS]")):
        with open(ncs, "rb") as f:
            f.seek(16384)
            raw = f.read(8)
        if len(raw) == 8:
            return int(np.frombuffer(raw, "<u8")[0])
    return None
