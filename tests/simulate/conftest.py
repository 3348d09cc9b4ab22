"""Tiny simulated studies shared by the simulator tests (each written once per test session)."""

import pytest

from nwb_ketamine.metadata import load_study
from nwb_ketamine.simulate import simulate_study
from nwb_ketamine.simulate.plan import plan_study


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """(study.yaml path, plan, loaded Study) of a tiny study simulated with seed 0."""
    out = tmp_path_factory.mktemp("sim") / "tiny"
    path = simulate_study(out, seed=0, size="tiny", progress=False)
    return path, plan_study(0, "tiny"), load_study(path)


@pytest.fixture(scope="session")
def tiny_variants(tmp_path_factory):
    """(study.yaml path, plan) of a tiny study with the in vivo variants, seed 0."""
    out = tmp_path_factory.mktemp("sim") / "tiny-variants"
    path = simulate_study(out, seed=0, size="tiny", progress=False, invivo_variants=True)
    return path, plan_study(0, "tiny", invivo_variants=True)
