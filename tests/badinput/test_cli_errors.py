"""Bad command lines and bad places: options argparse refuses (exit 2), archives that cannot be used
(exit 1, one line naming the path), and no stray file or half-made archive left behind."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys

import pytest

from .conftest import Case, cases_of, check


def _argv(*args):
    """A command line of fixed arguments; ``{study}``, ``{archive}``, ``{root}`` name the workspace's."""

    def prepare(ws):
        names = {"study": ws.study_file, "archive": ws.archive(), "root": ws.root}
        return [a.format(**{k: str(v) for k, v in names.items()}) for a in args]

    return prepare


def _converted(*args):
    """A command line on a copy of the converted tiny archive (``{archive}``)."""

    def prepare(ws):
        archive = ws.archive(converted=True)
        return [a.format(archive=archive, root=ws.root) for a in args]

    return prepare


def _with_file(name, *args):
    """Make ``name`` (relative to the workspace) a file, then run ``args``."""

    def prepare(ws):
        (ws.root / name).parent.mkdir(parents=True, exist_ok=True)
        (ws.root / name).write_text("not an archive\n")
        return _argv(*args)(ws)

    return prepare


def _made(folder):
    folder.mkdir()
    return folder


def _empty(ws):
    """An archive without NWB files, as convert leaves one whose sessions all failed (validated in a second)."""
    (ws.archive() / ".nwb-ketamine").mkdir(parents=True)
    return ws.archive()


ARGPARSE = r"error: argument "
CONVERT = ("convert", "{study}", "{archive}", "--quiet")

#: (id, prepare, message): options argparse refuses with exit 2.
USAGE = [
    ("jobs-negative", _argv(*CONVERT, "--jobs", "-1"), ARGPARSE + r"--jobs: -1 is not a positive number"),
    ("jobs-zero", _argv(*CONVERT, "--jobs", "0"), ARGPARSE + r"--jobs: 0 is not a positive number"),
    ("jobs-text", _argv(*CONVERT, "--jobs", "many"), ARGPARSE + r"--jobs: 'many' is not a whole number"),
    ("validate-jobs-zero", _argv("validate", "{archive}", "--jobs", "0"), ARGPARSE + r"--jobs: 0 is not"),
    ("catalog-jobs-negative", _argv("catalog", "{archive}", "--jobs", "-3"), ARGPARSE + r"--jobs: -3 is not"),
    ("port-too-large", _argv("explore", "{archive}", "--port", "99999"), ARGPARSE + r"--port: 99999 is not a port"),
    ("port-negative", _argv("explore", "{archive}", "--port", "-5"), ARGPARSE + r"--port: -5 is not a port"),
    ("port-text", _argv("explore", "{archive}", "--port", "http"), ARGPARSE + r"--port: 'http' is not a port"),
    ("demo-port-zero", _argv("demo", "{root}/demo", "--port", "0"), ARGPARSE + r"--port: 0 is not a port"),
    ("unknown-command", _argv("frobnicate"), r"invalid choice: 'frobnicate'"),
    ("no-command", _argv(), r"required: COMMAND"),
    ("convert-without-archive", _argv("convert", "{study}"), r"required: ARCHIVE"),
    ("check-without-study", _argv("check"), r"required: STUDY\.yaml"),
    ("unknown-option", _argv("check", "{study}", "--fast"), r"unrecognized arguments: --fast"),
    ("unknown-size", _argv("simulate", "{root}/sim", "--size", "huge"), ARGPARSE + r"--size: invalid choice"),
    ("seed-text", _argv("simulate", "{root}/sim", "--seed", "x"), ARGPARSE + r"--seed: invalid int value"),
]

