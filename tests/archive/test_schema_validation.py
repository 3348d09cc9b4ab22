"""Schema validation with the namespaces loaded once per process gives pynwb.validate's verdicts."""

import shutil

import h5py
from pynwb import validate

from nwb_ketamine.schema_validation import _validators, cached_namespace_versions, schema_errors


def test_same_verdicts_as_pynwb_on_valid_and_broken_files(tmp_path, tiny_archive):
    """The same verdicts as pynwb's on valid and broken files.

    Parameters
    ----------
    tmp_path
        A fresh temporary folder.
    tiny_archive
        The tiny archive in the DANDI layout.
    """
    files = sorted(tiny_archive.rglob("*.nwb"))
    assert len(files) >= 3
    for path in files:  # valid files of both kinds: no error either way
        assert schema_errors(path) == [] and list(validate(path=str(path))) == []
    # the namespaces were loaded once for all files that cache the same versions
    assert len(_validators) == len({cached_namespace_versions(p) for p in files})
    # remove two required datasets: both validators report the same errors
    broken = tmp_path / "broken.nwb"
    shutil.copy(files[0], broken)
    with h5py.File(broken, "a") as f:
        del f["session_description"]
        del f["identifier"]
    ours, theirs = schema_errors(broken), list(validate(path=str(broken)))
    assert ours and sorted(map(str, ours)) == sorted(map(str, theirs))


def test_file_without_cached_namespaces_falls_back_to_pynwb(tmp_path):
    """A file without cached namespaces falls back to pynwb.

    Parameters
    ----------
    tmp_path
        A fresh temporary folder.
    """
    from datetime import UTC, datetime

    from pynwb import NWBHDF5IO
    from pynwb.testing.mock.file import mock_NWBFile

    path = tmp_path / "no-specs.nwb"
    nwbfile = mock_NWBFile(session_start_time=datetime(2024, 1, 1, tzinfo=UTC))
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile, cache_spec=False)
    assert cached_namespace_versions(path) == ()
    assert schema_errors(path) == [] and list(validate(path=str(path))) == []
