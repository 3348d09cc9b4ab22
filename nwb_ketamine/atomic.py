"""Atomic writes: every file the project writes appears complete or not at all.

One helper for the pattern every writer needs (NWB files, the manifest, dandiset.yaml, catalog tables and
state): write under a hidden temporary name in the target's folder — never ending in the target's
extension, so no tool takes it for a finished file — and rename it into place only when the block that
writes it succeeds; on any error the temporary file is removed. A rename within one folder is atomic on
POSIX file systems, so a reader or an interrupted run (even ``kill -9``) never sees a half-written file.
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def temporary_name(path: Path) -> Path:
    """The hidden temporary sibling of ``path``, unique per process and thread.

    Parameters
    ----------
    path
        The final file.

    Returns
    -------
    Path
    """
    return path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.partial")


@contextmanager
def atomic_path(path: str | Path, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path to write; rename it to ``path`` when the block succeeds, else delete it.

    Parameters
    ----------
    path
        The final file; its folder is created when missing.
    overwrite
        Replace an existing ``path`` (False: refuse with FileExistsError before anything is written).

    Examples
    --------
    >>> with atomic_path("table.parquet") as partial:  # doctest: +SKIP
    ...     frame.to_parquet(partial)
    """
    path = Path(path)
    if not overwrite and path.exists():
        raise FileExistsError(f"{path}: already exists; pass overwrite=True to replace it")
    if path.parent.exists() and not path.parent.is_dir():  # mkdir would say only "File exists"
        raise NotADirectoryError(errno.ENOTDIR, "is a file, not a folder", str(path.parent))
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = temporary_name(path)
    try:
        yield partial
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically; return the path.

    Parameters
    ----------
    path
        The file (its folder is created when missing).
    text
        What to write.

    Returns
    -------
    Path
    """
    with atomic_path(path) as partial:
        partial.write_text(text)
    return Path(path)
