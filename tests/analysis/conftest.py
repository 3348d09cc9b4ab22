"""A small simulated study read back with pyabf and measured once per test session."""

import csv
import shutil
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pytest

from nwb_ketamine.analysis import EpscParameters, concatenate_measures, measure_sweeps
from nwb_ketamine.simulate import simulate_study


@dataclass
class SimulatedCell:
    """One simulated cell: its truth rows, its sweeps as pyabf reads them and the analysis parameters."""

    truth: dict
    truth_sweeps: list[dict]
    current_a: np.ndarray
    rate_hz: float
    params: EpscParameters
    measures: dict = field(default_factory=dict)


def _read_abf(path):
    import pyabf

    abf = pyabf.ABF(str(path))
    sweeps = []
    for i in range(abf.sweepCount):
        abf.setSweep(i)
        sweeps.append(abf.sweepY.astype(float) * 1e-12)  # pA -> A
    return np.array(sweeps), float(abf.sampleRate)


def _params(row: dict) -> EpscParameters:
    """Timing of the protocol from the ground truth; every analysis rule keeps its field default."""
    start = float(row["test_pulse_start_s"])
    return EpscParameters(
        stimulus_time_s=float(row["stimulus_time_s"]),
        test_pulse_start_s=start,
        test_pulse_duration_s=float(row["test_pulse_stop_s"]) - start,
        test_pulse_amplitude_v=float(row["test_pulse_mv"]) * 1e-3,
    )


@pytest.fixture(scope="session")
def simulated_cells(tmp_path_factory) -> list[SimulatedCell]:
    """Every cell of a small study (seed 7): files read with pyabf, measured with the default rules."""
    pytest.importorskip("pyabf")
    root = tmp_path_factory.mktemp("analysis") / "small"
    simulate_study(root, seed=7, size="small", progress=False)
    gt = root / "ground_truth"

    def read(name):
        with open(gt / name, newline="") as f:
            return list(csv.DictReader(f))

    key = ("subject", "session_id", "slice_id", "cell_id")
    files, sweeps = defaultdict(list), defaultdict(list)
    for row in read("slice_files.csv"):
        files[tuple(row[k] for k in key)].append(row)
    for row in read("slice_sweeps.csv"):
        sweeps[row["path"]].append(row)
    cells = []
    for truth in read("slice_cells.csv"):
        rows = sorted(files[tuple(truth[k] for k in key)], key=lambda r: r["start_time"])
        parts, currents, truth_sweeps = [], [], []
        for row in rows:
            current, rate = _read_abf(root / row["path"])
            params = _params(row)
            holding = np.full(len(current), float(row["holding_potential_mv"]) * 1e-3)
            parts.append(measure_sweeps(current, rate, holding, params))
            currents.append(current)
            truth_sweeps += sorted(sweeps[row["path"]], key=lambda r: int(r["sweep"]))
        cell = SimulatedCell(truth, truth_sweeps, np.concatenate(currents), rate, params)
        cell.measures = concatenate_measures(parts)
        cells.append(cell)
    shutil.rmtree(root)  # everything is in memory now; the study's 1.7 GB would otherwise stay to the run's end
    return cells
