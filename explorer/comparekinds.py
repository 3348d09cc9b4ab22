"""The compare figure's plot kinds: boxes, dot plots and cumulative distributions, as numbers to draw.

Design decisions:

- Every kind is drawn by the same kept bokeh figures (:class:`~nwb_ketamine.explorer.comparefigure.ComparePanel`):
  each has the renderers of all kinds and shows those of the current one, so switching the kind, like
  any other change, sends a patch of data sources and visibility flags, never a new figure.
- **Dots**: every point, with the group's median as a line across the points and its interquartile
  range as a bar beside them; no box, which would suggest one mode where a measure (e.g. % spikes in
  bursts) has two. Quartiles are ``numpy.percentile``'s (linear interpolation), as for the boxes.
- **Cumulative**: one empirical distribution function (ECDF) step line per group of the facet, x = the
  measure, y = the fraction of the group's cells (units) at or below it; every cell weighs the same
  (no per-animal weighting), and the legend gives each line's n cells / animals. The groups of a facet
  are its x-axis levels × colour levels: the line's colour is the colour level, its dash the x level,
  so the x factor is never pooled into one line.
"""

from __future__ import annotations

import re

import numpy as np

#: Widget label → kind.
PLOT_KINDS = {"Boxes": "boxes", "Dots (median, IQR)": "dots", "Cumulative distribution": "cumulative"}
#: The key under the figure, by kind.
KEYS = {
    "boxes": "box: quartiles, whiskers to 1.5 IQR · ◆ animal mean · labels: n = distinct cells (units) / animals · "
    "click a point to open it",
    "dots": "line: median, bar: interquartile range · ◆ animal mean · labels: n = distinct cells (units) / animals · "
    "click a point to open it",
    "cumulative": "y: fraction of the group's cells (units) at or below x, every cell weighing the same; colour: "
    "colour level, dash: x level · legend: n = distinct cells (units) / animals",
}
#: Dash of an ECDF line, by the index of its x level in the facet.
DASHES = ["solid", "dashed", "dotted", "dotdash", "dashdot"]
_MPL_DASHES = {"dotdash": "dashdot", "dashdot": (0, (6, 2, 1, 2, 1, 2))}


def ecdf(values) -> tuple[np.ndarray, np.ndarray]:
    """The empirical distribution function at each distinct value: F(x) = fraction of values ≤ x.

    Parameters
    ----------
    values : array_like
        The sample (NaN removed).

    Returns
    -------
    x : numpy.ndarray
        The distinct values, sorted.
    f : numpy.ndarray
        F at each of them (the last is 1).
    """
    v = np.asarray(values, dtype=float)
    v = np.sort(v[np.isfinite(v)])
    x, counts = np.unique(v, return_counts=True)
    return x, np.cumsum(counts) / max(v.size, 1)


def ecdf_steps(values) -> tuple[np.ndarray, np.ndarray]:
    """The vertices of the ECDF's step line: from (x₀, 0) up and right to (xₙ, 1).

    Parameters
    ----------
    values : array_like
        The sample.

    Returns
    -------
    xs, ys : numpy.ndarray
        Two vertices per distinct value: (x, F before x) and (x, F(x)).
    """
    x, f = ecdf(values)
    before = np.concatenate([[0.0], f[:-1]])
    return np.repeat(x, 2), np.column_stack([before, f]).ravel()


def quartiles(values) -> tuple[float, float, float]:
    """The first quartile, median and third quartile (``numpy.percentile``, linear interpolation).

    Parameters
    ----------
    values : array_like
        The group's values.

    Returns
    -------
    tuple of float
    """
    q1, median, q3 = np.percentile(np.asarray(values, dtype=float), [25, 50, 75])
    return float(q1), float(median), float(q3)


def dot_segments(pos: float, values) -> tuple[list[tuple], list[tuple]]:
    """The dot plot's median line (across the points) and IQR bar with caps (beside them) of one group.

    Parameters
    ----------
    pos : float
        The group's x position (its points are jittered within ±0.18).
    values : array_like
        The group's values.

    Returns
    -------
    median : list of tuple
        One segment (x0, y0, x1, y1).
    iqr : list of tuple
        The bar and its two caps.
    """
    q1, median, q3 = quartiles(values)
    bar = pos + 0.27
    return [(pos - 0.24, median, pos + 0.24, median)], [
        (bar, q1, bar, q3),
        (bar - 0.05, q1, bar + 0.05, q1),
        (bar - 0.05, q3, bar + 0.05, q3),
    ]


def group_label(row: dict) -> str:
    """A group's name: its x level, and its colour level when there is one.

    Parameters
    ----------
    row : dict
        A group of :func:`~nwb_ketamine.explorer.comparefigure.facet_groups`.

    Returns
    -------
    str
    """
    return row["x_level"] if row["colour_level"] is None else f"{row['x_level']} · {row['colour_level']}"


#: Characters per line of a group's tick label on screen: a region's name ("LHb — lateral habenula (CCF: LH)")
#: on one line overlapped its neighbours' at four groups per facet.
TICK_LINE_CHARS = 16


