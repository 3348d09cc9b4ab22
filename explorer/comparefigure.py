"""One facet of the compare figure: a bokeh figure of boxes, points and animal means, updated in place.

Groups sit at integer x positions and the boxes are drawn from quartiles computed here (quads and
segments), so the boxes, the jittered points, the animal means and the "n = cells / animals" tick labels
share one numeric axis (``hv.BoxWhisker`` on nested categorical axes cannot overlay points). A
:class:`ComparePanel` keeps its column data sources and gets new arrays when the measure or grouping
changes, so the server sends a small patch of numeric buffers.

The other plot kinds (:mod:`~nwb_ketamine.explorer.comparekinds`: dots, cumulative distributions) are
renderers of the same figure, shown or hidden by :meth:`ComparePanel.show`; the sources of the hidden
ones are emptied, so a change sends only what is drawn. The cumulative kind puts the measure on x: the
figure's x range then spans the values, a second x axis (a linear one, hidden otherwise) labels it, and
the shared y range spans 0–1.

Exports are made for a paper as every view's are (:mod:`~nwb_ketamine.explorer.paperfigure`): text kept
as text in PDF and SVG, PNG at 300 dpi, the size in mm, Okabe and Ito's colour-blind-safe colours.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pandas as pd
import panel as pn
from bokeh.core.property.vectorization import value
from bokeh.models import (
    ColumnDataSource,
    FixedTicker,
    HoverTool,
    LinearAxis,
    LinearColorMapper,
    Range1d,
    TapTool,
)
from bokeh.models.annotations import Legend, LegendItem, Title
from bokeh.models.renderers import GlyphRenderer
from bokeh.models.text import BaseText
from bokeh.plotting import figure

from nwb_ketamine.explorer.comparekinds import dot_segments, draw_matplotlib, ecdf_lines, quartiles, tick_label
from nwb_ketamine.explorer.paperfigure import MM_PER_INCH, PALETTE, PAPER_STYLE, figure_file, inches

#: Legend items of a facet's cumulative plot made up front (one per line shown).
LEGEND_ITEMS = 12
#: The column of the compare view's data holding the plotted measure.
VALUE = "value"


def _columns(names, rows: list[tuple]) -> dict[str, list]:
    """Row tuples as the columns of a data source (empty columns when there are no rows)."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    return {name: list(column) for name, column in zip(names, columns, strict=True)}


