"""Batch conversion: DANDI layout, manifest and skipping, failures that do not stop the batch, Dask."""

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from pynwb import NWBHDF5IO

from nwb_ketamine.archive.batch import convert_study
from nwb_ketamine.archive.layout import dandi_path
from nwb_ketamine.archive.manifest import read_manifest
from nwb_ketamine.errors import StudyFileError
from nwb_ketamine.metadata import load_study
from nwb_ketamine.simulate import simulate_study


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    """A tiny simulated study (2 slice cells, 1 tetrode session).

    Parameters
    ----------
    tmp_path_factory
        pytest's factory of temporary folders.
    """
    return simulate_study(tmp_path_factory.mktemp("raw") / "study", seed=4, size="tiny", progress=False)


@pytest.fixture(scope="module")
def converted(raw, tmp_path_factory):
    """The module's study converted into an archive by the batch runner: (archive, summary).

    Parameters
    ----------
    raw
        The study file of this module's tiny simulated study.
    tmp_path_factory
        pytest's factory of temporary folders.
    """
    archive = tmp_path_factory.mktemp("archive")
    summary = convert_study(raw, archive, jobs=2, progress=False, catalog=False, echo=lambda _: None)
    return archive, summary


def copy_study(raw: Path, tmp_path: Path) -> Path:
    """A copy of the module's study (without its ground truth) that a test may change; its study file.

    Parameters
    ----------
    raw
        The study file of this module's tiny simulated study.
    tmp_path
        A fresh temporary folder.
    """
    shutil.copytree(raw.parent, tmp_path / "study", ignore=shutil.ignore_patterns("ground_truth"))
    return tmp_path / "study" / "study.yaml"


def test_every_session_lands_at_its_dandi_path(raw, converted):
    """Every session lands at its DANDI path.

    Parameters
    ----------
    raw
        The study file of this module's tiny simulated study.
    converted
        The archive it was converted into, and the conversion summary.
    """
    archive, summary = converted
    study = load_study(raw)
    assert summary.count("converted") == 3 and not summary.failed
    expected = sorted(dandi_path(s) for s in study.sessions)
    assert sorted(str(p.relative_to(archive)) for p in archive.rglob("*.nwb")) == expected
    assert not [p for p in archive.rglob(".*") if p.is_file() and p.suffix in (".partial", ".converting")]
    for path in expected:
        with NWBHDF5IO(archive / path, "r") as io:
            assert io.read().subject.subject_id in path


def test_names_are_the_ones_dandi_organize_gives(converted):
    """File names are the ones ``dandi organize`` gives.

    Parameters
    ----------
    converted
        The archive it was converted into, and the conversion summary.
    """
    from dandi.metadata.nwb import get_metadata
    from dandi.organize import create_unique_filenames_from_metadata

    archive, _ = converted
    files = sorted(archive.rglob("*.nwb"))
    records = [{**get_metadata(path), "path": str(path)} for path in files]
    named = create_unique_filenames_from_metadata(records, required_fields=["slice_id", "cell_id"])
    assert sorted(r["dandi_path"] for r in named) == sorted(str(p.relative_to(archive)) for p in files)


def test_dandiset_yaml_summarises_the_study(raw, converted):
    """``dandiset.yaml`` summarises the study.

    Parameters
    ----------
    raw
        The study file of this module's tiny simulated study.
    converted
        The archive it was converted into, and the conversion summary.
    """
    archive, _ = converted
    study = load_study(raw)
    meta = yaml.safe_load((archive / "dandiset.yaml").read_text())
    assert meta["name"] == study.info.title
    assert meta["license"] == [f"spdx:{study.info.license}"]
    assert "ketamine" in meta["description"] and "chronic restraint" in meta["description"]
    assert {c["name"] for c in meta["contributor"] if c["schemaKey"] == "Person"} == set(study.info.experimenters)
    assert meta["relatedResource"][0]["identifier"] == study.info.related_publications[0]


def test_manifest_records_sources_and_a_rerun_skips_everything(raw, converted):
    """The manifest records the sources, and a rerun skips everything.

    Parameters
    ----------
    raw
        The study file of this module's tiny simulated study.
    converted
        The archive it was converted into, and the conversion summary.
    """
    archive, _ = converted
    manifest = read_manifest(archive)
    study = load_study(raw)
    for session in study.sessions:
        record = manifest["outputs"][dandi_path(session)]
        assert record["sources"] and all(len(s["sha256"]) == 64 for s in record["sources"])
    again = convert_study(raw, archive, jobs=1, progress=False, catalog=False, echo=lambda _: None)
    assert again.count("skipped") == 3 and again.count("converted") == 0


