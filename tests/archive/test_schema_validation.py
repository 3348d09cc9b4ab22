"""Schema validation with the namespaces loaded once per process gives pynwb.validate's verdicts."""

import shutil

import h5py
import ndx_dandi_icephys  # noqa: F401 - loaded, as on a worker that converted a slice cell (against="loaded")
import pytest
from pynwb import validate

import nwb_ketamine.extension  # noqa: F401 - ndx-drug-stress loaded, as on every worker
from nwb_ketamine.schema_validation import _loaded_validators, _validators, cached_namespace_versions, schema_errors


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
    # pynwb validates once per most specific namespace (each includes core), so it reports each error of a
    # core type once per namespace; schema_errors validates once against all of them together
    assert ours and sorted(set(map(str, ours))) == sorted(set(map(str, theirs))) == sorted(map(str, ours))
    assert sorted(map(str, schema_errors(broken, against="loaded"))) == sorted(map(str, ours))


def test_loaded_namespaces_give_the_cached_verdicts(tiny_archive):
    """Validating against the namespaces loaded in the process gives the verdicts of the cached ones.

    Parameters
    ----------
    tiny_archive
        The tiny archive in the DANDI layout.
    """
    for path in sorted(tiny_archive.rglob("*.nwb")):
        assert schema_errors(path, against="loaded") == []
    assert _loaded_validators  # the loaded namespaces were used, not the file's


def _first_of_type(f: h5py.File, neurodata_type: str) -> h5py.Group:
    found = []
    f.visititems(lambda _, obj: found.append(obj) if obj.attrs.get("neurodata_type") == neurodata_type else None)
    return found[0]


def _drop_unit(f):
    del _first_of_type(f, "VoltageClampSeries")["data"].attrs["unit"]


def _text_starting_time(f):
    series = _first_of_type(f, "VoltageClampSeries")
    del series["starting_time"]
    series["starting_time"] = "soon"


def _drop_group_of_drug_stress(f):  # ndx-drug-stress: a required attribute
    del _first_of_type(f, "DrugStressMetadata").attrs["experimental_group"]


def _numeric_cell_id(f):  # ndx-dandi-icephys: text expected
    metadata = _first_of_type(f, "DandiIcephysMetadata")
    del metadata["cell_id"]
    metadata["cell_id"] = 7


BREAKS = {
    "core attribute": _drop_unit,
    "core dtype": _text_starting_time,
    "ndx-drug-stress attribute": _drop_group_of_drug_stress,
    "ndx-dandi-icephys dtype": _numeric_cell_id,
}


@pytest.mark.parametrize("what", sorted(BREAKS))
def test_broken_slice_files_have_pynwbs_errors(tmp_path, tiny_archive, what):
    """A slice file broken in core or in either extension: pynwb's errors, each once.

    Parameters
    ----------
    tmp_path
        A fresh temporary folder.
    tiny_archive
        The tiny archive in the DANDI layout.
    what
        Which break of :data:`BREAKS`.
    """
    cell = next(p for p in sorted(tiny_archive.rglob("*.nwb")) if "_cell-" in p.name)
    broken = tmp_path / "broken.nwb"
    shutil.copy(cell, broken)
    with h5py.File(broken, "a") as f:
        BREAKS[what](f)
    ours, theirs = schema_errors(broken), list(validate(path=str(broken)))
    assert ours and sorted(set(map(str, ours))) == sorted(set(map(str, theirs))) == sorted(map(str, ours))
    assert sorted(map(str, schema_errors(broken, against="loaded"))) == sorted(map(str, ours))


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
