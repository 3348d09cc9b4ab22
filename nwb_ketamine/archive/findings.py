"""The validation report: findings in one vocabulary of severities, whatever tool found them.

Severities, from the tools' levels (:mod:`nwb_ketamine.archive.validate` maps them):

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

from dataclasses import asdict, dataclass, field, fields

SEVERITIES = ("CRITICAL", "ERROR", "BEST_PRACTICE_VIOLATION", "BEST_PRACTICE_SUGGESTION", "INFO")
ERROR_SEVERITIES = ("CRITICAL", "ERROR")
SOURCES = ("pynwb", "nwbinspector", "dandi", "nwb-ketamine")


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
        """The report that :meth:`to_json` wrote.

        Parameters
        ----------
        data
            The JSON dict.

        Returns
        -------
        ValidationReport
        """
        names = {f.name for f in fields(Finding)}
        findings = [Finding(**{k: v for k, v in f.items() if k in names}) for f in data["findings"]]
        return cls(archive=data["archive"], files=list(data["files"]), findings=findings)
