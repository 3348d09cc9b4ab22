"""The simulated study as a whole: study.yaml, ground truth, groups, determinism and bad arguments."""

import csv
import dataclasses
import hashlib
import json
import re
import time

import jsonschema
import pytest
import yaml

from nwb_ketamine.errors import NwbKetamineError
from nwb_ketamine.filelayout import nearest_time_point
from nwb_ketamine.metadata import load_study, time_since_injection
from nwb_ketamine.simulate import SIZES, simulate_study
from nwb_ketamine.simulate.parameters import DEFAULT_PARAMETERS, TIME_GROUPS
from nwb_ketamine.simulate.plan import plan_study
from nwb_ketamine.simulate.slice_cells import cell_specs
from nwb_ketamine.simulate.study_file import study_document
from tests.conftest import ROOT

SCHEMA = json.loads((ROOT / "schemas" / "study.schema.json").read_text())
ID = re.compile(SCHEMA["$defs"]["id"]["pattern"])


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _some_files(out):
    abf = sorted(out.glob("raw/slice/*/*.abf"))[0]
    dat = next(out.glob("raw/invivo/**/continuous.dat"))
    spikes = next(out.glob("raw/invivo/**/spike_times.npy"))
    return [out / "study.yaml", abf, dat, spikes, out / "ground_truth" / "slice_sweeps.csv"]


def test_study_file_is_valid(tiny):
    path, plan, study = tiny
    jsonschema.validate(yaml.safe_load(path.read_text()), SCHEMA)
    assert len(study.slice_sessions) == 2 and len(study.invivo_sessions) == 1
    assert {s.region for s in study.slice_sessions} == {"LHb", "CA1"}
    for s in study.slice_sessions:
        assert s.clamp_mode == "voltage_clamp"
        assert [f.protocol for f in s.files] == ["AMPA-EPSC", "NMDA-EPSC"]
        assert [f.holding_potential_volts for f in s.files] == [-0.07, 0.04]
        assert s.start_time.utcoffset() is not None and s.start_time.year == 2024
    invivo = study.invivo_sessions[0]
    assert invivo.raw_format == "openephys_binary" and invivo.sorting_format == "phy"
    assert [e.name for e in invivo.epochs] == ["baseline", "post-injection"]
    assert all(t.region == "LHb" for t in invivo.tetrodes)


def test_ground_truth_is_complete(tiny):
    path, _, _ = tiny
    gt = path.parent / "ground_truth"
    for name in (
        "slice_sweeps.csv",
        "slice_cells.csv",
        "slice_files.csv",
        "invivo_sessions.csv",
        "invivo_unit_epochs.csv",
    ):
        with open(gt / name) as f:
            assert list(csv.DictReader(f)), name
    params = json.loads((gt / "parameters.json").read_text())
    assert params["seed"] == 0 and "burst_rule" in params["parameters"]
    assert "not values from" in params["parameters"]["note"].lower()


@pytest.mark.parametrize("size", ["small", "demo", "paper", "large"])
def test_plans_cover_every_group(size):
    plan = plan_study(0, size)
    doc = study_document(plan)
    jsonschema.validate(doc, SCHEMA)
    slice_groups = {(a.stress, a.drug, a.time_group) for a in plan.animals if a.kind == "slice"}
    assert len(slice_groups) == 8
    invivo_groups = {(a.stress, a.drug) for a in plan.animals if a.kind == "invivo"}
    assert len(invivo_groups) == 4
    per_group = {}
    for a in plan.animals:
        per_group.setdefault((a.kind, a.stress, a.drug, a.time_group), []).append(a)
    assert min(len(v) for v in per_group.values()) >= 2 or size == "large"
    if size == "demo":  # the paired and mixed-model tests need 4 animals per group (slice and in vivo)
        assert min(len(v) for v in per_group.values()) >= 4
    keys = set()
    for s in doc["sessions"]:
        for key in ("session_id", "slice_id", "cell_id"):
            if key in s:
                assert ID.match(s[key])
        k = (s["subject"], s["session_id"], s.get("slice_id"), s.get("cell_id"))
        assert k not in keys
        keys.add(k)
    if size == "paper":
        assert len(plan.cells) >= 100 and len(plan.sessions) >= 20
    if size == "large":
        assert max(s.duration_s for s in plan.sessions) >= 3600


