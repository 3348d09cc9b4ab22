"""The demo study, simulated, converted and catalogued, gives back the simulated effects (issue 12).

On the catalog of the converted archive, with the analysis' own statistics:

- slice, stressed animals, each time group: the LHb NMDAR-EPSC is smaller with ketamine than with saline
  (linear mixed model, animal as random intercept, p < 0.05, and Mann-Whitney on the animals' means), the
  estimate is where the ground truth puts it, and CA1 shows no significant block by either test (its
  mixed model may stop at the boundary of no between-animal variance: ``converged`` is printed);
- quality control rejects exactly the cells the simulator gave a lost access (``qc_expected_rejected``);
- in vivo, stressed animals: % spikes in bursts falls after ketamine (Wilcoxon signed-rank over units,
  p < 0.05) and not after saline; every good unit's stored burst metrics, edge probes included, equal the
  ground truth; the MUA and noise clusters carry their labels.

Expected effects are read from the simulator's ``ground_truth/`` (``parameters.json``, ``slice_cells.csv``,
``invivo_unit_epochs.csv``), never written here.

The study is the ``demo`` size reduced to keep the test within ~3 minutes on two cores: 4 sweeps per
file instead of 8-10, the control (unstressed) groups left out (the claims are about stressed animals)
and tetrode sessions converted without raw data (``--no-raw``: the burst metrics come from the
sorting). Animals per group (4), cells per animal and the in vivo epochs are the demo's.
"""

import dataclasses
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from nwb_ketamine.analysis.hierarchical import mixed_model_table
from nwb_ketamine.analysis.paired import pair_epochs, paired_compare
from nwb_ketamine.analysis.stats import compare_two
from nwb_ketamine.simulate.parameters import SIZES, TIME_GROUPS

pytestmark = pytest.mark.slow

SEED = 0
#: The demo's size with fewer sweeps and only the stressed groups (module docstring).
SIZE = dataclasses.replace(SIZES["demo"], name="demo-reduced", sweeps_per_file=(4, 4), stress_levels=("stress",))
ALPHA = 0.05
#: A cell's measured NMDAR-EPSC is within 5 % of its truth (tests/analysis/test_epsc.py), so a mixed-model
#: estimate on measured cells is within 5 % of the saline amplitude of the same model on the true cells.
MEASUREMENT_TOLERANCE = 0.05
#: The simulated effect (the parameters) lies within this many standard errors of the estimate.
SAMPLING_TOLERANCE_SE = 3.0


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """(catalog tables, ground_truth folder, parameters.json) of the reduced demo study, converted once."""
    import time

    from nwb_ketamine.archive.catalog import load_catalog
    from nwb_ketamine.cli import main as cli
    from nwb_ketamine.simulate import simulate_study

    root = tmp_path_factory.mktemp("demo")
    t0 = time.perf_counter()
    study = simulate_study(root / "raw", seed=SEED, size=SIZE, progress=False)
    t1 = time.perf_counter()
    assert cli(["convert", str(study), str(root / "archive"), "--jobs", "2", "--no-raw", "--quiet"]) == 0
    t2 = time.perf_counter()
    print(f"\nreduced demo study: simulate {t1 - t0:.0f} s, convert + catalog {t2 - t1:.0f} s")
    tables = load_catalog(root / "archive")
    # The tests read the catalog and the ground truth only: the raw study and the NWB files (~1 GB) go now.
    gt = shutil.copytree(study.parent / "ground_truth", root / "ground_truth")
    shutil.rmtree(root / "raw")
    shutil.rmtree(root / "archive")
    return tables, gt, json.loads((gt / "parameters.json").read_text())


def _stressed(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["stress"].astype(str) != "none"]


def test_the_reduced_study_keeps_four_animals_per_group(demo):
    tables, gt, truth = demo
    assert truth["study_size"]["slice_animals_per_group"] >= 4 and truth["study_size"]["invivo_animals_per_group"] >= 4
    cells = tables["cells"][tables["cells"]["accepted"].astype(bool)]
    animals = cells.groupby(["region_label", "time_group", "drug"])["subject"].nunique()
    print("\nanimals with QC-accepted cells per region, time group and drug:", animals.to_dict())
    assert len(animals) == 2 * len(TIME_GROUPS) * 2 and animals.min() >= 4
    units = tables["units"]
    good = units[(units["curation_label"] == "good") & (units["epoch"] == "baseline")]
    assert good.groupby("drug")["subject"].nunique().min() >= 4