class ComparePanel:
    """One facet of the compare figure: a bokeh figure whose glyphs read from data sources updated in place.

    Parameters
    ----------
    y_range : bokeh.models.Range1d
        Shared by the facets, so they compare on one scale.
    on_tap : callable
        Called with the row numbers (in the view's data) of the tapped points.
    """

    def __init__(self, y_range: Range1d, on_tap: Callable[[np.ndarray], None]) -> None:
        self._title = Title(text="")  # each update sets its text
        fig = figure(
            height=440, sizing_mode="stretch_width", x_range=Range1d(start=-0.6, end=0.4), y_range=y_range,
            tools="pan,box_zoom,wheel_zoom,reset,save", toolbar_location="above", title=self._title,
        )  # fmt: skip
        self.boxes = ColumnDataSource({"left": [], "right": [], "bottom": [], "top": [], "colour": []})
        self.whiskers = ColumnDataSource({"x0": [], "y0": [], "x1": [], "y1": []})
        self.medians = ColumnDataSource({"x0": [], "y0": [], "x1": [], "y1": []})
        # colour as a palette index (numbers travel as binary buffers; PALETTE[i] is drawn)
        self.points = ColumnDataSource({"xpos": [], VALUE: [], "colour": [], "row": []})
        self.means = ColumnDataSource({"xpos": [], VALUE: [], "subject": []})
        boxes: list[GlyphRenderer] = [
            fig.quad("left", "right", "top", "bottom", source=self.boxes, fill_color="colour", fill_alpha=0.25,
                     line_color="colour"),
            fig.segment("x0", "y0", "x1", "y1", source=self.whiskers, color="#444444"),
            fig.segment("x0", "y0", "x1", "y1", source=self.medians, color="black", line_width=2),
        ]  # fmt: skip
        mapper = LinearColorMapper(palette=PALETTE, low=-0.5, high=len(PALETTE) - 0.5)
        points = fig.scatter("xpos", VALUE, source=self.points, size=6, alpha=0.75, nonselection_alpha=0.4,
                             color={"field": "colour", "transform": mapper})  # fmt: skip
        means = fig.scatter("xpos", VALUE, source=self.means, marker="diamond", size=13, fill_color="white",
                            line_color="black", line_width=1.5)  # fmt: skip
        fig.add_tools(
            HoverTool(renderers=[points], tooltips=[("value", f"@{VALUE}{{0.[000]}}"), ("", "click to open")]),
            HoverTool(renderers=[means], tooltips=[("animal mean", f"@{VALUE}{{0.[000]}}"), ("animal", "@subject")]),
            TapTool(renderers=[points]),
        )
        # the dot plot: a median line across each group's points and its IQR bar beside them
        self.dot_medians = ColumnDataSource({"x0": [], "y0": [], "x1": [], "y1": []})
        self.dot_iqr = ColumnDataSource({"x0": [], "y0": [], "x1": [], "y1": []})
        dots = [fig.segment("x0", "y0", "x1", "y1", source=self.dot_medians, color="black", line_width=3),
                fig.segment("x0", "y0", "x1", "y1", source=self.dot_iqr, color="black", line_width=2.5)]  # fmt: skip
        # the cumulative distributions: one step line per group
        self.ecdf = ColumnDataSource({"xs": [], "ys": [], "colour": [], "dash": [], "label": []})
        ecdf = fig.multi_line("xs", "ys", source=self.ecdf, line_color="colour", line_dash="dash", line_width=2)
        fig.add_tools(HoverTool(renderers=[ecdf], tooltips=[("", "@label")]))
        # a fixed set of legend items, hidden when unused: a change of the items list (a model reference)
        # makes the document walk all its models again, ~100 ms per change with 10,000 points
        self._legend = Legend(location="bottom_right", visible=False, label_text_font_size="8pt")
        fig.add_layout(self._legend)
        self._ticker = FixedTicker(ticks=[])
        fig.xaxis.ticker = self._ticker
        fig.xgrid.grid_line_color = None
        self._value_axis = LinearAxis(visible=False)  # the measure's axis of the cumulative kind
        fig.add_layout(self._value_axis, "below")
        self._position_axis = fig.xaxis[0]
        self.renderers: dict[str, list[GlyphRenderer]] = {
            "boxes": [*boxes, points, means],
            "dots": [points, means, *dots],
            "cumulative": [ecdf],
        }
        self.kind = "boxes"
        self._legend_items: list[LegendItem] = []
        self._add_legend_items(LEGEND_ITEMS)
        self._on_tap = on_tap
        self.points.selected.on_change("indices", self._tapped)
        self.figure = fig
        self.pane = pn.pane.Bokeh(fig, sizing_mode="stretch_width", min_height=440)

    def _tapped(self, attr, old, new) -> None:
        if new:
            self._on_tap(np.asarray(self.points.data["row"])[new])

    def show(self, rows: list[dict], values, subjects, jitter, colour_codes: dict, ylabel: str, title: str,
             kind: str = "boxes", value_range: tuple = (0.0, 1.0), fraction_label: str = "") -> None:  # fmt: skip
        """Draw the groups ``rows`` of ``values`` (the view's data) into this facet as ``kind``.

        Parameters
        ----------
        rows
            The facet's groups (:func:`facet_groups`): position, levels, counts, row indices.
        values
            The plotted measure, one per row of the view's data.
        subjects
            The data's animals as (codes, names) of ``pandas.factorize``.
        jitter
            Horizontal offset of each point.
        colour_codes
            Colour level → index in :data:`PALETTE`.
        ylabel, title
            The measure's axis label and the facet's title.
        kind
            'boxes', 'dots' or 'cumulative' (:data:`~nwb_ketamine.explorer.comparekinds.PLOT_KINDS`).
        value_range
            The x range of the cumulative kind (the measure's, padded; the same for every facet).
        fraction_label
            The y label of the cumulative kind.
        """
        self._show_kind(kind)
        self._title.text = title
        fig = self.figure
        if kind == "cumulative":
            self._clear(self.points, self.means, self.boxes, self.whiskers, self.medians, self.dot_medians,
                        self.dot_iqr)  # fmt: skip
            self.ecdf.data = ecdf_lines(rows, values, colour_codes, PALETTE)
            texts = self.ecdf.data["label"]
            if len(texts) > len(self._legend_items):  # more lines than ever: more items (once)
                self._add_legend_items(len(texts) - len(self._legend_items))
            for i, item in enumerate(self._legend_items):
                item.update(label=value(texts[i] if i < len(texts) else ""), visible=i < len(texts))
            start, end = value_range
            fig.x_range.update(start=start, end=end, reset_start=start, reset_end=end)
            self._value_axis.axis_label = ylabel
            fig.yaxis.axis_label = fraction_label
            return
        self._clear(self.ecdf)
        self._draw_groups(rows, values, subjects, jitter, colour_codes, kind)
        labels: dict[float | str, str | BaseText] = {}
        for r in rows:
            labels[r["pos"]] = tick_label(r)
        end = max(len(rows), 1) - 0.4
        fig.x_range.update(start=-0.6, end=end, reset_start=-0.6, reset_end=end)
        self._ticker.ticks = [r["pos"] for r in rows]
        self._position_axis.major_label_overrides = labels
        fig.yaxis.axis_label = ylabel

    def _add_legend_items(self, n: int) -> None:
        """``n`` more (hidden) legend items for the next lines of the cumulative plot."""
        first = len(self._legend_items)
        self._legend_items += [LegendItem(label=value(""), renderers=self.renderers["cumulative"], index=i,
                                          visible=False) for i in range(first, first + n)]  # fmt: skip
        self._legend.items = list(self._legend_items)

    def _show_kind(self, kind: str) -> None:
        """Show the renderers and axis of ``kind``, hide the others (only changed flags are sent)."""
        shown = {id(r) for r in self.renderers[kind]}
        for renderer in {id(r): r for rs in self.renderers.values() for r in rs}.values():
            renderer.visible = id(renderer) in shown
        self._position_axis.visible = kind != "cumulative"
        self._value_axis.visible = self._legend.visible = kind == "cumulative"
        self.kind = kind

    @staticmethod
    def _clear(*sources: ColumnDataSource) -> None:
        """Empty ``sources`` (those already empty are left alone: no event)."""
        for source in sources:
            if any(len(column) for column in source.data.values()):
                source.selected.indices = []
                source.data = {name: [] for name in source.data}

    def _draw_groups(self, rows: list[dict], values, subjects, jitter, colour_codes: dict, kind: str) -> None:
        """The points, the animal means and the boxes or the dot plot's median and IQR of each group."""
        boxes: list[tuple] = []
        whiskers: list[tuple] = []
        medians: list[tuple] = []
        dot_medians: list[tuple] = []
        dot_iqr: list[tuple] = []
        means: list[tuple] = []
        for row in rows:
            v, p = values[row["index"]], row["pos"]
            if kind == "dots":
                median_line, iqr = dot_segments(p, v)
                dot_medians += median_line
                dot_iqr += iqr
            else:
                q1, median, q3 = quartiles(v)
                low, high = v[v >= q1 - 1.5 * (q3 - q1)].min(), v[v <= q3 + 1.5 * (q3 - q1)].max()
                boxes.append((p - 0.3, p + 0.3, q1, q3, PALETTE[colour_codes.get(row["colour_level"], 0)]))
                whiskers += [(p, low, p, q1), (p, q3, p, high)]
                medians.append((p - 0.3, median, p + 0.3, median))
            animals, which = np.unique(subjects[0][row["index"]], return_inverse=True)
            means += zip(
                [p] * animals.size, np.bincount(which, v) / np.bincount(which), subjects[1][animals], strict=True
            )
        index = np.concatenate([r["index"] for r in rows]) if rows else np.zeros(0, dtype=np.int64)
        sizes = [r["index"].size for r in rows]
        self.points.selected.indices = []
        self.points.data = {
            "xpos": (np.repeat([float(r["pos"]) for r in rows], sizes) + jitter[index]).astype(np.float32),
            VALUE: values[index],
            "colour": np.repeat([colour_codes.get(r["colour_level"], 0) for r in rows], sizes).astype(np.int32),
            "row": index.astype(np.int32),
        }
        shown = ((self.dot_medians, dot_medians), (self.dot_iqr, dot_iqr)) if kind == "dots" else (
            (self.boxes, boxes), (self.whiskers, whiskers), (self.medians, medians))  # fmt: skip
        for source, table in shown:
            source.data = _columns(source.data, table)
        self._clear(
            *((self.boxes, self.whiskers, self.medians) if kind == "dots" else (self.dot_medians, self.dot_iqr))
        )
        self.means.data = _columns(self.means.data, means)


