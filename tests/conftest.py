"""Shared fixtures: paths to the example study and to the real recordings from other labs."""

from pathlib import Path

import pytest

from nwb_ketamine.archive.convert import sha256_of

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_STUDY = ROOT / "examples" / "study.yaml"
REALDATA = ROOT.parent / "shared" / "realdata"

#: sha256 of a file, to check the real recordings against the MANIFEST before trusting them.
sha256 = sha256_of


@pytest.fixture
def realdata():
    """The ../shared/realdata folder; tests using it skip cleanly when it is absent."""
    if not REALDATA.is_dir():
        pytest.skip(f"real recordings not available at {REALDATA}")
    return REALDATA


def _study_head(timezone: str = "UTC") -> dict:
    """The study, timezone and subject fields every test study file shares."""
    return {
        "format_version": 1,
        "study": {
            "title": "Test study",
            "description": "Real recordings from other labs, converted as a study.",
            "institution": "Test institution",
            "lab": "Test lab",
            "experimenters": ["Doe, Jane"],
            "license": "CC-BY-4.0",
        },
        "timezone": timezone,
        "subjects": [{"id": "m01", "species": "Mus musculus", "sex": "U", "age": "P8W", "group": "control"}],
    }


def write_invivo_study(folder: Path, sessions: list[dict], timezone: str = "UTC") -> Path:
    """Write a minimal valid study file with the given in vivo ``sessions`` (type, subject m01 filled in).

    Each session dict needs ``session_id``, ``start_time``, ``tetrodes`` and ``raw`` and/or ``sorting``.
    """
    import yaml

    study = {**_study_head(timezone), "sessions": [{"type": "invivo", "subject": "m01", **s} for s in sessions]}
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


def write_slice_study(folder: Path, cells: list[dict], timezone: str = "UTC") -> Path:
    """Write a minimal valid study file with one slice session per entry of ``cells``.

    Each cell dict has ``files`` (list of dicts with path, protocol, holding_potential and optional
    clamp_mode/response_channel/command_channel) and ``start_time``; other session fields get defaults.
    """
    import yaml

    sessions = []
    for i, cell in enumerate(cells):
        sessions.append(
            {
                "type": "slice",
                "session_id": cell.get("session_id", f"s{i}"),
                "subject": "m01",
                "start_time": cell["start_time"],
                "slice_id": cell.get("slice_id", "sl1"),
                "cell_id": cell.get("cell_id", f"c{i}"),
                "region": cell.get("region", "LHb"),
                "clamp_mode": cell.get("clamp_mode", "voltage_clamp"),
                "files": cell["files"],
            }
        )
    study = {
        **_study_head(timezone),
        "analysis": {
            "epsc": {
                "stimulus_time_s": 0.3,
                "test_pulse_start_s": 0.05,
                "test_pulse_duration_s": 0.1,
                "test_pulse_amplitude_v": -0.005,
            }
        },
        "sessions": sessions,
    }
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path
