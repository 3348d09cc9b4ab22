"""Runs that trust what they find: a damaged manifest, source paths that leave the study folder, a held lock.

A bad manifest is set aside (``manifest.json.<time>.bad``) with a one-line warning and the archive is
rebuilt, exit 0; a source outside the study folder and its ``data_roots`` is refused by ``check`` and
``convert`` at its field, exit 1, nothing written; a run that finds the archive locked refuses in one line.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from .conftest import Case, cases_of, check

MANIFEST = ".nwb-ketamine/manifest.json"
# What a rebuilding convert writes: every output, the manifest (and the set-aside one), the catalog,
# dandiset.yaml, the lock file.
REBUILT = ("archive/*",)


def _manifest_after(change):
    """A converted archive whose manifest ``change(text) -> text`` damaged; convert it again."""

    def prepare(ws):
        archive = ws.archive(converted=True)
        path = archive / MANIFEST
        changed = change(path.read_text())
        path.write_bytes(changed if isinstance(changed, bytes) else changed.encode())
        return ["convert", ws.study_file, archive, "--jobs", "1", "--quiet"]

    return prepare


def _json_edit(edit):
    def change(text):
        data = json.loads(text)
        edit(data)
        return json.dumps(data)

    return change


def _first(data):
    return next(iter(data["outputs"].values()))


def _sources_garbage(data):
    _first(data)["sources"] = "garbage"


def _top_sources_garbage(data):
    data["outputs"] = {"sources": "garbage"}


def _victim_path(data):
    """An entry that claims the output is ``../victim.txt`` (which exists), while its output is deleted."""
    key = next(iter(data["outputs"]))
    record = data["outputs"].pop(key)
    data["outputs"]["../victim.txt"] = {**record, "path": "../victim.txt"}


def _absolute_path(data):
    key = next(iter(data["outputs"]))
    data["outputs"][key]["path"] = "/etc/passwd"


def _size_is_text(data):
    _first(data)["size"] = "big"


def _sha_not_hex(data):
    _first(data)["sha256"] = "not a hash"


def _stub_is_text(data):
    _first(data)["stub"] = "no"


def _prepare_victim(ws):
    """The manifest says an output is ``../victim.txt`` (which exists) and that output is deleted."""
    archive = ws.archive(converted=True)
    data = json.loads((archive / MANIFEST).read_text())
    key = next(iter(data["outputs"]))
    (archive / key).unlink()
    data["outputs"]["../victim.txt"] = {**data["outputs"].pop(key), "path": "../victim.txt"}
    (archive / MANIFEST).write_text(json.dumps(data))
    (ws.root / "victim.txt").write_text("do not touch")
    return ["convert", ws.study_file, archive, "--jobs", "1", "--quiet"]


def _symlink_escape(ws):
    """A manifest entry whose folder is a symlink out of the archive."""
    archive = ws.archive(converted=True)
    outside = ws.root / "outside"
    outside.mkdir()
    (archive / "sub-evil").symlink_to(outside, target_is_directory=True)
    data = json.loads((archive / MANIFEST).read_text())
    key = next(iter(data["outputs"]))
    record = data["outputs"][key]
    data["outputs"]["sub-evil/x.nwb"] = {**record, "path": "sub-evil/x.nwb"}
    (archive / MANIFEST).write_text(json.dumps(data))
    return ["convert", ws.study_file, archive, "--jobs", "1", "--quiet"]


SET_ASIDE = r"warning: .*manifest\.json: .*set aside as manifest\.json\.\d{8}T\d{6}\.\d+Z\.bad"


def _manifest_case(id, change, where=r""):
    return Case(id, _manifest_after(change), SET_ASIDE.replace(": .*set", f": .*{where}.*set"), 0, REBUILT)


def _source_after(change):
    """The study file with a source path changed by ``change(ws, study)``; ``check`` it."""

    def prepare(ws):
        data = ws.load_study()
        change(ws, data)
        ws.study_file.write_text(__import__("yaml").safe_dump(data, sort_keys=False), encoding="utf-8")
        return ["check", ws.study_file]

    return prepare


def _convert_source_after(change):
    def prepare(ws):
        argv = _source_after(change)(ws)
        return ["convert", argv[1], ws.archive(), "--jobs", "1", "--quiet"]

    return prepare


def _abf(data):
    return next(s for s in data["sessions"] if s["type"] == "slice")["files"]


def _parent_path(ws, data):
    _abf(data)[1]["path"] = "../x.abf"


def _absolute_outside(ws, data):
    _abf(data)[1]["path"] = str(ws.root / "elsewhere" / "x.abf")


def _symlink_out(ws, data):
    """A file of the study folder that is a symlink to a file outside."""
    source = ws.study_dir / _abf(data)[1]["path"]
    outside = ws.root / "elsewhere"
    outside.mkdir()
    moved = outside / source.name
    source.rename(moved)
    source.symlink_to(moved)


def _folder_symlink_out(ws, data):
    """The in vivo raw folder is a symlink to a folder outside."""
    session = next(s for s in data["sessions"] if s["type"] == "invivo")
    source = ws.study_dir / session["raw"]["path"]
    moved = ws.root / "elsewhere"
    source.rename(moved)
    source.symlink_to(moved, target_is_directory=True)


def _sorting_outside(ws, data):
    session = next(s for s in data["sessions"] if s["type"] == "invivo")
    session["sorting"]["path"] = "../../sorting"


def _root_is_missing(ws, data):
    data["data_roots"] = ["does-not-exist"]


def _root_does_not_cover(ws, data):
    """A declared root exists, but the source lies elsewhere."""
    (ws.root / "other-root").mkdir()
    data["data_roots"] = [str(ws.root / "other-root")]
    _abf(data)[1]["path"] = str(ws.root / "elsewhere" / "x.abf")


def _root_not_a_list(ws, data):
    data["data_roots"] = "/mnt/data"


OUTSIDE = r"study\.yaml:\d+ sessions\[0\]\.files\[1\]\.path: .* lies outside the study folder .*data_roots"


def _lock_held(ws):
    """Another live process holds the archive's lock (its owner sidecar names it)."""
    archive = ws.archive(converted=True)
    holder = textwrap.dedent(
        f"""
        import sys, time
        from nwb_ketamine.archive.lock import archive_lock
        with archive_lock({str(archive)!r}, "nwb-ketamine convert"):
            print("held", flush=True)
            sys.stdin.read()
        """
    )
    process = subprocess.Popen([sys.executable, "-c", holder], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    ws.holder = process  # type: ignore[attr-defined]
    return ["convert", ws.study_file, archive, "--jobs", "1", "--quiet"]


CASES = [
    _manifest_case("manifest-garbage-json", lambda text: text[: len(text) // 2], "not valid JSON"),
    _manifest_case("manifest-not-utf8", lambda text: b'{"outputs": "\xff\xfe"}', "not valid JSON"),
    _manifest_case("manifest-sources-garbage", _json_edit(_sources_garbage), "sources"),
    _manifest_case("manifest-outputs-sources-garbage", _json_edit(_top_sources_garbage), "outputs"),
    _manifest_case("manifest-top-level-list", lambda text: "[1, 2]", "top level"),
    _manifest_case("manifest-size-not-integer", _json_edit(_size_is_text), "size"),
    _manifest_case("manifest-sha256-not-hex", _json_edit(_sha_not_hex), "sha256"),
    _manifest_case("manifest-stub-not-boolean", _json_edit(_stub_is_text), "stub"),
    _manifest_case("manifest-absolute-output-path", _json_edit(_absolute_path), "path"),
    Case("manifest-path-escapes-archive", _prepare_victim, SET_ASIDE, 0, REBUILT),
    Case(
        "manifest-path-through-symlink-out",
        _symlink_escape,
        SET_ASIDE.replace(": .*set", ": .*outside.*set"),
        0,
        REBUILT,
    ),  # fmt: skip
    Case("source-parent-path", _source_after(_parent_path), OUTSIDE),
    Case("source-absolute-outside", _source_after(_absolute_outside), OUTSIDE),
    Case("source-symlink-out", _source_after(_symlink_out), OUTSIDE),
    Case("source-parent-path-convert", _convert_source_after(_parent_path), OUTSIDE, absent=("archive/**",)),
    Case(
        "raw-folder-symlink-out",
        _source_after(_folder_symlink_out),
        r"study\.yaml:\d+ sessions\[2\]\.raw\.path: .* lies outside the study folder",
    ),
    Case("sorting-outside", _source_after(_sorting_outside), r"sessions\[2\]\.sorting\.path: .* lies outside"),
    Case("data-root-missing", _source_after(_root_is_missing), r"study\.yaml:\d+ data_roots\[0\]: .* is not a folder"),
    Case(
        "data-root-does-not-cover",
        _source_after(_root_does_not_cover),
        OUTSIDE.replace("folder .*", "folder .* and the "),
    ),
    Case("data-roots-not-a-list", _source_after(_root_not_a_list), r"study\.yaml:\d+ data_roots: "),
    Case(
        "archive-locked-by-another-run",
        _lock_held,
        rf"error: .*archive: in use by 'nwb-ketamine convert' \(PID \d+ on {socket.gethostname()}.*--wait",
    ),
]


@pytest.mark.parametrize("case", cases_of(CASES))
def test_bad_archive_run(case, workspace, capsys):
    try:
        check(case, workspace, capsys)
        if case.id == "manifest-path-escapes-archive":
            assert (workspace.root / "victim.txt").read_text() == "do not touch"
        if case.exit_code == 0:  # rebuilt: a valid manifest naming every output, each present
            archive = workspace.archive()
            manifest = json.loads((archive / MANIFEST).read_text())
            assert len(manifest["outputs"]) == 3
            assert all((archive / key).is_file() and record["sha256"] for key, record in manifest["outputs"].items())
            assert len(list((archive / ".nwb-ketamine").glob("manifest.json.*.bad"))) == 1
    finally:
        holder = getattr(workspace, "holder", None)
        if holder is not None:
            holder.communicate("")  # let it release the lock and exit


def test_accepted_with_a_declared_data_root(workspace, capsys):
    """A source outside the study folder, in a declared data root (also through a symlink), is accepted."""
    import yaml

    from nwb_ketamine.cli import main

    data = workspace.load_study()
    files = _abf(data)
    lab_drive = workspace.root / "lab-drive"
    lab_drive.mkdir()
    moved = lab_drive / "cell.abf"
    (workspace.study_dir / files[1]["path"]).rename(moved)
    files[1]["path"] = str(moved)
    # and a symlink in the study folder to the other file, moved to the drive too
    link = workspace.study_dir / files[0]["path"]
    link.rename(lab_drive / "first.abf")
    link.symlink_to(lab_drive / "first.abf")
    data["data_roots"] = [os.path.relpath(lab_drive, workspace.study_dir)]
    workspace.study_file.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    assert main(["check", str(workspace.study_file)]) == 0
    assert "2 slice cells" in capsys.readouterr().out
