"""The unit view's figure for a paper: the raster around the injection, the ISI histogram and the mean waveform.

Drawn with matplotlib from what the unit view computes (:class:`~nwb_ketamine.explorer.unit.UnitView`:
raster rows from the injection, burst spikes under the current rule, the ISI histogram on a log axis
with the rule's onset ISI and minimum silence marked) and the file's mean waveform on the channel where
it is largest; the burst rule used is written under the panels. Exported as every view's figure is
(:mod:`~nwb_ketamine.explorer.paperfigure`). A raster of many spikes is embedded as an image in the PDF
and SVG (:data:`RASTERISE_ABOVE`), its axes and labels staying text, so the files stay small.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nwb_ketamine.explorer.paperfigure import PALETTE, PAPER_STYLE, figure_file, paper_figure, plain_axes

#: Spikes above which the raster's ticks are drawn as an image inside the PDF and SVG.
RASTERISE_ABOVE = 5000
#: Single and burst spikes (black, Okabe & Ito's vermillion), the injection (bluish green).
SINGLE, BURST, INJECTION = PALETTE[7], PALETTE[5], PALETTE[3]


@dataclass
class UnitFigure:
    """What the unit figure draws.

    Attributes
    ----------
    raster : pandas.DataFrame
        ``x`` (time in its row, s), ``row`` (row start from the injection, s), ``burst`` ('burst' or
        'single') (:meth:`~nwb_ketamine.explorer.unit.UnitView.raster_frame`).
    row_s : float
        A raster row's length, s.
    isi_edges_ms, isi_counts : numpy.ndarray
        The ISI histogram's bin edges (ms) and counts.
    onset_isi_ms, min_silence_ms : float
        The burst rule's marks on the ISI axis.
    rule : str
        The burst rule used, in words.
    waveform : tuple or None
        (time in ms, mean µV, SD µV, channel name) of the largest channel's mean waveform.
    """

    raster: pd.DataFrame
    row_s: float
    isi_edges_ms: np.ndarray
    isi_counts: np.ndarray
    onset_isi_ms: float
    min_silence_ms: float
    rule: str
    waveform: tuple | None = None


def largest_channel(mean_uv, sd_uv, rate_hz: float, names: list[str]) -> tuple | None:
    """The mean waveform on the channel where its peak-to-peak amplitude is largest.

    Parameters
    ----------
    mean_uv, sd_uv : numpy.ndarray or None
        (samples, channels) mean and SD, µV (None when the file has none).
    rate_hz : float
        Their sampling rate.
    names : list of str
        The channels' names.

    Returns
    -------
    tuple or None
        (time in ms, mean, SD, channel name), or None without waveforms.
    """
    if mean_uv is None or not np.isfinite(mean_uv).any():
        return None
    c = int(np.nanargmax(np.nanmax(mean_uv, axis=0) - np.nanmin(mean_uv, axis=0)))
    sd = sd_uv[:, c] if sd_uv is not None else np.zeros(mean_uv.shape[0])
    name = names[c] if c < len(names) else str(c)
    return np.arange(mean_uv.shape[0]) / (rate_hz or 1.0) * 1e3, mean_uv[:, c], sd, name


def render_unit_figure(unit: UnitFigure, title: str, fmt: str, size_mm: tuple[float, float]) -> io.BytesIO:
    """The raster over the ISI histogram and the mean waveform, the burst rule below (PDF, SVG or PNG).

    Parameters
    ----------
    unit : UnitFigure
        What is drawn.
    title : str
        The figure's title (the unit's key and region).
    fmt : str
        'pdf', 'svg' or 'png'.
    size_mm : tuple of float
        Width and height, mm.

    Returns
    -------
    io.BytesIO
    """
    import matplotlib.pyplot as plt

    with plt.rc_context(PAPER_STYLE):
        fig = paper_figure(size_mm)
        grid = fig.add_gridspec(2, 2, height_ratios=(1.5, 1.0))
        raster = fig.add_subplot(grid[0, :])
        _raster(raster, unit)
        isi = fig.add_subplot(grid[1, :] if unit.waveform is None else grid[1, 0])
        _isi(isi, unit)
        if unit.waveform is not None:
            _waveform(fig.add_subplot(grid[1, 1]), unit.waveform)
        fig.suptitle(title)
        fig.supxlabel(unit.rule, fontsize="small")
        return figure_file(fig, fmt)


def _raster(ax, unit: UnitFigure) -> None:
    """One tick per spike in rows of ``row_s`` from the injection (rows downwards), burst spikes coloured."""
    plain_axes(ax)
    rasterise = len(unit.raster) > RASTERISE_ABOVE
    for name, colour, label in (("single", SINGLE, "single spikes"), ("burst", BURST, "burst spikes")):
        part = unit.raster[unit.raster["burst"] == name]
        if len(part):
            row = part["row"].to_numpy()
            ax.vlines(part["x"].to_numpy(), row, row + 0.8 * unit.row_s, color=colour, lw=0.4, label=label,
                      rasterized=rasterise)  # fmt: skip
    ax.axhline(0.0, color=INJECTION, ls="--", lw=0.8, label="injection")
    ax.invert_yaxis()
    ax.set_xlim(0.0, unit.row_s)
    ax.set_xlabel("time in row (s)")
    ax.set_ylabel("row start from injection (s)")
    ax.set_title(f"Raster, rows of {unit.row_s:g} s", loc="left")
    ax.legend(frameon=False, loc="upper right", ncols=3, fontsize="small", bbox_to_anchor=(1.0, 1.12))


def _isi(ax, unit: UnitFigure) -> None:
    """The ISI histogram on a log axis (ms) with the burst rule's onset ISI and minimum silence."""
    from matplotlib.ticker import FuncFormatter

    plain_axes(ax)
    edges = unit.isi_edges_ms
    ax.stairs(unit.isi_counts, edges, fill=True, color="#555555", lw=0)
    ax.axvline(unit.onset_isi_ms, color=BURST, ls="--", lw=0.8, label=f"onset ISI {unit.onset_isi_ms:g} ms")
    if unit.min_silence_ms > 0:
        ax.axvline(unit.min_silence_ms, color=INJECTION, ls=":", lw=0.8,
                   label=f"min silence {unit.min_silence_ms:g} ms")  # fmt: skip
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))  # 1, 10, 100: no 10^n maths text
    ax.set_xlim(float(edges[0]), float(edges[-1]))
    ax.set_xlabel("ISI (ms)")
    ax.set_ylabel("count")
    ax.set_title("ISI histogram")
    ax.legend(frameon=False, loc="upper right", fontsize="small")


def _waveform(ax, waveform: tuple) -> None:
    """The mean waveform ± SD on one channel."""
    plain_axes(ax)
    t, mean, sd, name = waveform
    ax.fill_between(t, mean - sd, mean + sd, color="#BBBBBB", lw=0)
    ax.plot(t, mean, color="black", lw=0.8)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("µV")
    ax.set_title(f"Mean waveform ± SD ({name})")