def tick_label(row: dict, width: int = TICK_LINE_CHARS) -> str:
    r"""A group's tick label on screen: its x level wrapped at word breaks, its colour level, its n, a line each.

    Parameters
    ----------
    row : dict
        A group of :func:`~nwb_ketamine.explorer.comparefigure.facet_groups`.
    width : int
        Characters per line; a word longer than that keeps its own line whole.

    Returns
    -------
    str
        Lines joined by newlines, e.g. ``"LHb —\nlateral habenula\n(CCF: LH)\nketamine\nn = 8 / 4"``; joining
        the lines before the colour level with spaces gives the x level back.
    """
    import textwrap

    # a region's name breaks after its label and before its CCF term: "LHb —" / "lateral habenula" / "(CCF: LH)"
    level = str(row["x_level"])
    label, dash, name = level.partition(" — ")
    chunks = [label + " —", *re.split(r" (?=\([^()]*\)$)", name)] if dash else [level]
    lines = [line for chunk in chunks for line in textwrap.wrap(chunk, width, break_long_words=False,
                                                                break_on_hyphens=False)]  # fmt: skip
    if row["colour_level"] is not None:
        lines.append(str(row["colour_level"]))
    lines.append(f"n = {row['n_cells']} / {row['n_animals']}")
    return "\n".join(lines)


def ecdf_lines(rows: list[dict], values, colour_codes: dict, palette: list[str]) -> dict[str, list]:
    """The columns of a facet's ECDF multi-line source: one step line per group.

    Parameters
    ----------
    rows : list of dict
        The facet's groups.
    values : numpy.ndarray
        The plotted measure, one per row of the view's data.
    colour_codes : dict
        Colour level → index in ``palette``.
    palette : list of str
        The colours.

    Returns
    -------
    dict
        ``xs``, ``ys`` (a vertex array per line), ``colour``, ``dash`` and ``label`` (the group and its
        n cells / animals, the legend's text).
    """
    x_index = {level: i for i, level in enumerate(dict.fromkeys(r["x_level"] for r in rows))}
    coloured = any(r["colour_level"] is not None for r in rows)
    columns: dict[str, list] = {"xs": [], "ys": [], "colour": [], "dash": [], "label": []}
    for row in rows:
        xs, ys = ecdf_steps(values[row["index"]])
        i = x_index[row["x_level"]]
        code = colour_codes.get(row["colour_level"], 0) if coloured else i
        columns["xs"].append(xs)
        columns["ys"].append(ys)
        columns["colour"].append(palette[code % len(palette)])
        columns["dash"].append(DASHES[i % len(DASHES)] if coloured else "solid")
        columns["label"].append(f"{group_label(row)} (n = {row['n_cells']} / {row['n_animals']})")
    return columns


def draw_matplotlib(ax, kind: str, rows: list[dict], values, subjects, colours: dict, palette: list[str],
                    rng) -> None:  # fmt: skip
    """One facet of the exported figure in ``kind`` ('boxes', 'dots' or 'cumulative'), on matplotlib axes.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The facet's axes.
    kind : str
        The plot kind.
    rows : list of dict
        The facet's groups.
    values, subjects : numpy.ndarray
        The plotted measure and the animal of each row of the view's data.
    colours : dict
        Colour level → colour.
    palette : list of str
        The colours of lines without a colour level.
    rng : numpy.random.Generator
        For the points' jitter.
    """
    if kind == "cumulative":
        lines = ecdf_lines(rows, values, {level: palette.index(c) for level, c in colours.items()}, palette)
        for xs, ys, colour, dash, label in zip(*lines.values(), strict=True):
            ax.plot(xs, ys, color=colour, linestyle=_MPL_DASHES.get(dash, dash), label=label)
        if rows:
            ax.legend(loc="lower right")
        ax.set_ylim(-0.02, 1.02)
        return
    for row in rows:
        v = values[row["index"]]
        colour = colours.get(row["colour_level"], palette[0])
        if kind == "boxes":
            ax.boxplot(v, positions=[row["pos"]], widths=0.6, showfliers=False, patch_artist=True,
                       boxprops={"facecolor": colour, "alpha": 0.3}, medianprops={"color": "black"})  # fmt: skip
        ax.scatter(row["pos"] + rng.uniform(-0.18, 0.18, len(v)), v, s=10, color=colour, alpha=0.7)
        if kind == "dots":
            median, iqr = dot_segments(row["pos"], v)
            for x0, y0, x1, y1 in median:
                ax.plot([x0, x1], [y0, y1], color="black", linewidth=2.5, zorder=4)
            for x0, y0, x1, y1 in iqr:
                ax.plot([x0, x1], [y0, y1], color="black", linewidth=2, zorder=4)
        animals, which = np.unique(subjects[row["index"]], return_inverse=True)
        means = np.bincount(which, v) / np.bincount(which)
        ax.scatter(np.full(animals.size, row["pos"]), means, marker="D", s=40, facecolor="white",
                   edgecolor="black", zorder=3)  # fmt: skip
    ax.set_xticks([r["pos"] for r in rows])
    ax.set_xticklabels(
        [f"{r['x_level']}" + (f"\n{r['colour_level']}" if r["colour_level"] else "")
         + f"\nn = {r['n_cells']}/{r['n_animals']}" for r in rows],
    )  # fmt: skip