def test_quality_control_rejects_exactly_the_lost_access_cells(demo):
    tables, gt, _ = demo
    truth = pd.read_csv(gt / "slice_cells.csv", dtype={"session_id": str})
    cells = tables["cells"].merge(truth, on=["subject", "slice_id", "cell_id"], suffixes=("", "_truth"))
    assert len(cells) == len(truth) == len(tables["cells"])
    expected = cells["qc_expected_rejected"].astype(bool)
    rejected = ~cells["accepted"].astype(bool)
    print(f"\nQC: {int(expected.sum())} cells with lost access simulated, {int(rejected.sum())} rejected")
    with pd.option_context("display.width", 200, "display.max_colwidth", 80):
        print(cells.loc[rejected, ["subject", "cell_id", "region_label", "rs_mohm", "qc_reasons"]].to_string())
    assert expected.sum() > 0
    assert (rejected == expected).all()
    # Every sweep of those cells is over the threshold, so none is left (the cell's mean Rs is NaN).
    assert (cells.loc[rejected, "rs_mohm"] > 25).all() and (cells.loc[~rejected, "rs_mohm"] < 25).all()
    assert cells.loc[rejected, "qc_reasons"].str.startswith("no accepted sweeps").all()
    assert cells.loc[rejected, "n_accepted"].eq(0).all() and cells.loc[~rejected, "qc_reasons"].eq("").all()


def _block_tables(demo):
    """Mixed models of the NMDAR-EPSC, ketamine vs saline, per region and time group: measured and true."""
    tables, gt, truth = demo
    cells = _stressed(tables["cells"])
    cells = cells[cells["accepted"].astype(bool)]
    measured = mixed_model_table(cells, "nmda_amplitude_pa", "drug", "saline", within=["region_label", "time_group"])
    animals = cells.groupby(["region_label", "time_group", "drug", "subject"])["nmda_amplitude_pa"].mean()
    true_cells = pd.read_csv(gt / "slice_cells.csv")
    true_cells = true_cells[(true_cells["stress"] == "stress") & ~true_cells["qc_expected_rejected"]]
    true_cells = true_cells.rename(columns={"region": "region_label"})
    on_truth = mixed_model_table(
        true_cells, "nmda_amplitude_pa", "drug", "saline", within=["region_label", "time_group"]
    )
    slice_truth = truth["parameters"]["slice"]
    rows = []
    for (region, time), m in measured.set_index(["region_label", "time_group"]).iterrows():
        t = on_truth.set_index(["region_label", "time_group"]).loc[(region, time)]
        saline = slice_truth["nmda_saline_amplitude_pa"][f"{region}|stress"]
        block = slice_truth["ketamine_block_fraction"][f"{region}|stress|{time}"]
        by_animal = compare_two(animals[region, time, "ketamine"], animals[region, time, "saline"])
        rows.append(
            {
                "region": region,
                "time_group": time,
                "n_animals": int(m["n_animals"]),
                "n_cells": int(m["n_obs"]),
                "simulated_pa": -saline * block,
                "true_cells_pa": t["estimate"],
                "estimate_pa": m["estimate"],
                "std_error_pa": m["std_error"],
                "p": m["p"],
                "converged": bool(m["converged"]),
                "animals_mann_whitney_p": by_animal["mann_whitney_p"],
                "saline_pa": saline,
                "block": block,
            }
        )
    return pd.DataFrame(rows)


def test_ketamine_blocks_lhb_not_ca1_in_stressed_animals(demo):
    table = _block_tables(demo)
    with pd.option_context("display.width", 200, "display.precision", 4):
        print("\nNMDAR-EPSC, ketamine - saline, stressed animals (mixed model, animal random intercept):")
        print(table.to_string(index=False))
    assert sorted(zip(table["region"], table["time_group"], strict=True)) == sorted(
        (region, time) for region in ("CA1", "LHb") for time in TIME_GROUPS
    )
    for row in table.itertuples():
        # The analysis of the converted files agrees with the same model on the simulated cells ...
        assert abs(row.estimate_pa - row.true_cells_pa) <= MEASUREMENT_TOLERANCE * row.saline_pa, row
        # ... and the simulated effect is within sampling error of the estimate.
        assert abs(row.estimate_pa - row.simulated_pa) <= SAMPLING_TOLERANCE_SE * row.std_error_pa, row
        # Where the block is claimed the model must have converged; the animal means (the honest n, 4 vs 4:
        # smallest possible p 0.029) must agree with it either way.
        if row.region == "LHb":
            assert row.converged and row.estimate_pa < 0 and row.p < ALPHA, row
            assert row.animals_mann_whitney_p < ALPHA, row
        else:
            assert row.p >= ALPHA and row.animals_mann_whitney_p >= ALPHA, row
    # What the simulator was told: a strong block in LHb, little or none in CA1, at each time group.
    by = table.set_index(["region", "time_group"])["block"]
    assert all(by["LHb", time] > 4 * by["CA1", time] for time in TIME_GROUPS)


