"""The neutral sorting object every sorting reader returns, and the helpers the readers share.

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
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nwb_ketamine.errors import ConversionError

LABELS = ("good", "mua", "noise", "unsorted")


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
        """The file unit ``i`` came from (the sorting's files when unknown).

        Parameters
        ----------
        i
            The unit's index.
        """
        if self.unit_files is not None:
            return self.unit_files[i]
        return ", ".join(self.source_files) or "the sorting"


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
    """The rig's tetrode number a file name carries (``TT3.ntt`` → 3), from the first group of ``pattern``.

    Parameters
    ----------
    path
        The file.
    pattern
        Regular expression whose first group is the number.
    """
    match = re.search(pattern, Path(path).name)
    if not match:
        raise ConversionError(
            f"{path}: cannot tell the tetrode from the file name (expected {pattern!r}); rename the file "
            "or point sorting.path at the tetrode's file"
        )
    return int(match.group(1))


def tetrode_of_channel(session, channel: int, path) -> int:
    """Index of the tetrode of ``session`` that holds recording channel ``channel``.

    Parameters
    ----------
    session
        The in vivo session.
    channel
        The recording channel.
    path
        The sorting, named in the error.
    """
    for i, tetrode in enumerate(session.tetrodes):
        if channel in tetrode.channels:
            return i
    raise ConversionError(
        f"{path}: channel {channel} is on no tetrode of the study file; add it to the channels of a tetrode"
    )


def label_of_cluster(cluster: int) -> str:
    """Curation label of a cluster number of a manual cluster cutter (SpikeSort3D, Tint, Open Ephys).

    Cluster 0 holds the spikes no cluster claimed: 'unsorted'; every other cluster was cut by a person:
    'good'.

    Parameters
    ----------
    cluster
        The cluster number.
    """
    return "unsorted" if cluster == 0 else "good"


def neuralynx_clock_origin(session) -> int | None:
    """Timestamp (µs) of the first record of the session's first ``.ncs`` file, or None.

    That is the raw recording's first sample on the Neuralynx clock; None when the session has no
    Neuralynx raw folder.

    Parameters
    ----------
    session
        The in vivo session (its ``raw_path``), or None.
    """
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


def mean_and_sd(waveforms_uv) -> tuple[np.ndarray, np.ndarray]:
    """Mean and SD (ddof 1; NaN for a single spike) over the spikes of (n_spikes, samples, channels) waveforms.

    Parameters
    ----------
    waveforms_uv
        The unit's spike waveforms in uV.

    Returns
    -------
    mean, sd : ndarray
        (samples, channels) each.
    """
    w = np.asarray(waveforms_uv, dtype=np.float64)
    return w.mean(axis=0), (w.std(axis=0, ddof=1) if len(w) > 1 else np.full(w.shape[1:], np.nan))


@dataclass
class UnitCollector:
    """The units of a sorting gathered file by file, in the lists :class:`SortedUnits` takes."""

    ids: list[str] = field(default_factory=list)
    spikes: list[np.ndarray] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    tetrodes: list[int] = field(default_factory=list)
    unit_files: list[str] = field(default_factory=list)
    means: list[np.ndarray] = field(default_factory=list)
    sds: list[np.ndarray] = field(default_factory=list)

    def add_clusters(self, clusters, samples, waveforms_uv, *, prefix: str, tetrode: int, file) -> None:
        """One unit per cluster number of one spike file (cluster 0: 'unsorted', see :func:`label_of_cluster`).

        Parameters
        ----------
        clusters
            Cluster number of every spike of the file.
        samples
            Spike sample of every spike, on the session clock.
        waveforms_uv
            (n_spikes, samples, channels) waveforms in uV, or None when the file has none of known scale.
        prefix
            Unit ids are ``<prefix>_<cluster>``.
        tetrode
            Index of the file's tetrode in the session.
        file
            The spike file, for the unit's provenance.
        """
        for cluster in np.unique(clusters):
            sel = clusters == cluster
            self.ids.append(f"{prefix}_{int(cluster)}")
            self.spikes.append(samples[sel])
            self.labels.append(label_of_cluster(int(cluster)))
            self.tetrodes.append(tetrode)
            self.unit_files.append(str(file))
            if waveforms_uv is not None:
                mean, sd = mean_and_sd(waveforms_uv[sel])
                self.means.append(mean)
                self.sds.append(sd)

    def waveforms(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Stacked mean and SD waveforms of every unit, or (None, None) when no unit has any."""
        if not self.means:
            return None, None
        return np.stack(self.means), np.stack(self.sds)
