"""A tiny simulated study shared by the simulator tests (written once per test session)."""

import pytest

from nwb_ketamine.metadata import load_study
from nwb_ketamine.simulate import simulate_study
from nwb_ketamine.simulate.study import plan_study


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """(study.yaml path, plan, loaded Study) of a tiny study simulated with seed 0."""
    out = tmp_path_factory.mktemp("sim") / "tiny"
    path = simulate_study(out, seed=0, size="tiny", progress=False)
    return path, plan_study(0, "tiny"), load_study(path)
