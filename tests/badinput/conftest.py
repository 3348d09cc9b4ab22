"""The bad-input table: every way a user (or a careless one) can hand the CLI something wrong.

Each ``test_*.py`` of this folder holds a table ``CASES`` of :class:`Case` rows, one per bad input, and
runs them all through :func:`check`. A case prepares its bad input in a fresh :class:`Workspace` (a copy
of the simulated tiny study and, when it needs one, of its converted archive) and returns the command
line. :func:`check` runs the command and asserts what issue 16 asks of every bad input:

- the exit code (1 for an error the user can fix, 2 for a command line argparse refuses);
- no traceback, and one line of the error output matching ``message`` (which names the file and the
  field);
- nothing half-written or stray: no temporary ``*.partial`` file anywhere, no file of the workspace
  created, changed or removed except those the case declares (``may_write``), and none of the paths in
  ``absent``.

Cases run in-process (fast); ``subprocess=True`` runs one as a separate ``nwb-ketamine`` process with a
timeout, for inputs that could hang or that need a process of their own.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
import shutil
import subprocess
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml


@dataclass(frozen=True)
class Case:
    """One bad input: how to make it, and what the CLI must answer."""

    id: str
    #: Make the bad input in the workspace and return the command line (without the program name).
    prepare: Callable[[Workspace], list[str]]
    #: A regular expression one line of the error output must match (name the file and the field).
    message: str
    exit_code: int = 1
    #: Globs (relative to the workspace) of files the failing run may create or change, e.g. the other
    #: sessions of a batch; everything else must be left as it was.
    may_write: tuple[str, ...] = ()
    #: Globs that must not exist after the run (the failed session's output).
    absent: tuple[str, ...] = ()
    #: Run as a separate process with a timeout (for inputs that could hang).
    subprocess: bool = False
    timeout_s: float = 300


class Workspace:
    """A temporary folder with copies of the shared tiny study and archive that a case may break.

    Parameters
    ----------
    root
        The case's own temporary folder.
    study_source
        ``study.yaml`` of the shared simulated tiny study.
    archive_source
        The shared converted archive of that study (a zero-argument callable, so that cases that need
        no archive do not build it).
    """

    def __init__(self, root: Path, study_source: Path, archive_source: Callable[[], Path]) -> None:
        self.root = root
        self._study_source = study_source
        self._archive_source = archive_source

    @property
    def study_dir(self) -> Path:
        """The copy of the study folder (made on first use)."""
        folder = self.root / "study"
        if not folder.exists():
            shutil.copytree(self._study_source.parent, folder, symlinks=True)
        return folder

    @property
    def study_file(self) -> Path:
        """The copy's ``study.yaml``."""
        return self.study_dir / "study.yaml"

    def archive(self, *, converted: bool = False) -> Path:
        """The archive folder: a copy of the converted tiny archive, or (default) a path not yet made.

        Parameters
        ----------
        converted
            Copy the shared converted archive (else return the path of an archive that does not exist).

        Returns
        -------
        Path
        """
        folder = self.root / "archive"
        if converted and not folder.exists():
            shutil.copytree(self._archive_source(), folder)
        return folder

    def load_study(self) -> dict:
        """The copy's study file as plain data.

        Returns
        -------
        dict
        """
        return yaml.safe_load(self.study_file.read_text(encoding="utf-8"))

    def edit_study(self, change: Callable[[dict], object]) -> Path:
        """Apply ``change`` to the copy's study file (as plain data) and write it back.

        Parameters
        ----------
        change
            Changes the dict in place.

        Returns
        -------
        Path
            The study file.
        """
        data = self.load_study()
        change(data)
        self.study_file.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return self.study_file

    def find(self, pattern: str) -> Path:
        """The one file of the study copy whose relative path matches the glob ``pattern``.

        Parameters
        ----------
        pattern
            A glob, e.g. ``"raw/invivo/**/continuous.dat"``.

        Returns
        -------
        Path
        """
        found = sorted(self.study_dir.glob(pattern))
        assert len(found) == 1, f"{pattern} matches {len(found)} files in the study copy"
        return found[0]


def _digests(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def _matches(path: str, globs: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(path, g) for g in globs)


def _run(case: Case, argv: list[str], capsys) -> tuple[int, str]:
    if case.subprocess:
        command = [sys.executable, "-m", "nwb_ketamine.cli", *argv]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=case.timeout_s)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{case.id}: the command hung for more than {case.timeout_s} s: {argv}")
        return done.returncode, done.stderr + done.stdout
    from nwb_ketamine.cli import main

    try:
        code = main(argv)
    except SystemExit as exc:  # argparse refusing the command line
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        pytest.fail(f"{case.id}: a traceback instead of a one-line error:\n{traceback.format_exc()}")
    out = capsys.readouterr()
    return code, out.err + out.out


def check(case: Case, workspace: Workspace, capsys) -> None:
    """Run one bad-input case and assert the exit code, the one-line message and that nothing is left.

    Parameters
    ----------
    case
        The case.
    workspace
        Its fresh workspace.
    capsys
        pytest's output capture.
    """
    argv = case.prepare(workspace)
    before = _digests(workspace.root)
    code, output = _run(case, [str(a) for a in argv], capsys)
    assert "Traceback" not in output, f"{case.id}: a traceback in the output:\n{output}"
    assert code == case.exit_code, f"{case.id}: exit code {code}, expected {case.exit_code}; output:\n{output}"
    lines = output.splitlines()
    assert any(re.search(case.message, line) for line in lines), (
        f"{case.id}: no line of the output matches {case.message!r}:\n{output}"
    )
    stray = [p for p in workspace.root.rglob("*.partial")]
    assert not stray, f"{case.id}: temporary files left behind: {stray}"
    after = _digests(workspace.root)
    touched = {p for p in set(before) | set(after) if before.get(p) != after.get(p)}
    unexpected = sorted(p for p in touched if not _matches(p, case.may_write))
    assert not unexpected, f"{case.id}: files created, changed or removed: {unexpected}"
    present = sorted(p for p in after if _matches(p, case.absent))
    assert not present, f"{case.id}: files that a failed run must not leave: {present}"


@pytest.fixture
def workspace(tmp_path, simulated_tiny, request) -> Workspace:
    """A fresh workspace for one case.

    Parameters
    ----------
    tmp_path
        The case's temporary folder.
    simulated_tiny
        The shared tiny study.
    request
        pytest's request, to build the shared converted archive only when a case asks for it.
    """
    return Workspace(tmp_path, simulated_tiny, lambda: request.getfixturevalue("tiny_archive"))


def cases_of(table: list[Case]):
    """``table`` as pytest parameters, each named by its case id.

    Parameters
    ----------
    table
        The cases.

    Returns
    -------
    list
    """
    ids = [c.id for c in table]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    return [pytest.param(c, id=c.id) for c in table]
