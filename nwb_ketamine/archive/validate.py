"""Validation of an archive: pynwb schema, NWB Inspector (DANDI config), DANDI layout and metadata, our rules.

Design decision: one report, one vocabulary of severities, whatever tool found the problem. Each NWB
file is read once and given to pynwb's schema validator (with the namespaces cached in the file) and
to the NWB Inspector with the ``dandi`` configuration, which includes our domain checks
(:mod:`nwb_ketamine.archive.checks`, registered on import). ``dandi validate``'s own checks that are
not already covered run through its Python API: the ``dandiset.yaml`` at the top (identifier, name,
description), the DANDI file and folder names, and the asset metadata DANDI extracts from each file.
Rules that span files (the same subject in the same group everywhere, the same drug id with the same
amount) run here, on facts gathered while the files are open.

Everything runs offline: ``NO_ET`` and ``DANDI_NO_ET`` switch off the version look-ups that dandi and
the Inspector would otherwise try on the network.

Severities, from the tools' levels:

================================  ==========================================================
``CRITICAL``                      file unreadable; Inspector CRITICAL (our checks are CRITICAL);
                                  dandi CRITICAL
``ERROR``                         pynwb schema error; Inspector ERROR (a check crashed); dandi ERROR
                                  (bad name, bad dandiset.yaml, asset metadata); our rules across files
``BEST_PRACTICE_VIOLATION``       Inspector BEST_PRACTICE_VIOLATION; dandi WARNING
``BEST_PRACTICE_SUGGESTION``      Inspector BEST_PRACTICE_SUGGESTION; dandi HINT
``INFO``                          dandi INFO
================================  ==========================================================

``CRITICAL`` and ``ERROR`` are errors (:attr:`ValidationReport.has_errors`, exit code 1); that is
where ``dandi validate`` draws the line too (it maps Inspector CRITICAL to its ERROR).
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from nwb_ketamine.errors import NwbKetamineError

SEVERITIES = ("CRITICAL", "ERROR", "BEST_PRACTICE_VIOLATION", "BEST_PRACTICE_SUGGESTION", "INFO")
ERROR_SEVERITIES = ("CRITICAL", "ERROR")
SOURCES = ("pynwb", "nwbinspector", "dandi", "nwb-ketamine")

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
}
_INSPECTOR_DOCS = "https://nwbinspector.readthedocs.io/en/dev/api/checks.html"


@dataclass(frozen=True)
class Finding:
    """One problem (or hint) found in the archive.

    Attributes
    ----------
    severity
        One of :data:`SEVERITIES`.
    source
        The tool that found it, one of :data:`SOURCES`.
    file
        Path relative to the archive, with forward slashes ('' for the archive as a whole).
    object_path
        Path of the object inside the NWB file (e.g. '/general/drug_stress/ketamine'), '' when not known.
    message
        What is wrong.
    fix
        What to do about it.
    check
        Identifier of the rule (Inspector check name, dandi result id, ...).
    """

    severity: str
    source: str
    file: str
    object_path: str
    message: str
    fix: str
    check: str = ""


@dataclass
class ValidationReport:
    """The findings of :func:`validate_archive` on one archive."""

    archive: str
    files: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def has_errors(self) -> bool:
        """Whether any finding is CRITICAL or ERROR (``nwb-ketamine validate`` then exits 1)."""
        return any(f.severity in ERROR_SEVERITIES for f in self.findings)

    def counts(self) -> dict[str, int]:
        """Number of findings per severity, every severity listed."""
        return {s: sum(f.severity == s for f in self.findings) for s in SEVERITIES}

    def summary(self) -> str:
        """A human-readable report grouped by severity, most severe first."""
        counts = self.counts()
        verdict = "FAILED" if self.has_errors else "PASSED"
        lines = [
            f"Validation of {self.archive}: {len(self.files)} NWB file(s), {verdict}",
            "  " + ", ".join(f"{n} {s}" for s, n in counts.items()),
        ]
        for severity in SEVERITIES:
            group = [f for f in self.findings if f.severity == severity]
            if not group:
                continue
            lines += ["", f"{severity} ({len(group)})"]
            for f in sorted(group, key=lambda f: (f.file, f.object_path, f.check)):
                where = " ".join(part for part in (f.file or "<archive>", f.object_path) if part)
                lines.append(f"  {where} [{f.source}{': ' + f.check if f.check else ''}]")
                lines.append(f"    {f.message.strip()}")
                if f.fix:
                    lines.append(f"    fix: {f.fix}")
        return "\n".join(lines)

    def to_json(self) -> dict:
        """A JSON-serialisable dict; :meth:`from_json` reads it back."""
        return {
            "archive": self.archive,
            "has_errors": self.has_errors,
            "counts": self.counts(),
            "files": list(self.files),
            "findings": [asdict(f) for f in self.findings],
        }

    @classmethod
    def from_json(cls, data: dict) -> ValidationReport:
        """The report that :meth:`to_json` wrote."""
        names = {f.name for f in fields(Finding)}
        findings = [Finding(**{k: v for k, v in f.items() if k in names}) for f in data["findings"]]
        return cls(archive=data["archive"], files=list(data["files"]), findings=findings)


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

    paths = nwb_files(archive)
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


def nwb_files(archive: Path) -> list[Path]:
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


def _relative(path: Path, archive: Path) -> str:
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


def _dandi_findings(archive: Path) -> list[Finding]:
    """``dandi validate``'s checks that pynwb and the Inspector do not already make: dandiset.yaml, file and
    folder names, and the asset metadata DANDI extracts from each file."""
    from dandi.files import DandisetMetadataFile, LocalAsset, NWBAsset, find_dandi_files
    from dandi.organize import validate_organized_path

    results = []
    if not (archive / "dandiset.yaml").is_file():
        results.append(("DANDI.NO_DANDISET_FOUND", "ERROR", "", "Path is not inside a Dandiset (no dandiset.yaml)"))
    for dandi_file in find_dandi_files(archive, dandiset_path=archive, include_metadata=True):
        if isinstance(dandi_file, DandisetMetadataFile):
            errors = dandi_file.get_validation_errors()
        elif isinstance(dandi_file, NWBAsset):
            # LocalAsset's method is the asset-metadata part alone (NWBAsset's adds pynwb + Inspector again).
            errors = validate_organized_path(dandi_file.path, dandi_file.filepath, archive)
            errors += LocalAsset.get_validation_errors(dandi_file)
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


# ---------------------------------------------------------------------------------------------------------
# Rules across files


def file_facts(nwbfile) -> dict:
    """The labels of one file that must agree across the archive.

    Returns
    -------
    dict
        ``subject``, ``group`` (experimental group of the drug & stress metadata), ``stress`` (paradigms),
        ``administrations`` (name → amount, agent and route), ``conditions`` (distinct (group, drug, dose, stress)
        labels of the icephys condition rows).
    """
    from nwb_ketamine.archive.checks import _column
    from nwb_ketamine.extension import DrugStressMetadata

    metas = [m for m in nwbfile.lab_meta_data.values() if isinstance(m, DrugStressMetadata)]
    administrations = {}
    for meta in metas:
        for adm in meta.drug_administrations.values():
            # what the drug id stands for; the time differs between sessions and is left out
            administrations[adm.name] = (
                " ".join(
                    f"{getattr(adm, name):g} {getattr(adm, name + '_unit')}"
                    for name in ("dose", "concentration", "volume")
                    if getattr(adm, name) is not None
                )
                + f" of {adm.agent} {adm.route}"
            )
    conditions = set()
    table = nwbfile.icephys_experimental_conditions
    labels = ("experimental_group", "drug", "dose", "stress")
    if table is not None and len(table) and all(label in table.colnames for label in labels):
        conditions = set(zip(*(_column(table, label) for label in labels), strict=True))
    return {
        "subject": nwbfile.subject.subject_id if nwbfile.subject is not None else None,
        "group": metas[0].experimental_group if metas else None,
        "stress": tuple(sorted(p.paradigm for m in metas for p in m.stress_protocols.values())) or ("none",),
        "administrations": administrations,
        "conditions": sorted(conditions),
    }


def consistency_findings(facts: dict[str, dict | None]) -> list[Finding]:
    """Findings of the rules across files, from :func:`file_facts` of each file (path → facts).

    - a subject has the same experimental group and the same stress paradigms in every file;
    - a drug id (DrugAdministration name) has the same agent and amount in every file;
    - the condition rows of a file carry the file's own group and stress, and a subject's condition labels
      (group, drug, dose, stress) are the same in every file.
    """
    findings = []
    facts = {path: f for path, f in facts.items() if f is not None}

    def disagree(what: str, key_of, label: str, fix: str):
        first = {}  # key → (value, path) of the first file that had it
        for path, f in facts.items():
            for key, value in key_of(f):
                seen = first.setdefault(key, (value, path))
                if seen[0] != value:
                    findings.append(
                        Finding(
                            severity="ERROR",
                            source="nwb-ketamine",
                            file=path,
                            object_path=label,
                            message=f"{what} {key!r} is {value!r} here but {seen[0]!r} in {seen[1]}.",
                            fix=fix,
                            check="check_archive_consistency",
                        )
                    )

    per_subject = "Give the subject one experimental group and stress protocol in study.yaml and reconvert its files."
    disagree("Subject's group", lambda f: [(f["subject"], f["group"])], "/general/drug_stress", per_subject)
    disagree("Subject's stress", lambda f: [(f["subject"], f["stress"])], "/general/drug_stress", per_subject)
    disagree(
        "Drug",
        lambda f: f["administrations"].items(),
        "/general/drug_stress",
        "One drug id must mean one agent and amount; give a different id to a different dose in study.yaml.",
    )
    disagree(
        "Subject's condition labels",
        lambda f: [(f["subject"], f["conditions"])] if f["conditions"] else [],
        "/general/intracellular_ephys/experimental_conditions",
        per_subject,
    )
    for path, f in facts.items():
        for group, _, _, stress in f["conditions"]:
            if group != f["group"] or (stress not in f["stress"]):
                findings.append(
                    Finding(
                        severity="ERROR",
                        source="nwb-ketamine",
                        file=path,
                        object_path="/general/intracellular_ephys/experimental_conditions",
                        message=f"Condition rows say group {group!r}, stress {stress!r}; the file's drug & stress "
                        f"metadata say group {f['group']!r}, stress {', '.join(f['stress'])!r}.",
                        fix="Reconvert the file with nwb-ketamine convert, which writes both from study.yaml.",
                        check="check_archive_consistency",
                    )
                )
    return findings
