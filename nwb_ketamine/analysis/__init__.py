"""Analyses of the study's recordings: numpy, scipy and statsmodels on arrays and frames.

Only the storage modules (:mod:`~nwb_ketamine.analysis.store`, :mod:`~nwb_ketamine.analysis.burst_store`)
touch NWB.

:mod:`~nwb_ketamine.analysis.epsc` measures evoked EPSCs in voltage-clamp sweeps (test-pulse Rs and
Rin, AMPAR and NMDAR EPSC amplitudes) with the parameters of :mod:`~nwb_ketamine.analysis.epsc_parameters`;
:mod:`~nwb_ketamine.analysis.decay` fits decay time constants; :mod:`~nwb_ketamine.analysis.cell_summary`
does quality control and per-cell summaries; :mod:`~nwb_ketamine.analysis.store` writes and reads them in
NWB; :mod:`~nwb_ketamine.analysis.quality` and :mod:`~nwb_ketamine.analysis.waveforms` describe sorted units;
:mod:`~nwb_ketamine.analysis.bursts` detects bursts in spike trains. :mod:`~nwb_ketamine.analysis.stats`
(two-sample tests), :mod:`~nwb_ketamine.analysis.group_tables` (tables over groups),
:mod:`~nwb_ketamine.analysis.paired` (within units) and :mod:`~nwb_ketamine.analysis.hierarchical` (mixed
models, corrections) compare groups.
"""

from typing import TYPE_CHECKING

from nwb_ketamine.lazy import lazy_names

if TYPE_CHECKING:
    from .cell_summary import concatenate_measures, quality_control, summarize_cell
    from .decay import fit_exponential_decay
    from .epsc import classify_sweeps, measure_sweeps
    from .epsc_parameters import EpscParameters

#: The package's public names and the submodule each comes from. They are imported on first use (PEP 562):
#: a worker converting an in vivo session needs :mod:`.bursts`, not the EPSC fits and their scipy.
_LAZY = {
    "EpscParameters": "epsc_parameters",
    "classify_sweeps": "epsc",
    "concatenate_measures": "cell_summary",
    "fit_exponential_decay": "decay",
    "measure_sweeps": "epsc",
    "quality_control": "cell_summary",
    "summarize_cell": "cell_summary",
}

__all__ = [
    "EpscParameters",
    "classify_sweeps",
    "concatenate_measures",
    "fit_exponential_decay",
    "measure_sweeps",
    "quality_control",
    "summarize_cell",
]

__getattr__, __dir__ = lazy_names(__name__, _LAZY)
