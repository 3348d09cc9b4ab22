"""Validation of an archive: pynwb schema, NWB Inspector (DANDI config), DANDI layout and metadata, our rules.

Design decision: one report, one vocabulary of severities (:mod:`nwb_ketamine.archive.findings`),
whatever tool found the problem. Each NWB file is read once and given to pynwb's schema validator (with
the namespaces cached in the file) and to the NWB Inspector with the ``dandi`` configuration, which
includes our domain checks (:mod:`nwb_ketamine.archive.checks`, registered on import). ``dandi
validate``'s own checks that are not already covered run through its Python API: the ``dandiset.yaml``
at the top (identifier, name, description), the DANDI file and folder names, and the asset metadata DANDI
extracts from each file. Rules that span files (the same subject in the same group everywhere, the same
drug id with the same amount; :mod:`nwb_ketamine.archive.consistency`) run on facts gathered while the
files are open.

Everything runs offline: ``NO_ET`` and ``DANDI_NO_ET`` switch off the version look-ups that dandi and
the Inspector would otherwise try on the network.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from nwb_ketamine.archive.consistency import consistency_findings, file_facts
from nwb_ketamine.archive.findings import Finding, ValidationReport
from nwb_ketamine.archive.layout import dandiset_problems, state_dir
from nwb_ketamine.errors import NwbKetamineError

_INSPECTOR_SEVERITY = {
    "ERROR": "ERROR",
    "PYNWB_VALIDATION": "ERROR",
    "CRITICAL": "CRITICAL",
    "BEST_PRACTICE_VIOLATION": "BEST_PRACTICE_VIOLATION",
    "BEST_PRACTICE_SUGGESTION": "BEST_PRACTICE_SUGGESTION",
}
_DANDI_SEVERITY = {
    "CRITICAL": "CRITICAL",
    "ERROR": "ERROR",
    "WARNING": "BEST_PRACTICE_VIOLATION",
    "HINT": "BEST_PRACTICE_SUGGESTION",
    "INFO": "INFO",
}
_LAYOUT = "sub-<subject>/sub-<subject>_ses-<session>[_slice-<slice>][_cell-<cell>]_<modality>.nwb"
_DANDI_FIXES = {
    "DANDI.NO_DANDISET_FOUND": "Write dandiset.yaml at the top of the archive (nwb-ketamine convert does).",
    "DANDI.NON_DANDI_FILENAME": f"Rename the file to the DANDI layout {_LAYOUT} (nwb-ketamine convert and "
    "dandi organize name files so).",
    "DANDI.NON_DANDI_FOLDERNAME": f"Move the file into its subject's folder: {_LAYOUT}.",
    "DANDI.METADATA_MISMATCH_SUBJECT": "Put the file in the folder of the subject its name gives.",
    "DANDI.METADATA_EXTRACTION": "Fix the field the message names (a subject field comes from the study file's "
    "subjects entry; dandi knows a few species by name, others by their NCBITaxon IRI), then convert again.",
    "DANDI.DANDISET_METADATA": "Fill the field named in the study file's study section (study.contact gives the "
    "contact person and email DANDI asks for) and convert again, or edit it on the dandiset's DANDI web page.",
}
_INSPECTOR_DOCS = "https://nwbinspector.readthedocs.io/en/dev/api/checks.html"


def validate_archive(archive: Path, *, progress: bool = True, jobs: int | None = None) -> ValidationReport:
    """Validate every NWB file of an archive and the archive's DANDI layout, offline.

    Parameters
    ----------
    archive
        The archive folder (``dandiset.yaml`` at the top, ``sub-<subject>/`` folders of NWB files).
        Files and folders whose names start with a dot are skipped, as dandi does.
    progress
        Show a progress bar over the files.
    jobs
        Processes validating files side by side (default: one per core; 1 validates in this process).

    Returns
    -------
    ValidationReport

    Raises
    ------
    NwbKetamineError
        When ``archive`` is not a folder.

    Examples
    --------
    >>> report = validate_archive(Path("archive"), progress=False)  # doctest: +SKIP
    >>> print(report.summary())  # doctest: +SKIP
    """
    archive = Path(archive).resolve()
    if not archive.is_dir():
        raise NwbKetamineError(f"{archive}: not a folder; give the archive folder that convert wrote")
    _offline()
    from tqdm.auto import tqdm

    paths = _nwb_files(archive)
    if not paths and not state_dir(archive).is_dir():  # e.g. the study folder given by mistake
        raise NwbKetamineError(f"{archive}: no NWB files in it; give the archive folder that convert wrote")
    report = ValidationReport(archive=str(archive), files=[_relative(p, archive) for p in paths])
    facts = {}
    jobs = min(jobs or os.cpu_count() or 1, len(paths))
    if jobs > 1:  # each file takes seconds (reading it for the Inspector): validate files in parallel
        context = multiprocessing.get_context("spawn")  # no h5py state inherited through fork
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            results = pool.map(_validate_file, paths, [archive] * len(paths))
            for path, (findings, fact) in tqdm(
                zip(paths, results, strict=True), total=len(paths), desc="validate", unit="file", disable=not progress
            ):
                facts[_relative(path, archive)] = fact
                report.findings += findings
    else:
        for path in tqdm(paths, desc="validate", unit="file", disable=not progress):
            findings, facts[_relative(path, archive)] = _validate_file(path, archive)
            report.findings += findings
    report.findings += _dandi_findings(archive)
    report.findings += consistency_findings(facts)
    return report


def _nwb_files(archive: Path) -> list[Path]:
    """The NWB files below ``archive``, sorted, skipping hidden files and folders."""
    return sorted(
        p
        for p in archive.rglob("*.nwb")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(archive).parts)
    )


def _offline() -> None:
    # etelemetry (used by dandi and by dandi's Inspector version check) honours these.
    os.environ.setdefault("NO_ET", "1")
    os.environ.setdefault("DANDI_NO_ET", "1")


def _relative(path: Path | str, archive: Path) -> str:
    try:
        return Path(path).resolve().relative_to(archive).as_posix()
    except ValueError:
        return str(path)


def _validate_file(path: Path, archive: Path) -> tuple[list[Finding], dict | None]:
    """Schema and Inspector findings of one file, and the facts the cross-file rules need."""
    import pynwb
    from nwbinspector import Importance, inspect_nwbfile_object, load_config

    from nwb_ketamine.archive import checks
    from nwb_ketamine.schema_validation import schema_errors

    rel = _relative(path, archive)
    findings, facts = [], None
    try:  # its own reader, so a file our classes refuse to construct is still schema-validated
        findings += _schema_findings(schema_errors(path), rel)
    except Exception as error:
        findings.append(_unreadable(rel, "schema", f"Schema validation could not run: {type(error).__name__}: {error}"))
    try:
        with pynwb.NWBHDF5IO(str(path), "r", load_namespaces=True) as io:
            nwbfile = io.read()
            paths = _ObjectPaths(io, nwbfile)
            for message in inspect_nwbfile_object(
                nwbfile, config=load_config("dandi"), importance_threshold=Importance.BEST_PRACTICE_SUGGESTION
            ):
                findings.append(_inspector_finding(message, rel, paths, checks.FIXES))
            facts = file_facts(nwbfile)
    except Exception as error:  # any read failure is a finding, not a crash of the whole validation
        findings.append(_unreadable(rel, "read", f"The file cannot be read: {type(error).__name__}: {error}"))
    return findings, facts


def _unreadable(rel: str, check: str, message: str) -> Finding:
    return Finding(
        severity="CRITICAL",
        source="pynwb",
        file=rel,
        object_path="",
        message=message,
        fix="Fix what the message names (for nwb-ketamine's own types, the field to set) and reconvert; "
        "a truncated file must be converted again.",
        check=check,
    )


def _schema_findings(errors, rel: str) -> list[Finding]:
    return [
        Finding(
            severity="ERROR",
            source="pynwb",
            file=rel,
            object_path=getattr(e, "location", "") or "",
            message=str(getattr(e, "reason", e)),
            fix="The file does not follow the NWB schema (or its extension's); write it with pynwb/nwb-ketamine "
            "convert, which refuse invalid objects.",
            check=getattr(e, "name", "") or "schema",
        )
        for e in errors
    ]


class _ObjectPaths:
    """Paths in the file of the objects the Inspector gives no location for, found by type and name."""

    def __init__(self, io, nwbfile):
        self._io, self._nwbfile, self._paths = io, nwbfile, None

    def __call__(self, object_type: str | None, object_name: str | None) -> str:
        if self._paths is None:
            self._paths = {}
            for obj in self._nwbfile.objects.values():
                builder = self._io.manager.get_builder(obj)
                if builder is not None:
                    path = "/" + builder.path.removeprefix("root").lstrip("/")
                    self._paths.setdefault((type(obj).__name__, obj.name), path)
        return self._paths.get((object_type, object_name), "")


def _inspector_finding(message, rel: str, paths: _ObjectPaths, fixes: dict[str, str]) -> Finding:
    name = message.check_function_name or ""
    ours = name in fixes
    location = message.location or paths(message.object_type, message.object_name)
    if ours:
        fix = fixes[name]
    elif message.importance.name == "ERROR":
        fix = "A check could not run on this object (message has the traceback); report it if the file is valid."
    else:
        fix = f"See the NWB Inspector's {name} ({_INSPECTOR_DOCS})."
    return Finding(
        severity=_INSPECTOR_SEVERITY[message.importance.name],
        source="nwb-ketamine" if ours else "nwbinspector",
        file=rel,
        object_path=location or "",
        message=message.message,
        fix=fix,
        check=name,
    )


def _dandiset_model_results(path: Path) -> list[tuple[str, str, str, str]]:
    """The Dandiset model of dandischema on a dandiset.yaml, as results like dandi's (id, severity, path, message).

    DANDI publishes only a dandiset that passes it, so a problem is a best-practice violation of the draft,
    not an error of the files.
    """
    import yaml

    try:
        meta = yaml.safe_load(path.read_text())
    except yaml.YAMLError:
        return []  # dandi's own check of the file reports it
    if not isinstance(meta, dict):
        return []
    return [
        ("DANDI.DANDISET_METADATA", "WARNING", str(path), f"dandiset.yaml: {field}: {message} (DANDI will not publish)")
        for field, message in dandiset_problems(meta)
    ]


def _extraction_results(asset) -> list[tuple[str, str, str, str]]:
    """A file whose asset metadata dandi cannot extract, as a result like dandi's (id, severity, path, message).

    ``dandi validate`` falls back to a bare record when the extraction fails (a species dandi does not
    know, say) and passes; ``dandi upload`` extracts without that fallback and stops at the file.
    """
    from dandi.misctypes import DUMMY_DANDI_ETAG

    try:
        asset.get_metadata(digest=DUMMY_DANDI_ETAG, ignore_errors=False)
    except Exception as exc:  # what dandi upload reports as "failed to extract metadata", whatever raised it
        # hdmf's ConstructError holds (builder, reason): the builder's repr is the whole group
        reason = exc.args[-1] if exc.args and isinstance(exc.args[-1], str) else str(exc)
        reason = (reason.splitlines() or [""])[0]
        message = f"dandi cannot extract the asset metadata dandi upload sends: {type(exc).__name__}: {reason}"
        return [("DANDI.METADATA_EXTRACTION", "ERROR", str(asset.filepath), message)]
    return []


def _dandi_findings(archive: Path) -> list[Finding]:
    """``dandi validate``'s checks that pynwb and the Inspector do not already make.

    That is the dandiset.yaml, the file and folder names, and the asset metadata DANDI extracts from each file.
    """
    from dandi.files import DandisetMetadataFile, LocalAsset, NWBAsset, find_dandi_files
    from dandi.organize import validate_organized_path

    results = []
    if not (archive / "dandiset.yaml").is_file():
        results.append(("DANDI.NO_DANDISET_FOUND", "ERROR", "", "Path is not inside a Dandiset (no dandiset.yaml)"))
    for dandi_file in find_dandi_files(archive, dandiset_path=archive, include_metadata=True):
        if isinstance(dandi_file, DandisetMetadataFile):
            errors = dandi_file.get_validation_errors()
            results += _dandiset_model_results(dandi_file.filepath)
        elif isinstance(dandi_file, NWBAsset):
            # LocalAsset's method is the asset-metadata part alone (NWBAsset's adds pynwb + Inspector again).
            errors = validate_organized_path(dandi_file.path, dandi_file.filepath, archive)
            errors += LocalAsset.get_validation_errors(dandi_file)
            results += _extraction_results(dandi_file)
        else:
            continue
        results += [(e.id, e.severity.name if e.severity else "INFO", e.path, e.message) for e in errors]
    return [
        Finding(
            severity=_DANDI_SEVERITY[severity],
            source="dandi",
            file=_relative(path, archive) if path else "",
            object_path="",
            message=message or result_id,
            fix=_DANDI_FIXES.get(result_id, "Fix the field dandi names (dandiset.yaml or the file's metadata)."),
            check=result_id,
        )
        for result_id, severity, path, message in results
    ]
