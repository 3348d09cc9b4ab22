"""Real NWB files written by other tools (../shared/realdata/nwb), next to our own in one archive: the
catalog lists each as an 'other' session of foreign origin with what it holds (never as a slice cell),
every key is unique, our own rows do not change, and the explorer lists and opens them."""

import re
import shutil

import pandas as pd
import pytest

from nwb_ketamine.archive.catalog import build_catalog, load_catalog
from nwb_ketamine.cli import main as cli
from nwb_ketamine.explorer.app import ExplorerApp
from nwb_ketamine.explorer.generic import GenericView
from nwb_ketamine.explorer.overview import OverviewView, group_summary
from nwb_ketamine.explorer.store import ArchiveStore
from tests.conftest import sha256

pytestmark = pytest.mark.realdata

TTL, EXTENSION = "neuroconv_mock_ttl_examples.nwb", "pynwb_backcompat_2.1.0_nwbfile_with_extension.nwb"
#: What each file holds, as the catalog's contents column says it.
CONTENTS = {TTL: "acquisition: 9 TimeSeries", EXTENSION: "acquisition: 1 TimeSeriesWithID (ndx-testextension)"}
#: Where the files go in the archive: a DANDI-like layout whose names claim icephys (the names under which
#: both once became patch-clamp cells with the same empty key), and their own names in a plain folder.
PLACES = {
    "sub-ttl/sub-ttl_ses-1_icephys.nwb": TTL,
    "sub-ext/sub-ext_ses-1_icephys.nwb": EXTENSION,
    f"foreign/{TTL}": TTL,
    f"foreign/{EXTENSION}": EXTENSION,
}


def manifest_hashes(realdata) -> dict[str, str]:
    """sha256 of the nwb/ files, from ../shared/realdata/MANIFEST.md."""
    text = (realdata / "MANIFEST.md").read_text()
    return dict(re.findall(r"^\| (\S+\.nwb) \|[^|]*sha256 ([0-9a-f]{64})", text, flags=re.M))


@pytest.fixture(scope="module")
def mixed_archive(request, tmp_path_factory):
    """(archive, tiny archive): a copy of the tiny archive plus the two real foreign files (twice each),
    catalogued by the CLI. Tests take the tiny archive from here, not as their own fixture: pytest sets up
    session fixtures first, so the tiny study would be simulated even when the real files are absent."""
    from tests.conftest import REALDATA

    if not REALDATA.is_dir():
        pytest.skip(f"real recordings not available at {REALDATA}")
    tiny_archive = request.getfixturevalue("tiny_archive")  # only once the files are known to be there
    hashes = manifest_hashes(REALDATA)
    for name in (TTL, EXTENSION):
        assert sha256(REALDATA / "nwb" / name) == hashes[name], f"{name} differs from the MANIFEST"
    archive = tmp_path_factory.mktemp("foreign") / "archive"
    shutil.copytree(tiny_archive, archive, ignore=shutil.ignore_patterns(".nwb-ketamine"))
    for place, name in PLACES.items():
        (archive / place).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REALDATA / "nwb" / name, archive / place)
    assert cli(["catalog", str(archive), "--quiet"]) == 0
    return archive, tiny_archive


def test_foreign_files_are_other_sessions_with_their_contents(mixed_archive):
    tables = load_catalog(mixed_archive[0])
    sessions = tables["sessions"].set_index("file")
    assert sessions.index.is_unique
    for place, name in PLACES.items():
        row = sessions.loc[place]
        assert (row["modality"], row["origin"], row["contents"]) == ("other", "foreign", CONTENTS[name])
        assert (row["n_cells"], row["n_units"], row["drug"], row["stress"]) == (0, 0, "unknown", "unknown")
        assert row["namespaces"].startswith("core 2.") and row["identifier"]
    assert "ndx-testextension" in sessions.loc[f"foreign/{EXTENSION}", "namespaces"]
    for name in ("cells", "units"):  # neither file holds a cell or a unit
        assert not tables[name]["file"].isin(list(PLACES)).any()
    assert tables["cells"]["cell_key"].is_unique and not tables["units"].duplicated(["unit_key", "epoch"]).any()


def test_our_rows_are_unchanged_by_foreign_neighbours(mixed_archive):
    mixed_archive, tiny_archive = mixed_archive
    mixed, ours = load_catalog(mixed_archive), load_catalog(tiny_archive)
    for name, frame in mixed.items():
        mine = frame[~frame["file"].isin(list(PLACES))].reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, ours[name])
    assert set(ours["sessions"]["origin"]) == {"nwb-ketamine"}
    result = build_catalog(mixed_archive, progress=False, full=True)  # rebuilt from scratch: the same keys
    assert not result.failed and not result.duplicate_keys
    again = load_catalog(mixed_archive)
    for name in mixed:
        pd.testing.assert_frame_equal(again[name].drop(columns="file_size", errors="ignore"),
                                      mixed[name].drop(columns="file_size", errors="ignore"))  # fmt: skip


def test_the_explorer_lists_and_opens_them(mixed_archive):
    mixed_archive, tiny_archive = mixed_archive
    store = ArchiveStore(mixed_archive)
    overview = OverviewView(store)
    listed = overview.sessions.set_index("file")
    assert set(PLACES) <= set(listed.index) and (listed.loc[list(PLACES), "origin"] == "foreign").all()
    # Files without a subject id add sessions, not a phantom subject.
    assert overview.headline().startswith(f"**{ArchiveStore(tiny_archive).sessions['subject'].nunique()} subjects")
    summary = group_summary(store)
    foreign = summary[summary["drug"] == "unknown"]
    assert foreign[["sessions", "subjects", "cells", "units"]].values.tolist() == [[len(PLACES), 0, 0, 0]]
    assert summary["cells"].sum() == len(store.cells)

    app = ExplorerApp(store)
    app.param.update(view="overview")
    for place, name in PLACES.items():  # a click on the row opens the generic file view
        row = list(app.overview._sessions_table.value["file"]).index(place)  # position, as Panel reports it
        app.overview._on_click(type("Event", (), {"row": row})())
        assert (app.view, app.file) == ("file", place)
        assert isinstance(app.current, GenericView), getattr(app.current, "object", app.current)
        view = app.current
        assert view.error is None and view.path == store.path_of(place)
        n_series = int(CONTENTS[name].split(": ")[1].split()[0])
        assert len(view.param.series.objects) == n_series and view.series_plot() is not None
        app.param.update(view="overview")
