"""Simulate a whole study: check the arguments, plan it, write every file in a process pool, publish atomically.

Design decision: the study is first *planned* (:mod:`nwb_ketamine.simulate.plan`; cheap and
deterministic), then every cell and session is written by a worker from generators keyed by the seed
and the file, and the results are put back in plan order, so the output is byte-identical for a seed
whatever the number of workers or the order they finish in. Everything is written to a temporary folder
next to OUT and renamed at the end, so a failure or an interrupt leaves nothing half-written. All
numbers come from :mod:`nwb_ketamine.simulate.parameters` (illustrative, not from the paper).
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from ..errors import NwbKetamineError
from .ground_truth import cell_truth, session_truth, write_study_truth
from .invivo import session_params, session_recordings
from .invivo_files import write_session_files
from .parameters import DEFAULT_PARAMETERS, SIZES, SimulationParameters, StudySize
from .plan import CellPlan, SessionPlan, StudyPlan, plan_study
from .slice_cells import write_cell_files
from .study_file import write_study_file

LONG_SESSION_S = 600.0  # recordings longer than this get their own progress bar
CELL_BATCH = 8


def _write_cell(out: Path, plan: StudyPlan, cell: CellPlan) -> tuple[list[dict], dict, list[dict]]:
    """Write one cell's ABF files; returns its ground-truth rows (sweeps, cell, files)."""
    return cell_truth(plan, cell, write_cell_files(out, plan, cell))


def _write_session(out: Path, plan: StudyPlan, session: SessionPlan, progress) -> tuple[list[dict], list[dict], dict]:
    """Write one in vivo session's files and its ground-truth folder; returns its epoch, unit and session rows."""
    clusters, clock = write_session_files(out, plan, session, progress)
    return session_truth(out, plan, session, clusters, clock)


def _run_task(out: Path, plan: StudyPlan, kind: str, ids: tuple[int, ...]) -> list[tuple[tuple[str, int], tuple]]:
    if kind == "cells":
        return [(("cells", i), _write_cell(out, plan, plan.cells[i])) for i in ids]
    return [(("session", i), _write_session(out, plan, plan.sessions[i], None)) for i in ids]


def _check_arguments(out: Path, seed, size: str | StudySize) -> None:
    if not isinstance(size, StudySize) and size not in SIZES:
        raise NwbKetamineError(f"size {size!r} is not one of {', '.join(SIZES)}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise NwbKetamineError(f"seed {seed!r} is not a non-negative integer")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise NwbKetamineError(f"OUT {out} exists and is not an empty folder; choose a new folder")


def simulate_study(
    out: Path,
    seed: int = 0,
    size: str | StudySize = "small",
    progress: bool = True,
    params: SimulationParameters = DEFAULT_PARAMETERS,
    workers: int | None = None,
    invivo_variants: bool = False,
) -> Path:
    """Write a simulated raw study: vendor-format files, ``study.yaml`` and ``ground_truth/``.

    Parameters
    ----------
    out
        Folder to create; must not exist or be empty.
    seed
        Random seed; the same seed gives byte-identical files, different seeds different data.
    size
        ``tiny`` (tests), ``small`` (tests), ``demo`` (``nwb-ketamine demo``: 4 animals per group),
        ``paper`` (a study of realistic size) or ``large`` (paper plus a 1 h recording, for benchmarks); or
        a ``StudySize`` of one's own (e.g. ``demo`` with fewer sweeps, for a test).
    progress
        Show tqdm progress bars.
    params
        Simulation parameters (illustrative defaults).
    workers
        Processes to use (default: one per core). The output does not depend on it.
    invivo_variants
        Also write three in vivo sessions for the converter's harder paths: Open Ephys in two
        recordings with a pause, Neuralynx with 32 kHz and 2 kHz channels and a gap, and a sorting-only
        phy folder (module docstring). Off by default: the default study has the same files without it.

    Returns
    -------
    Path
        The written ``study.yaml``.

    Raises
    ------
    NwbKetamineError
        If ``out`` is not empty, ``size`` is unknown or ``seed`` is not a non-negative integer; nothing is written.

    Examples
    --------
    >>> from nwb_ketamine.simulate import simulate_study
    >>> study = simulate_study(tmp_path / "sim", seed=1, size="tiny", progress=False)  # doctest: +SKIP
    """
    out = Path(out)
    _check_arguments(out, seed, size)
    plan = plan_study(int(seed), size, params, invivo_variants=bool(invivo_variants))
    # Write next to OUT and rename at the end, so a failure or an interrupt leaves nothing half-written.
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    work.chmod(0o755)  # mkdtemp makes it private
    try:
        _write_study(work, plan, progress, workers)
        if out.exists():
            out.rmdir()  # checked empty above
        work.rename(out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return out / "study.yaml"


def _write_study(out: Path, plan: StudyPlan, progress: bool, workers: int | None) -> None:
    from tqdm.auto import tqdm

    # Long recordings are written here with a per-second bar; everything else goes to a process pool.
    # Results are put back in plan order, so the output does not depend on scheduling.
    long_ids = [i for i, s in enumerate(plan.sessions) if s.duration_s > LONG_SESSION_S]
    tasks = [
        ("cells", tuple(range(i, min(i + CELL_BATCH, len(plan.cells))))) for i in range(0, len(plan.cells), CELL_BATCH)
    ]
    tasks += [("session", (i,)) for i in range(len(plan.sessions)) if i not in long_ids]
    results: dict[tuple[str, int], tuple] = {}
    n_workers = max(1, min(workers if workers is not None else (os.cpu_count() or 1), len(tasks)))
    pool, futures = None, {}
    if n_workers > 1:
        # Fork before any progress-bar thread exists; workers only compute and write files.
        context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else None)
        pool = ProcessPoolExecutor(max_workers=n_workers, mp_context=context)
        futures = {pool.submit(_run_task, out, plan, kind, ids): ids for kind, ids in tasks}
    with tqdm(total=len(plan.cells) + len(plan.sessions), desc="simulating", unit="file", disable=not progress) as bar:
        if pool is None:
            for kind, ids in tasks:
                for key, value in _run_task(out, plan, kind, ids):
                    results[key] = value
                bar.update(len(ids))
        try:
            for i in long_ids:
                session = plan.sessions[i]
                fs = session_params(plan, session).sampling_rate_hz
                n = sum(n for _, n in session_recordings(plan, session))
                with tqdm(
                    total=n / fs,
                    desc=f"{session.animal.subject} recording",
                    unit="s",
                    disable=not progress,
                    leave=False,
                ) as seconds:
                    results[("session", i)] = _write_session(
                        out, plan, session, lambda k, seconds=seconds, fs=fs: seconds.update(k / fs)
                    )
                bar.update(1)
            for future in as_completed(futures):
                for key, value in future.result():
                    results[key] = value
                bar.update(len(futures[future]))
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)

    write_study_truth(
        out,
        plan,
        [results[("cells", i)] for i in range(len(plan.cells))],
        [results[("session", i)] for i in range(len(plan.sessions))],
    )
    write_study_file(out, plan)
