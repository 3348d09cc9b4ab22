"""The study file's domain rules on sessions, and the typed sessions they build.

Cross-field rules the schema cannot express: references to declared subjects and drugs, times in order
(injection, slicing, recording), regions known to the vocabulary, files that exist, a command unit of the
clamp mode's kind, tetrode numbers and channels used once, epochs that end after they start.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from nwb_ketamine import vocabulary as vocab
from nwb_ketamine.metadata.loader import FieldPath, Problems
from nwb_ketamine.metadata.model import (
    AbfFileEntry,
    ImplantEntry,
    InVivoSessionEntry,
    SliceMethodsEntry,
    SliceSessionEntry,
    StudySliceMethodsEntry,
)
from nwb_ketamine.metadata.rules import check_reference, quantity_of
from nwb_ketamine.metadata.study import (
    AbfFileInfo,
    Epoch,
    Implant,
    Injection,
    InVivoSession,
    SliceMethods,
    SliceSession,
    SubjectInfo,
    Tetrode,
)
from nwb_ketamine.metadata.values import ABF_COMMAND_UNITS, TIME_UNITS, parse_datetime


def inside_roots(path: Path, roots) -> bool:
    """Whether ``path`` (resolved: symlinks followed) lies in one of ``roots`` (resolved folders).

    Parameters
    ----------
    path : Path
        A resolved source path.
    roots : sequence of Path
        The study folder and the declared ``data_roots``, resolved.

    Returns
    -------
    bool
    """
    return any(path == root or path.is_relative_to(root) for root in roots)


def data_roots(problems: Problems, base: Path, entries, check_files: bool) -> tuple[Path, ...]:
    """The folders sources may lie in: the study folder, then each declared ``data_roots`` entry, resolved.

    Parameters
    ----------
    problems : Problems
        Where to report a declared root that is not a folder (only when ``check_files``).
    base : Path
        The study file's folder.
    entries : sequence of str or None
        The ``data_roots`` as written (absolute or relative to the study file; None for an entry the
        schema refused).
    check_files : bool
        Whether the declared roots must exist.

    Returns
    -------
    tuple of Path
    """
    roots = [base.resolve()]
    for i, text in enumerate(entries):
        if text is None:
            continue
        root = (base / text).resolve()
        if check_files and not root.is_dir():
            problems.add(("data_roots", i), f"{text!r} is not a folder (looked for {root}); fix or remove it")
        roots.append(root)
    return tuple(roots)


#: The fields of :class:`SliceMethodsEntry` a session's own entry overrides one by one.
SLICE_METHOD_FIELDS = tuple(SliceMethodsEntry.model_fields)


def slice_methods(
    study: StudySliceMethodsEntry | None, session: SliceMethodsEntry | None, region: str | None
) -> SliceMethods:
    """A cell's slice methods: the session's fields, else the study's; the stimulation site of its region.

    The stimulation site is the session's ``stimulation_site``, else the study's ``stimulation_sites`` entry
    of the cell's region label, else the study's ``stimulation_site``. A field the schema refused is None in
    its entry and counts as not given.

    Parameters
    ----------
    study : StudySliceMethodsEntry or None
        The study file's ``slice_methods``.
    session : SliceMethodsEntry or None
        The session's ``slice_methods``.
    region : str or None
        The session's region label.

    Returns
    -------
    SliceMethods
    """
    values: dict[str, object] = {}
    for name in SLICE_METHOD_FIELDS:
        own = getattr(session, name, None) if session is not None else None
        values[name] = own if own is not None else (getattr(study, name, None) if study is not None else None)
    if (session is None or session.stimulation_site is None) and study is not None and study.stimulation_sites:
        by_region = study.stimulation_sites.get(region) if region is not None else None
        if by_region is not None:
            values["stimulation_site"] = by_region
    return SliceMethods(**values)  # type: ignore[arg-type]


def implant_of(own: ImplantEntry | None, session: ImplantEntry | None) -> Implant | None:
    """A tetrode's implant: its own, else the session's; its atlas, else the session's.

    Parameters
    ----------
    own : ImplantEntry or None
        The tetrode's ``implant``.
    session : ImplantEntry or None
        The session's ``implant``.

    Returns
    -------
    Implant or None
        None when neither is given (or a coordinate was refused by the schema).
    """
    entry = own if own is not None else session
    if entry is None or None in (entry.ap_mm, entry.ml_mm, entry.dv_mm):
        return None
    atlas = entry.atlas if entry.atlas is not None else (session.atlas if session is not None else None)
    return Implant(ap_mm=entry.ap_mm, ml_mm=entry.ml_mm, dv_mm=entry.dv_mm, atlas=atlas)


class SessionRules:
    """The session rules of one study file, with what they need from its declarations.

    Parameters
    ----------
    problems : Problems
        Where to report.
    base : Path
        The study file's folder; relative paths are resolved against it.
    subjects : dict
        The declared subjects that passed their checks, by id.
    subject_ids, drug_ids : collection of str
        All declared subject and drug ids.
    now : datetime
        The time that counts as now.
    check_files : bool
        Whether files the sessions name must exist.
    roots : sequence of Path, optional
        The folders sources may lie in, resolved (default: ``base`` alone); see :func:`inside_roots`.
    methods : StudySliceMethodsEntry, optional
        The study file's ``slice_methods`` (the defaults of every slice session).
    """

    def __init__(self, problems: Problems, base: Path, subjects: dict[str, SubjectInfo], subject_ids, drug_ids,
                 now: datetime, check_files: bool, roots=None,
                 methods: StudySliceMethodsEntry | None = None):  # fmt: skip
        self.problems, self.base, self.subjects = problems, base, subjects
        self.methods = methods
        self.subject_ids, self.drug_ids, self.now, self.check_files = subject_ids, drug_ids, now, check_files
        self.roots = tuple(roots) if roots is not None else (base.resolve(),)

    def _confined(self, path: FieldPath, text: str, resolved: Path) -> bool:
        if inside_roots(resolved, self.roots):
            return True
        self.problems.add(
            path,
            f"{text!r} lies outside the study folder {self.roots[0]}"
            + (" and the data_roots" if len(self.roots) > 1 else "")
            + f" (it resolves to {resolved}); move it into the study folder or declare the folder that holds it "
            "in data_roots",
        )
        return False

    def session(
        self, p: FieldPath, entry: SliceSessionEntry | InVivoSessionEntry
    ) -> SliceSession | InVivoSession | None:
        """Check a session entry; return the typed session when it passed.

        Parameters
        ----------
        p : tuple
            The entry's path, ``("sessions", i)``.
        entry : SliceSessionEntry or InVivoSessionEntry
            The entry.

        Returns
        -------
        SliceSession, InVivoSession or None
            None when a problem stops it from being built.
        """
        problems = self.problems
        check_reference(problems, p + ("subject",), entry.subject, self.subject_ids, "subject")
        start = parse_datetime(problems, p + ("start_time",), entry.start_time, self.now)
        subject = self.subjects.get(entry.subject) if entry.subject is not None else None
        if start and subject and subject.date_of_birth and subject.date_of_birth > start.date():
            problems.add(p + ("start_time",), f"is before the subject's date of birth {subject.date_of_birth}")
        injection = None
        if entry.injection is not None:
            inj = entry.injection
            check_reference(problems, p + ("injection", "drug"), inj.drug, self.drug_ids, "drug")
            time = parse_datetime(problems, p + ("injection", "time"), inj.time, self.now)
            if time and start and time > start and isinstance(entry, SliceSessionEntry):
                problems.add(p + ("injection", "time"), "is after the recording start; slices are cut after injection")
            if time and inj.drug in self.drug_ids:
                injection = Injection(drug=inj.drug, time=time)
        if isinstance(entry, SliceSessionEntry):
            return self._slice(p, entry, start, injection)
        return self._invivo(p, entry, start, injection)

    def _path(self, path: FieldPath, text: str | None, want_dir: bool = False) -> Path | None:
        if text is None:
            return None
        resolved = (self.base / text).resolve()
        if not self._confined(path, text, resolved):
            return resolved
        if self.check_files:
            if not resolved.exists():
                self.problems.add(
                    path, f"{text!r} does not exist (looked for {resolved}); paths are relative to the study file"
                )
            elif want_dir and not resolved.is_dir():
                self.problems.add(path, f"{text!r} is not a folder")
            elif not want_dir and not resolved.is_file():
                self.problems.add(path, f"{text!r} is not a file")
        return resolved

    def _region(self, path: FieldPath, region: str | None, hint: str) -> bool:
        if region is not None and vocab.ccf_region(region) is None:
            self.problems.add(path, f"{region!r} is not a known region; use an Allen CCF acronym{hint}")
            return False
        return region is not None

    def _command(self, fp: FieldPath, f: AbfFileEntry, clamp_mode: str | None) -> bool:
        """``command_unit`` must be a unit of what the command is under the clamp mode; ``command: none`` alone."""
        if f.command == "none":
            extra = [key for key in ("command_unit", "command_channel") if key in f.model_fields_set]
            for key in extra:
                self.problems.add(
                    fp + (key,), "contradicts 'command: none' (no command was applied); remove one of the two"
                )
            return not extra
        unit = f.command_unit
        if unit is not None and clamp_mode in ABF_COMMAND_UNITS and unit not in ABF_COMMAND_UNITS[clamp_mode]:
            kind = "voltage" if clamp_mode == "voltage_clamp" else "current"
            units = ", ".join(ABF_COMMAND_UNITS[clamp_mode])
            self.problems.add(
                fp + ("command_unit",),
                f"{unit!r} is not a {kind} unit; under {clamp_mode} the command is a {kind} (use one of: {units})",
            )
            return False
        return True

    def _abf_file(self, fp: FieldPath, f: AbfFileEntry, s: SliceSessionEntry, start) -> AbfFileInfo | None:
        problems = self.problems
        resolved = self._path(fp + ("path",), f.path)
        potential = quantity_of(problems, fp, f, "holding_potential")
        for k, bath in enumerate(f.bath or []):
            check_reference(problems, fp + ("bath", k), bath, self.drug_ids, "drug")
        clamp_mode = f.clamp_mode if "clamp_mode" in f.model_fields_set else s.clamp_mode
        command_ok = self._command(fp, f, clamp_mode)
        recording_time = parse_datetime(problems, fp + ("recording_time",), f.recording_time, self.now)
        if recording_time and start and recording_time < start:
            problems.add(fp + ("recording_time",), f"is before the session's start_time {start.isoformat()}")
        given_time = "recording_time" in f.model_fields_set
        if not (resolved and potential and command_ok and clamp_mode and f.protocol is not None):
            return None
        if (given_time and recording_time is None) or f.response_channel is None or f.command_channel is None:
            return None
        return AbfFileInfo(
            path=resolved,
            protocol=f.protocol,
            holding_potential=potential,
            clamp_mode=clamp_mode,
            response_channel=f.response_channel,
            command_channel=f.command_channel,
            bath=tuple(f.bath or ()),
            command_unit=f.command_unit,
            has_command=f.command != "none",
            recording_time=recording_time,
            where=problems.where(fp),
        )

    def _slice(self, p: FieldPath, s: SliceSessionEntry, start, injection=None) -> SliceSession | None:
        hint = f" ({', '.join(vocab.CCF_REGIONS)}) or a known label (LHb...)"
        region_ok = self._region(p + ("region",), s.region, hint)
        slicing = parse_datetime(self.problems, p + ("slicing_time",), s.slicing_time, self.now)
        if slicing and start and slicing > start:
            self.problems.add(p + ("slicing_time",), "is after the recording start")
        files = [self._abf_file(p + ("files", j), f, s, start) for j, f in enumerate(s.files or []) if f is not None]
        required = (s.session_id, s.subject, s.slice_id, s.cell_id, s.clamp_mode, s.files)
        if start is None or not region_ok or None in required or None in files or len(files) != len(s.files or []):
            return None
        return SliceSession(
            session_id=s.session_id,
            subject=s.subject,
            start_time=start,
            slice_id=s.slice_id,
            cell_id=s.cell_id,
            region=s.region,
            clamp_mode=s.clamp_mode,
            files=tuple(f for f in files if f is not None),
            injection=injection,
            slicing_time=slicing,
            description=s.description,
            methods=slice_methods(self.methods, s.slice_methods, s.region),
        )

    def _tetrodes(self, p: FieldPath, s: InVivoSessionEntry) -> list[Tetrode]:
        tetrodes: list[Tetrode] = []
        used: dict[int, int] = {}
        numbers: dict[int, int] = {}
        for j, t in enumerate(s.tetrodes or []):
            if t is None:
                continue
            tp = p + ("tetrodes", j)
            # a value the file gives but the schema rejected has no default in its place
            broken = {
                name for name in ("number", "channels") if name in t.model_fields_set and getattr(t, name) is None
            }
            number = t.number if t.number is not None else j + 1
            if "number" not in broken:
                if number in numbers:
                    message = f"tetrode number {number} is already tetrodes[{numbers[number]}]"
                    self.problems.add(tp + ("number",), message)
                numbers.setdefault(number, j)
            if broken:
                self._region(tp + ("region",), t.region, "")
                continue
            channels = tuple(t.channels) if t.channels is not None else tuple(range(4 * (number - 1), 4 * number))
            for c in channels:
                if c in used:
                    self.problems.add(tp + ("channels",), f"channel {c} is already in tetrodes[{used[c]}]")
                used.setdefault(c, j)
            if self._region(tp + ("region",), t.region, ""):
                implant = implant_of(t.implant, s.implant)
                tetrodes.append(Tetrode(channels=channels, region=t.region, number=number, implant=implant))
        return tetrodes

    def _epochs(self, p: FieldPath, s: InVivoSessionEntry) -> list[Epoch]:
        epochs = []
        for j, e in enumerate(s.epochs or []):
            if e is None:
                continue
            ep = p + ("epochs", j)
            e_start, e_stop = quantity_of(self.problems, ep, e, "start"), quantity_of(self.problems, ep, e, "stop")
            if e_start and e_stop:
                t0, t1 = e_start.value * TIME_UNITS[e_start.unit], e_stop.value * TIME_UNITS[e_stop.unit]
                if t1 <= t0:
                    self.problems.add(ep + ("stop",), f"{e_stop} is not after start {e_start}")
                elif e.name is not None:
                    epochs.append(Epoch(name=e.name, start=t0, stop=t1))
        return epochs

    def _invivo(self, p: FieldPath, s: InVivoSessionEntry, start, injection=None) -> InVivoSession | None:
        raw = s.raw
        raw_path = self._path(p + ("raw", "path"), raw.path, want_dir=True) if raw is not None else None
        sorting_path = None
        if s.sorting is not None and s.sorting.path is not None:
            sorting_path = (self.base / s.sorting.path).resolve()
            confined = self._confined(p + ("sorting", "path"), s.sorting.path, sorting_path)
            if confined and self.check_files and not sorting_path.exists():
                message = f"{s.sorting.path!r} does not exist (looked for {sorting_path})"
                self.problems.add(p + ("sorting", "path"), message)
        tetrodes, epochs = self._tetrodes(p, s), self._epochs(p, s)
        given = raw.model_fields_set if raw is not None else set()
        if ("gain" in given) != ("unit" in given):
            self.problems.add(p + ("raw", "gain" if "unit" in given else "unit"), "gain and unit go together")
        has_source = raw_path is not None or sorting_path is not None
        if start is None or not has_source or s.session_id is None or s.subject not in self.subject_ids:
            return None
        return InVivoSession(
            session_id=s.session_id,
            subject=s.subject,
            start_time=start,
            raw_path=raw_path,
            raw_format=raw.format if raw else None,
            raw_stream=None if raw is None or raw.stream is None else str(raw.stream),
            raw_file=raw.file if raw else None,
            raw_neo_options=tuple(sorted((raw.neo_options or {}).items())) if raw else (),
            raw_gain=raw.gain if raw else None,
            raw_unit=raw.unit if raw else None,
            sorting_path=sorting_path,
            sorting_format=s.sorting.format if s.sorting else None,
            tetrodes=tuple(tetrodes),
            injection=injection,
            epochs=tuple(epochs),
            description=s.description,
        )
