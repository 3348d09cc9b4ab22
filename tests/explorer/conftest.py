import pytest

from tests.explorer.archive import build_tiny_archive


@pytest.fixture(scope="session")
def tiny_archive(tmp_path_factory):
    """A converted tiny study (2 cells, 1 tetrode session) with its catalog."""
    return build_tiny_archive(tmp_path_factory.mktemp("explorer"))


@pytest.fixture(scope="session")
def synthetic():
    """A synthetic catalog big enough for statistics (400 cells, 400 unit × epoch rows, 20 animals)."""
    from nwb_ketamine.explorer.store import synthetic_store

    return synthetic_store(400, 20, seed=1)
