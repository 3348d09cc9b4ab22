"""Batch conversion of a study into a DANDI-layout archive: parallel on Dask, atomic, idempotent.

Design decisions:

- The study file is validated first; any problem stops the run before anything is converted. It is
  parsed once, by the driver: each task gets the parsed study cut down to its session, so no task re-reads or
  re-validates it (that cost ~0.35 s per session, and 4 s for a worker's first).
- Each session is one task on a dask.distributed cluster: a local one with N worker processes by
  default, or an existing scheduler (``--scheduler``) so a lab can spread a large study over machines.
  A failing session is reported with a one-line reason and the others go on.
- Atomic: a task writes under a hidden temporary name that does not end in ``.nwb``, validates the file
  with pynwb, and only then renames it into place; an interrupted run never leaves a file that looks
  complete. Leftover temporary files are removed by the next run.
- Idempotent: a rerun skips the sessions whose inputs, options, metadata, tool version and output are
  those ``.nwb-ketamine/manifest.json`` records (:mod:`nwb_ketamine.archive.manifest`) and redoes the
  rest: an output that is missing, truncated or swapped is converted again.
- One run at a time: the run holds the archive's exclusive lock (:mod:`nwb_ketamine.archive.lock`) from
  before it removes leftovers (another run's temporary files would look like leftovers) to its end. The
  study file is validated before the lock is taken, so a bad study file needs neither archive nor lock.
- Bad places fail in one line before any work: an archive path that is a file or cannot be written to,
  an unparsable ``--scheduler`` address, a worker count below 1. ``dandiset.yaml`` is written after the
  sessions, and only when at least one is in the archive, so a run that fails leaves no archive that
  holds nothing but ``dandiset.yaml``. The local cluster runs without a dashboard (nobody asked for one,
  and a second run would warn that port 8787 is taken: the scheduler's
  health page is moved to a free port).
- An unforeseen error in a session (an exception from a library: e.g. h5py on an empty raw file) is
  reported as one line naming the session's output and sources, with the traceback in a log file.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from nwb_ketamine import __version__
from nwb_ketamine.archive.layout import NO_DASHBOARD, dandi_path, state_dir, write_dandiset_yaml
from nwb_ketamine.archive.lock import archive_lock
from nwb_ketamine.archive.manifest import (
    SourceHashes,
    check_sources_exist,
    describe_output,
    is_unchanged,
    metadata_digest,
    output_problem,
    read_manifest,
    session_sources,
    write_manifest,
)
from nwb_ketamine.atomic import atomic_path
from nwb_ketamine.errors import NwbKetamineError
from nwb_ketamine.metadata import SliceSession, Study

PARTIAL_SUFFIXES = (".partial", ".converting")


@dataclass
class SessionResult:
    """What happened to one session."""

    key: str
    path: str  # relative to the archive
    status: str  # 'converted', 'skipped' or 'failed'
    seconds: float = 0.0
    message: str = ""
    record: dict | None = None  # manifest entry of a converted session


@dataclass
class ConversionSummary:
    """The outcome of a batch conversion."""

    archive: Path
    results: list[SessionResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        """Sessions with ``status``.

        Parameters
        ----------
        status
            'converted', 'skipped' or 'failed'.

        Returns
        -------
        int
        """
        return sum(r.status == status for r in self.results)

    @property
    def failed(self) -> list[SessionResult]:
        """The sessions that failed."""
        return [r for r in self.results if r.status == "failed"]

    def text(self) -> str:
        """One line of counts, then one line per failed session."""
        lines = [
            f"{self.count('converted')} converted, {self.count('skipped')} unchanged (skipped), "
            f"{self.count('failed')} failed, into {self.archive}"
        ]
        lines += [f"FAILED {r.path}: {r.message}" for r in self.failed]
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# One session (runs on a Dask worker)


def _validate_nwb(path: Path) -> None:
    """Validate a freshly written file against the schema with pynwb; raise if it is not valid.

    The file is read back from disk; the namespaces it caches are the ones this process has just written
    into it, so they are taken as loaded, not parsed from the file again (``against="loaded"``).
    """
    from nwb_ketamine.schema_validation import schema_errors

    errors = schema_errors(path, against="loaded")
    if errors:
        raise NwbKetamineError(f"{path.name}: pynwb validation failed: {errors[0]}")


def _make_converter(study: Study, session, *, stub: bool, threads: int | None, include_raw: bool = True):
    from nwb_ketamine.converters.registry import converter_class

    cls = converter_class(session.type)
    options = {"include_raw": include_raw, "workers": threads}
    return cls(study, session, stub=stub, **{k: v for k, v in options.items() if k in cls.RUN_OPTIONS})


def convert_session(
    study: Study | str | Path,
    key: str,
    archive: str,
    *,
    stub: bool = False,
    include_raw: bool = True,
    threads: int | None = None,
    known=None,
) -> SessionResult:
    """Convert one session of a study into the archive; never raises, returns what happened.

    Parameters
    ----------
    study
        The validated study (the batch parses the study file once and sends the parsed study to its
        workers), or the path of its study file, which is then loaded here (one session on its own).
    key
        The session's key (``Session.key``).
    archive
        The archive root.
    stub
        Write a quick preview instead of the whole recording.
    include_raw
        Store raw tetrode recordings (False: units, waveforms and events only).
    threads
        Compression threads for raw data on this worker.
    known
        Manifest entries of the previous sources, so unchanged files are not hashed again.
    """
    archive_path = Path(archive)
    t0 = time.perf_counter()
    relpath = key
    session = None
    try:
        if not isinstance(study, Study):
            from nwb_ketamine.metadata import load_study  # not on a batch's workers: they get a parsed study

            study = load_study(study, check_files=False)
        session = next(s for s in study.sessions if s.key == key)
        relpath = dandi_path(session)
        check_sources_exist(session)
        hashes = SourceHashes(session_sources(session), known)  # hashed while the converter reads them
        converter = _make_converter(study, session, stub=stub, threads=threads, include_raw=include_raw)
        # One temporary file: written, validated, then renamed into place (an invalid file never appears).
        with atomic_path(archive_path / relpath) as temporary:
            converter.write_nwb(temporary)
            _validate_nwb(temporary)
            sources = hashes.result()
            output = describe_output(temporary)  # right after writing: the file is still in the page cache
        record = {
            "path": relpath,
            "session": key,
            "sources": sources,
            "metadata_sha256": metadata_digest(study, session),
            "tool_version": __version__,
            "stub": stub,
            "include_raw": include_raw,
            "converted_at": datetime.now(UTC).isoformat(timespec="seconds"),
            **output,
        }
        return SessionResult(key, relpath, "converted", time.perf_counter() - t0, record=record)
    except NwbKetamineError as exc:
        return SessionResult(key, relpath, "failed", time.perf_counter() - t0, str(exc).splitlines()[0])
    except Exception as exc:  # a bug or an unforeseen bad file: keep the batch going, log the traceback
        log_path = state_dir(archive_path) / "logs" / f"{key}.log"
        try:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log_path.write_text(traceback.format_exc())
            log = f"traceback in {log_path}"
        except OSError as log_error:
            log = f"traceback not written: {log_error.strerror}"
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        study_file = study.path if isinstance(study, Study) else study
        named = ", ".join(str(p) for p in _source_paths(session)) if session is not None else str(study_file)
        message = f"{reason} (converting {named}; {log})"
        return SessionResult(key, relpath, "failed", time.perf_counter() - t0, message)


def study_for_session(study: Study, session) -> Study:
    """The parsed study cut down to what one session's conversion reads: that session, no parsed file.

    What the batch sends to a worker instead of the study file's path: its size does not grow with the
    study's number of sessions, and the worker parses nothing.

    Parameters
    ----------
    study
        The validated study.
    session
        One of its sessions.

    Returns
    -------
    Study
        The same declarations (subjects, drugs, stress protocols, analysis, time points) with ``sessions``
        holding ``session`` alone and an empty ``raw``.
    """
    return dataclasses.replace(study, sessions=(session,), raw={})


def _source_paths(session) -> list[Path]:
    """The files and folders the study file names for a session (what a user recognises in a message)."""
    if isinstance(session, SliceSession):
        return [f.path for f in session.files]
    return [p for p in (session.raw_path, session.sorting_path) if p is not None]


# --------------------------------------------------------------------------------------------------
# The batch


def _remove_leftovers(archive: Path) -> int:
    """Delete temporary files an interrupted run left behind; return how many."""
    count = 0
    for path in Path(archive).rglob(".*"):
        if path.is_file() and path.suffix in PARTIAL_SUFFIXES:
            path.unlink(missing_ok=True)
            count += 1
    return count


def _open_archive(archive: Path) -> Path:
    """Create the archive folder when missing; a one-line error when it is a file or cannot be written."""
    for folder in (archive, state_dir(archive)):
        if folder.exists() and not folder.is_dir():
            raise NwbKetamineError(f"{folder}: is a file, not a folder; give a new or existing archive folder")
    try:
        archive.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=archive):  # unnamed on Linux: the archive is not changed
            pass
    except OSError as exc:
        where = exc.filename if exc.filename and not Path(exc.filename).is_relative_to(archive) else archive
        raise NwbKetamineError(
            f"{where}: cannot write the archive there ({exc.strerror}); choose a folder you can write to"
        ) from None
    return archive


#: A scheduler address as Dask takes one: ``[PROTOCOL://]HOST[:PORT]``, no spaces.
SCHEDULER_ADDRESS = re.compile(r"^(?:[a-z][a-z0-9+.-]*://)?[^\s:/]+(?::\d+)?/?$")


def _check_scheduler(scheduler: str | None) -> None:
    """A one-line error for a ``--scheduler`` that is no address at all (before the archive is touched)."""
    if scheduler and not SCHEDULER_ADDRESS.match(scheduler):
        raise NwbKetamineError(
            f"--scheduler {scheduler!r}: not a Dask scheduler address; give one like tcp://HOST:8786"
        )


def _open_client(jobs: int | None = None, scheduler: str | None = None):
    """A Dask client: connected to ``scheduler`` when given, else a local cluster of ``jobs`` processes."""
    from dask.distributed import Client, LocalCluster

    if jobs is not None and jobs < 1:
        raise NwbKetamineError(f"jobs={jobs}: the number of worker processes must be 1 or more")
    if scheduler:
        try:
            return Client(scheduler, timeout="10s")
        except (ValueError, TypeError) as exc:
            raise NwbKetamineError(
                f"--scheduler {scheduler!r}: not a Dask scheduler address ({exc}); give one like tcp://HOST:8786"
            ) from None
        except OSError as exc:
            raise NwbKetamineError(
                f"cannot reach the Dask scheduler at {scheduler} ({exc}); start it with `dask scheduler` or drop "
                "--scheduler to use a local cluster"
            ) from None
    cluster = LocalCluster(
        n_workers=jobs or os.cpu_count(),
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        scheduler_kwargs=NO_DASHBOARD,
    )
    return Client(cluster)


def convert_study(
    study_path: str | Path,
    archive: str | Path,
    *,
    jobs: int | None = None,
    scheduler: str | None = None,
    overwrite: bool = False,
    stub: bool = False,
    include_raw: bool = True,
    progress: bool = True,
    catalog: bool = True,
    echo=print,
    wait: bool = False,
) -> ConversionSummary:
    """Convert every session of a study into ``archive``, in parallel, skipping what is up to date.

    Parameters
    ----------
    study_path
        The study file. It is validated first; a problem raises StudyFileError before anything is written.
    archive
        The archive root (created when missing).
    jobs
        Worker processes of the local cluster (default: one per core).
    scheduler
        Address of an existing Dask scheduler (e.g. ``tcp://10.0.0.5:8786``) to use instead.
    overwrite
        Convert every session again, even when unchanged.
    stub
        Quick preview: a few seconds of each recording, a few sweeps per cell.
    include_raw
        Store raw tetrode recordings (False, ``--no-raw``: units, waveforms and events only).
    progress
        Show a progress bar.
    catalog
        Refresh the catalog tables at the end.
    echo
        Where per-session lines go.
    wait
        When another run holds the archive's lock, wait for it (default: refuse with ArchiveBusyError).

    Returns
    -------
    ConversionSummary

    Raises
    ------
    ArchiveBusyError
        Another run converts into the same archive (and ``wait`` is False).
    """
    # Metadata problems stop the run before anything is written; a missing or bad raw file only fails its
    # session (it is reported in the summary and the other sessions are converted).
    from nwb_ketamine.metadata import load_study

    study = load_study(study_path, check_files=False)
    _check_scheduler(scheduler)
    archive = _open_archive(Path(archive).resolve())
    with archive_lock(archive, "nwb-ketamine convert", wait=wait):
        return _convert_locked(
            study, archive, jobs=jobs, scheduler=scheduler, overwrite=overwrite, stub=stub,
            include_raw=include_raw, progress=progress, catalog=catalog, echo=echo,
        )  # fmt: skip


def _convert_locked(
    study: Study, archive: Path, *, jobs, scheduler, overwrite, stub, include_raw, progress, catalog, echo
) -> ConversionSummary:
    from dask.distributed import as_completed
    from tqdm import tqdm

    _remove_leftovers(archive)
    manifest = read_manifest(archive, set_aside=True)
    outputs = manifest.setdefault("outputs", {})
    summary = ConversionSummary(archive)

    todo = []
    for session in study.sessions:
        record = outputs.get(dandi_path(session))
        problem = output_problem(archive, record) if record and not overwrite else None
        if problem:
            echo(f"{archive / dandi_path(session)}: {problem}; converting it again")
        try:
            unchanged = (
                not overwrite and not problem and is_unchanged(archive, record, study, session, stub, include_raw)
            )
        except OSError:  # a source went missing: the worker reports it as this session's failure
            unchanged = False
        if unchanged:
            summary.results.append(SessionResult(session.key, dandi_path(session), "skipped"))
        else:
            todo.append((session, record))
    if not todo:
        write_manifest(archive, manifest)
        write_dandiset_yaml(study, archive)
        echo(summary.text())
        return summary

    client = _open_client(jobs, scheduler)
    try:
        n_workers = max(1, len(client.scheduler_info()["workers"]))
        threads = max(1, (os.cpu_count() or 1) // n_workers) if not scheduler else None
        # Parsed once here: each task gets the parsed study cut down to its own session (a few kB), so no
        # worker re-reads or re-validates the file. Not ``scatter`` of the whole study: scatter needs workers,
        # and on a scheduler they may connect after the submission.
        futures = [
            client.submit(
                convert_session,
                study_for_session(study, session),
                session.key,
                str(archive),
                stub=stub,
                include_raw=include_raw,
                threads=threads,
                known={s["path"]: s for s in (record or {}).get("sources", [])},
                pure=False,
                key=f"convert-{session.key}-{time.time_ns()}",
            )
            for session, record in todo
        ]
        with tqdm(total=len(futures), desc="converting", unit="session", disable=not progress) as bar:
            for future in as_completed(futures):
                result = future.result()
                summary.results.append(result)
                if result.status == "converted":
                    outputs[result.path] = result.record
                    write_manifest(archive, manifest)  # after every session, so an interruption keeps them
                    line = f"converted {result.path} ({result.seconds:.1f} s)"
                else:
                    line = f"FAILED    {result.path}: {result.message}"
                if progress:
                    bar.write(line)
                else:
                    echo(line)
                bar.update()
        manifest["tool_version"] = __version__
        write_manifest(archive, manifest)
        if any(r.status != "failed" for r in summary.results):  # else the archive holds nothing to describe
            write_dandiset_yaml(study, archive)
        if catalog:
            _refresh_catalog(archive, client, echo)
    finally:
        cluster = getattr(client, "cluster", None)
        client.close()
        if cluster is not None:
            cluster.close()
    echo(summary.text())
    return summary


def _refresh_catalog(archive: Path, client, echo) -> None:
    from nwb_ketamine.archive.catalog import build_catalog

    result = build_catalog(archive, client=client, progress=False)
    echo(f"catalog refreshed: {result}")
