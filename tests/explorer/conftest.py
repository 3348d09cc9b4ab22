"""Explorer fixtures: the store over the shared tiny archive (tests/conftest.py) and a synthetic catalog."""

import pytest


@pytest.fixture(scope="session")
def store(tiny_archive):
    """The explorer's ArchiveStore over the shared tiny archive's catalog (2 cells, 1 tetrode session)."""
    from nwb_ketamine.explorer.store import ArchiveStore

    return ArchiveStore(tiny_archive)


@pytest.fixture(scope="session")
def synthetic():
    """A synthetic catalog big enough for statistics (400 cells, 400 unit × epoch rows, 20 animals)."""
    from nwb_ketamine.explorer.store import synthetic_store

    return synthetic_store(400, 20, seed=1)