def test_ketamine_blocks_lhb_not_ca1():
    plan = plan_study(0, "paper")
    amps = {}
    for cell in plan.cells:
        nmda = cell_specs(plan, cell)[1].amplitude_pa
        amps.setdefault((cell.region, cell.animal.drug), []).append(nmda)
    mean = {k: sum(v) / len(v) for k, v in amps.items()}
    assert mean[("LHb", "ketamine")] < 0.75 * mean[("LHb", "saline")]
    assert mean[("CA1", "ketamine")] > 0.85 * mean[("CA1", "saline")]


def test_same_seed_same_bytes_other_seed_other_data(tiny, tmp_path):
    path, _, _ = tiny
    again = simulate_study(tmp_path / "again", seed=0, size="tiny", progress=False, workers=1)
    other = simulate_study(tmp_path / "other", seed=1, size="tiny", progress=False)
    for a, b, c in zip(_some_files(path.parent), _some_files(again.parent), _some_files(other.parent), strict=True):
        assert _digest(a) == _digest(b), a.name
        assert _digest(a) != _digest(c), a.name


def test_non_empty_out_is_refused(tmp_path):
    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(NwbKetamineError, match="OUT") as info:
        simulate_study(tmp_path, size="tiny", progress=False)
    assert "\n" not in str(info.value)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


@pytest.mark.parametrize(
    ("kwargs", "word"), [({"size": "huge"}, "size"), ({"seed": -1}, "seed"), ({"seed": "a"}, "seed")]
)
def test_bad_arguments_write_nothing(tmp_path, kwargs, word):
    with pytest.raises(NwbKetamineError, match=word):
        simulate_study(tmp_path / "out", progress=False, **kwargs)
    assert not (tmp_path / "out").exists()


def test_sizes_are_documented():
    assert set(SIZES) == {"tiny", "small", "demo", "paper", "large"}
    assert "illustrative" in DEFAULT_PARAMETERS.note.lower()


@pytest.mark.slow
def test_small_study_is_fast_and_valid(tmp_path):
    start = time.perf_counter()
    path = simulate_study(tmp_path / "small", seed=3, size="small", progress=False)
    elapsed = time.perf_counter() - start
    study = load_study(path)
    assert len(study.slice_sessions) >= 40 and len(study.invivo_sessions) == 8
    _assert_cells_in_their_time_points(path, study)
    # The bar is 30 s on an idle 2-core machine (measured 12-16 s); leave room for a loaded CI runner.
    assert elapsed < 45, f"small study took {elapsed:.1f} s"


def _assert_cells_in_their_time_points(path, study):
    """Every simulated cell's recorded hours since injection (ground truth) bin into its animal's time point."""
    assert study.time_points == TIME_GROUPS  # the study file declares the design's time points
    with open(path.parent / "ground_truth" / "slice_cells.csv") as f:
        cells = list(csv.DictReader(f))
    assert cells
    for cell in cells:
        assert nearest_time_point(float(cell["hours_since_injection"]), study.time_points) == cell["time_group"]
    by_key = {(s.subject, s.session_id, s.slice_id, s.cell_id): s for s in study.slice_sessions}
    for cell in cells:  # the converter's hours are the study file's: the session start minus its injection
        session = by_key[(cell["subject"], cell["session_id"], cell["slice_id"], cell["cell_id"])]
        hours = time_since_injection(session).total_seconds() / 3600
        assert hours == pytest.approx(float(cell["hours_since_injection"]))


def test_tiny_cells_are_recorded_in_their_time_points(tiny):
    path, _, study = tiny
    _assert_cells_in_their_time_points(path, study)


@pytest.mark.parametrize("size", ["paper", "large"])
def test_planned_cells_fall_in_their_time_point(size):
    """The largest plans too: the last cell of a 1h animal is still nearer 1 h than 24 h (log scale)."""
    plan = plan_study(0, size)
    points = study_document(plan)["time_points"]
    assert points == [{"name": name, "after_injection": f"{hours:g} h"} for name, hours in TIME_GROUPS.items()]
    hours = {tg: [] for tg in TIME_GROUPS}
    for cell in plan.cells:
        hours[cell.animal.time_group].append((cell.start - cell.injection).total_seconds() / 3600)
    for tg, values in hours.items():
        assert values and {nearest_time_point(h, TIME_GROUPS) for h in values} == {tg}, (tg, min(values), max(values))


