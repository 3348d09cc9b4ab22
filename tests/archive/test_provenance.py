"""Analysis provenance (issue 13): every file we write says which nwb-ketamine version stored its analysis and with
which parameters; the catalog carries both; foreign files catalog with both empty."""

from __future__ import annotations

import json
import subprocess
import sys

import h5py
import pytest
from pynwb import NWBHDF5IO

from nwb_ketamine import __version__
from nwb_ketamine import filelayout as layout
from nwb_ketamine.analysis.epsc_parameters import EpscParameters
from nwb_ketamine.analysis.provenance import TOOL, read_provenance
from nwb_ketamine.archive.catalog import build_catalog, load_catalog
from nwb_ketamine.metadata import load_study
from tests.archive.test_catalog_foreign import write_foreign_nwb


def _rows(table) -> list[dict]:
    """The rows of an h5py DynamicTable group, strings decoded."""
    names = list(layout.PROVENANCE_COLUMNS)
    columns = {n: [v.decode() if isinstance(v, bytes) else str(v) for v in table[n][()]] for n in names}
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def test_slice_files_hold_version_and_parameters(tiny, simulated_tiny):
    study = load_study(simulated_tiny)
    expected = {name: value for name, value, *_ in EpscParameters(**study.analysis["epsc"]).rows()}
    files = sorted(tiny[0].rglob("*_icephys.nwb"))
    assert files
    for path in files:
        with h5py.File(path, "r") as f:  # plain h5py: no nwb-ketamine reader involved
            module = f["processing/icephys"]
            assert f"nwb-ketamine {__version__}" in module.attrs["description"]
            rows = _rows(module[layout.ANALYSIS_PROVENANCE])
            assert rows == [
                {"tool": "nwb-ketamine", "tool_version": __version__, "analysis": "epsc",
                 "results": "epsc_sweeps, epsc_cell", "parameters": "epsc_parameters"}
            ]  # fmt: skip
            table = module[rows[0]["parameters"]]
            stored = dict(zip([p.decode() for p in table["parameter"][()]], table["value"][()], strict=True))
            assert stored == pytest.approx(expected)
        with NWBHDF5IO(path, "r") as io:  # plain pynwb
            nwbfile = io.read()
            (row,) = read_provenance(nwbfile)
            assert (row["module"], row["tool"], row["tool_version"]) == ("icephys", TOOL, __version__)
            assert row["values"] == pytest.approx(expected)


def test_invivo_file_holds_version_and_parameters(tiny):
    (path,) = sorted(tiny[0].rglob("*_ecephys.nwb"))
    with NWBHDF5IO(path, "r") as io:
        nwbfile = io.read()
        module = nwbfile.processing["ecephys"]
        assert f"nwb-ketamine {__version__}" in module.description
        rows = {r["analysis"]: r for r in read_provenance(nwbfile)}
        assert set(rows) == {"bursts", "units"}
        assert {r["tool_version"] for r in rows.values()} == {__version__}
        assert rows["bursts"]["parameters"] == "burst_parameters" and rows["bursts"]["results"] == "burst_metrics"
        assert rows["units"]["parameters"] == "units_parameters"
        assert rows["units"]["results"].startswith("units.firing_rate_hz, units.isi_violations_fraction")
        for analysis, table in (("bursts", "burst_parameters"), ("units", "units_parameters")):
            df = module[table].to_dataframe()
            assert rows[analysis]["values"] == dict(zip(df["parameter"], df["value"], strict=True))


def test_files_with_provenance_pass_pynwb_validation_and_the_dandi_inspector(tiny):
    from nwbinspector import Importance, inspect_nwbfile, load_config

    for path in sorted(tiny[0].rglob("*.nwb")):
        result = subprocess.run(
            [sys.executable, "-m", "pynwb.validation_cli", str(path)], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr
        messages = list(inspect_nwbfile(nwbfile_path=str(path), config=load_config("dandi")))
        serious = [m for m in messages if m.importance in (Importance.CRITICAL, Importance.BEST_PRACTICE_VIOLATION)]
        # (a JSON column in analysis_provenance would be one: check_table_values_for_dict)
        assert serious == [], [f"{m.check_function_name} at {m.location}: {m.message}" for m in serious]


def test_the_catalog_carries_version_and_parameters(archive_copy):
    build_catalog(archive_copy, progress=False)
    tables = load_catalog(archive_copy)
    for name, frame in tables.items():
        assert {"nwb_ketamine_version", "analysis_parameters"} <= set(frame.columns), name
        assert (frame["nwb_ketamine_version"] == __version__).all(), name
    cells, units, sessions = tables["cells"], tables["units"], tables["sessions"].set_index("file")
    for _, cell in cells.iterrows():
        parsed = json.loads(cell["analysis_parameters"])
        assert list(parsed) == ["epsc"] and parsed["epsc"] == json.loads(cell["epsc_parameters"])
        assert sessions.loc[cell["file"], "analysis_parameters"] == cell["analysis_parameters"]
    for _, unit in units.iterrows():
        parsed = json.loads(unit["analysis_parameters"])
        assert list(parsed) == ["bursts", "units"] and parsed["bursts"] == json.loads(unit["burst_parameters"])
        assert parsed["units"]["refractory_period_s"] > 0


def test_foreign_files_catalog_with_empty_provenance(archive_copy):
    foreign = write_foreign_nwb(archive_copy / "lab-a" / "sub-x1_ses-1_icephys.nwb", electrodes=[("e0", "CA1")])
    spikes = write_foreign_nwb(archive_copy / "lab-a" / "sorted.nwb", units=2)
    result = build_catalog(archive_copy, progress=False)
    assert not result.failed
    tables = load_catalog(archive_copy)
    rel = {p.relative_to(archive_copy).as_posix() for p in (foreign, spikes)}
    for name, frame in tables.items():
        theirs = frame[frame["file"].isin(rel)]
        assert len(theirs), name
        assert (theirs["nwb_ketamine_version"] == "").all() and (theirs["analysis_parameters"] == "").all()
        assert (frame[~frame["file"].isin(rel)]["nwb_ketamine_version"] == __version__).all()


def test_a_file_of_ours_without_the_provenance_table_has_parameters_but_no_version(archive_copy):
    path = sorted(archive_copy.rglob("*_icephys.nwb"))[0]
    with h5py.File(path, "r+") as f:  # as a file written before the table existed
        del f[f"processing/icephys/{layout.ANALYSIS_PROVENANCE}"]
    build_catalog(archive_copy, progress=False)
    cells = load_catalog(archive_copy)["cells"].set_index("file")
    row = cells.loc[path.relative_to(archive_copy).as_posix()]
    assert row["nwb_ketamine_version"] == "" and "epsc" in json.loads(row["analysis_parameters"])
