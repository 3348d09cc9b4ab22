"""Atomic writes and the converter base class: complete files or none, no overwrite unless asked."""

import pytest

from nwb_ketamine.atomic import atomic_path, write_text
from nwb_ketamine.converters.base import SessionConverter


def test_a_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "sub" / "table.txt"
    with pytest.raises(RuntimeError), atomic_path(target) as partial:
        partial.write_text("half")
        raise RuntimeError("interrupted")
    assert not target.exists() and not list((tmp_path / "sub").iterdir())


def test_written_file_appears_whole_and_overwrite_is_explicit(tmp_path):
    target = write_text(tmp_path / "a.txt", "one")
    assert target.read_text() == "one" and [p.name for p in tmp_path.iterdir()] == ["a.txt"]
    with pytest.raises(FileExistsError, match="overwrite=True"), atomic_path(target, overwrite=False):
        pass
    write_text(target, "two")
    assert target.read_text() == "two"


def test_add_to_nwbfile_is_abstract():
    with pytest.raises(TypeError, match="add_to_nwbfile"):
        SessionConverter(None, None)


def test_run_conversion_refuses_an_existing_file_before_reading_sources(tmp_path):
    class Converter(SessionConverter):
        def add_to_nwbfile(self, nwbfile):
            raise AssertionError("sources read although the output exists")

    existing = tmp_path / "s.nwb"
    existing.write_bytes(b"previous")
    with pytest.raises(FileExistsError):
        Converter(None, None).run_conversion(existing)
    assert existing.read_bytes() == b"previous"
