"""A simulated study in real vendor formats: the embedded default for the demo, tests and benchmarks.

``simulate_study(out, seed, size)`` writes slice ABF files, Open Ephys tetrode recordings with phy
sortings, a ``study.yaml`` describing them and ``ground_truth/`` with what was simulated. All
parameters live in :mod:`nwb_ketamine.simulate.parameters` and are illustrative.

Design decision: ``simulate_study`` is imported on first use (PEP 562 ``__getattr__``), so importing the
parameters (the CLI does, for ``--size``'s choices) does not pull in scipy and the writers: that cost
``nwb-ketamine --help`` 2-6 s.
"""

from typing import TYPE_CHECKING

from .parameters import DEFAULT_PARAMETERS, SIZES, SimulationParameters

if TYPE_CHECKING:
    from .study import simulate_study

__all__ = ["DEFAULT_PARAMETERS", "SIZES", "SimulationParameters", "simulate_study"]


def __getattr__(name: str):
    """``simulate_study``, imported when first asked for.

    Parameters
    ----------
    name
        The attribute asked for.

    Returns
    -------
    object
    """
    if name == "simulate_study":
        from .study import simulate_study

        return simulate_study
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
