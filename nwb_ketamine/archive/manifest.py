"""The archive's manifest: what each output was converted from, so a rerun can skip what is unchanged.

``.nwb-ketamine/manifest.json`` records, for each output, its source files (size, mtime, sha256), a
digest of the study metadata it used, the tool version, and the output itself (size, mtime, sha256,
taken from the validated temporary file just before it is renamed into place). A session is unchanged
when its output and its inputs are as recorded: size and mtime equal or, when the mtime moved, the same
sha256. So a truncated output (its size differs), a swapped or copied one (its mtime differs, then its
sha256) and a missing one are converted again. Design decision: an output whose size and mtime are as
recorded is not hashed again on a rerun (a rerun of a large archive would otherwise read every file);
only a change made on purpose to keep both (``touch -r``) would go unnoticed.

The manifest is read as untrusted input: it must match ``schemas/manifest.schema.json`` (types, sha256
formats) and every output path must stay inside the archive (relative, no ``..`` segment, not leaving it
through a symlink), else the whole manifest is set aside as ``manifest.json.<UTC time>.bad`` with a
one-line warning and rebuilt; the price is one full reconversion, never a wrong skip or a crash.

Design decision: the sources are hashed *while* the session converts (:class:`SourceHashes`, a
background thread started before the converter opens them), not by reading them again afterwards. The
converters read through neo's memory maps and pyabf, which take paths, so their reads cannot be routed
through a hashing file wrapper; a thread that reads the same files at the same time shares the page cache
with them (one read from the disk instead of two) and ``hashlib`` releases the GIL, so the hash overlaps
the conversion's single-threaded stages (building the file, validation). A source whose size or mtime
moved during the conversion is hashed again at the end, so the recorded sha256 is always that of the
file as it was when the entry was stat'ed, as before.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from importlib.resources import files
from pathlib import Path

from nwb_ketamine import __version__
from nwb_ketamine.archive.layout import state_dir
from nwb_ketamine.atomic import write_text
from nwb_ketamine.metadata import SliceSession, Study

MANIFEST = "manifest.json"


def check_sources_exist(session) -> None:
    """Raise a one-line ConversionError when an input of the session is missing.

    Parameters
    ----------
    session
        A session of the study.

    Raises
    ------
    ConversionError
        Naming the first missing file.
    """
    from nwb_ketamine.errors import ConversionError

    if isinstance(session, SliceSession):
        paths = [f.path for f in session.files]
    else:
        paths = [p for p in (session.raw_path, session.sorting_path) if p is not None]
    for path in paths:
        if not path.exists():
            raise ConversionError(f"{path}: does not exist; fix the path in the study file or restore the file")


def session_sources(session) -> list[Path]:
    """Every input file a session's conversion reads.

    Parameters
    ----------
    session
        A session of the study.

    Returns
    -------
    list of Path
    """
    if isinstance(session, SliceSession):
        return [f.path for f in session.files]
    files = []
    for root in (session.raw_path, session.sorting_path):
        if root is None:
            continue
        files += [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    return sorted(set(files))


def sha256_of(path: Path) -> str:
    """The sha256 of a file's content, as hex.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    str
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def metadata_digest(study: Study, session) -> str:
    """Digest of everything in the study file that the session's NWB file depends on.

    Parameters
    ----------
    study
        The validated study.
    session
        One of its sessions.

    Returns
    -------
    str
    """
    subject = study.subjects[session.subject]
    stress = study.stress_protocols.get(subject.stress) if subject.stress else None
    drug_ids = {session.injection.drug} if session.injection else set()
    if isinstance(session, SliceSession):
        drug_ids |= {d for f in session.files for d in f.bath}
    drugs = [study.drugs[d] for d in sorted(drug_ids)]
    text = repr((study.info, study.timezone, subject, stress, drugs, sorted(study.analysis.items()), session))
    return hashlib.sha256(text.encode()).hexdigest()


