"""A simulated study in real vendor formats: the embedded default for the demo, tests and benchmarks.

``simulate_study(out, seed, size)`` writes slice ABF files, Open Ephys tetrode recordings with phy
sortings, a ``study.yaml`` describing them and ``ground_truth/`` with what was simulated. All
parameters live in :mod:`nwb_ketamine.simulate.parameters` and are illustrative.

Design decision: ``simulate_study`` is imported on first use (PEP 562 ``__getattr__``), so importing the
parameters (the CLI does, for ``--size``'s choices) does not pull in scipy and the writers: that cost
``nwb-ketamine --help`` 2-6 s.
"""

from typing import TYPE_CHECKING

from nwb_ketamine.lazy import lazy_names

from .parameters import DEFAULT_PARAMETERS, SIZES, SimulationParameters

if TYPE_CHECKING:
    from .study import simulate_study

__all__ = ["DEFAULT_PARAMETERS", "SIZES", "SimulationParameters", "simulate_study"]

__getattr__, __dir__ = lazy_names(__name__, {"simulate_study": "study"})