def render_figure(panels: list[tuple[str, list[dict]]], shape: tuple[int, int], values, subjects, colours: dict,
                  ylabel: str, fmt: str = "png", kind: str = "boxes", fraction_label: str = "",
                  colour_title: str = "", size_mm: tuple[float, float] | None = None):  # fmt: skip
    """The compare figure drawn with matplotlib (PDF, SVG or PNG bytes), the same geometry as the bokeh facets.

    Parameters
    ----------
    panels : list of (str, list of dict)
        Each facet's title and groups (as given to :meth:`ComparePanel.show`), row by row.
    shape : tuple of int
        Facet rows and columns.
    values, subjects : numpy.ndarray
        The plotted measure and the animal of each row of the view's data.
    colours : dict
        Colour level → colour.
    ylabel : str
        The measure's axis label.
    fmt : str
        'pdf', 'svg' or 'png'.
    kind : str
        The plot kind ('boxes', 'dots' or 'cumulative').
    fraction_label : str
        The y label of the cumulative kind.
    colour_title : str
        The colour factor's name: the legend of the colours above the facets (none when '').
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
    widest = max((len(rows) for _, rows in panels), default=1)
    size = (max(4, 2.2 * widest) * n_cols, 4.5 * n_rows) if size_mm is None else inches(size_mm)
    with plt.rc_context(PAPER_STYLE):
        fig, axes = plt.subplots(n_rows, n_cols, figsize=size, squeeze=False, layout="constrained", sharey=True,
                                 sharex=kind == "cumulative")  # fmt: skip
        _draw_compare(fig, axes, panels, values, subjects, colours, ylabel, kind, fraction_label, colour_title)
        return figure_file(fig, fmt)


#: A region's name (:func:`~nwb_ketamine.explorer.factors.region_name`): the study's label, the rest.
_REGION_NAME = re.compile(r"^(\S+) — .+ \(CCF: \S+\)$")
#: The mean width of a character of the tick labels, mm (6 pt DejaVu Sans, about).
_CHAR_MM = 1.2


def fit_ticks(ax, width_mm: float) -> dict[str, str]:
    """Make the category labels of ``ax``'s x axis fit ``width_mm``: regions by their label, then wrapped.

    A region's full name ('LHb — lateral habenula (CCF: LH)') too wide for its slot is shown as the study's
    label ('LHb'), its full name returned for the figure's key; lines still too wide are wrapped.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        An axis with fixed tick labels.
    width_mm : float
        The axis' width, mm.

    Returns
    -------
    dict
        Short label → full name of the regions shortened.
    """
    import textwrap

    labels = [t.get_text() for t in ax.get_xticklabels()]
    fit = max(int(width_mm / max(len(labels), 1) / _CHAR_MM), 6)
    if all(len(line) <= fit for label in labels for line in label.split("\n")):
        return {}
    short: dict[str, str] = {}
    lines = [label.split("\n") for label in labels]
    for label in lines:
        for i, line in enumerate(label):
            match = _REGION_NAME.match(line)
            if match and len(line) > fit:
                short[match.group(1)] = line
                label[i] = match.group(1)
    wrapped = ["\n".join(textwrap.fill(line, fit, break_long_words=False) for line in label) for label in lines]
    ax.set_xticks(ax.get_xticks(), wrapped)
    return short


def _draw_compare(fig, axes, panels, values, subjects, colours, ylabel, kind, fraction_label, colour_title) -> None:
    """Draw the compare figure's facets, axis labels and colour legend into ``fig`` (see :func:`render_figure`)."""
    rng = np.random.default_rng(0)
    keyed: dict[str, str] = {}
    for ax, (title, rows) in zip(axes.ravel(), panels, strict=False):
        draw_matplotlib(ax, kind, rows, values, subjects, colours, PALETTE, rng)
        if title:
            ax.set_title(title)
        if kind == "cumulative":
            ax.set_xlabel(ylabel)
        else:
            keyed.update(fit_ticks(ax, 0.8 * fig.get_figwidth() * MM_PER_INCH / axes.shape[1]))
    if keyed:  # the regions shortened on the ticks, in full below the plots
        fig.supxlabel("; ".join(keyed.values()), fontsize="small")
    for ax in axes[:, 0]:
        ax.set_ylabel(fraction_label if kind == "cumulative" else ylabel)
    entries = [(str(level), c) for level, c in colours.items() if level is not None]
    if colour_title and entries and kind != "cumulative":  # the cumulative lines carry their own legend
        from matplotlib.patches import Patch

        handles = [Patch(facecolor=c, edgecolor="#333333", alpha=0.6, label=level) for level, c in entries]
        fig.legend(handles=handles, title=colour_title, loc="outside upper center", ncols=min(len(handles), 4),
                   frameon=False)  # fmt: skip


