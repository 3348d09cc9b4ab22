"""``nwb-ketamine catalog URL`` on an archive served by nginx (tests/nginx.py): range requests only, no fsspec.

The catalog of an archive at a URL reads its NWB files with the explorer's reader (remfile, range requests in
the calling thread: fsspec's event-loop thread deadlocked with h5py, h5py#2019). nginx's access log gives
every request the build made; the CLI runs in a subprocess so that what it imported can be looked at.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from nwb_ketamine.archive.catalog import load_catalog
from nwb_ketamine.cli import main as cli
from tests.nginx import NGINX, Nginx, free_port

ROOT = Path(__file__).resolve().parents[2]

#: Runs the CLI, then prints (last line) the fsspec and aiohttp modules the process imported.
PROBE = (
    "import json, sys\n"
    "from nwb_ketamine.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "print(json.dumps(sorted(m for m in sys.modules if m.partition('.')[0] in ('fsspec', 'aiohttp'))))\n"
    "sys.exit(code)\n"
)


@pytest.fixture(scope="module")
def odd_server(tiny_archive, tmp_path_factory):
    """nginx serving ``tiny_archive`` under ``/norange/`` (``Range`` ignored: 200 and the whole file) and
    ``/gone/`` (the manifest is there, its NWB files answer 404)."""
    if not Path(NGINX).exists():
        pytest.skip("nginx not installed (make browser-deps)")
    locations = f"""
        location /norange/ {{ alias {tiny_archive}/; max_ranges 0; }}
        location /gone/ {{
            alias {tiny_archive}/;
            location ~ \\.nwb$ {{ return 404; }}
        }}"""
    with Nginx(tmp_path_factory.mktemp("odd-root"), tmp_path_factory.mktemp("odd-nginx"), locations) as server:
        yield server


def test_catalog_url_reads_by_range_requests_only_and_imports_no_fsspec(served_archive, tiny_archive, tmp_path):
    """``catalog URL/bare/`` (no served catalog) equals the local catalog, read by HEAD and ranged GETs only."""
    url = served_archive.url + "bare/"
    out = tmp_path / "catalog"
    mark = served_archive.mark()
    run = subprocess.run(
        [sys.executable, "-c", PROBE, "catalog", url, "--out", str(out), "--quiet"],
        capture_output=True, text=True, cwd=ROOT, timeout=600, check=False,
    )  # fmt: skip
    sent = served_archive.transfers(mark)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.strip().splitlines()[-1]) == [], "catalog URL imported fsspec/aiohttp"

    local, remote = load_catalog(tiny_archive), load_catalog(out)
    for name in ("sessions", "cells", "units"):
        pd.testing.assert_frame_equal(remote[name], local[name])
    sizes = {p.relative_to(tiny_archive).as_posix(): p.stat().st_size for p in tiny_archive.glob("sub-*/*.nwb")}
    nwb = [r for r in sent if r.path.endswith(".nwb")]
    assert {r.path.removeprefix("/bare/") for r in nwb} == set(sizes), nwb  # every file, and only them
    assert all(r.method == "HEAD" or (r.method == "GET" and r.range and r.status == 206) for r in nwb), nwb
    for relpath, size in sizes.items():
        got = sum(r.bytes for r in nwb if r.path == "/bare/" + relpath)
        print(f"{relpath}: {got} bytes of {size}")
        assert 0 < got < size, (relpath, got, size)  # a part of each file, never all of it


def test_a_server_without_range_support_fails_each_file_in_one_request(odd_server, tmp_path, capsys):
    url = odd_server.url + "norange/"
    mark = odd_server.mark()
    assert cli(["catalog", url, "--out", str(tmp_path / "c"), "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    gets = [r for r in odd_server.transfers(mark) if r.path.endswith(".nwb") and r.method == "GET"]
    assert err and all(line.startswith("FAILED sub-") for line in err), err
    for line in err:
        relpath = line.removeprefix("FAILED ").split(":", 1)[0]
        assert line.endswith(
            f"RemoteArchiveError: {url}{relpath}: the server does not answer range requests "
            f"(200 to Range: bytes=0-{256 * 1024 - 1})"
        ), line
        assert len([r for r in gets if r.path == "/norange/" + relpath]) == 1, gets  # closed unread, not retried


def test_a_missing_file_is_one_line_error_naming_its_url(odd_server, tiny_archive, tmp_path, capsys):
    url = odd_server.url + "gone/"
    assert cli(["catalog", url, "--out", str(tmp_path / "c"), "--quiet"]) == 1
    err = capsys.readouterr().err.strip()
    first = sorted(p.relative_to(tiny_archive).as_posix() for p in tiny_archive.glob("sub-*/*.nwb"))[0]
    assert err == f"error: {url}{first}: no size from a HEAD request (404 Not Found)"


def test_connection_refused_is_one_line_error_naming_the_url(tmp_path, capsys):
    url = f"http://127.0.0.1:{free_port()}/archive/"
    assert cli(["catalog", url, "--out", str(tmp_path / "c"), "--quiet"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {url}.nwb-ketamine/manifest.json: cannot connect (ConnectionError: ")
    assert "refused" in err and "\n" not in err, err
