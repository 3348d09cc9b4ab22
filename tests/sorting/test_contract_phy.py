"""The sorting-reader contract for phy, on the tiny simulated study's phy folder (numpy reads the .npy files)."""

import csv
import shutil

import numpy as np
import pytest

from tests.sorting.contract import SortingCase, SortingReaderContract


def _without_labels(folder, tmp_path):
    copy = shutil.copytree(folder, tmp_path / "phy")
    (copy / "cluster_group.tsv").unlink()
    return copy, "cluster_group.tsv"


class TestPhy(SortingReaderContract):
    """The contract for the phy reader."""

    fmt = "phy"

    @pytest.fixture
    def case(self, tiny_study):
        """The files and their independent reading."""
        root, study = tiny_study
        session = study.invivo_sessions[0]
        folder = session.sorting_path
        times = np.load(folder / "spike_times.npy").reshape(-1)
        clusters = np.load(folder / "spike_clusters.npy").reshape(-1)
        with open(folder / "cluster_group.tsv", newline="") as f:
            labels = {r["cluster_id"]: r["group"] or "unsorted" for r in csv.DictReader(f, delimiter="\t")}
        dat = next(root.rglob("continuous.dat"))
        n_channels = sum(len(t.channels) for t in session.tetrodes)
        return SortingCase(
            path=folder,
            session=session,
            sampling_rate_hz=30_000.0,
            reference={str(c): times[clusters == c] for c in np.unique(clusters)},
            labels={str(c): labels.get(str(c), "unsorted") for c in np.unique(clusters)},
            channel_names={i: [f"ch{c}" for c in t.channels] for i, t in enumerate(session.tetrodes)},
            duration_s=dat.stat().st_size / 2 / n_channels / 30_000.0,
            files=["params.py", "spike_times.npy", "spike_clusters.npy", "cluster_group.tsv", dat.name],
            bad_input=lambda tmp_path: _without_labels(folder, tmp_path),
        )