def facet_groups(data, x: str, colour: str, facet_row: str, facet_col: str) -> tuple[dict, list]:
    """The groups of each facet of the compare figure, in x order, with their position, counts and rows.

    Parameters
    ----------
    data : pandas.DataFrame
        The compare view's data: ``key``, ``subject``, the factors on its axes and ``drug_role`` (which
        puts the drug's control levels first).
    x, colour, facet_row, facet_col : str
        The factors on the axes ('none' for colour and the facets when unused).

    Returns
    -------
    layout : dict
        (row level, column level) → list of groups: ``x_level``, ``colour_level``, ``pos``, ``n_cells``
        (distinct cells or units), ``n_animals``, ``index`` (sorted row numbers in ``data``).
    colour_levels : list
        The colour levels, control first ([None] without a colour axis).
    """
    from nwb_ketamine.explorer.factors import ordered_levels

    def levels(column: str) -> list:
        """The levels of ``column`` in the data (one None level when it is on no axis).

        Parameters
        ----------
        column : str
            A factor, or 'none'.

        Returns
        -------
        list
        """
        return ordered_levels(data, column) if column != "none" and not data.empty else [None]

    row_levels, col_levels = levels(facet_row), levels(facet_col)
    x_levels = ordered_levels(data, x) if not data.empty else []
    colour_levels = levels(colour) if colour not in ("none", x) else [None]
    colour = colour if colour != x else "none"
    named = [("row", facet_row), ("col", facet_col), ("x", x), ("colour", colour)]
    columns = [*dict.fromkeys(c for _, c in named if c != "none")]
    groups = data.groupby(columns, sort=False).indices if not data.empty else {}
    indices = {k if isinstance(k, tuple) else (k,): v for k, v in groups.items()}
    subjects, keys = pd.factorize(data["subject"])[0], pd.factorize(data["key"])[0]
    layout: dict[tuple, list[dict]] = {}
    for row_level in row_levels:
        for col_level in col_levels:
            rows: list[dict] = []
            for xl in x_levels:
                for cl in colour_levels:
                    labels: dict[str, str] = {}
                    for role, level in (("row", row_level), ("col", col_level), ("x", xl), ("colour", cl)):
                        column = dict(named)[role]
                        if level is not None and column != "none":
                            if labels.get(column, level) != level:
                                labels = {}
                                break
                            labels[column] = level
                    if not labels:
                        continue
                    index = indices.get(tuple(labels.get(c) for c in columns))
                    if index is None or index.size == 0:
                        continue
                    rows.append(
                        {
                            "x_level": xl,
                            "colour_level": cl,
                            "pos": len(rows),
                            "n_cells": int(np.unique(keys[index]).size),
                            "n_animals": int(np.unique(subjects[index]).size),
                            "index": np.sort(index),
                        }
                    )
            layout[(row_level, col_level)] = rows
    return layout, colour_levels
