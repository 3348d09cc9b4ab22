"""One facet of the time-course figure, the measure over the fraction blocked: bokeh (updated in place), matplotlib.

A :class:`Facet` holds what one facet draws (computed by the view); a :class:`TimeCoursePanel` keeps two
bokeh figures (the measure over the fraction blocked) whose column data sources get new arrays on every
change, like :class:`~nwb_ketamine.explorer.comparefigure.ComparePanel`, and :func:`render_figure` draws
the same facets with matplotlib for the PDF, SVG and PNG export. Points carry a palette index (a binary
buffer) mapped to :data:`~nwb_ketamine.explorer.paperfigure.PALETTE`; the few group glyphs carry colours.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import panel as pn
from bokeh.models import ColumnDataSource, FixedTicker, HoverTool, LinearColorMapper, Range1d, TapTool
from bokeh.models.annotations import Label, LabelSet, Span, Title
from bokeh.plotting import figure

from nwb_ketamine.explorer.comparefigure import VALUE
from nwb_ketamine.explorer.paperfigure import PALETTE, PAPER_STYLE, figure_file, inches

FRACTION_LABEL = "Fraction blocked (1 − drug / control)"


@dataclass
class Facet:
    """What one facet draws: points, animal means, group means with intervals, mean lines, fraction blocked.

    Attributes
    ----------
    title : str
        The facet's title.
    ticks : dict
        x position → tick label.
    x_end : float
        The right end of the x range (the left is -0.6).
    points : pandas.DataFrame
        ``xpos``, ``value``, ``colour`` (palette index), ``row`` (row number in the view's data).
    animals : pandas.DataFrame
        ``xpos``, ``value``, ``subject``: one animal mean per group.
    groups : pandas.DataFrame
        Summary rows (:func:`~nwb_ketamine.explorer.timecoursestats.summary_table`) with ``pos``,
        ``colour`` (a colour), ``legend`` (its drug level), ``line`` (groups with one ``line`` are
        joined along x), ``label`` and ``n`` ('cells/animals').
    control_mean : float
        Dose axis: the control's mean, drawn as a dashed line across the facet (NaN: none).
    message : str
        Shown in the fraction panel: the groups without a matched control, or why it is empty.
    """

    title: str
    ticks: dict
    x_end: float
    points: pd.DataFrame
    animals: pd.DataFrame
    groups: pd.DataFrame
    control_mean: float = np.nan
    message: str = ""

    @property
    def fraction(self) -> pd.DataFrame:
        """The groups with a fraction blocked (drug levels with a matched control)."""
        return self.groups[np.isfinite(self.groups["fraction_blocked"].to_numpy(dtype=float))]

    @property
    def lines(self) -> list:
        """The group means joined along x per line (drug level): (xs, ys, colour) each."""
        return _joined(self.groups, "mean")

    @property
    def fraction_lines(self) -> list:
        """The fractions blocked joined along x per line: (xs, ys, colour) each."""
        return _joined(self.fraction, "fraction_blocked")


def _joined(groups: pd.DataFrame, column: str) -> list:
    out = []
    for _, part in groups.groupby("line", sort=False):
        if len(part) > 1:
            part = part.sort_values("pos")
            out.append((part["pos"].tolist(), part[column].tolist(), str(part["colour"].iloc[0])))
    return out


def _source(*names: str) -> ColumnDataSource:
    return ColumnDataSource({name: [] for name in names})


def _figure(height: int, y_range: Range1d, title: Title):
    fig = figure(height=height, sizing_mode="stretch_width", x_range=Range1d(start=-0.6, end=0.6), y_range=y_range,
                 tools="pan,box_zoom,wheel_zoom,reset,save", toolbar_location="above", title=title)  # fmt: skip
    fig.xgrid.grid_line_color = None
    return fig


class TimeCoursePanel:
    """One facet: the measure figure over the fraction-blocked figure, their sources updated in place.

    Parameters
    ----------
    y_range, fraction_range : bokeh.models.Range1d
        Shared by the facets' measure figures, and by their fraction figures.
    on_tap : callable
        Called with the row numbers (in the view's data) of the tapped points.
    """

    def __init__(self, y_range: Range1d, fraction_range: Range1d, on_tap: Callable[[np.ndarray], None]) -> None:
        self._title, self._fraction_title = Title(text=""), Title(text="")
        fig = _figure(400, y_range, self._title)
        self.points = _source("xpos", VALUE, "colour", "row")
        self.animals = _source("xpos", VALUE, "subject")
        self.means = _source("xpos", "mean", "low", "high", "colour", "label", "n", "legend")
        self.lines = _source("xs", "ys", "colour")
        self.control = _source("xs", "ys")
        mapper = LinearColorMapper(palette=PALETTE, low=-0.5, high=len(PALETTE) - 0.5)
        points = fig.scatter("xpos", VALUE, source=self.points, size=5, alpha=0.45, nonselection_alpha=0.3,
                             color={"field": "colour", "transform": mapper})  # fmt: skip
        fig.multi_line("xs", "ys", source=self.control, color=PALETTE[0], line_dash="dashed", line_width=1.5)
        fig.multi_line("xs", "ys", source=self.lines, color="colour", line_width=2, alpha=0.8)
        animals = fig.scatter("xpos", VALUE, source=self.animals, marker="diamond", size=11, fill_color="white",
                              line_color="black", line_width=1.2)  # fmt: skip
        fig.segment("xpos", "low", "xpos", "high", source=self.means, color="colour", line_width=4)
        means = fig.scatter("xpos", "mean", source=self.means, marker="square", size=11, fill_color="colour",
                            line_color="black", line_width=1.5, legend_field="legend")  # fmt: skip
        fig.legend.location, fig.legend.label_text_font_size = "top_right", "8pt"
        fig.legend.padding, fig.legend.spacing, fig.legend.background_fill_alpha = 4, 0, 0.6
        fig.add_layout(LabelSet(x="xpos", y=4, y_units="screen", text="n", source=self.means, text_align="center",
                                text_font_size="9pt", text_color="#333333"))  # fmt: skip
        fig.add_tools(
            HoverTool(renderers=[points], tooltips=[("value", f"@{VALUE}{{0.[000]}}"), ("", "click to open")]),
            HoverTool(renderers=[animals], tooltips=[("animal mean", f"@{VALUE}{{0.[000]}}"), ("animal", "@subject")]),
            HoverTool(
                renderers=[means],
                tooltips=[
                    ("group", "@label"),
                    ("mean", "@mean{0.[000]}"),
                    ("95 % CI", "@low{0.[000]} – @high{0.[000]}"),
                    ("n cells/animals", "@n"),
                ],
            ),  # fmt: skip
            TapTool(renderers=[points]),
        )
        self._ticker = FixedTicker(ticks=[])
        fig.xaxis.ticker = self._ticker
        self.figure = fig
        frac = _figure(260, fraction_range, self._fraction_title)
        self.fraction = _source("xpos", "est", "low", "high", "colour", "label")
        self.fraction_lines = _source("xs", "ys", "colour")
        frac.add_layout(Span(location=0, dimension="width", line_color="black", line_dash="dotted"))
        frac.multi_line("xs", "ys", source=self.fraction_lines, color="colour", line_width=2, alpha=0.8)
        frac.segment("xpos", "low", "xpos", "high", source=self.fraction, color="colour", line_width=4)
        estimates = frac.scatter("xpos", "est", source=self.fraction, marker="circle", size=11, fill_color="colour",
                                 line_color="black")  # fmt: skip
        tips = [("group", "@label"), ("fraction blocked", "@est{0.000}"), ("95 % CI", "@low{0.000} – @high{0.000}")]
        frac.add_tools(HoverTool(renderers=[estimates], tooltips=tips))
        self._message = Label(x=10, y=10, x_units="screen", y_units="screen", text="", text_font_size="10pt",
                              text_color="#555555")  # fmt: skip
        frac.add_layout(self._message)
        frac.xaxis.ticker = self._ticker
        frac.yaxis.axis_label = FRACTION_LABEL
        self.fraction_figure = frac
        self._on_tap = on_tap
        self.points.selected.on_change("indices", self._tapped)
        self.pane = pn.Column(pn.pane.Bokeh(fig, sizing_mode="stretch_width", min_height=400),
                              pn.pane.Bokeh(frac, sizing_mode="stretch_width", min_height=260),
                              sizing_mode="stretch_width")  # fmt: skip

    def _tapped(self, attr, old, new) -> None:
        if new:
            self._on_tap(np.asarray(self.points.data["row"])[new])

    def clear(self) -> None:
        """Empty every source (a panel left out of the layout)."""
        for source in (self.points, self.animals, self.means, self.lines, self.control, self.fraction,
                       self.fraction_lines):  # fmt: skip
            source.data = {name: [] for name in source.data}

    def show(self, facet: Facet, ylabel: str) -> None:
        """Draw ``facet`` into this panel's figures.

        Parameters
        ----------
        facet : Facet
            What to draw.
        ylabel : str
            The measure's axis label.
        """
        points, groups, fraction = facet.points, facet.groups, facet.fraction
        self.points.selected.indices = []
        self.points.data = {
            "xpos": points["xpos"].to_numpy(np.float32), VALUE: points[VALUE].to_numpy(float),
            "colour": points["colour"].to_numpy(np.int32), "row": points["row"].to_numpy(np.int32),
        }  # fmt: skip
        self.animals.data = {c: facet.animals[c].tolist() for c in ("xpos", VALUE, "subject")}
        self.means.data = {
            "xpos": groups["pos"].tolist(), "mean": groups["mean"].tolist(), "low": groups["ci_low"].tolist(),
            "high": groups["ci_high"].tolist(), "colour": groups["colour"].tolist(), "label": groups["label"].tolist(),
            "n": groups["n"].tolist(), "legend": groups["legend"].tolist(),
        }  # fmt: skip
        self.lines.data = _lines(facet.lines)
        has_control = np.isfinite(facet.control_mean)
        self.control.data = {"xs": [[-0.6, facet.x_end]] if has_control else [],
                             "ys": [[facet.control_mean] * 2] if has_control else []}  # fmt: skip
        self.fraction.data = {
            "xpos": fraction["pos"].tolist(), "est": fraction["fraction_blocked"].tolist(),
            "low": fraction["fb_ci_low"].tolist(), "high": fraction["fb_ci_high"].tolist(),
            "colour": fraction["colour"].tolist(), "label": fraction["label"].tolist(),
        }  # fmt: skip
        self.fraction_lines.data = _lines(facet.fraction_lines)
        self._message.text = facet.message
        for fig in (self.figure, self.fraction_figure):
            fig.x_range.update(start=-0.6, end=facet.x_end, reset_start=-0.6, reset_end=facet.x_end)
        self._ticker.ticks = list(facet.ticks)
        self.figure.xaxis.major_label_overrides = dict(facet.ticks)
        self.fraction_figure.xaxis.major_label_overrides = dict(facet.ticks)
        self.figure.yaxis.axis_label = ylabel
        self._title.text = facet.title
        self._fraction_title.text = f"Fraction blocked · {facet.title}" if facet.title else "Fraction blocked"


def _lines(lines: list) -> dict:
    return {"xs": [xs for xs, _, _ in lines], "ys": [ys for _, ys, _ in lines], "colour": [c for _, _, c in lines]}


def render_figure(facets: list[Facet], shape: tuple[int, int], ylabel: str, fmt: str = "png",
                  size_mm: tuple[float, float] | None = None) -> io.BytesIO:  # fmt: skip
    """The time-course figure drawn with matplotlib (PDF, SVG or PNG bytes), each facet's measure over its fraction.

    Parameters
    ----------
    facets : list of Facet
        Row by row.
    shape : tuple of int
        Facet rows and columns.
    ylabel : str
        The measure's axis label.
    fmt : str
        'pdf', 'svg' or 'png' (:func:`~nwb_ketamine.explorer.paperfigure.figure_file`).
    size_mm : tuple of float, optional
        The figure's width and height in mm (default: from the number of facets and groups).

    Returns
    -------
    io.BytesIO
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_rows, n_cols = max(shape[0], 1), max(shape[1], 1)
    widest = max((len(f.ticks) for f in facets), default=1)
    size = (max(4.5, 1.8 * widest) * n_cols, 6.5 * n_rows) if size_mm is None else inches(size_mm)
    with plt.rc_context(PAPER_STYLE):
        fig, axes = plt.subplots(2 * n_rows, n_cols, figsize=size, squeeze=False, layout="constrained",
                                 gridspec_kw={"height_ratios": [3, 2] * n_rows})  # fmt: skip
        _draw_facets(axes, facets, n_cols, ylabel)
        return figure_file(fig, fmt)


def _draw_facets(axes, facets: list, n_cols: int, ylabel: str) -> None:
    """Each facet's measure and fraction blocked into ``axes`` (see :func:`render_figure`), one y scale per kind."""
    for i, facet in enumerate(facets):
        ax, frac = axes[2 * (i // n_cols), i % n_cols], axes[2 * (i // n_cols) + 1, i % n_cols]
        colours = [PALETTE[int(c) % len(PALETTE)] for c in facet.points["colour"]]
        ax.scatter(facet.points["xpos"], facet.points[VALUE], s=8, c=colours, alpha=0.45)
        ax.scatter(facet.animals["xpos"], facet.animals[VALUE], marker="D", s=30, facecolor="white",
                   edgecolor="black", zorder=3)  # fmt: skip
        for xs, ys, colour in facet.lines:
            ax.plot(xs, ys, color=colour, lw=2, alpha=0.8)
        if np.isfinite(facet.control_mean):
            ax.axhline(facet.control_mean, color=PALETTE[0], ls="--", lw=1.2)
        for _, g in facet.groups.iterrows():
            ax.errorbar(g["pos"], g["mean"], yerr=_yerr(g["mean"], g["ci_low"], g["ci_high"]), fmt="s",
                        color=g["colour"], mec="black", ms=7, lw=3, zorder=4, label=g["legend"])  # fmt: skip
            ax.annotate(g["n"], (g["pos"], 0), xycoords=("data", "axes fraction"), xytext=(0, 3),
                        textcoords="offset points", ha="center", fontsize="small")  # fmt: skip
        frac.axhline(0, color="black", ls=":", lw=1)
        for _, g in facet.fraction.iterrows():
            frac.errorbar(g["pos"], g["fraction_blocked"], yerr=_yerr(g["fraction_blocked"], g["fb_ci_low"],
                          g["fb_ci_high"]), fmt="o", color=g["colour"], mec="black", ms=7, lw=3)  # fmt: skip
        for xs, ys, colour in facet.fraction_lines:
            frac.plot(xs, ys, color=colour, lw=2, alpha=0.8)
        if facet.message:
            frac.text(0.02, 0.05, facet.message, transform=frac.transAxes, color="#555555")
        for a in (ax, frac):
            a.set_xlim(-0.6, facet.x_end)
            a.set_xticks(list(facet.ticks))
            a.set_xticklabels(list(facet.ticks.values()))
        ax.set_title(facet.title)
        handles = dict(zip(*reversed(ax.get_legend_handles_labels()), strict=True))  # one entry per drug level
        if handles:
            ax.legend(handles.values(), handles.keys(), loc="upper right")
        frac.set_title(f"Fraction blocked · {facet.title}" if facet.title else "Fraction blocked")
        if i % n_cols == 0:
            ax.set_ylabel(ylabel)
            frac.set_ylabel("fraction blocked")
    for rows in (axes[0::2], axes[1::2]):  # one y scale for the measure, one for the fraction blocked
        limits = np.array([a.get_ylim() for a in rows.ravel()])
        for a in rows.ravel():
            a.set_ylim(limits[:, 0].min(), limits[:, 1].max())


def _yerr(centre: float, low: float, high: float):
    if not (np.isfinite(low) and np.isfinite(high)):
        return None
    return [[centre - low], [high - centre]]
