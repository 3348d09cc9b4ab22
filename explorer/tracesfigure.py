"""The raw traces view's figure for a paper: the shown window's channels stacked, with scale bars.

Drawn with matplotlib from the window the view shows (:meth:`~nwb_ketamine.explorer.traces.TracesView.window`:
the same samples, or the same min/max envelope when decimated, the same offsets between channels),
events shaded and the injection marked; a paper's traces have scale bars instead of axes, so a time bar
and a voltage bar of round lengths (:func:`~nwb_ketamine.explorer.paperfigure.nice_length`) stand at the
lower right, and each channel's name at its trace. Exported as every view's figure is
(:mod:`~nwb_ketamine.explorer.paperfigure`); many points are embedded as an image in the PDF and SVG
(:data:`RASTERISE_ABOVE`), the labels staying text.
"""

from __future__ import annotations

import io

import numpy as np

from nwb_ketamine.explorer.paperfigure import PALETTE, PAPER_STYLE, figure_file, nice_length, paper_figure

#: Points (over all channels) above which the traces are drawn as an image inside the PDF and SVG.
RASTERISE_ABOVE = 50_000
#: Events (Okabe & Ito's orange) and the injection (bluish green).
EVENT, INJECTION = PALETTE[1], PALETTE[3]


def time_label(length_s: float) -> str:
    """A time scale bar's label: ms below a second ('200 ms'), else s ('2 s').

    Parameters
    ----------
    length_s : float
        The bar's length, s.

    Returns
    -------
    str
    """
    return f"{length_s * 1e3:g} ms" if length_s < 1 else f"{length_s:g} s"


def render_traces_figure(w: dict, start_s: float, window_s: float, spacing_uv: float, title: str, fmt: str,
                         size_mm: tuple[float, float]) -> io.BytesIO:  # fmt: skip
    """The window's channels stacked ``spacing_uv`` apart, events shaded, the injection dashed, scale bars.

    Parameters
    ----------
    w : dict
        The window (:func:`~nwb_ketamine.explorer.rawread.raw_window`): ``time_s``, ``data_uv``,
        ``channels``, ``events``, ``injection_time_s``, ``decimated``.
    start_s, window_s : float
        The window shown, s.
    spacing_uv : float
        The offset between channels, µV.
    title : str
        The figure's title (the file and the window).
    fmt : str
        'pdf', 'svg' or 'png'.
    size_mm : tuple of float
        Width and height, mm.

    Returns
    -------
    io.BytesIO
    """
    import matplotlib.pyplot as plt

    data, t = w["data_uv"], w["time_s"]
    with plt.rc_context(PAPER_STYLE):
        fig = paper_figure(size_mm)
        ax = fig.add_subplot()
        rasterise = data.size > RASTERISE_ABOVE
        for c, _ in enumerate(w["channels"]):
            trace = data[:, c] - np.nanmedian(data[:, c]) - c * spacing_uv if data.size else []
            ax.plot(t, trace, color="black", lw=0.4, rasterized=rasterise)
        for _, event in w["events"].iterrows():
            ax.axvspan(event["start_s"], max(event["stop_s"], event["start_s"] + window_s / 500), color=EVENT,
                       alpha=0.3, lw=0)  # fmt: skip
        injection = w["injection_time_s"]
        if injection is not None and start_s <= injection <= start_s + window_s:
            ax.axvline(injection, color=INJECTION, ls="--", lw=0.8)
            ax.text(injection, 1.0, " injection", color=INJECTION, transform=ax.get_xaxis_transform(), va="bottom")
        ax.set_xlim(start_s, start_s + window_s)
        ax.set_yticks([-c * spacing_uv for c in range(len(w["channels"]))], w["channels"])
        ax.tick_params(axis="y", length=0)
        ax.set_xticks([])
        ax.spines[:].set_visible(False)
        _scale_bars(ax, start_s, window_s, spacing_uv, len(w["channels"]))
        how = "min/max envelope" if w["decimated"] else "every sample"
        ax.set_title(f"{start_s:g}–{start_s + window_s:g} s ({how})", loc="left")
        fig.suptitle(title)
        return figure_file(fig, fmt)


def _scale_bars(ax, start_s: float, window_s: float, spacing_uv: float, n_channels: int) -> None:
    """A time bar (~1/10 of the window) and a voltage bar (~half the spacing) at the lower right, labelled."""
    length_s, height_uv = nice_length(window_s / 10), nice_length(spacing_uv / 2)
    x1 = start_s + window_s
    y0 = -(max(n_channels, 1) - 1) * spacing_uv - 0.8 * spacing_uv
    ax.plot([x1 - length_s, x1], [y0, y0], color="black", lw=1.0, clip_on=False, solid_capstyle="butt")
    ax.plot([x1, x1], [y0, y0 + height_uv], color="black", lw=1.0, clip_on=False, solid_capstyle="butt")
    ax.text(x1 - length_s / 2, y0, time_label(length_s), ha="center", va="top")
    ax.text(x1, y0 + height_uv / 2, f" {height_uv:g} µV", ha="left", va="center")
    ax.set_ylim(y0 - 0.3 * spacing_uv, 0.8 * spacing_uv)
