"""The catalog tables: values, incremental refresh, unreadable files, Dask and the dandi validate of an archive.

Values are checked against the simulator's ground truth and the pynwb readers; ``dandi validate`` must
ignore the catalog folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from nwb_ketamine.archive import catalog as catalog_module
from nwb_ketamine.archive.catalog import CatalogError, build_catalog, catalog_dir, load_catalog
from nwb_ketamine.archive.catalog_columns import COLUMNS, LABEL_COLUMNS, time_group
from nwb_ketamine.archive.catalog_read import read_nwb_file
from nwb_ketamine.filelayout import TIME_POINT_COLUMN, nearest_time_point


class CountingReader:
    """The default reader, counting the files it reads (picklable, for the in-process path)."""

    def __init__(self):
        self.paths = []

    def __call__(self, source, relpath):
        """Read one file with the default reader, counting it."""
        self.paths.append(relpath)
        return read_nwb_file(source, relpath)


def test_time_group_rule():
    """The default time group of a slice cell without a stored time point: its hours, binned on a log scale."""
    assert time_group(22.0) == "24h"
    assert time_group(1.3) == "1h"
    assert time_group(0.4) == "30min"
    assert time_group(1.4) == "1h" and time_group(1.5) == "2h"  # the boundary is the geometric mean, sqrt(2) h
    assert time_group(-0.5) == "pre-injection"
    assert time_group(float("nan")) == "none"
    points = {"early": 1.5, "late": 24.0}  # the boundary is sqrt(1.5 * 24) = 6 h
    assert nearest_time_point(5.9, points) == "early" and nearest_time_point(6.1, points) == "late"


#: The role of each agent of the vehicle archive's injections.
ROLE_OF = {"ketamine": "treatment", "phosphate-buffered saline": "vehicle control"}


def test_roles_and_time_points_come_from_the_metadata(vehicle_archive):
    """drug_role is the injection's stored role; a cell's time group is the time point the converter stored.

    Parameters
    ----------
    vehicle_archive
        The tiny study with a vehicle called 'phosphate-buffered saline', two ketamine doses, time points
        'early' and 'late', and group names ending in '-24h' for cells recorded 1 h after the injection.
    """
    from pynwb import NWBHDF5IO

    tables = load_catalog(vehicle_archive)
    for name, frame in tables.items():
        assert list(frame.columns) == COLUMNS[name]
        pairs = set(zip(frame["drug"], frame["drug_role"], strict=True))
        assert pairs and pairs <= set(ROLE_OF.items()), (name, pairs)
    cells = tables["cells"]
    assert set(cells["drug"]) == {"ketamine", "phosphate-buffered saline"}
    np.testing.assert_allclose(cells["hours_since_injection"], 1.0)
    # the group names say 24h, the stored times say 1 h: the nearest of the study's points is 'early'
    assert cells["experimental_group"].str.endswith("-24h").all() and (cells["time_group"] == "early").all()
    assert set(tables["units"]["dose"]) == {"3 mg/kg"} and set(tables["units"]["drug_role"]) == {"treatment"}
    with NWBHDF5IO(vehicle_archive / cells["file"].iloc[0], "r") as io:
        conditions = io.read().icephys_experimental_conditions
        assert set(conditions[TIME_POINT_COLUMN].data[:]) == {"early"}
        description = conditions[TIME_POINT_COLUMN].description
        assert "study file's time_points" in description and "early = 1.5 h, late = 24 h" in description


def test_a_file_without_a_stored_time_point_gets_the_default_bins(vehicle_archive, tmp_path):
    """An older file (no time_point column) is binned into the default time groups, not the study's points.

    Parameters
    ----------
    vehicle_archive
        The converted archive with the study's own time points.
    tmp_path
        A fresh temporary folder.
    """
    source = sorted(vehicle_archive.glob("sub-*/*_icephys.nwb"))[0]
    older = tmp_path / source.name
    shutil.copy(source, older)
    with h5py.File(older, "r+") as f:
        table = f["general/intracellular_ephys/experimental_conditions"]
        del table[TIME_POINT_COLUMN]
        table.attrs["colnames"] = [c for c in table.attrs["colnames"] if c != TIME_POINT_COLUMN]
    (cell,) = read_nwb_file(older, older.name)["cells"]
    (stored,) = read_nwb_file(source, source.name)["cells"]
    assert stored["time_group"] == "early" and cell["time_group"] == time_group(cell["hours_since_injection"]) == "1h"


def test_tables_have_the_documented_columns_and_labels(tiny):
    """Tables have the documented columns and labels.

    Parameters
    ----------
    tiny
        The tiny archive and its ground-truth folder.
    """
    archive, _ = tiny
    result = build_catalog(archive, progress=False)
    assert result.out == catalog_dir(archive) == archive / ".nwb-ketamine" / "catalog"
    assert result.counts == {"sessions": 3, "cells": 2, "units": 26} and not result.failed
    assert sorted(result.tables) == ["cells", "sessions", "units"] and all(p.exists() for p in result.tables.values())
    assert "3 files (3 read" in str(result)
    tables = load_catalog(archive)
    assert load_catalog(result.out)["cells"].equals(tables["cells"])
    for name, frame in tables.items():
        assert list(frame.columns) == COLUMNS[name]
        assert set(LABEL_COLUMNS) <= set(frame.columns)
        assert frame["subject"].str.len().gt(0).all() and frame["file"].str.endswith(".nwb").all()
        assert frame["experimental_group"].str.startswith("stress-").all()
    s = tables["sessions"].set_index("file")
    assert sorted(s["modality"]) == ["ecephys", "icephys", "icephys"]
    assert (s["file_size"] == [os.path.getsize(archive / f) for f in s.index]).all()
    ecephys = s[s["modality"] == "ecephys"].iloc[0]
    assert ecephys["n_units"] == 13 and ecephys["epochs"] == "baseline, post-injection"
    assert ecephys["injection_time_s"] == 4.0 and ecephys["region"] == "LH" and ecephys["region_label"] == "LHb"


def test_cells_match_ground_truth_and_the_pynwb_reader(tiny):
    """Cell rows match the ground truth and the pynwb reader.

    Parameters
    ----------
    tiny
        The tiny archive and its ground-truth folder.
    """
    from pynwb import NWBHDF5IO

    from nwb_ketamine.analysis.store import read_epsc_analysis

    archive, truth = tiny
    build_catalog(archive, progress=False)
    cells = load_catalog(archive)["cells"]
    expected = pd.read_csv(truth / "slice_cells.csv", dtype={"session_id": str})
    merged = cells.merge(expected, on=["subject", "session_id", "slice_id", "cell_id"], suffixes=("", "_truth"))
    assert len(merged) == len(expected) == 2
    for measure in ("ampa_amplitude_pa", "nmda_amplitude_pa"):
        np.testing.assert_allclose(merged[measure], merged[f"{measure}_truth"], rtol=0.05)
    np.testing.assert_allclose(merged["nmda_ampa_ratio"], merged["nmda_ampa_ratio_truth"], rtol=0.1)
    assert (merged["region_label"] == merged["region_truth"]).all()  # the lab's label, e.g. LHb
    assert set(merged["region"]) == {"LH", "CA1"}  # CCF acronyms
    assert (merged["drug"] == merged["drug_truth"]).all() and (merged["time_group"] == merged["time_group_truth"]).all()
    assert set(merged["drug_role"]) == {"treatment", "vehicle control"}
    assert (merged["drug_role"] == np.where(merged["drug"] == "saline", "vehicle control", "treatment")).all()
    assert (merged["experimental_group"] == merged["group"]).all() and (merged["stress"] == "chronic restraint").all()
    np.testing.assert_allclose(merged["hours_since_injection"], merged["hours_since_injection_truth"], atol=1e-6)
    assert set(merged["dose"]) == {"10 mg/kg", "10 mL/kg"}
    for row in cells.itertuples():
        assert row.object_path == "/processing/icephys/epsc_cell" and row.row == 0
        with NWBHDF5IO(archive / row.file, "r") as io:
            nwbfile = io.read()
            _, summary, params = read_epsc_analysis(nwbfile)
            for key, value in summary.items():
                if isinstance(value, str):
                    assert getattr(row, key) == value
                else:
                    np.testing.assert_allclose(getattr(row, key), value)
            assert json.loads(row.epsc_parameters)["nmda_latency_s"] == params.nmda_latency_s
            conditions = nwbfile.icephys_experimental_conditions.to_dataframe()
            assert row.region == conditions["region"].iloc[0] and row.drug == conditions["drug"].iloc[0]
            assert nwbfile.lab_meta_data["DandiIcephysMetadata"].cell_id == row.cell_id


def test_units_match_ground_truth_and_the_pynwb_reader(tiny):
    """Unit rows match the ground truth and the pynwb reader.

    Parameters
    ----------
    tiny
        The tiny archive and its ground-truth folder.
    """
    from pynwb import NWBHDF5IO

    from nwb_ketamine.analysis.burst_store import read_burst_metrics

    archive, truth = tiny
    build_catalog(archive, progress=False)
    units = load_catalog(archive)["units"]
    expected = pd.read_csv(truth / "invivo_unit_epochs.csv")
    expected["unit_name"] = expected["cluster_id"].astype(str)
    merged = units.merge(expected, on=["subject", "unit_name", "epoch"], suffixes=("", "_truth"))
    assert len(merged) == len(expected) > 0
    assert (merged["n_spikes"] == merged["n_spikes_truth"]).all()
    assert (merged["n_bursts"] == merged["n_bursts_truth"]).all()
    for metric in (
        "firing_rate_hz",
        "percent_spikes_in_bursts",
        "mean_spikes_per_burst",
        "mean_intraburst_frequency_hz",
    ):
        np.testing.assert_allclose(merged[metric], merged[f"{metric}_truth"], rtol=1e-6, equal_nan=True)
    assert (merged["drug"] == "ketamine").all() and (merged["region"] == "LH").all()
    assert set(units["time_group"]) == {"baseline", "post-injection"}
    baseline = units[units["epoch"] == "baseline"]
    assert (baseline["hours_since_injection"] < 0).all()

    path = archive / units["file"].iloc[0]
    with NWBHDF5IO(path, "r") as io, h5py.File(path, "r") as f:
        nwbfile = io.read()
        metrics, params = read_burst_metrics(nwbfile)
        assert len(units) == len(metrics["unit"])
        np.testing.assert_array_equal(units["unit_row"], metrics["unit"])
        np.testing.assert_array_equal(units["unit_name"], metrics["unit_name"])
        np.testing.assert_allclose(units["percent_spikes_in_bursts"], metrics["percent_spikes_in_bursts"])
        assert json.loads(units["burst_parameters"].iloc[0])["onset_isi_s"] == params.onset_isi_s
        table = nwbfile.units.to_dataframe()
        for row in units.itertuples():  # drill-down: the object path and row resolve to the same unit
            assert row.object_path in f and row.metrics_path in f
            assert table.index[row.unit_row] == row.unit_id
            assert table["unit_name"].iloc[row.unit_row] == row.unit_name
            assert table["snr"].iloc[row.unit_row] == pytest.approx(row.snr)
            assert table["curation_label"].iloc[row.unit_row] == row.curation_label


def test_refresh_rereads_only_changed_files_and_drops_deleted(archive_copy):
    """A refresh rereads only changed files and drops deleted ones.

    Parameters
    ----------
    archive_copy
        A copy of the tiny archive that the test may change.
    """
    first = CountingReader()
    result = build_catalog(archive_copy, progress=False, reader=first)
    assert len(first.paths) == 3 and len(result.read) == 3

    again = CountingReader()
    result = build_catalog(archive_copy, progress=False, reader=again)
    assert again.paths == [] and len(result.skipped) == 3

    touched = sorted(archive_copy.glob("sub-*/*_icephys.nwb"))[0]
    st = touched.stat()
    os.utime(touched, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    after_touch = CountingReader()
    result = build_catalog(archive_copy, progress=False, reader=after_touch)
    relpath = touched.relative_to(archive_copy).as_posix()
    assert after_touch.paths == [relpath] and result.read == [relpath]
    assert result.counts == {"sessions": 3, "cells": 2, "units": 26}
    assert len(load_catalog(archive_copy)["cells"]) == 2  # the touched file's row replaced, not duplicated

    gone = sorted(archive_copy.glob("sub-*/*_ecephys.nwb"))[0]
    gone.unlink()
    after_delete = CountingReader()
    result = build_catalog(archive_copy, progress=False, reader=after_delete)
    assert after_delete.paths == [] and result.removed == [gone.relative_to(archive_copy).as_posix()]
    tables = load_catalog(archive_copy)
    assert len(tables["units"]) == 0 and len(tables["sessions"]) == 2 and len(tables["cells"]) == 2

    full = CountingReader()
    build_catalog(archive_copy, progress=False, reader=full, full=True)
    assert len(full.paths) == 2


def test_an_unreadable_file_is_reported_and_the_others_catalogued(archive_copy):
    """An unreadable file is reported and the others catalogued.

    Parameters
    ----------
    archive_copy
        A copy of the tiny archive that the test may change.
    """
    bad = archive_copy / "sub-bad" / "sub-bad_ses-1_ecephys.nwb"
    bad.parent.mkdir()
    bad.write_bytes(b"not an HDF5 file" * 100)
    result = build_catalog(archive_copy, progress=False)
    assert list(result.failed) == ["sub-bad/sub-bad_ses-1_ecephys.nwb"]
    reason = result.failed["sub-bad/sub-bad_ses-1_ecephys.nwb"]
    assert "\n" not in reason and reason.startswith("OSError")
    assert result.counts == {"sessions": 3, "cells": 2, "units": 26} and "1 failed" in str(result)
    retry = CountingReader()
    build_catalog(archive_copy, progress=False, reader=retry)
    assert retry.paths == ["sub-bad/sub-bad_ses-1_ecephys.nwb"]  # a failed file is tried again


def test_dot_folders_are_not_catalogued(archive_copy):
    """Dot folders are not catalogued.

    Parameters
    ----------
    archive_copy
        A copy of the tiny archive that the test may change.
    """
    hidden = archive_copy / ".trash" / "old.nwb"
    hidden.parent.mkdir()
    shutil.copy(next(archive_copy.glob("sub-*/*_icephys.nwb")), hidden)
    result = build_catalog(archive_copy, progress=False)
    assert result.files == 3 and not result.failed


def test_user_errors_are_one_line_catalog_errors(tmp_path):
    """User errors are one-line CatalogErrors.

    Parameters
    ----------
    tmp_path
        A fresh temporary folder.
    """
    with pytest.raises(CatalogError, match="not an archive folder"):
        build_catalog(tmp_path / "missing", progress=False)
    with pytest.raises(CatalogError, match="no catalog"):
        load_catalog(tmp_path)
    with pytest.raises(CatalogError, match="out="):
        build_catalog("http://127.0.0.1:1/archive/", progress=False)


def test_empty_archive_gives_empty_tables(tmp_path):
    """An archive without NWB files (convert made it, every session failed) gives empty tables; a folder
    that is no archive at all (no NWB files, no state folder) is refused.

    Parameters
    ----------
    tmp_path
        A fresh temporary folder.
    """
    (tmp_path / "folder").mkdir()
    with pytest.raises(CatalogError, match="folder: no NWB files in it"):
        build_catalog(tmp_path / "folder", progress=False)
    (tmp_path / "archive" / ".nwb-ketamine").mkdir(parents=True)
    result = build_catalog(tmp_path / "archive", progress=False)
    assert result.counts == {"sessions": 0, "cells": 0, "units": 0}
    assert list(load_catalog(tmp_path / "archive")["cells"].columns) == COLUMNS["cells"]


def test_reads_on_a_given_dask_client(archive_copy, tiny):
    """Files are read on a given Dask client.

    Parameters
    ----------
    archive_copy
        A copy of the tiny archive that the test may change.
    tiny
        The tiny archive and its ground-truth folder.
    """
    from dask.distributed import Client

    build_catalog(tiny[0], progress=False)
    with Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None) as client:
        result = build_catalog(archive_copy, client=client, progress=False)
    assert len(result.read) == 3
    got, want = load_catalog(archive_copy), load_catalog(tiny[0])
    for name in ("cells", "units"):
        pd.testing.assert_frame_equal(got[name], want[name])


@pytest.mark.slow
def test_local_cluster_above_the_threshold(archive_copy, monkeypatch):
    """A LocalCluster is started above the threshold of files to read.

    Parameters
    ----------
    archive_copy
        A copy of the tiny archive that the test may change.
    monkeypatch
        pytest's monkeypatch fixture.
    """
    monkeypatch.setattr(catalog_module, "LOCAL_CLUSTER_MIN_FILES", 2)
    started = []
    from dask import distributed

    original = distributed.LocalCluster

    def recording_cluster(**kwargs):
        """A LocalCluster that records the arguments it was started with.

        Parameters
        ----------
        **kwargs
            The LocalCluster's arguments.
        """
        started.append(kwargs)
        return original(**kwargs)

    monkeypatch.setattr(distributed, "LocalCluster", recording_cluster)
    result = build_catalog(archive_copy, jobs=1, progress=False)
    assert len(started) == 1
    assert {k: started[0][k] for k in ("n_workers", "threads_per_worker", "processes")} == {
        "n_workers": 1, "threads_per_worker": 1, "processes": True
    }  # fmt: skip
    assert started[0]["dashboard_address"] is None  # no dashboard wanted
    assert result.counts == {"sessions": 3, "cells": 2, "units": 26} and not result.failed


def _dandi_validate(archive: Path) -> tuple[int, str]:
    dandi = Path(sys.executable).with_name("dandi")
    env = {**os.environ, "DANDI_CACHE": "ignore", "DANDI_NO_ET": "1"}
    proc = subprocess.run(
        [str(dandi), "validate", str(archive)], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.slow
def test_dandi_validate_ignores_the_catalog_folder(archive_copy):
    """``dandi validate`` skips dot-folders; when it fails for another reason, the catalog changes nothing.

    Parameters
    ----------
    archive_copy
        A copy of the tiny archive that the test may change.
    """
    if not Path(sys.executable).with_name("dandi").exists():
        pytest.skip("dandi-cli not installed")
    (archive_copy / "dandiset.yaml").write_text("identifier: DANDI:000000\nname: test\ndescription: test archive\n")
    result = build_catalog(archive_copy, progress=False)
    assert result.tables["cells"].is_relative_to(archive_copy / ".nwb-ketamine" / "catalog")
    assert result.tables["cells"].exists()
    code, output = _dandi_validate(archive_copy)
    assert ".parquet" not in output and "state.json" not in output
    if code != 0:  # unrelated findings: compare with the same archive without the catalog
        shutil.rmtree(archive_copy / ".nwb-ketamine")
        assert _dandi_validate(archive_copy)[0] == code
    else:
        assert "No errors found" in output
