"""The cell view's figure for a paper: the averaged AMPA and NMDA sweeps with the stored measurement windows.

Drawn with matplotlib from what the cell view computes (:class:`~nwb_ketamine.explorer.cell.CellView`:
the average of the QC-accepted sweeps, the windows and the decay stored in the file), one panel per
holding potential, exported as every view's figure is (:mod:`~nwb_ketamine.explorer.paperfigure`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np

from nwb_ketamine.explorer.paperfigure import PALETTE, PAPER_STYLE, figure_file, paper_figure, plain_axes

#: The EPSC kinds' colours (Okabe & Ito's blue and vermillion) and the windows' fills.
COLOURS = {"AMPA": PALETTE[4], "NMDA": PALETTE[5]}
WINDOW_FILLS = {"baseline window": ("#BBBBBB", 0.35), "peak window": (None, 0.12), "latency window": (PALETTE[1], 0.35)}


@dataclass
class SweepPanel:
    """One panel of the cell figure: an EPSC kind's average sweep, its windows and its decay.

    Attributes
    ----------
    kind : str
        'AMPA' or 'NMDA'.
    label : str
        The holding potential and EPSC ('−70 mV (AMPAR-EPSC)').
    t_ms : numpy.ndarray
        Time from the stimulus, ms.
    average_pa : numpy.ndarray or None
        The average of the accepted sweeps, pA (None when none was accepted).
    n_sweeps : int
        Sweeps averaged.
    windows : dict
        Window name → (start, end) ms (:meth:`~nwb_ketamine.explorer.cell.CellView.windows_ms`).
    decay : tuple or None
        (time in ms, current in pA, τ in s) of the stored decay.
    y_range : tuple or None
        The current axis, pA.
    """

    kind: str
    label: str
    t_ms: np.ndarray
    average_pa: np.ndarray | None
    n_sweeps: int
    windows: dict = field(default_factory=dict)
    decay: tuple | None = None
    y_range: tuple[float, float] | None = None


def render_cell_figure(panels: list[SweepPanel], title: str, fmt: str, size_mm: tuple[float, float]) -> io.BytesIO:
    """The cell's averaged sweeps side by side, windows shaded, stimulus dotted, decay dashed (PDF, SVG or PNG).

    Parameters
    ----------
    panels : list of SweepPanel
        One per EPSC kind.
    title : str
        The figure's title (the cell's key and region).
    fmt : str
        'pdf', 'svg' or 'png'.
    size_mm : tuple of float
        Width and height, mm.

    Returns
    -------
    io.BytesIO
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    with plt.rc_context(PAPER_STYLE):
        fig = paper_figure(size_mm)
        axes = fig.subplots(1, max(len(panels), 1), squeeze=False)[0]
        for ax, panel in zip(axes, panels, strict=False):
            plain_axes(ax)
            colour = COLOURS.get(panel.kind, PALETTE[7])
            handles = []
            for name, (left, right) in panel.windows.items():
                fill, alpha = WINDOW_FILLS.get(name, ("#DDDDDD", 0.3))
                ax.axvspan(left, right, color=fill or colour, alpha=alpha, lw=0)
                handles.append(Patch(color=fill or colour, alpha=alpha, lw=0, label=name))
            ax.axvline(0.0, color="black", ls=":", lw=0.6)
            if panel.average_pa is not None:
                ax.plot(panel.t_ms, panel.average_pa, color=colour, lw=1.0)
                ax.set_title(f"{panel.label}\nmean of {panel.n_sweeps} accepted sweeps")
            else:
                ax.set_title(f"{panel.label}\nno accepted sweep")
            if panel.decay is not None:
                tt, fit, tau = panel.decay
                handles += ax.plot(tt, fit, color="black", ls="--", lw=0.7, label=f"decay τ = {tau * 1e3:.3g} ms")
            if panel.y_range is not None:
                ax.set_ylim(*panel.y_range)
            if len(panel.t_ms):
                ax.set_xlim(float(panel.t_ms[0]), float(panel.t_ms[-1]))
            ax.set_xlabel("time from stimulus (ms)")
            ax.set_ylabel("current (pA)")
            if handles:
                ax.legend(handles=handles, frameon=False, loc="best", handlelength=1.2)
        fig.suptitle(title)
        return figure_file(fig, fmt)
