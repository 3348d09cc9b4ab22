"""phy / Kilosort output folders → :class:`~nwb_ketamine.converters.sorted_units.SortedUnits`.

Design decision: the ``.npy`` and ``.tsv`` files are read directly with numpy (no neo), because what
matters here is the curation: a cluster's label is the curator's ``group`` from ``cluster_group.tsv``,
else the ``group`` column of ``cluster_info.tsv`` (phy writes both). Kilosort's own ``KSLabel`` is
*not* a curation and is never used as one: a folder without curated labels is an error, so an
uncurated sorting cannot pass as curated. Clusters with an empty label are 'unsorted'.

The raw ``.dat`` is not needed: the sampling rate is ``sample_rate`` of ``params.py``, the channels are
the ``.dat`` rows listed in ``channel_map.npy``. ``spike_times.npy`` counts samples from the first
sample of the data file named in ``params.py`` (``dat_path``), which is the raw recording, so it is
already in the clock :class:`SortedUnits` asks for. The tetrode of a cluster is the tetrode of its best
channel (``ch`` in ``cluster_info.tsv``, else the channel with the largest template peak-to-peak, mapped
through ``channel_map.npy``). phy keeps no acquisition-system channel names, so a tetrode's channel
names are ``ch<k>`` for ``.dat`` row k. ``duration_s`` is the ``.dat``'s length (its size, ``offset``,
``n_channels_dat`` and ``dtype`` of ``params.py``) when the file is there, else None.

Waveforms: phy's templates are *not* stored as ``waveform_mean``. A Kilosort template (unwhitened with
``whitening_mat_inv.npy``) times the cluster's mean ``amplitudes.npy`` is in the sorter's own scaling,
which is not µV (Kilosort scales the whitened data; only some exporters write amplitudes in µV, and the
folder does not say which). So without raw data ``waveforms_mean_uv`` is None and the template goes to
``SortedUnits.templates``, which :func:`~nwb_ketamine.converters.units.add_units` writes to a separate
``template_waveform`` column whose description states how it was made and that it is not in volts; with
raw data the converter computes uV waveforms from the raw recording. No SD is available from phy.
"""

from __future__ import annotations

import ast
import contextlib
import csv
from pathlib import Path

import numpy as np

from nwb_ketamine.analysis.waveforms import stack_padded
from nwb_ketamine.converters.sorted_units import SortedUnits, tetrode_of_channel
from nwb_ketamine.errors import ConversionError

READER = "nwb_ketamine.converters.phy (phy/Kilosort .npy and .tsv files)"


def _read_params(path: Path) -> dict:
    """The ``name = literal`` assignments of a phy ``params.py`` (never executed)."""
    out = {}
    try:
        tree = ast.parse(path.read_text())
    except (OSError, SyntaxError) as exc:
        raise ConversionError(f"{path}: cannot read phy params.py ({exc}); fix or regenerate it") from None
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            with contextlib.suppress(ValueError):  # non-literal lines are not needed
                out[node.targets[0].id] = ast.literal_eval(node.value)
    return out


def _read_tsv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def _read_labels(folder: Path) -> dict[int, str]:
    """Curated label of every labelled cluster: cluster_group.tsv, else the group column of cluster_info.tsv."""
    for name in ("cluster_group.tsv", "cluster_info.tsv"):
        path = folder / name
        if not path.exists():
            continue
        rows = _read_tsv(path)
        if rows and "group" in rows[0] and "cluster_id" in rows[0]:
            out = {}
            for row in rows:
                label = (row["group"] or "").strip() or "unsorted"
                if label not in ("good", "mua", "noise", "unsorted"):
                    raise ConversionError(
                        f"{path}: cluster {row['cluster_id']} has unknown label {label!r}; use good, mua, noise or an "
                        "empty group in phy"
                    )
                out[int(row["cluster_id"])] = label
            return out
    raise ConversionError(
        f"{folder / 'cluster_group.tsv'}: no curation labels (cluster_group.tsv or a group column in "
        "cluster_info.tsv); curate the sorting in phy and save"
    )


def _load(folder: Path, name: str, required: bool = True):
    path = folder / name
    if not path.exists():
        if required:
            raise ConversionError(f"{path}: missing from the phy folder; export the sorting again")
        return None
    try:
        return np.load(path)
    except (OSError, ValueError) as exc:
        raise ConversionError(f"{path}: not a readable .npy file ({exc}); export the sorting again") from None