def test_changed_input_is_redone_and_overwrite_redoes_all(raw, tmp_path):
    """A changed input is redone, and ``overwrite`` redoes all.

    Parameters
    ----------
    raw
        The study file of this module's tiny simulated study.
    tmp_path
        A fresh temporary folder.
    """
    study_path = copy_study(raw, tmp_path)
    archive = tmp_path / "archive"
    quiet = dict(jobs=2, progress=False, catalog=False, echo=lambda _: None)
    convert_study(study_path, archive, **quiet)
    study = load_study(study_path)
    cell = study.slice_sessions[0]
    data = bytearray(cell.files[0].path.read_bytes())
    data[-100] ^= 0xFF  # one sample changes; size stays the same
    cell.files[0].path.write_bytes(bytes(data))
    rerun = convert_study(study_path, archive, **quiet)
    assert [r.path for r in rerun.results if r.status == "converted"] == [dandi_path(cell)]
    touched = study.slice_sessions[1].files[0].path
    touched.touch()  # a new mtime with the same bytes is not a change
    assert convert_study(study_path, archive, **quiet).count("skipped") == 3
    assert convert_study(study_path, archive, overwrite=True, **quiet).count("converted") == 3


def test_bad_sources_fail_their_session_and_the_others_convert(raw, tmp_path):
    """Bad sources fail their session and the others convert.

    Parameters
    ----------
    raw
        The study file of this module's tiny simulated study.
    tmp_path
        A fresh temporary folder.
    """
    study_path = copy_study(raw, tmp_path)
    study = load_study(study_path)
    truncated, missing = study.slice_sessions[0].files[0].path, study.slice_sessions[1].files[1].path
    truncated.write_bytes(truncated.read_bytes()[:3000])
    missing.unlink()
    text = study_path.read_text()
    first_tetrode = "  - channels:\n    - 0\n    - 1\n    - 2\n    - 3\n"
    assert first_tetrode in text
    study_path.write_text(text.replace(first_tetrode, first_tetrode.replace("- 3\n", "- 3\n    - 40\n"), 1))
    summary = convert_study(study_path, tmp_path / "archive", jobs=2, progress=False, catalog=False, echo=lambda _: 0)
    failed = {r.key: r.message for r in summary.failed}
    assert len(failed) == 3, summary.text()
    messages = list(failed.values())
    assert all("\n" not in m for m in messages)
    assert any(str(truncated) in m for m in messages)
    assert any(f"{missing}: does not exist" in m for m in messages)
    assert any("40" in m for m in messages)
    assert not list((tmp_path / "archive").rglob("*.nwb"))
    assert "3 failed" in summary.text().splitlines()[0]


def test_metadata_problems_stop_before_anything_is_written(raw, tmp_path):
    """Metadata problems stop before anything is written.

    Parameters
    ----------
    raw
        The study file of this module's tiny simulated study.
    tmp_path
        A fresh temporary folder.
    """
    study_path = copy_study(raw, tmp_path)
    study_path.write_text(study_path.read_text().replace("sex: M", "sex: X", 1))
    with pytest.raises(StudyFileError):
        convert_study(study_path, tmp_path / "archive", jobs=1, progress=False, catalog=False)
    assert not (tmp_path / "archive").exists()


def test_stub_is_recorded_and_a_full_run_redoes_it(raw, tmp_path):
    """A stub run is recorded, and a full run redoes it.

    Parameters
    ----------
    raw
        The study file of this module's tiny simulated study.
    tmp_path
        A fresh temporary folder.
    """
    archive = tmp_path / "archive"
    quiet = dict(jobs=2, progress=False, catalog=False, echo=lambda _: None)
    convert_study(raw, archive, stub=True, **quiet)
    assert all(r["stub"] for r in read_manifest(archive)["outputs"].values())
    assert convert_study(raw, archive, **quiet).count("converted") == 3


