"""Figures for a paper, shared by every view that exports one: style, sizes, file formats and the download row.

Design decisions:

- An exported figure is drawn with matplotlib under :data:`PAPER_STYLE` and saved by :func:`figure_file`:
  PDF and SVG keep their text as text (TrueType in the PDF, ``<text>`` in the SVG), so it stays editable
  in Illustrator or Inkscape; PNG is :data:`EXPORT_DPI` dpi.
- The size is the user's, in mm (:class:`FigureExport`'s ``figure_width_mm`` and height), with a
  journal's single and double column as presets (:data:`FIGURE_PRESETS`); the same widgets in every view
  (:meth:`FigureExport.figure_downloads`).
- The colours are Okabe and Ito's colour-blind-safe set (:data:`PALETTE`), the control grey.
- A file is named after what it shows (:func:`file_stem`: a cell or unit key with its slashes replaced).
"""

from __future__ import annotations

import functools
import io
import math
import re
from typing import Any

import panel as pn
import param

#: Okabe & Ito's colour-blind-safe colours (Color Universal Design), the control's grey first and the
#: yellow, faint on white, last.
PALETTE = ["#999999", "#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#000000", "#F0E442"]
#: Figure widths of a journal page, mm (Nature's single and double column).
FIGURE_PRESETS = {"single column (89 mm)": 89.0, "double column (183 mm)": 183.0}
#: The formats of a figure export and the resolution of its PNG.
FIGURE_FORMATS = ("pdf", "svg", "png")
EXPORT_DPI = 300
#: matplotlib settings of an exported figure: text kept as text, fonts sized for print.
PAPER_STYLE: dict[Any, Any] = {
    "svg.fonttype": "none",
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "font.size": 7,
    "axes.titlesize": 7,
    "axes.labelsize": 7,
    "xtick.labelsize": 6,
    "ytick.labelsize": 6,
    "legend.fontsize": 6,
    "axes.linewidth": 0.6,
}
MM_PER_INCH = 25.4


def inches(size_mm: tuple[float, float]) -> tuple[float, float]:
    """A size in mm as matplotlib's inches.

    Parameters
    ----------
    size_mm : tuple of float
        Width and height, mm.

    Returns
    -------
    tuple of float
    """
    return size_mm[0] / MM_PER_INCH, size_mm[1] / MM_PER_INCH


def figure_file(fig, fmt: str) -> io.BytesIO:
    """Lay out the matplotlib figure ``fig``, save it as ``fmt`` into memory and close it.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure of an export.
    fmt : str
        'pdf', 'svg' or 'png' (:data:`FIGURE_FORMATS`): the text of a PDF or SVG stays text, a PNG is
        :data:`EXPORT_DPI` dpi.

    Returns
    -------
    io.BytesIO
        The file's content, positioned at its start.
    """
    import matplotlib.pyplot as plt

    if fig.get_layout_engine() is None:
        fig.tight_layout()
    out = io.BytesIO()
    with plt.rc_context({k: v for k, v in PAPER_STYLE.items() if k.endswith("fonttype")}):
        fig.savefig(out, format=fmt, dpi=EXPORT_DPI)
    plt.close(fig)
    out.seek(0)
    return out


