"""`nwb-ketamine check` opens each raw recording's header: choices only the study file can make are asked for."""

import pytest

from nwb_ketamine.cli import main
from tests.conftest import write_invivo_study


def _study(tmp_path, files=("rec.fake",), **raw):
    folder = tmp_path / "raw"
    folder.mkdir()
    for name in files:
        (folder / name).write_text("")  # neo's ExampleRawIO makes up two streams and two segments for any file
    session = {
        "session_id": "s1",
        "start_time": "2024-03-15T14:00:00+00:00",
        "raw": {"path": "raw", "format": "ExampleRawIO", **raw},
        "tetrodes": [{"channels": [0, 1, 2, 3], "region": "LHb"}],
    }
    return write_invivo_study(tmp_path, [session])


def test_several_streams_none_named_fails_listing_them(tmp_path, capsys):
    assert main(["check", str(_study(tmp_path))]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and err[0].startswith("study.yaml:") and " sessions[0].raw: " in err[0]
    assert "2 signal streams, 'stream 0' (id 0: 8 channels at 10000 Hz, uV)" in err[0] and "raw.stream" in err[0]


def test_named_stream_passes(tmp_path, capsys):
    assert main(["check", str(_study(tmp_path, stream="stream 0"))]) == 0
    assert "1 in vivo sessions" in capsys.readouterr().out


@pytest.mark.parametrize(("raw", "expected"), [({}, "name one with raw.file"), ({"file": "b.fake"}, None)])
def test_several_recording_files_need_raw_file(tmp_path, capsys, raw, expected):
    code = main(["check", str(_study(tmp_path, files=("a.fake", "b.fake"), stream="0", **raw))])
    err = capsys.readouterr().err
    if expected:
        assert code == 1 and expected in err and "a.fake, b.fake" in err
    else:
        assert code == 0, err


def test_unknown_neo_option_is_named(tmp_path, capsys):
    assert main(["check", str(_study(tmp_path, stream="0", neo_options={"gap_tolerance": 1}))]) == 1
    assert "raw.neo_options ['gap_tolerance'] are not options of neo's ExampleRawIO" in capsys.readouterr().err
