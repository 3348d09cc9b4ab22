"""Shared fixtures: paths to the example study and to the real recordings from other labs."""

import hashlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_STUDY = ROOT / "examples" / "study.yaml"
REALDATA = ROOT.parent / "shared" / "realdata"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@pytest.fixture
def realdata():
    """The ../shared/realdata folder; tests using it skip cleanly when it is absent."""
    if not REALDATA.is_dir():
        pytest.skip(f"real recordings not available at {REALDATA}")
    return REALDATA
