"""One facet of the compare figure: a bokeh figure of boxes, points and animal means, updated in place.

Groups sit at integer x positions and the boxes are drawn from quartiles computed here (quads and
segments), so the boxes, the jittered points, the animal means and the "n = cells / animals" tick labels
share one numeric axis (``hv.BoxWhisker`` on nested categorical axes cannot overlay points). A
:class:`ComparePanel` keeps its column data sources and gets new arrays when the measure or grouping
changes, so the server sends a small patch of numeric buffers.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import panel as pn
from bokeh.models import ColumnDataSource, FixedTicker, HoverTool, LinearColorMapper, Range1d, TapTool
from bokeh.models.annotations import Title
from bokeh.models.text import BaseText
from bokeh.plotting import figure

PALETTE = ["#7f7f7f", "#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
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
        fig.quad("left", "right", "top", "bottom", source=self.boxes, fill_color="colour", fill_alpha=0.25,
                 line_color="colour")  # fmt: skip
        fig.segment("x0", "y0", "x1", "y1", source=self.whiskers, color="#444444")
        fig.segment("x0", "y0", "x1", "y1", source=self.medians, color="black", line_width=2)
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
        self._ticker = FixedTicker(ticks=[])
        fig.xaxis.ticker = self._ticker
        fig.xgrid.grid_line_color = None
        self._on_tap = on_tap
        self.points.selected.on_change("indices", self._tapped)
        self.figure = fig
        self.pane = pn.pane.Bokeh(fig, sizing_mode="stretch_width", min_height=440)

    def _tapped(self, attr, old, new) -> None:
        if new:
            self._on_tap(np.asarray(self.points.data["row"])[new])

    def show(self, rows: list[dict], values, subjects, jitter, colour_codes: dict, ylabel: str, title: str) -> None:
        """Draw the groups ``rows`` of ``values`` (the view's data) into this facet.

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
            The axis label and the facet's title.
        """
        boxes: list[tuple] = []
        whiskers: list[tuple] = []
        medians: list[tuple] = []
        means: list[tuple] = []
        for row in rows:
            v, p = values[row["index"]], row["pos"]
            q1, median, q3 = np.percentile(v, [25, 50, 75])
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
        for source, table in ((self.boxes, boxes), (self.whiskers, whiskers), (self.medians, medians)):
            source.data = _columns(source.data, table)
        self.means.data = _columns(self.means.data, means)
        labels: dict[float | str, str | BaseText] = {}
        for r in rows:
            group = r["x_level"] if r["colour_level"] is None else f"{r['x_level']} · {r['colour_level']}"
            labels[r["pos"]] = f"{group}\nn = {r['n_cells']} / {r['n_animals']}"
        fig = self.figure
        end = max(len(rows), 1) - 0.4
        fig.x_range.update(start=-0.6, end=end, reset_start=-0.6, reset_end=end)
        self._ticker.ticks = [r["pos"] for r in rows]
        fig.xaxis.major_label_overrides = labels
        fig.yaxis.axis_label = ylabel
        self._title.text = title


def render_figure(panels: list[tuple[str, list[dict]]], shape: tuple[int, int], values, subjects, colours: dict,
                  ylabel: str, fmt: str = "png"):  # fmt: skip
    """The compare figure drawn with matplotlib (PNG or SVG bytes), the same geometry as the bokeh facets.

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
        The axis label.
    fmt : str
        'png' or 'svg'.

    Returns
    -------
    io.BytesIO
    """
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_rows, n_cols = max(shape[0], 1), max(shape[1], 1)
    widest = max((len(rows) for _, rows in panels), default=1)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(max(4, 2.2 * widest) * n_cols, 4.5 * n_rows), squeeze=False,
                             sharey=True)  # fmt: skip
    rng = np.random.default_rng(0)
    for ax, (title, rows) in zip(axes.ravel(), panels, strict=False):
        for row in rows:
            v = values[row["index"]]
            colour = colours.get(row["colour_level"], PALETTE[0])
            ax.boxplot(v, positions=[row["pos"]], widths=0.6, showfliers=False, patch_artist=True,
                       boxprops={"facecolor": colour, "alpha": 0.3}, medianprops={"color": "black"})  # fmt: skip
            ax.scatter(row["pos"] + rng.uniform(-0.18, 0.18, len(v)), v, s=10, color=colour, alpha=0.7)
            animals, which = np.unique(subjects[row["index"]], return_inverse=True)
            means = np.bincount(which, v) / np.bincount(which)
            ax.scatter(np.full(animals.size, row["pos"]), means, marker="D", s=40, facecolor="white",
                       edgecolor="black", zorder=3)  # fmt: skip
        ax.set_xticks([r["pos"] for r in rows])
        ax.set_xticklabels(
            [f"{r['x_level']}" + (f"\n{r['colour_level']}" if r["colour_level"] else "")
             + f"\nn = {r['n_cells']}/{r['n_animals']}" for r in rows], fontsize=8,
        )  # fmt: skip
        if title:
            ax.set_title(title, fontsize=9)
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format=fmt, dpi=120)
    plt.close(fig)
    out.seek(0)
    return out


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