def paper_figure(size_mm: tuple[float, float], **subplots):
    """A new matplotlib figure of ``size_mm`` under :data:`PAPER_STYLE`, constrained layout (Agg backend).

    Call it inside ``matplotlib.pyplot.rc_context(PAPER_STYLE)`` so that what is drawn next has the
    paper's fonts too.

    Parameters
    ----------
    size_mm : tuple of float
        Width and height, mm.
    **subplots
        Passed to ``matplotlib.pyplot.figure``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.figure(figsize=inches(size_mm), layout="constrained", **subplots)


def plain_axes(ax) -> None:
    """A paper's axes: no top or right spine, ticks outwards.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The axes, changed in place.
    """
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(direction="out", length=2.5, width=0.6)


def nice_length(value: float) -> float:
    """``value`` rounded up to 1, 2 or 5 × a power of ten (bins, rows and scale bars people read easily).

    Parameters
    ----------
    value : float
        A positive length (1 when it is not).

    Returns
    -------
    float
    """
    if not value > 0:
        return 1.0
    exponent = 10 ** math.floor(math.log10(value))
    return next(m * exponent for m in (1, 2, 5, 10) if m * exponent >= value)


def file_stem(key: str) -> str:
    """A catalog key as the start of a file name ('m0001/20240001/s1/c0' → 'm0001_20240001_s1_c0').

    Parameters
    ----------
    key : str
        A cell's or unit's catalog key (or any text).

    Returns
    -------
    str
        Letters, digits, '.', '-' and '_' only.
    """
    return re.sub(r"[^\w.-]+", "_", key).strip("_") or "figure"


def detail_title(name: str, region: str, row, extra: tuple[str, ...] = ()) -> str:
    """The title of a cell's or unit's figure: what it is and its region, then its group below.

    Parameters
    ----------
    name : str
        'Cell KEY' or 'Unit KEY'.
    region : str
        The region's full name (:func:`~nwb_ketamine.explorer.factors.region_name`).
    row : pandas.Series or dict
        Its catalog row: the drug, dose and stress given (those empty left out).
    extra : tuple of str
        More of the group line (the time since the injection).

    Returns
    -------
    str
        Two lines.
    """
    group = [str(row.get(k, "")) for k in ("drug", "dose", "stress")]
    return f"{name} — {region}\n" + ", ".join([g for g in group if g not in ("", "nan")] + list(extra))


class FigureExport(param.Parameterized):
    """The size of a view's exported figure in mm and its download buttons (PDF, SVG, 300 dpi PNG).

    A view mixes it in and implements :meth:`figure_bytes`.
    """

    figure_width_mm = param.Number(default=FIGURE_PRESETS["double column (183 mm)"], bounds=(30.0, 400.0),
                                   label="Figure width (mm)", doc="Width of the exported figure, mm.")  # fmt: skip
    figure_height_mm = param.Number(default=110.0, bounds=(30.0, 400.0), label="Figure height (mm)",
                                    doc="Height of the exported figure, mm.")  # fmt: skip

    @property
    def figure_size_mm(self) -> tuple[float, float]:
        """The exported figure's width and height, mm."""
        return float(self.figure_width_mm), float(self.figure_height_mm)

    def figure_bytes(self, fmt: str) -> io.BytesIO:
        """The view's figure as file content (the view draws it at :attr:`figure_size_mm`).

        Parameters
        ----------
        fmt : str
            'pdf', 'svg' or 'png' (:data:`FIGURE_FORMATS`).

        Returns
        -------
        io.BytesIO
        """
        raise NotImplementedError

    def figure_buttons(self, name: str) -> list[pn.widgets.FileDownload]:
        """One download button per format of :data:`FIGURE_FORMATS`, the files named ``NAME.FORMAT``.

        Parameters
        ----------
        name : str
            The file name without its extension.

        Returns
        -------
        list of panel.widgets.FileDownload
        """
        return [
            pn.widgets.FileDownload(
                callback=functools.partial(self.figure_bytes, fmt), filename=f"{name}.{fmt}",
                label="PNG (300 dpi)" if fmt == "png" else f"{fmt.upper()} (editable text)",
            )
            for fmt in FIGURE_FORMATS
        ]  # fmt: skip

    def figure_size_row(self) -> pn.Row:
        """The figure's size: the column presets ('custom' for another width), width and height in mm.

        Returns
        -------
        panel.Row
        """
        preset = pn.widgets.RadioButtonGroup(name="Figure width", options=[*FIGURE_PRESETS, "custom"],
                                             value=self._preset_name(), button_type="light")  # fmt: skip
        preset.param.watch(lambda event: self._apply_preset(event.new), "value")
        self.param.watch(lambda _: setattr(preset, "value", self._preset_name()), "figure_width_mm")
        return pn.Row(
            pn.pane.Markdown("**Figure size**"), preset,
            pn.widgets.FloatInput.from_param(self.param.figure_width_mm, step=1.0, width=130),
            pn.widgets.FloatInput.from_param(self.param.figure_height_mm, step=1.0, width=130),
        )  # fmt: skip

    def figure_downloads(self, name: str) -> pn.Column:
        """The figure's download buttons in a row, its size below (for a view without CSVs to offer).

        Parameters
        ----------
        name : str
            What the files are named after (:meth:`figure_buttons`).

        Returns
        -------
        panel.Column
        """
        return pn.Column(pn.Row(pn.pane.Markdown("**Figure**"), *self.figure_buttons(name)), self.figure_size_row())

    def _preset_name(self) -> str:
        """The preset the figure's width is ('custom' when none)."""
        return next((k for k, v in FIGURE_PRESETS.items() if v == self.figure_width_mm), "custom")

    def _apply_preset(self, name: str) -> None:
        if name in FIGURE_PRESETS:
            self.figure_width_mm = FIGURE_PRESETS[name]
