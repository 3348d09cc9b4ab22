"""A simulated study in real vendor formats: the embedded default for the demo, tests and benchmarks.

``simulate_study(out, seed, size)`` writes slice ABF files, Open Ephys tetrode recordings with phy
sortings, a ``study.yaml`` describing them and ``ground_truth/`` with what was simulated. All
parameters live in :mod:`nwb_ketamine.simulate.parameters` and are illustrative.
"""

from .parameters import DEFAULT_PARAMETERS, SIZES, SimulationParameters
from .study import simulate_study

__all__ = ["DEFAULT_PARAMETERS", "SIZES", "SimulationParameters", "simulate_study"]