#: (id, prepare, message, extra Case fields): one-line errors with exit 1.
ERRORS = [
    ("archive-is-a-file", _with_file("archive", *CONVERT), r"^error: .*/archive: is a file, not a folder"),
    (
        "archive-under-a-file",
        _with_file("blocker", "convert", "{study}", "{root}/blocker/archive"),
        r"^error: .*/blocker/archive: cannot write the archive there \(Not a directory\)",
    ),
    (
        "archive-state-is-a-file",
        _with_file("archive/.nwb-ketamine", *CONVERT),
        r"^error: .*/archive/\.nwb-ketamine: is a file, not a folder",
    ),
    (
        "scheduler-not-a-url",
        _argv(*CONVERT, "--scheduler", "not a url"),
        r"^error: --scheduler 'not a url': not a Dask scheduler address",
    ),
    ("validate-missing-archive", _argv("validate", "{root}/nowhere"), r"^error: .*/nowhere: not a folder"),
    ("validate-a-file", _with_file("afile", "validate", "{root}/afile"), r"^error: .*/afile: not a folder"),
    ("validate-a-study-folder", lambda ws: ["validate", ws.study_dir], r"^error: .*/study: no NWB files in it"),
    ("catalog-a-study-folder", lambda ws: ["catalog", ws.study_dir], r"^error: .*/study: no NWB files in it"),
    ("catalog-an-empty-folder", lambda ws: ["catalog", _made(ws.root / "empty")], r"^error: .*/empty: no NWB files"),
    ("catalog-missing-archive", _argv("catalog", "{root}/nowhere"), r"^error: .*/nowhere: not an archive folder"),
    ("catalog-a-file", _with_file("afile", "catalog", "{root}/afile"), r"^error: .*/afile: not an archive folder"),
    (
        "catalog-url-without-out",
        _argv("catalog", "http://127.0.0.1:1/archive/"),
        r"^error: http://127\.0\.0\.1:1/archive/: a remote archive needs a local output folder",
    ),
    (
        "catalog-out-is-a-file",
        lambda ws: _with_file("afile", "catalog", str(ws.archive(converted=True)), "--out", "{root}/afile")(ws),
        r"^error: .*afile: (File exists|Not a directory)",
    ),
    ("explore-missing-archive", _argv("explore", "{root}/nowhere"), r"^error: .*nowhere: no catalog"),
    ("explore-a-file", _with_file("afile", "explore", "{root}/afile"), r"^error: .*afile: no catalog"),
    ("explore-a-study-folder", lambda ws: ["explore", ws.study_dir], r"^error: .*study: no catalog"),
    (
        "explore-missing-report",
        _converted("explore", "{archive}", "--report", "{root}/none.json"),
        r"^error: .*none\.json: no such validation report",
    ),
    (
        "explore-remote-address",
        _converted("explore", "{archive}", "--address", "0.0.0.0"),
        r"^error: --address 0\.0\.0\.0 is not a loopback address; add --allow-remote",
    ),
    (
        "simulate-into-non-empty",
        _with_file("sim", "simulate", "{root}", "--size", "tiny", "--quiet"),
        r"^error: OUT .* exists and is not an empty folder",
    ),
]


def _undo_read_only(ws):
    for undo in getattr(ws, "undo", []):
        undo()


def _read_only_archive(ws):
    """An empty archive folder that cannot be written to (chmod for a user; chattr +i for root)."""
    archive = ws.archive()
    archive.mkdir()
    if os.geteuid() != 0:
        archive.chmod(0o555)
        ws.undo = [lambda: archive.chmod(0o755)]
    else:
        if not shutil.which("chattr") or subprocess.run(["chattr", "+i", archive]).returncode:
            pytest.skip("as root, a read-only folder needs chattr +i")
        ws.undo = [lambda: subprocess.run(["chattr", "-i", archive], check=True)]
    return ["convert", ws.study_file, archive, "--jobs", "1", "--quiet"]


def _all_sources_missing(ws):
    shutil.rmtree(ws.study_dir / "raw")
    return ["convert", ws.study_file, ws.archive(), "--jobs", "1", "--quiet"]


#: A failed run into a new archive leaves at most its bookkeeping: no NWB file, no dandiset.yaml.
LOCK = "archive/.nwb-ketamine.lock"  # the archive's lock file stays (waiters must share its inode)
NOTHING_CONVERTED = dict(may_write=("archive/.nwb-ketamine/*", LOCK), absent=("archive/sub-*", "archive/dandiset.yaml"))

CASES = [
    *(Case(id, prepare, message, exit_code=2) for id, prepare, message in USAGE),
    *(Case(id, prepare, message) for id, prepare, message in ERRORS),
    Case(
        "validate-json-under-a-file",
        lambda ws: _with_file("afile", "validate", str(_empty(ws)), "--json", "{root}/afile/report.json")(ws),
        r"^error: .*/afile: is a file, not a folder",
        may_write=(LOCK,),
    ),
    Case("read-only-archive", _read_only_archive, r"^error: .*/archive: cannot write the archive there"),
    Case("no-dandiset-yaml-after-a-failed-run", _all_sources_missing, r"^FAILED .*does not exist", **NOTHING_CONVERTED),
]


@pytest.mark.parametrize("case", cases_of(CASES))
def test_bad_command_line(case, workspace, capsys):
    try:
        check(case, workspace, capsys)
    finally:
        _undo_read_only(workspace)


def test_no_dashboard_warning_when_its_port_is_taken(workspace):
    """With port 8787 taken, convert's local cluster says nothing about a dashboard nobody asked for."""
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", 8787))
        holder.listen()
    except OSError:
        pass  # taken already, which is the situation to test
    try:
        argv = _all_sources_missing(workspace)
        done = subprocess.run(
            [sys.executable, "-m", "nwb_ketamine.cli", *map(str, argv)], capture_output=True, text=True, timeout=300
        )
    finally:
        holder.close()
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "FAILED" in output and "Traceback" not in output
    assert "8787" not in output and "HTTP server" not in output, output
