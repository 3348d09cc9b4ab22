"""``explore URL``: the store and the detail views' readers on an archive served by nginx (tests/nginx.py).

The catalog comes from the URL (the archive's own, or built over HTTP and kept in the cache folder), every
reader returns what it returns on the local files, and a view open reads a part of its file, by range
requests, never the whole file: the transfers are counted from nginx's access log and printed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nwb_ketamine.archive.remote import RemoteFile
from nwb_ketamine.explorer import cellread, chunkread, generic, nwbfiles, rawread, unitread
from nwb_ketamine.explorer.remotestore import cache_folder
from nwb_ketamine.explorer.store import ArchiveStore, StoreError

#: A view open may read at most this fraction of the (5.9 MB) tetrode file: the unit view needs its units
#: table, the file view the object tree, a 1 s raw window one of the five raw chunks (a fifth of the file).
MAX_FRACTION = {"unit": 0.25, "file": 0.25, "traces-1s": 0.5}


@pytest.fixture(scope="module")
def remote(served_archive, tmp_path_factory):
    """The store on ``URL/archive/`` (the archive's own catalog), with its own cache folder."""
    import nwb_ketamine.extension  # noqa: F401  (the namespaces, as in the explorer's process)

    return ArchiveStore(served_archive.url + "archive/", cache=tmp_path_factory.mktemp("cache"))


def cold() -> None:
    """Forget open files, raw layouts and decoded chunks: the next read opens its file again (and its session)."""
    nwbfiles.close_all()
    chunkread.clear_cache()
    rawread._layouts.clear()


def _equal(a, b) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _equal(a[key], b[key])
    elif isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b


def test_the_catalog_comes_from_the_url(remote, store, served_archive):
    assert remote.url == served_archive.url + "archive/" and remote.label == remote.url
    assert remote.catalog.name == "served" and remote.catalog.parent.name == cache_folder(remote.url).name
    for name in ("sessions", "cells", "units"):
        pd.testing.assert_frame_equal(getattr(remote, name), getattr(store, name))
    path = remote.path_of(remote.cells["file"].iloc[0])
    assert isinstance(path, RemoteFile) and path.url == remote.url + remote.cells["file"].iloc[0]
    assert path.size == (store.archive / remote.cells["file"].iloc[0]).stat().st_size
    for bad in ("../../etc/passwd", "/etc/passwd", "..%2F..%2Fetc%2Fpasswd"):
        with pytest.raises(StoreError, match="no file"):
            remote.path_of(bad)


def test_without_a_catalog_it_is_built_over_http_and_cached(served_archive, store, tmp_path):
    """``URL/bare/`` has no catalog: it is built into the cache folder; a second start reads no file again."""
    url = served_archive.url + "bare/"
    mark = served_archive.mark()
    built = ArchiveStore(url, cache=tmp_path)
    first = served_archive.transfers(mark)
    assert built.catalog == cache_folder(url, tmp_path) / "built"
    assert (cache_folder(url, tmp_path) / "url.txt").read_text() == url + "\n"
    for name in ("sessions", "cells", "units"):
        ours, theirs = getattr(built, name), getattr(store, name)
        pd.testing.assert_frame_equal(ours.drop(columns="file_size", errors="ignore"),
                                      theirs.drop(columns="file_size", errors="ignore"))  # fmt: skip
    assert any(r.path.endswith("catalog/state.json") and r.status == 404 for r in first)
    nwb = [r for r in first if r.path.endswith(".nwb")]
    assert nwb and all(r.method == "HEAD" or r.range for r in nwb), nwb  # range requests only
    mark = served_archive.mark()
    again = ArchiveStore(url, cache=tmp_path)
    second = [r for r in served_archive.transfers(mark) if r.path.endswith(".nwb")]
    assert second and {r.method for r in second} == {"HEAD"}, second  # unchanged files: not read again
    pd.testing.assert_frame_equal(again.cells, built.cells)


def test_the_readers_read_over_http_what_they_read_locally(remote, store):
    cell = store.cells.iloc[0]
    unit = store.units.iloc[0]
    ecephys = store.sessions[store.sessions["modality"] == "ecephys"]["file"].iloc[0]
    cold()
    _equal(cellread.cell_sweeps(remote.path_of(cell["file"])), cellread.cell_sweeps(store.path_of(cell["file"])))
    _equal(
        unitread.unit_spikes(remote.path_of(unit["file"]), int(unit["unit_row"])),
        unitread.unit_spikes(store.path_of(unit["file"]), int(unit["unit_row"])),
    )
    for t0, t1 in ((0.0, 1.0), (2.5, 9.0)):
        _equal(rawread.raw_window(remote.path_of(ecephys), t0, t1), rawread.raw_window(store.path_of(ecephys), t0, t1))
    there, here = generic.GenericView(remote.path_of(ecephys)), generic.GenericView(store.path_of(ecephys))
    assert there.error is None and there.path.name == here.path.name
    pd.testing.assert_frame_equal(there.metadata(), here.metadata())
    pd.testing.assert_frame_equal(there.tree(), here.tree())
    cold()


def view_opens(store, windows: tuple[float, ...] = (1.0,)) -> dict:
    """Per view: (file key, a function opening the view as the explorer does) for the first cell, unit and file.

    Parameters
    ----------
    store
        The archive (local or remote).
    windows
        The raw-traces windows opened (seconds from the start), one ``traces-Ns`` view each.
    """
    cell = store.cells.iloc[0]
    unit = store.units.iloc[0]
    ecephys = store.sessions[store.sessions["modality"] == "ecephys"]["file"].iloc[0]

    def _file():
        view = generic.GenericView(store.path_of(ecephys))
        assert view.error is None, view.error
        view.metadata(), view.tree()

    def _window(seconds: float):
        return lambda: rawread.raw_window(store.path_of(ecephys), 0.0, seconds)

    return {
        "cell": (cell["file"], lambda: cellread.cell_sweeps(store.path_of(cell["file"]))),
        "unit": (unit["file"], lambda: unitread.unit_spikes(store.path_of(unit["file"]), int(unit["unit_row"]))),
        **{f"traces-{seconds:g}s": (ecephys, _window(seconds)) for seconds in windows},
        "file": (ecephys, _file),
    }


def view_transfers(server, store) -> dict:
    """Per view: (requests, bytes sent, size of the file viewed, the requests) of one cold view open."""
    views = view_opens(store)
    out = {}
    for name, (file_key, read) in views.items():
        cold()
        mark = server.mark()
        read()
        cold()
        sent = [r for r in server.transfers(mark) if r.path.endswith(file_key)]
        size = store.path_of(file_key).size
        out[name] = (len(sent), sum(r.bytes for r in sent), size, sent)
    return out


def test_a_view_open_reads_a_part_of_its_file_by_range_requests(remote, served_archive):
    """Fails when a view reads whole files: no GET without a Range, and a bounded fraction of the file."""
    figures = view_transfers(served_archive, remote)
    for name, (requests, nbytes, size, _) in figures.items():
        print(f"remote {name:<10} {requests:>3} requests {nbytes:>9} bytes of {size:>9} ({nbytes / size:.2f})")
    for name, (requests, nbytes, size, sent) in figures.items():
        assert requests > 0, name
        assert all(r.method == "HEAD" or (r.range.startswith("bytes=") and r.status == 206) for r in sent), (name, sent)
        if name in MAX_FRACTION:
            assert nbytes < MAX_FRACTION[name] * size, (name, nbytes, size)
        else:  # the cell view needs every sweep of its cell, spread over the file: at most the file, once
            assert nbytes <= size, (name, nbytes, size)


def test_a_url_without_an_archive_is_one_line_error(served_archive, tmp_path, capsys):
    from nwb_ketamine.cli import main as cli

    url = served_archive.url + "nothere/"
    assert cli(["explore", url, "--cache", str(tmp_path), "--port", "1"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        f"error: {url}: no NWB files found there (no catalog, manifest or folder listing answered); "
        "give the URL of an archive's folder"
    )


def test_a_remote_file_without_a_size_is_sized_by_a_head_request(remote, served_archive):
    """Without the catalog's size, one HEAD asks for it (remfile's own way is a GET it aborts)."""
    unit = remote.units.iloc[0]
    sized = remote.path_of(unit["file"])
    unsized = RemoteFile(sized.url, size=None, version=sized.version + "-unsized")
    cold()
    mark = served_archive.mark()
    spikes = unitread.unit_spikes(unsized, int(unit["unit_row"]))["spike_times_s"]
    sent = [r for r in served_archive.transfers(mark) if r.path.endswith(unit["file"])]
    np.testing.assert_array_equal(spikes, unitread.unit_spikes(sized, int(unit["unit_row"]))["spike_times_s"])
    assert sent[0].method == "HEAD" and all(r.range.startswith("bytes=") for r in sent[1:]), sent
