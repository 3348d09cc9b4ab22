"""A phy/Kilosort output folder consistent with a simulated raw recording.

Design decision: the sorting is "perfect but curated like a lab's": every simulated cluster (good
units, multi-unit activity, noise artefacts) becomes one template and one cluster with the same id,
its spike times are exactly the embedded spikes, and ``cluster_group.tsv`` holds the curator's labels.
Templates are the embedded waveforms divided by their peak, so ``amplitudes.npy`` is the peak in uV.
The folder sits next to ``continuous.dat`` so ``params.py`` can name it by a relative path without
spaces (neo's params.py parser splits on whitespace). ``spike_times.npy`` counts samples of the file
Kilosort sorted: for a session recorded in several pieces (Open Ephys recording1 + recording2, a
Neuralynx gap) that is their concatenation, named ``recording.dat`` in ``params.py`` and deleted after
sorting as SpikeInterface's Kilosort wrappers do; a sorting-only session's ``params.py`` names a
``../continuous.dat`` the lab did not keep. No reader of the sorting needs the ``.dat``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_phy(
    folder: Path,
    spike_samples: np.ndarray,
    spike_clusters: np.ndarray,
    amplitudes_uv: np.ndarray,
    templates_uv: np.ndarray,
    labels: list[str],
    channel_positions: np.ndarray,
    channel_groups: np.ndarray,
    sampling_rate_hz: float,
    dat_path: str,
) -> Path:
    """Write a phy (template-gui) folder.

    Parameters
    ----------
    folder
        Folder to create.
    spike_samples
        Sample of each spike from the start of ``continuous.dat``, sorted.
    spike_clusters
        Cluster id of each spike (also its template id).
    amplitudes_uv
        Peak amplitude of each spike on its best channel, in uV.
    templates_uv
        Mean waveform of each cluster, (n_clusters, n_samples, n_channels), in uV.
    labels
        Curated label of each cluster: good, mua or noise.
    channel_positions
        (n_channels, 2) probe coordinates in um.
    channel_groups
        Tetrode index of each channel (``channel_shanks.npy``).
    sampling_rate_hz
        Sampling rate of the raw data.
    dat_path
        Raw data file, relative to the folder, without whitespace.

    Returns
    -------
    Path
        The folder.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    n_clusters, _, n_channels = templates_uv.shape
    peaks = np.abs(templates_uv).max(axis=(1, 2))
    templates = (templates_uv / peaks[:, None, None]).astype(np.float32)
    np.save(folder / "spike_times.npy", spike_samples.astype(np.uint64))
    np.save(folder / "spike_clusters.npy", spike_clusters.astype(np.int32))
    np.save(folder / "spike_templates.npy", spike_clusters.astype(np.uint32))
    np.save(folder / "amplitudes.npy", amplitudes_uv.astype(np.float64))
    np.save(folder / "templates.npy", templates)
    np.save(folder / "channel_map.npy", np.arange(n_channels, dtype=np.int32))
    np.save(folder / "channel_positions.npy", channel_positions.astype(np.float64))
    np.save(folder / "channel_shanks.npy", channel_groups.astype(np.int32))
    flat = templates.reshape(n_clusters, -1)
    norms = np.linalg.norm(flat, axis=1)
    np.save(folder / "similar_templates.npy", (flat @ flat.T / np.outer(norms, norms)).astype(np.float32))
    np.save(folder / "whitening_mat.npy", np.eye(n_channels))
    np.save(folder / "whitening_mat_inv.npy", np.eye(n_channels))

    ids = np.arange(n_clusters)
    ks = ["mua" if label == "noise" else label for label in labels]  # Kilosort never says noise
    (folder / "cluster_group.tsv").write_text(
        "cluster_id\tgroup\n" + "".join(f"{i}\t{label}\n" for i, label in zip(ids, labels, strict=True))
    )
    (folder / "cluster_KSLabel.tsv").write_text(
        "cluster_id\tKSLabel\n" + "".join(f"{i}\t{label}\n" for i, label in zip(ids, ks, strict=True))
    )
    (folder / "params.py").write_text(
        f"dat_path = '{dat_path}'\n"
        f"n_channels_dat = {n_channels}\n"
        "dtype = 'int16'\n"
        "offset = 0\n"
        f"sample_rate = {float(sampling_rate_hz)!r}\n"
        "hp_filtered = False\n"
    )
    return folder
