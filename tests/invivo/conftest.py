"""The shared tiny simulated studies as the in vivo tests use them, and the tiny in vivo session converted once."""

import csv

import pytest

from nwb_ketamine.converters.invivo import InVivoConverter
from nwb_ketamine.metadata import load_study


@pytest.fixture(scope="session")
def tiny_study(simulated_tiny):
    """The shared simulated tiny study: (study.yaml path, Study, ground-truth row of its in vivo session)."""
    study = load_study(simulated_tiny)
    with open(simulated_tiny.parent / "ground_truth" / "invivo_sessions.csv") as f:
        truth = list(csv.DictReader(f))[0]
    return simulated_tiny, study, truth


@pytest.fixture(scope="session")
def tiny_nwb(tiny_study, tmp_path_factory):
    """The tiny study's in vivo session converted with raw data: (nwb path, converter)."""
    _, study, _ = tiny_study
    converter = InVivoConverter(study, study.invivo_sessions[0])
    path = converter.run_conversion(tmp_path_factory.mktemp("nwb") / "session.nwb")
    return path, converter


@pytest.fixture(scope="session")
def variants_study(simulated_tiny_variants):
    """The shared tiny study with the simulator's in vivo variants: (study.yaml path, Study, study folder)."""
    return simulated_tiny_variants, load_study(simulated_tiny_variants), simulated_tiny_variants.parent