def _pairs(units: pd.DataFrame, value: str) -> pd.DataFrame:
    good = _stressed(units[units["curation_label"] == "good"])
    return pair_epochs(
        good,
        value,
        unit=("subject", "session_id", "unit_name"),
        before="baseline",
        after="post-injection",
        groups=("drug",),
    )


def test_ketamine_not_saline_reduces_bursting_within_units(demo):
    tables, gt, truth = demo
    factors = truth["parameters"]["spikes"]["post_injection_burst_factor"]
    rows = []
    for value in ("percent_spikes_in_bursts", "burst_rate_hz"):
        pairs = _pairs(tables["units"], value)
        for drug, part in pairs.groupby("drug"):
            result = paired_compare(part["before"], part["after"])
            animals = part.groupby("subject")[["before", "after"]].mean()
            by_animal = paired_compare(animals["before"], animals["after"])
            rows.append(
                {
                    "measure": value,
                    "drug": drug,
                    "simulated_factor": factors[drug],
                    "n_units": result["n_pairs"],
                    "n_animals": len(animals),
                    "mean_before": result["mean_before"],
                    "mean_after": result["mean_after"],
                    "wilcoxon_p": result["wilcoxon_p"],
                    "rank_biserial": result["matched_rank_biserial"],
                    "animals_wilcoxon_p": by_animal["wilcoxon_p"],
                }
            )
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.precision", 4):
        print("\nin vivo, stressed animals, good units, post-injection vs baseline (paired):")
        print(table.to_string(index=False))
    assert set(table["drug"]) == set(factors)
    for row in table.itertuples():
        assert row.n_animals >= 4
        if row.simulated_factor < 1:  # from the ground truth: this drug lowers the burst probability
            assert row.mean_after < row.mean_before and row.wilcoxon_p < ALPHA and row.rank_biserial < 0, row
        else:
            assert row.wilcoxon_p >= ALPHA, row


def test_stored_burst_metrics_equal_ground_truth_edge_probes_included(demo):
    tables, gt, _ = demo
    units = tables["units"]
    good = units[units["curation_label"] == "good"].copy()
    good["cluster_id"] = good["unit_name"].astype(int)
    truth = pd.read_csv(gt / "invivo_unit_epochs.csv", dtype={"session": str})
    truth["session_id"] = truth["session"].str.split("-").str[1]
    merged = good.merge(truth, on=["subject", "session_id", "cluster_id", "epoch"], suffixes=("", "_truth"))
    assert len(merged) == len(good) == len(truth)
    for key in ("n_spikes", "n_bursts", "percent_spikes_in_bursts", "burst_rate_hz"):
        np.testing.assert_allclose(merged[key], merged[f"{key}_truth"], rtol=1e-9, err_msg=key)
    probes = pd.concat([pd.read_csv(f) for f in sorted(gt.glob("invivo/*/edge_probes.csv"))])
    print(f"\nedge probes: {len(probes)} in {len(list(gt.glob('invivo/*/edge_probes.csv')))} sessions,", end=" ")
    print("ISIs (ms):", sorted({round(x, 3) for isis in probes["isis_ms"] for x in json.loads(isis)}))
    assert set(probes["probe"]) >= {"onset_under", "onset_at", "onset_over", "end_under", "end_over", "silence_under"}


def test_mua_and_noise_clusters_are_labelled(demo):
    tables, gt, truth = demo
    units = tables["units"].drop_duplicates(["subject", "session_id", "unit_name"])
    counts = units.groupby(["subject", "curation_label"]).size().unstack(fill_value=0)
    ip = truth["parameters"]["invivo"]
    print("\ncuration labels per session:", counts.sum().to_dict())
    assert (counts["mua"] == ip["mua_clusters_per_session"]).all()
    assert (counts["noise"] == ip["noise_clusters_per_session"]).all()
    labels = pd.concat(
        [pd.read_csv(f).assign(subject=f.parent.name.split("-")[0]) for f in gt.glob("invivo/*/units.csv")]
    )
    merged = units.assign(cluster_id=units["unit_name"].astype(int)).merge(labels, on=["subject", "cluster_id"])
    assert len(merged) == len(units) and (merged["curation_label"] == merged["label"]).all()
