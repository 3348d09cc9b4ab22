"""Analyses of the study's recordings: pure numpy on arrays, no file I/O.

:mod:`~nwb_ketamine.analysis.epsc` measures evoked EPSCs in voltage-clamp sweeps (test-pulse Rs and
Rin, AMPAR and NMDAR EPSC amplitudes, decay time constants, quality control, per-cell summaries).
"""

from .epsc import (
    EpscParameters,
    classify_sweeps,
    concatenate_measures,
    fit_exponential_decay,
    measure_sweeps,
    quality_control,
    summarize_cell,
)

__all__ = [
    "EpscParameters",
    "classify_sweeps",
    "concatenate_measures",
    "fit_exponential_decay",
    "measure_sweeps",
    "quality_control",
    "summarize_cell",
]
