"""Open each in vivo session's raw recording before any conversion: the choices only the study file can make.

A folder can hold several signal streams or several recording files, a reader can refuse gaps unless told
how to segment, and a channel can lack a physical unit. None of that is visible in the study file itself,
so ``nwb-ketamine check`` opens every raw recording's header (neo's ``parse_header``: no samples are read)
and reports each such problem at the session's ``raw`` field, one line each, as the study-file checks do.
The recording's own consistency (:mod:`nwb_ketamine.converters.source_checks`) is checked as it opens, and
the study file's injection and epochs are checked against the recording's length, and its tetrodes'
channels against the recording's channels.
"""

from __future__ import annotations

from nwb_ketamine.errors import ConversionError, StudyFileError
from nwb_ketamine.metadata import InVivoSession, Study, locate, read_study_file


def recording_problems(study: Study) -> list[str]:
    """One ``study.yaml:LINE sessions[i].FIELD: message`` line per raw recording that does not fit the study file.

    Parameters
    ----------
    study
        A validated study (every session of the file is in ``study.sessions``, in file order).
    """
    from nwb_ketamine.converters.neo_raw import open_raw
    from nwb_ketamine.converters.source_checks import session_time_problems, tetrode_channel_problems

    _, lines = read_study_file(study.path)
    problems = []
    for i, session in enumerate(study.sessions):
        if not isinstance(session, InVivoSession) or session.raw_path is None or not session.raw_path.exists():
            continue
        try:
            raw = open_raw(session)
        except ConversionError as exc:
            problems.append(locate(study.path.name, lines, ("sessions", i, "raw")) + str(exc))
            continue
        injection = None
        if session.injection is not None:
            injection = (session.injection.time - session.start_time).total_seconds()
        found = session_time_problems(injection, session.epochs, raw.end_s, raw.sampling_rate_hz)
        found += tetrode_channel_problems(session.tetrodes, raw.n_channels)
        for path, message in found:
            problems.append(locate(study.path.name, lines, ("sessions", i, *path)) + message)
    return problems


def check_recordings(study: Study) -> None:
    """Raise :class:`StudyFileError` listing every problem of :func:`recording_problems`.

    Parameters
    ----------
    study
        A validated study.

    Raises
    ------
    StudyFileError
        When a raw recording cannot be opened as the study file gives it.
    """
    problems = recording_problems(study)
    if problems:
        raise StudyFileError(problems)
