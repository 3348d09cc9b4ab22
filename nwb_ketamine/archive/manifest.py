"""The archive's manifest: what each output was converted from, so a rerun can skip what is unchanged.

``.nwb-ketamine/manifest.json`` records, for each output, its source files (size, mtime, sha256), a
digest of the study metadata it used and the tool version. A session is unchanged when its output
exists and its inputs are as recorded: size and mtime equal or, when those moved, the same sha256.

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
import threading
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


def read_manifest(archive: Path) -> dict:
    """The archive's manifest (``{"outputs": {}}`` when it has none or it is damaged).

    Parameters
    ----------
    archive
        The archive root.

    Returns
    -------
    dict
    """
    path = state_dir(archive) / MANIFEST
    if not path.exists():
        return {"outputs": {}}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return {"outputs": {}}  # a damaged manifest only costs a full reconversion


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


def is_unchanged(archive: Path, record: dict | None, study: Study, session, stub: bool, include_raw: bool) -> bool:
    """Whether a session's output exists and its inputs, options, metadata and tool version are as recorded.

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
    if not (Path(archive) / record["path"]).exists() or record["metadata_sha256"] != metadata_digest(study, session):
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
    return True
