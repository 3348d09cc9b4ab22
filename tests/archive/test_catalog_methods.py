"""Methods facts (issue 13): the study file's slice methods and implants in the NWB fields made for them, read back
with plain pynwb, and in the catalog's columns; a study without them converts, a foreign file catalogs."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest
import yaml

from nwb_ketamine.archive.catalog import build_catalog, load_catalog
from nwb_ketamine.archive.catalog_columns import CELL_METHODS_COLUMNS, COLUMNS, UNIT_IMPLANT_COLUMNS
from nwb_ketamine.archive.catalog_read import read_nwb_file
from nwb_ketamine.simulate.study_file import IMPLANT, SLICE_METHODS

from .conftest import make_archive
from .test_catalog_foreign import write_foreign_nwb

SITES = SLICE_METHODS["stimulation_sites"]


def _nwb_files(archive, kind):
    return sorted(archive.glob(f"sub-*/*_{kind}.nwb"))


def test_the_files_hold_the_methods_in_core_fields(tiny):
    """Read back with plain pynwb: electrode description, slices, stimulus_notes, ElectrodeGroup.position."""
    from pynwb import NWBHDF5IO

    archive, _ = tiny
    regions = set()
    for path in _nwb_files(archive, "icephys"):
        with NWBHDF5IO(path, "r") as io:
            nwb = io.read()
            electrode = nwb.icephys_electrodes["electrode"]
            assert f"Internal solution: {SLICE_METHODS['internal_solution']}" in electrode.description.splitlines()
            lines = nwb.slices.splitlines()
            assert "Slice thickness: 300 µm" in lines and "Recording temperature: 32 °C" in lines
            assert "Cutting temperature: 4 °C" in lines
            assert f"Cutting solution: {SLICE_METHODS['cutting_solution']}" in lines
            assert f"Recovery: {SLICE_METHODS['recovery']}" in lines
            assert f"Recording solution (ACSF): {SLICE_METHODS['recording_solution']}" in lines
            region = {"LH": "LHb", "CA1": "CA1"}[electrode.location]
            regions.add(region)
            assert nwb.stimulus_notes.splitlines()[0] == f"Stimulation site: {SITES[region]}"
    assert regions == {"LHb", "CA1"}
    (path,) = _nwb_files(archive, "ecephys")
    with NWBHDF5IO(path, "r") as io:
        groups = io.read().electrode_groups
        assert groups
        for group in groups.values():
            x, y, z = (float(group.position[k]) for k in ("x", "y", "z"))
            np.testing.assert_allclose([x, y, z], [IMPLANT["ap_mm"], IMPLANT["ml_mm"], IMPLANT["dv_mm"]], rtol=1e-6)
            assert f"Atlas: {IMPLANT['atlas']}" in group.description.splitlines()
            assert "(x, y, z) holds (AP, ML, DV) in mm" in group.description


def test_the_catalog_carries_the_methods(tiny):
    archive, _ = tiny
    build_catalog(archive, progress=False)
    tables = load_catalog(archive)
    cells, units = tables["cells"], tables["units"]
    assert set(CELL_METHODS_COLUMNS) <= set(cells.columns) and set(UNIT_IMPLANT_COLUMNS) <= set(units.columns)
    assert (cells["internal_solution"] == SLICE_METHODS["internal_solution"]).all()
    assert (cells["slice_thickness_um"] == 300.0).all() and (cells["recording_temperature_c"] == 32.0).all()
    assert (cells["recording_solution"] == SLICE_METHODS["recording_solution"]).all()
    preparation = cells["slice_preparation"].iloc[0]
    assert preparation.startswith("cutting solution: ") and "cutting temperature: 4 °C" in preparation
    assert preparation.endswith(f"recovery: {SLICE_METHODS['recovery']}")
    assert dict(zip(cells["region_label"], cells["stimulation_site"], strict=True)) == SITES
    assert (units["implant_ap_mm"] == IMPLANT["ap_mm"]).all() and (units["implant_ml_mm"] == IMPLANT["ml_mm"]).all()
    assert (units["implant_dv_mm"] == IMPLANT["dv_mm"]).all() and (units["implant_atlas"] == IMPLANT["atlas"]).all()


@pytest.fixture(scope="module")
def bare(tmp_path_factory, simulated_tiny):
    """The tiny study without slice_methods and implants, converted without raw data (no catalog)."""
    root = tmp_path_factory.mktemp("bare")
    study = root / "study"
    shutil.copytree(simulated_tiny.parent, study, symlinks=True)
    data = yaml.safe_load((study / "study.yaml").read_text())
    del data["slice_methods"]
    for session in data["sessions"]:
        session.pop("implant", None)
    (study / "study.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return make_archive(root, study / "study.yaml")[0]


def test_a_study_without_methods_converts_and_catalogs_empty(bare):
    from pynwb import NWBHDF5IO

    for path in _nwb_files(bare, "icephys"):
        with NWBHDF5IO(path, "r") as io:
            nwb = io.read()
            assert nwb.slices is None and nwb.stimulus_notes is None
            assert "Internal solution" not in nwb.icephys_electrodes["electrode"].description
    with NWBHDF5IO(_nwb_files(bare, "ecephys")[0], "r") as io:
        groups = io.read().electrode_groups.values()
        assert groups and all(g.position is None and "Atlas" not in g.description for g in groups)
    build_catalog(bare, progress=False)
    tables = load_catalog(bare)
    assert len(tables["cells"]) == 2 and len(tables["units"]) == 26
    _assert_empty(tables["cells"], CELL_METHODS_COLUMNS)
    _assert_empty(tables["units"], UNIT_IMPLANT_COLUMNS)


def _assert_empty(frame, columns):
    for name, empty in columns.items():
        values = frame[name].tolist()
        if isinstance(empty, float):
            assert all(math.isnan(v) for v in values), (name, values)
        else:
            assert values == [empty] * len(values), (name, values)


def test_a_foreign_file_catalogs_with_empty_methods(tmp_path):
    archive = tmp_path / "archive"
    write_foreign_nwb(archive / "a" / "cell.nwb", electrodes=[("e0", "LH")], units=2)
    rows = read_nwb_file(archive / "a" / "cell.nwb", "a/cell.nwb")
    (cell,) = rows["cells"]
    _assert_empty(__import__("pandas").DataFrame([cell]), CELL_METHODS_COLUMNS)
    build_catalog(archive, progress=False)
    tables = load_catalog(archive)
    assert list(tables["cells"].columns) == COLUMNS["cells"] and list(tables["units"].columns) == COLUMNS["units"]
    _assert_empty(tables["units"], UNIT_IMPLANT_COLUMNS)
