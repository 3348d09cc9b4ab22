"""The shared tiny simulated studies (tests/conftest.py) with their plans, as the simulator tests use them."""

import pytest

from nwb_ketamine.metadata import load_study
from nwb_ketamine.simulate.plan import plan_study


@pytest.fixture(scope="session")
def tiny(simulated_tiny):
    """(study.yaml path, plan, loaded Study) of the tiny study simulated with seed 0."""
    return simulated_tiny, plan_study(0, "tiny"), load_study(simulated_tiny)


@pytest.fixture(scope="session")
def tiny_variants(simulated_tiny_variants):
    """(study.yaml path, plan) of the tiny study with the in vivo variants, seed 0."""
    return simulated_tiny_variants, plan_study(0, "tiny", invivo_variants=True)
