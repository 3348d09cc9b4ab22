"""A simulated tiny study and its in vivo session converted once for the whole module."""

import csv

import pytest

from nwb_ketamine.converters.invivo import InVivoConverter
from nwb_ketamine.metadata import load_study


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory):
    """The simulated tiny study: (study.yaml path, Study, ground-truth row of its in vivo session)."""
    from nwb_ketamine.simulate import simulate_study

    out = tmp_path_factory.mktemp("tiny") / "study"
    path = simulate_study(out, seed=0, size="tiny", progress=False)
    study = load_study(path)
    with open(out / "ground_truth" / "invivo_sessions.csv") as f:
        truth = list(csv.DictReader(f))[0]
    return path, study, truth


@pytest.fixture(scope="session")
def tiny_nwb(tiny_study, tmp_path_factory):
    """The tiny study's in vivo session converted with raw data: (nwb path, converter)."""
    _, study, _ = tiny_study
    converter = InVivoConverter(study, study.invivo_sessions[0])
    path = converter.run_conversion(tmp_path_factory.mktemp("nwb") / "session.nwb")
    return path, converter


@pytest.fixture(scope="session")
def variants_study(tmp_path_factory):
    """The tiny study with the simulator's in vivo variants: (study.yaml path, Study, study folder)."""
    from nwb_ketamine.simulate import simulate_study

    out = tmp_path_factory.mktemp("variants") / "study"
    path = simulate_study(out, seed=0, size="tiny", progress=False, invivo_variants=True)
    return path, load_study(path), out
