"""Bad study files: each gives one line per problem naming the file and the field, exit 1, nothing written."""

from __future__ import annotations

import pytest

from .conftest import Case, cases_of, check


def _check_after(change):
    def prepare(ws):
        return ["check", ws.edit_study(change)]

    return prepare


def _convert_after(change):
    def prepare(ws):
        return ["convert", ws.edit_study(change), ws.archive(), "--jobs", "1", "--quiet"]

    return prepare


def _drop_subject_sex(study):
    del study["subjects"][0]["sex"]


def _unknown_weight_unit(study):
    study["subjects"][0]["weight"] = "23.8 stone"


def _naive_session_start(study):
    study["sessions"][0]["start_time"] = "2024-03-15T10:00:00"


CASES = [
    Case("missing-subject-sex", _check_after(_drop_subject_sex), r"study\.yaml.*subjects\[0\]\.sex"),
    Case("unknown-weight-unit", _convert_after(_unknown_weight_unit), r"study\.yaml.*subjects\[0\]\.weight"),
    Case("naive-session-start", _check_after(_naive_session_start), r"study\.yaml.*sessions\[0\]\.start_time"),
]


@pytest.mark.parametrize("case", cases_of(CASES))
def test_bad_study_file(case, workspace, capsys):
    check(case, workspace, capsys)