def test_time_groups_are_the_time_from_injection_to_the_first_cell():
    plan = plan_study(0, "small")
    first = {}
    for cell in plan.cells:
        first.setdefault(cell.animal.subject, cell)
    for cell in first.values():
        hours = (cell.start - cell.injection).total_seconds() / 3600
        assert hours == {"1h": 1.0, "24h": 24.0}[cell.animal.time_group]
        assert cell.injection < cell.slicing < cell.start


def test_a_failure_leaves_nothing_half_written(tmp_path, monkeypatch):
    from nwb_ketamine.simulate import study as study_module

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(study_module, "_write_session", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        simulate_study(tmp_path / "out", size="tiny", progress=False, workers=1)
    assert list(tmp_path.iterdir()) == []


def test_an_empty_out_folder_is_used(tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    path = simulate_study(out, seed=2, size="tiny", progress=False, workers=1)
    assert path == out / "study.yaml" and path.is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["empty"]


def test_the_demo_simulates_the_demo_size():
    from nwb_ketamine.cli import _HELP, DEMO_SIZE

    size = SIZES[DEMO_SIZE]
    assert size.slice_animals_per_group >= 4 and size.invivo_animals_per_group >= 4
    assert set(size.stress_levels) == {"control", "stress"}
    assert f"size {DEMO_SIZE}" in _HELP["demo"]["description"]
    readme = (ROOT / "README.md").read_text()
    assert f"(size `{DEMO_SIZE}`)" in readme and f"simulate (size {DEMO_SIZE})" in readme


def test_lost_access_cells_have_rs_over_the_qc_threshold_and_the_others_under_it():
    from nwb_ketamine.analysis import EpscParameters

    threshold_mohm = EpscParameters.__dataclass_fields__["rs_max_ohm"].default / 1e6
    sp = DEFAULT_PARAMETERS.slice
    assert sp.high_rs_mohm[0] > 1.2 * threshold_mohm and sp.rs_range_mohm[1] < 0.9 * threshold_mohm
    assert not any(c.high_rs for c in plan_study(0, "tiny").cells)
    plan = plan_study(0, "demo")
    lost = [c for c in plan.cells if c.high_rs]
    assert 0 < len(lost) < 0.15 * len(plan.cells)
    for cell in plan.cells:
        rs = {spec.rs_mohm for spec in cell_specs(plan, cell)}
        assert len(rs) == 1
        assert (rs.pop() > threshold_mohm) == cell.high_rs
    # The other cells are the cells they would be without lost access: only Rs differs.
    none = plan_study(
        0, "demo", dataclasses.replace(DEFAULT_PARAMETERS, slice=dataclasses.replace(sp, high_rs_cell_fraction=0.0))
    )
    for a, b in zip(plan.cells, none.cells, strict=True):
        sa, sb = cell_specs(plan, a), cell_specs(none, b)
        assert [dataclasses.replace(x, rs_mohm=0) for x in sa] == [dataclasses.replace(y, rs_mohm=0) for y in sb]
        assert a.high_rs or sa == sb


def test_ground_truth_names_the_cells_qc_must_reject(tmp_path):
    size = dataclasses.replace(
        SIZES["small"], name="small-few-sweeps", sweeps_per_file=(3, 3), invivo_animals_per_group=0
    )
    path = simulate_study(tmp_path / "s", seed=4, size=size, progress=False)
    with open(path.parent / "ground_truth" / "slice_cells.csv") as f:
        rows = list(csv.DictReader(f))
    plan = plan_study(4, size)
    assert [r["qc_expected_rejected"] for r in rows] == [str(c.high_rs) for c in plan.cells]
    params = json.loads((path.parent / "ground_truth" / "parameters.json").read_text())
    assert params["size"] == "small-few-sweeps" and params["study_size"]["sweeps_per_file"] == [3, 3]
