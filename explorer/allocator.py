"""The explorer's server runs on glibc's allocator, so that memory of closed sessions goes back to the system.

Python's small-object allocator (pymalloc) keeps an arena while any object lives in it. After 20 sessions
at once the server stayed 25 % above its idle memory although every session had been freed; with
``PYTHONMALLOC=malloc`` and ``malloc_trim`` (``server.release_memory``) it came back to 6–11 % above idle,
for 5–10 % more CPU per session (20 concurrent Bokeh-client sessions, 2 rounds, the tiny archive). The
allocator is fixed when the interpreter starts, so ``nwb-ketamine explore`` restarts itself with it before
it imports anything large. This module imports only the standard library for that reason.
"""

from __future__ import annotations

import os
import sys


def use_system_allocator(argv: list[str]) -> None:
    """Restart this process as ``python -m nwb_ketamine.cli ARGV`` with ``PYTHONMALLOC=malloc`` (Linux).

    The allocator is chosen when the interpreter starts, so the command replaces itself (same PID) before
    it loads anything large. Nothing happens when ``PYTHONMALLOC`` is already set (the user's choice, or
    the restarted process) or off Linux, where ``malloc_trim`` does not exist.

    Parameters
    ----------
    argv : list of str
        The command's arguments after the program name (``["explore", ARCHIVE, ...]``).
    """
    if "PYTHONMALLOC" in os.environ or not sys.platform.startswith("linux"):
        return
    sys.stdout.flush()
    sys.stderr.flush()
    env = {**os.environ, "PYTHONMALLOC": "malloc"}
    os.execve(sys.executable, [sys.executable, "-m", "nwb_ketamine.cli", *argv], env)
