"""Shared fixtures: the simulated tiny study and its converted archive (once per test session), the example
study and the real recordings from other labs."""

import hashlib
from pathlib import Path

import pytest

from nwb_ketamine.archive.manifest import sha256_of

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_STUDY = ROOT / "examples" / "study.yaml"
REALDATA = ROOT.parent / "shared" / "realdata"

#: sha256 of a file, to check the real recordings against the MANIFEST before trusting them.
sha256 = sha256_of


def _digests(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder``, by relative path."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _assert_unchanged(folder: Path, before: dict[str, str]) -> None:
    """Fail (at the end of the session) if a test changed a shared folder."""
    assert _digests(folder) == before, f"a test changed the shared {folder}; change a copy instead"


@pytest.fixture(scope="session")
def simulated_tiny(tmp_path_factory) -> Path:
    """``study.yaml`` of the tiny study simulated with seed 0 (2 slice cells, 1 tetrode session), shared by
    every test directory. Read it, never change it: a test that changes files works on a copy."""
    from nwb_ketamine.simulate import simulate_study

    path = simulate_study(tmp_path_factory.mktemp("shared") / "tiny", seed=0, size="tiny", progress=False)
    before = _digests(path.parent)
    yield path
    _assert_unchanged(path.parent, before)


@pytest.fixture(scope="session")
def simulated_tiny_variants(tmp_path_factory) -> Path:
    """``study.yaml`` of the seed-0 tiny study with the simulator's in vivo variants (Open Ephys in two
    recordings, Neuralynx with mixed rates and a gap, sorting-only phy), shared like ``simulated_tiny``."""
    from nwb_ketamine.simulate import simulate_study

    out = tmp_path_factory.mktemp("shared") / "tiny-variants"
    path = simulate_study(out, seed=0, size="tiny", progress=False, invivo_variants=True)
    before = _digests(path.parent)
    yield path
    _assert_unchanged(path.parent, before)


@pytest.fixture(scope="session")
def tiny_archive(simulated_tiny, tmp_path_factory) -> Path:
    """``simulated_tiny`` converted with raw data by ``nwb-ketamine convert`` (which builds the catalog): the
    archive folder, shared by the explorer, browser and schema-validation tests. Never change it."""
    from nwb_ketamine.cli import main as cli

    archive = tmp_path_factory.mktemp("shared") / "archive"
    assert cli(["convert", str(simulated_tiny), str(archive), "--jobs", "1", "--quiet"]) == 0
    before = _digests(archive)
    yield archive
    _assert_unchanged(archive, before)


@pytest.fixture(scope="session")
def served_archive(tiny_archive, tmp_path_factory):
    """Debian's nginx on 127.0.0.1 serving ``tiny_archive``, range requests on (:mod:`tests.nginx`).

    ``URL/archive/`` serves it with its catalog; ``URL/bare/`` serves the same files with the catalog
    folder answering 404, as an archive uploaded to DANDI (which has no catalog). Stopped at the end of the
    session. Skipped when nginx is not installed (``make browser-deps`` installs it)."""
    from tests.nginx import NGINX, Nginx

    if not Path(NGINX).exists():
        pytest.skip("nginx not installed (make browser-deps)")
    locations = f"""
        location /archive/ {{ alias {tiny_archive}/; }}
        location /bare/ {{
            alias {tiny_archive}/;
            location ~ ^/bare/\\.nwb-ketamine/catalog/ {{ return 404; }}
        }}"""
    with Nginx(tmp_path_factory.mktemp("nginx-root"), tmp_path_factory.mktemp("nginx"), locations) as server:
        yield server


@pytest.fixture(scope="session")
def vehicle_archive(simulated_tiny, tmp_path_factory) -> Path:
    """The tiny study with other metadata, converted (``--no-raw``, with its catalog): a vehicle that is not
    called saline, two doses of ketamine, the study's own time points and group names that lie.

    The vehicle control (drug id ``saline``) is given as agent 'phosphate-buffered saline'; the in vivo
    animal gets ketamine at 3 mg/kg (the slice animal 10 mg/kg); the time points are 'early' (90 min) and
    'late' (1 d); every subject's group name ends in '-24h' although the cells are recorded 1 h after the
    injection. Never change it."""
    import shutil

    import yaml

    from nwb_ketamine.cli import main as cli

    study = tmp_path_factory.mktemp("shared") / "vehicle"
    shutil.copytree(simulated_tiny.parent, study)
    doc = yaml.safe_load((study / "study.yaml").read_text())
    vehicle = next(d for d in doc["drugs"] if d["id"] == "saline")
    vehicle.update(agent="phosphate-buffered saline", vehicle="PBS")
    ketamine = next(d for d in doc["drugs"] if d["id"] == "ketamine-10")
    doc["drugs"].append({**ketamine, "id": "ketamine-3", "dose": "3 mg/kg"})
    for session in doc["sessions"]:
        if session["type"] == "invivo":
            session["injection"]["drug"] = "ketamine-3"
    doc["time_points"] = [{"name": "early", "after_injection": "90 min"}, {"name": "late", "after_injection": "1 d"}]
    for subject in doc["subjects"]:
        subject["group"] = subject["group"].removesuffix("-1h") + "-24h"
    (study / "study.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    archive = study.parent / "vehicle-archive"
    assert cli(["convert", str(study / "study.yaml"), str(archive), "--jobs", "1", "--no-raw", "--quiet"]) == 0
    before = _digests(archive)
    yield archive
    _assert_unchanged(archive, before)


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

    # The sessions name sources in shared fixtures anywhere on the machine: declare every folder a data root.
    study = {**_study_head(timezone), "data_roots": ["/"]}
    study["sessions"] = [{"type": "invivo", "subject": "m01", **s} for s in sessions]
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
        "data_roots": ["/"],  # the files are shared fixtures anywhere on the machine
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