def describe_sources(paths: list[Path], known: dict[str, dict] | None = None) -> list[dict]:
    """Size, mtime and sha256 of each source; the sha256 is reused from ``known`` when size and mtime match.

    Parameters
    ----------
    paths
        The sources.
    known
        Path → the manifest's entry of the previous conversion.

    Returns
    -------
    list of dict
        ``path``, ``size``, ``mtime_ns`` and ``sha256`` of each source.
    """
    out = []
    for path in paths:
        stat = path.stat()
        entry = {"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        previous = (known or {}).get(str(path))
        if previous is not None and (previous["size"], previous["mtime_ns"]) == (stat.st_size, stat.st_mtime_ns):
            entry["sha256"] = previous["sha256"]
        else:
            entry["sha256"] = sha256_of(path)
        out.append(entry)
    return out


class SourceHashes:
    """Size, mtime and sha256 of a session's sources, hashed in a background thread from construction on.

    Parameters
    ----------
    paths
        The sources.
    known
        Path → the manifest's entry of the previous conversion (its sha256 is reused when size and mtime
        match, as in :func:`describe_sources`).
    """

    def __init__(self, paths: list[Path], known: dict[str, dict] | None = None) -> None:
        self.paths = list(paths)
        self.known = known or {}
        self._hashed: dict[str, tuple[int, int, str]] = {}
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="nwb-ketamine-hash", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for path in self.paths:
                stat = path.stat()
                if self._known_sha(path, stat) is None:
                    self._hashed[str(path)] = (stat.st_size, stat.st_mtime_ns, sha256_of(path))
        except BaseException as exc:  # reported by result(), which hashes what is left itself
            self._error = exc

    def _known_sha(self, path: Path, stat) -> str | None:
        previous = self.known.get(str(path))
        if previous is not None and (previous["size"], previous["mtime_ns"]) == (stat.st_size, stat.st_mtime_ns):
            return previous["sha256"]
        return None

    def result(self) -> list[dict]:
        """Wait for the hashes; the entries :func:`describe_sources` would return now.

        Returns
        -------
        list of dict
            ``path``, ``size``, ``mtime_ns`` and ``sha256`` of each source.
        """
        self._thread.join()
        out = []
        for path in self.paths:
            stat = path.stat()  # raises like describe_sources when a source vanished
            entry = {"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
            sha = self._known_sha(path, stat)
            hashed = self._hashed.get(str(path))
            if sha is None and hashed is not None and hashed[:2] == (stat.st_size, stat.st_mtime_ns):
                sha = hashed[2]
            entry["sha256"] = sha if sha is not None else sha256_of(path)  # changed meanwhile: hash it again
            out.append(entry)
        return out


@cache
def manifest_schema() -> dict:
    """The manifest's JSON Schema (``schemas/manifest.schema.json``, shipped in the package).

    Returns
    -------
    dict
    """
    return json.loads((files("nwb_ketamine.schemas") / "manifest.schema.json").read_text(encoding="utf-8"))


def manifest_problem(archive: Path, manifest: object) -> str | None:
    """Why ``manifest`` cannot be trusted (schema, paths outside the archive), or None when it can.

    Parameters
    ----------
    archive
        The archive root.
    manifest
        The parsed manifest.

    Returns
    -------
    str or None
        The first problem, in one line.
    """
    import jsonschema

    validator = jsonschema.Draft202012Validator(manifest_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(manifest))
    if error is not None:
        where = "".join(f"[{p!r}]" if isinstance(p, str) else f"[{p}]" for p in error.absolute_path) or "top level"
        return f"{where}: {error.message[:200]}"
    assert isinstance(manifest, dict)
    root = Path(archive).resolve()
    for key, record in manifest["outputs"].items():
        if record["path"] != key:
            return f"['outputs'][{key!r}]: its path {record['path']!r} is not its key"
        if not (root / key).resolve().is_relative_to(root):
            return f"['outputs'][{key!r}]: leads outside the archive (through a symlink)"
    return None


def _warn(message: str) -> None:
    print(message, file=sys.stderr)


def read_manifest(archive: Path, *, set_aside: bool = False, warn: Callable[[str], None] = _warn) -> dict:
    """The archive's manifest (``{"outputs": {}}`` when it has none or it cannot be trusted).

    Parameters
    ----------
    archive
        The archive root.
    set_aside
        Rename a bad manifest (not JSON, not matching the schema, paths outside the archive) to
        ``manifest.json.<UTC time>.bad`` and warn, so that it is rebuilt (only under the archive's lock).
    warn
        Where the one-line warning about a bad manifest goes (default: stderr).

    Returns
    -------
    dict
    """
    path = state_dir(archive) / MANIFEST
    if not path.exists():
        return {"outputs": {}}
    try:
        manifest = json.loads(path.read_bytes())
        problem = manifest_problem(archive, manifest)
    except (ValueError, RecursionError) as exc:  # not JSON, not UTF-8, nested too deep
        problem = f"not valid JSON ({str(exc).splitlines()[0][:200]})"
    except OSError as exc:
        problem = f"cannot be read ({exc.strerror or exc})"
    if problem is None:
        return manifest
    if set_aside:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        aside = path.with_name(f"{MANIFEST}.{stamp}.bad")
        path.replace(aside)
        warn(
            f"warning: {path}: {problem}; set aside as {aside.name}, and every session is converted again "
            "(a new manifest is written)"
        )
    else:
        warn(f"warning: {path}: {problem}; ignored (the next convert sets it aside and rebuilds it)")
    return {"outputs": {}}


def write_manifest(archive: Path, manifest: dict) -> None:
    """Write the archive's manifest atomically.

    Parameters
    ----------
    archive
        The archive root.
    manifest
        What :func:`read_manifest` returns, updated.
    """
    path = state_dir(archive) / MANIFEST
    write_text(path, json.dumps(manifest, indent=1))


def describe_output(path: Path) -> dict:
    """Size, mtime and sha256 of a freshly written output, for its manifest entry.

    Parameters
    ----------
    path
        The output (its temporary file: a rename keeps size, mtime and content).

    Returns
    -------
    dict
        ``size``, ``mtime_ns`` and ``sha256``.
    """
    sha = sha256_of(path)
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha}


def output_problem(archive: Path, record: dict) -> str | None:
    """How the output on disk differs from its manifest entry (missing, size, content), None when it matches.

    Parameters
    ----------
    archive
        The archive root.
    record
        The output's manifest entry (validated by :func:`read_manifest`); its ``mtime_ns`` is updated when
        only the mtime moved, so the file is not hashed again.

    Returns
    -------
    str or None
    """
    path = Path(archive) / record["path"]
    try:
        stat = path.stat()
    except OSError:
        return "is missing"
    if "sha256" not in record:
        return "has no size and sha256 in the manifest (an older version wrote it)"
    if stat.st_size != record["size"]:
        return f"has {stat.st_size} bytes, the manifest says {record['size']} (truncated or replaced)"
    if stat.st_mtime_ns != record["mtime_ns"]:
        if sha256_of(path) != record["sha256"]:
            return "has another sha256 than the manifest records (replaced or swapped)"
        record["mtime_ns"] = stat.st_mtime_ns  # touched or copied, not changed
    return None


def is_unchanged(archive: Path, record: dict | None, study: Study, session, stub: bool, include_raw: bool) -> bool:
    """Whether a session's output and its inputs, options, metadata and tool version are as recorded.

    Parameters
    ----------
    archive
        The archive root.
    record
        The session's manifest entry (None: never converted).
    study
        The validated study.
    session
        The session.
    stub
        Whether this run writes previews.
    include_raw
        Whether this run stores raw tetrode recordings.

    Returns
    -------
    bool
    """
    if not record or record.get("stub") != stub or record.get("tool_version") != __version__:
        return False
    if not isinstance(session, SliceSession) and record.get("include_raw", True) != include_raw:
        return False
    if record["metadata_sha256"] != metadata_digest(study, session):
        return False
    sources = session_sources(session)
    if sorted(str(p) for p in sources) != sorted(s["path"] for s in record["sources"]):
        return False
    known = {s["path"]: s for s in record["sources"]}
    for path in sources:
        stat, old = path.stat(), known[str(path)]
        if (stat.st_size, stat.st_mtime_ns) != (old["size"], old["mtime_ns"]):
            if sha256_of(path) != old["sha256"]:
                return False
            old["mtime_ns"] = stat.st_mtime_ns  # touched, not changed: remember, so it is not hashed again
    return output_problem(archive, record) is None