def _dat_duration_s(folder: Path, params: dict, rate: float) -> tuple[float | None, list[Path]]:
    """Length of the raw data file(s) ``params.py`` names, when they are there: (seconds or None, files)."""
    names = params.get("dat_path")
    if not names or not params.get("n_channels_dat"):
        return None, []
    names = [names] if isinstance(names, str) else list(names)
    try:
        itemsize = np.dtype(params.get("dtype", "int16")).itemsize
        n_channels = int(params["n_channels_dat"])
        offset = int(params.get("offset", 0))
    except (TypeError, ValueError):
        return None, []
    paths = [Path(n) if Path(n).is_absolute() else folder / n for n in names]
    if not paths or not all(p.is_file() for p in paths):
        return None, []
    samples = sum((p.stat().st_size - offset) // (n_channels * itemsize) for p in paths)
    return (samples / rate if samples > 0 else None), paths


TEMPLATES_DESCRIPTION = (
    "phy/Kilosort template of the unit: the templates.npy row of its most frequent template "
    "(spike_templates.npy){whitening}{amplitude}; in the sorter's arbitrary scaling, not uV"
)


def read_phy(folder, *, session, sampling_rate_hz: float | None = None) -> SortedUnits:
    """Read a phy folder, with or without its ``.dat``; see the module docstring for the rules.

    Parameters
    ----------
    folder
        The phy folder (holds ``params.py``, ``spike_times.npy``, ``cluster_group.tsv``...).
    session
        The in vivo session; its tetrodes map channels (``.dat`` rows) to tetrodes.
    sampling_rate_hz
        Expected rate; must equal ``sample_rate`` of ``params.py`` when given.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ConversionError(f"{folder}: not a phy folder; sorting.path must name the folder")
    params_path = folder / "params.py"
    params = _read_params(params_path) if params_path.exists() else {}
    rate = float(params.get("sample_rate", sampling_rate_hz or 0.0))
    if rate <= 0:
        raise ConversionError(
            f"{params_path}: no sample_rate; add 'sample_rate = <Hz>' to params.py (Kilosort and phy write it)"
        )
    if sampling_rate_hz is not None and abs(rate - sampling_rate_hz) > 1e-6 * rate:
        raise ConversionError(
            f"{params_path}: sample_rate {rate} Hz differs from the raw recording's {sampling_rate_hz} Hz; "
            "check raw.path and sorting.path"
        )
    read = [params_path] if params_path.exists() else []
    labels = _read_labels(folder)
    read += [folder / n for n in ("cluster_group.tsv", "cluster_info.tsv") if (folder / n).exists()]
    spike_times = _load(folder, "spike_times.npy").reshape(-1).astype(np.int64)
    clusters = _load(folder, "spike_clusters.npy", required=False)
    spike_templates = _load(folder, "spike_templates.npy", required=False)
    if clusters is None:
        clusters = spike_templates
    if clusters is None:
        raise ConversionError(
            f"{folder / 'spike_clusters.npy'}: missing (and no spike_templates.npy); export the sorting again"
        )
    clusters = clusters.reshape(-1).astype(np.int64)
    if clusters.size != spike_times.size:
        raise ConversionError(
            f"{folder / 'spike_clusters.npy'}: {clusters.size} clusters for {spike_times.size} spikes; export again"
        )
    templates = _load(folder, "templates.npy", required=False)
    amplitudes = _load(folder, "amplitudes.npy", required=False)
    channel_map = _load(folder, "channel_map.npy", required=False)
    winv = _load(folder, "whitening_mat_inv.npy", required=False)
    names = ("spike_times.npy", "spike_clusters.npy", "spike_templates.npy", "templates.npy", "amplitudes.npy")
    read += [folder / n for n in (*names, "channel_map.npy", "whitening_mat_inv.npy") if (folder / n).exists()]
    info = {}
    if (folder / "cluster_info.tsv").exists():
        info = {int(r["cluster_id"]): r for r in _read_tsv(folder / "cluster_info.tsv")}

    ids = np.unique(clusters)
    order = np.argsort(clusters, kind="stable")
    bounds = np.searchsorted(clusters[order], np.append(ids, ids[-1] + 1 if ids.size else 0))
    spikes, tetrodes, shapes = [], [], []
    unwhitened = scaled = False
    for k, cid in enumerate(ids):
        idx = order[bounds[k] : bounds[k + 1]]
        spikes.append(np.sort(spike_times[idx]))
        template = None
        if templates is not None and spike_templates is not None:
            tids, counts = np.unique(spike_templates.reshape(-1)[idx], return_counts=True)
            template = templates[int(tids[np.argmax(counts)])].astype(np.float64)
            if winv is not None and winv.shape[0] == template.shape[1]:
                template = template @ winv
                unwhitened = True
            if amplitudes is not None:
                template = template * float(np.mean(amplitudes.reshape(-1)[idx]))
                scaled = True
        if "ch" in info.get(int(cid), {}):
            channel = int(info[int(cid)]["ch"])
        elif template is not None:
            best = int(np.argmax(np.ptp(template, axis=0)))
            channel = int(channel_map.reshape(-1)[best]) if channel_map is not None else best
        else:
            raise ConversionError(
                f"{folder}: cannot tell the channel of cluster {cid} (no templates.npy, no ch in cluster_info.tsv); "
                "export the sorting again from phy"
            )
        tet = tetrode_of_channel(session, channel, folder)
        tetrodes.append(tet)
        if template is not None:
            cols = [_column_of(channel_map, c) for c in session.tetrodes[tet].channels]
            nan = np.full(len(template), np.nan)
            shapes.append(np.stack([template[:, c] if c is not None else nan for c in cols], 1))
    shape = stack_padded(shapes) if shapes and len(shapes) == len(ids) else None
    duration, dat_files = _dat_duration_s(folder, params, rate)
    description = TEMPLATES_DESCRIPTION.format(
        whitening=", unwhitened with whitening_mat_inv.npy" if unwhitened else "",
        amplitude=", times the unit's mean amplitudes.npy" if scaled else "",
    )
    return SortedUnits(
        ids=[str(int(c)) for c in ids],
        spike_samples=spikes,
        sampling_rate_hz=rate,
        labels=[labels.get(int(c), "unsorted") for c in ids],
        tetrode=tetrodes,
        waveforms_mean_uv=None,
        waveforms_sd_uv=None,
        channel_names={i: [f"ch{c}" for c in t.channels] for i, t in enumerate(session.tetrodes)},
        duration_s=duration,
        source_files=tuple(str(p) for p in read + [Path(p) for p in dat_files]),
        reader=READER + ("; the .dat was found (its length only)" if dat_files else "; without the .dat"),
        templates=shape,
        templates_description=description if shape is not None else None,
    )


def _column_of(channel_map, channel: int) -> int | None:
    """Template column of a recording channel (channel_map lists the recording channel of each column)."""
    if channel_map is None:
        return channel
    hits = np.flatnonzero(channel_map.reshape(-1) == channel)
    return int(hits[0]) if hits.size else None
