"""One run at a time per archive: the exclusive lock every command that writes an archive takes.

Design decisions:

- The lock is ``ARCHIVE/.nwb-ketamine.lock``, taken with ``filelock`` (``flock(2)`` on POSIX, the
  Windows API on Windows, a lock file with its own stale detection where the file system has no
  ``flock``). The operating system releases an ``flock`` when its process dies, even by ``kill -9``,
  so a killed run never leaves a lock that blocks the next one: the next run simply gets it. The file
  itself stays (waiters must share one inode) and is hidden, so DANDI tools skip it.
- ``filelock`` tells only that the lock is held, not by whom, and the lock file cannot carry that (a
  process that opens it to try the lock may truncate it). So the holder writes a sidecar,
  ``.nwb-ketamine.lock.owner``, with its PID, host, command and start time, atomically after it got the
  lock, and removes it on release; a refused run names that holder. A sidecar whose PID is not alive
  on this host is stale (a killed run) and is replaced by the next holder.
- A second run refuses at once with one line (who holds it, what to do), or with ``wait=True``
  (``--wait``) waits until the other run ends. Commands that write: ``convert`` (NWB files, manifest,
  dandiset.yaml, catalog), ``catalog`` and ``validate --json``.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from nwb_ketamine.atomic import write_text
from nwb_ketamine.errors import NwbKetamineError

LOCK_NAME = ".nwb-ketamine.lock"
OWNER_SUFFIX = ".owner"


class ArchiveBusyError(NwbKetamineError):
    """Another run holds the archive's lock."""


def lock_path(archive: str | Path) -> Path:
    """The archive's lock file.

    Parameters
    ----------
    archive
        The archive root.

    Returns
    -------
    Path
    """
    return Path(archive) / LOCK_NAME


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def read_owner(archive: str | Path) -> dict | None:
    """The holder the sidecar names (``pid``, ``host``, ``command``, ``since``, ``alive``), None if none.

    Parameters
    ----------
    archive
        The archive root.

    Returns
    -------
    dict or None
        ``alive`` is False for a PID that is not running on this host, None when the holder runs on
        another host (it cannot be probed from here).
    """
    path = lock_path(archive).with_name(LOCK_NAME + OWNER_SUFFIX)
    try:
        owner = json.loads(path.read_text())
        pid = int(owner["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(owner, dict):
        return None
    owner["alive"] = _pid_alive(pid) if owner.get("host") == socket.gethostname() else None
    return owner


def _describe(owner: dict | None) -> str:
    if owner is None:
        return "another nwb-ketamine run"
    who = f"'{owner.get('command', 'nwb-ketamine')}' (PID {owner['pid']} on {owner.get('host', '?')}"
    who += f", since {owner['since']})" if owner.get("since") else ")"
    if owner["alive"] is False:
        who += ", whose process has ended but a process it started still holds the lock"
    return who


@contextmanager
def archive_lock(archive: str | Path, command: str, *, wait: bool = False) -> Iterator[Path]:
    """Hold the archive's exclusive lock for the block; refuse (or wait) when another run holds it.

    Parameters
    ----------
    archive
        The archive root; it must exist.
    command
        What this run is, for the message another run shows (e.g. ``"nwb-ketamine convert"``).
    wait
        Wait for the other run to finish instead of refusing.

    Yields
    ------
    Path
        The lock file.

    Raises
    ------
    ArchiveBusyError
        One line naming the other run's PID, host and command, and what to do.
    """
    from filelock import FileLock, Timeout

    archive = Path(archive)
    path = lock_path(archive)
    owner_file = path.with_name(LOCK_NAME + OWNER_SUFFIX)
    lock = FileLock(path)
    try:
        lock.acquire(timeout=-1 if wait else 0)
    except Timeout:
        raise ArchiveBusyError(
            f"{archive}: in use by {_describe(read_owner(archive))}; wait for it to finish, or rerun with --wait "
            "to wait for it"
        ) from None
    except OSError as exc:
        raise NwbKetamineError(f"{path}: cannot take the archive's lock ({exc.strerror or exc})") from None
    try:
        # Any sidecar found here is a killed run's (we hold the lock): replace it.
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        owner = {"pid": os.getpid(), "host": socket.gethostname(), "command": command, "since": stamp}
        write_text(owner_file, json.dumps(owner))
        yield path
    finally:
        try:
            owner_file.unlink(missing_ok=True)
        finally:
            lock.release()
