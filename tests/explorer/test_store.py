"""ArchiveStore: catalog keys, never paths."""

import json

import pytest

from nwb_ketamine.errors import NwbKetamineError
from nwb_ketamine.explorer.store import ArchiveStore

TRAVERSALS = ["../../etc/passwd", "/etc/passwd", "..%2F..%2Fetc%2Fpasswd", "sub-m001/../../../etc/passwd", ""]


def test_store_loads_catalog(tiny_archive):
    store = ArchiveStore(tiny_archive)
    assert store.archive == tiny_archive.resolve()
    assert len(store.cells) == 2 and len(store.sessions) == 3 and not store.units.empty
    key = store.cells["cell_key"].iloc[0]
    assert store.cell(key)["cell_key"] == key
    unit_key = store.units["unit_key"].iloc[0]
    assert set(store.unit(unit_key)["epoch"]) == {"baseline", "post-injection"}
    file_key = store.sessions["file"].iloc[0]
    assert store.session(file_key)["file"] == file_key
    assert store.path_of(file_key) == tiny_archive.resolve() / file_key
    assert store.path_of(file_key).is_file()


@pytest.mark.parametrize("key", TRAVERSALS)
def test_unknown_keys_are_refused(tiny_archive, key):
    store = ArchiveStore(tiny_archive)
    for lookup in (store.cell, store.unit, store.session, store.path_of):
        with pytest.raises(NwbKetamineError) as info:
            lookup(key)
        assert "\n" not in str(info.value)


def test_no_catalog(tmp_path):
    with pytest.raises(NwbKetamineError, match="run nwb-ketamine catalog ARCHIVE"):
        ArchiveStore(tmp_path)


def test_validation_status(tiny_archive, tmp_path):
    store = ArchiveStore(tiny_archive)
    files = sorted(store.sessions["file"])
    assert (store.validation_status()["status"] == "not validated").all()
    report = tmp_path / "report.json"
    finding = {"severity": "ERROR", "source": "nwbinspector", "file": files[0], "object_path": "/", "message": "m",
               "fix": "f", "check": "c"}  # fmt: skip
    report.write_text(json.dumps({"archive": str(tiny_archive), "has_errors": True, "files": files,
                                  "findings": [finding, {**finding, "severity": "BEST_PRACTICE_SUGGESTION",
                                                         "file": files[1]}]}))  # fmt: skip
    status = ArchiveStore(tiny_archive, validation_report=report).validation_status().set_index("file")["status"]
    assert status[files[0]] == "errors" and status[files[1]] == "warnings" and status[files[2]] == "ok"
    with pytest.raises(NwbKetamineError):
        ArchiveStore(tiny_archive, validation_report=tmp_path / "missing.json")


def test_validation_status_with_warnings_only(synthetic):
    files = sorted(synthetic.sessions["file"])
    finding = {"severity": "BEST_PRACTICE_SUGGESTION", "source": "s", "file": files[0], "object_path": "",
               "message": "m",
               "fix": "", "check": "c"}  # fmt: skip
    synthetic.validation = {"files": files, "has_errors": False, "findings": [finding]}
    try:
        status = synthetic.validation_status().set_index("file")["status"]
    finally:
        synthetic.validation = None
    assert status[files[0]] == "warnings" and status[files[1]] == "ok"
