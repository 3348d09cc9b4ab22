"""Kill ``catalog`` and ``validate --json`` mid-write: readers see one whole generation (issue 16).

A build is started in a subprocess and killed with SIGKILL after a range of delays covering its writes; after
each kill :func:`load_catalog` must return the tables of one generation: the state file's ``files`` list equals
the ``file`` values of the sessions table, and every cell/unit row's file is among them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

from nwb_ketamine.archive.catalog import STATE_FILE, build_catalog, catalog_dir, load_catalog


def _consistent(archive) -> int:
    """Assert the loaded catalog is one generation; return its number."""
    out = catalog_dir(archive)
    state = json.loads((out / STATE_FILE).read_text())
    tables = load_catalog(archive)
    files = set(state["files"])
    assert set(tables["sessions"]["file"]) == files
    for name in ("cells", "units"):
        assert set(tables[name]["file"]) <= files
    return state["generation"]


def test_catalog_killed_at_many_points_leaves_one_generation(archive_copy):
    """Kill rebuilds after delays spread over a build; the reader always sees a complete generation.

    Parameters
    ----------
    archive_copy
        A copy of the tiny archive that the test may change.
    """
    build_catalog(archive_copy, progress=False)
    _consistent(archive_copy)
    nwb = sorted(p for p in archive_copy.rglob("*.nwb") if ".nwb-ketamine" not in p.parts)
    hidden = archive_copy / ".nwb-ketamine" / "hidden.nwb"
    shutil.move(nwb[0], hidden)  # the rebuild sees one file fewer: a different generation
    code = (
        "import sys; from nwb_ketamine.archive.catalog import build_catalog; "
        "build_catalog(sys.argv[1], progress=False, full=True)"
    )
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, str(archive_copy)], check=True)
    whole = time.perf_counter() - t0
    for i in range(12):
        proc = subprocess.Popen([sys.executable, "-c", code, str(archive_copy)])
        time.sleep(whole * (0.3 + 0.7 * i / 11))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        _consistent(archive_copy)
        gens = [p.name for p in catalog_dir(archive_copy).glob("gen-*")]
        assert len(gens) <= 3, gens  # old generations are removed, a killed one at most lingers until the next


def test_validate_report_survives_a_kill(archive_copy, tmp_path):
    """Kill ``validate --json`` many times; the report file is the old complete one or a new complete one.

    Parameters
    ----------
    archive_copy
        A copy of the tiny archive.
    tmp_path
        Where the report goes.
    """
    report = tmp_path / "report.json"
    cli = [sys.executable, "-m", "nwb_ketamine.cli", "validate", str(archive_copy), "--json", str(report), "--quiet"]
    t0 = time.perf_counter()
    subprocess.run(cli, capture_output=True)
    whole = time.perf_counter() - t0
    old = json.loads(report.read_text())
    for i in range(6):
        proc = subprocess.Popen(cli, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(whole * (0.5 + 0.5 * i / 5))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert json.loads(report.read_text()).keys() == old.keys()
        assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]
