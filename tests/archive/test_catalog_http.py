"""The catalog of an archive served over HTTP with range requests, as DANDI's S3 serves files.

Python's ``http.server`` ignores ``Range``; the handler here answers it (206 + Content-Range) and records
every request, so the tests can check that range requests were made and large files not read whole.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
from collections import defaultdict
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from urllib.parse import unquote

import pandas as pd
import pytest

from nwb_ketamine.archive.catalog import build_catalog, load_catalog
from nwb_ketamine.archive.remote import list_remote_nwb_files
from tests.archive.conftest import make_archive


class RangeRequestHandler(SimpleHTTPRequestHandler):
    """Static files with single-range ``Range`` support; requests are logged on the server."""

    def log_message(self, *args):
        """Log nothing: the server's log counts the requests instead.

        Parameters
        ----------
        *args
            The message and its arguments (ignored).
        """
        pass

    def send_head(self):
        """Serve a whole file, or the one byte range the request asks for."""
        path = self.translate_path(self.path)
        spec = self.headers.get("Range")
        log = self.server.log
        if spec is None or not os.path.isfile(path):
            if self.command == "GET" and os.path.isfile(path):
                log["full"][unquote(self.path)] += 1
                log["bytes"][unquote(self.path)] += os.path.getsize(path)
            return super().send_head()
        size = os.path.getsize(path)
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", spec.strip())
        if not match or (not match.group(1) and not match.group(2)):
            self.send_error(416)
            return None
        if match.group(1):
            start = int(match.group(1))
            stop = min(int(match.group(2)) + 1, size) if match.group(2) else size
        else:  # suffix range: the last N bytes
            start, stop = max(size - int(match.group(2)), 0), size
        if start >= size or stop <= start:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.end_headers()
            return None
        with open(path, "rb") as f:
            f.seek(start)
            data = f.read(stop - start)
        log["ranges"][unquote(self.path)] += 1
        log["bytes"][unquote(self.path)] += len(data)
        self.send_response(206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{size}")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Last-Modified", self.date_time_string(int(os.path.getmtime(path))))
        self.end_headers()
        return BytesIO(data)


@pytest.fixture(scope="module")
def served(tmp_path_factory, simulated_tiny):
    """The tiny archive (in vivo file with its raw data, ~10 MB) served on 127.0.0.1 under /archive/.

    Parameters
    ----------
    tmp_path_factory
        pytest's factory of temporary folders.
    simulated_tiny
        The study file of the shared tiny simulated study.
    """
    root = tmp_path_factory.mktemp("http")
    archive, _ = make_archive(root, simulated_tiny, include_raw=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(RangeRequestHandler, directory=str(root)))
    server.log = {"ranges": defaultdict(int), "full": defaultdict(int), "bytes": defaultdict(int)}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield archive, f"http://127.0.0.1:{server.server_address[1]}/archive/", server.log
    server.shutdown()
    server.server_close()


def _reset(log):
    for counts in log.values():
        counts.clear()


def test_remote_catalog_equals_the_local_one_and_reads_by_ranges(served, tmp_path):
    """The remote catalog equals the local one and reads by range requests.

    Parameters
    ----------
    served
        The local archive, its URL and the server's request log.
    tmp_path
        A fresh temporary folder.
    """
    archive, url, log = served
    build_catalog(archive, progress=False, out=tmp_path / "local")
    _reset(log)
    result = build_catalog(url, out=tmp_path / "remote", progress=False)
    assert not result.failed and len(result.read) == 3
    local, remote = load_catalog(tmp_path / "local"), load_catalog(tmp_path / "remote")
    for name in ("sessions", "cells", "units"):
        pd.testing.assert_frame_equal(local[name], remote[name])

    nwb = {p: n for p, n in log["ranges"].items() if p.endswith(".nwb")}
    assert len(nwb) == 3 and all(n > 0 for n in nwb.values())  # range requests were made for every file
    assert not any(p.endswith(".nwb") for p in log["full"])  # and no NWB file was fetched whole
    large = max(archive.glob("sub-*/*_ecephys.nwb"), key=os.path.getsize)
    size = large.stat().st_size
    assert size > 5_000_000
    served_bytes = log["bytes"][f"/archive/{large.relative_to(archive).as_posix()}"]
    assert 0 < served_bytes < 0.2 * size, f"{served_bytes} of {size} bytes read"


def test_listing_from_the_manifest_or_a_directory_listing(served, tmp_path):
    """Remote files are listed from the manifest or a directory listing.

    Parameters
    ----------
    served
        The local archive, its URL and the server's request log.
    tmp_path
        A fresh temporary folder.
    """
    archive, url, log = served
    state = archive / ".nwb-ketamine"
    shutil.rmtree(state, ignore_errors=True)
    # No index: the HTML directory listing is walked.
    listed = list_remote_nwb_files(url, index_paths=(".nwb-ketamine/manifest.json",))
    assert listed == sorted(p.relative_to(archive).as_posix() for p in archive.glob("sub-*/*.nwb"))
    # The convert manifest wins: here it names only one file.
    state.mkdir()
    (state / "manifest.json").write_text(json.dumps({"outputs": {listed[0]: {"sources": []}}}))
    try:
        result = build_catalog(url, out=tmp_path / "remote", progress=False)
        assert result.files == 1 and result.read == [listed[0]]
    finally:
        shutil.rmtree(state)


def test_remote_refresh_reads_nothing_when_unchanged(served, tmp_path):
    """A remote refresh reads nothing when nothing changed.

    Parameters
    ----------
    served
        The local archive, its URL and the server's request log.
    tmp_path
        A fresh temporary folder.
    """
    _, url, log = served
    build_catalog(url, out=tmp_path / "remote", progress=False)
    _reset(log)
    result = build_catalog(url, out=tmp_path / "remote", progress=False)
    assert result.read == [] and len(result.skipped) == 3
    assert not any(p.endswith(".nwb") for p in log["ranges"])  # only HEAD requests for size and date