@pytest.mark.slow
def test_separately_started_scheduler_and_worker(raw, tmp_path):
    """Conversion on a separately started Dask scheduler and worker.

    Parameters
    ----------
    raw
        The study file of this module's tiny simulated study.
    tmp_path
        A fresh temporary folder.
    """
    bin_dir = Path(sys.executable).parent
    scheduler_file = tmp_path / "scheduler.json"
    scheduler = subprocess.Popen(
        [bin_dir / "dask", "scheduler", "--host", "127.0.0.1", "--port", "0", "--scheduler-file", scheduler_file,
         "--no-dashboard"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    worker = None
    try:
        for _ in range(100):
            if scheduler_file.exists() and scheduler_file.stat().st_size:
                break
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        worker = subprocess.Popen(
            [bin_dir / "dask", "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        summary = convert_study(
            raw, tmp_path / "archive", scheduler=address, progress=False, catalog=False, echo=lambda _: None
        )
        assert summary.count("converted") == 3 and not summary.failed
    finally:
        for process in (worker, scheduler):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)


def test_no_raw_keeps_units_and_a_raw_run_redoes_it(raw, tmp_path):
    """``--no-raw`` keeps units, and a run with raw data redoes it.

    Parameters
    ----------
    raw
        The study file of this module's tiny simulated study.
    tmp_path
        A fresh temporary folder.
    """
    archive = tmp_path / "archive"
    quiet = dict(jobs=2, progress=False, catalog=False, echo=lambda _: None)
    convert_study(raw, archive, include_raw=False, **quiet)
    session = load_study(raw).invivo_sessions[0]
    with NWBHDF5IO(archive / dandi_path(session), "r") as io:
        nwbfile = io.read()
        assert "ElectricalSeries" not in nwbfile.acquisition and len(nwbfile.units) > 0
    rerun = convert_study(raw, archive, **quiet)
    assert [r.path for r in rerun.results if r.status == "converted"] == [dandi_path(session)]


def _hashlib_sha256(path: Path) -> str:
    """The sha256 of a file by a plain, separate hashlib pass (the reference of the streamed hashes)."""
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_hashes_made_while_converting_equal_a_separate_hashlib_pass(raw, converted):
    """Every sha256 the batch recorded (hashed while converting) is the file's sha256 by plain hashlib.

    Parameters
    ----------
    raw
        The study file of this module's tiny simulated study.
    converted
        The archive it was converted into, and the conversion summary.
    """
    archive, _ = converted
    sources = [s for record in read_manifest(archive)["outputs"].values() for s in record["sources"]]
    assert len(sources) > 3 and any(s["size"] > 1_000_000 for s in sources)  # the raw .dat files are among them
    for source in sources:
        assert source["sha256"] == _hashlib_sha256(source["path"]), source["path"]
        assert source["size"] == Path(source["path"]).stat().st_size


def test_a_source_changed_while_hashing_is_hashed_again(tmp_path):
    """A source rewritten after the background hash started gets the sha256 of its new content.

    Parameters
    ----------
    tmp_path
        A fresh temporary folder.
    """
    from nwb_ketamine.archive.manifest import SourceHashes

    paths = [tmp_path / f"f{i}.bin" for i in range(3)]
    for i, path in enumerate(paths):
        path.write_bytes(bytes([i]) * (3 << 20))
    hashes = SourceHashes(paths)
    hashes._thread.join()  # hashed as they were; now one changes (size and mtime move)
    paths[1].write_bytes(b"changed")
    entries = hashes.result()
    assert [e["sha256"] for e in entries] == [_hashlib_sha256(p) for p in paths]
    assert entries[1]["size"] == 7
    known = {e["path"]: e for e in entries}
    again = SourceHashes(paths, known).result()  # unchanged size and mtime: the known hashes, none recomputed
    assert again == entries


def test_a_written_file_that_is_invalid_is_refused_and_never_renamed_into_place(raw, tmp_path, monkeypatch):
    """The batch's pynwb validation reads the file back from disk: a file broken after pynwb wrote it fails.

    Parameters
    ----------
    raw
        The study file of this module's tiny simulated study.
    tmp_path
        A fresh temporary folder.
    monkeypatch
        pytest's monkeypatch fixture.
    """
    import h5py

    from nwb_ketamine.archive.batch import convert_session
    from nwb_ketamine.converters.abf import AbfSliceConverter

    after_write = AbfSliceConverter.after_write

    def breaking(self, path, progress=None):
        after_write(self, path, progress)
        with h5py.File(path, "a") as f:  # a required dataset of NWBFile, gone from the written file
            del f["session_description"]

    monkeypatch.setattr(AbfSliceConverter, "after_write", breaking)
    study = load_study(raw)
    cell = study.slice_sessions[0]
    result = convert_session(study, cell.key, str(tmp_path / "archive"))
    assert result.status == "failed"
    assert "pynwb validation failed" in result.message and "session_description" in result.message
    assert not (tmp_path / "archive" / dandi_path(cell)).exists()
    assert not [p for p in (tmp_path / "archive").rglob("*") if p.is_file() and ".nwb" in p.name]
