"""Read-only tables as HTML: what the explorer shows but nobody edits, sorts or clicks.

Design decisions:

- **An HTML table, not a Tabulator.** Every Tabulator a page shows costs the browser 0.1–0.2 s: the table
  is built, then Panel's view redraws it twice (once its stylesheets have loaded, once the page is laid
  out), each redraw measuring every column against the whole page's layout. The compare page's three
  tables took about 0.45 s of its 2.1 s first page (Chromium trace of the first page with and without
  them, ``benchmarks/profile_first_page.py``). An HTML ``<table>`` is laid out with the rest of the
  page. The tables a reader clicks (the compare view's data, the overview's sessions) stay Tabulators.
- **Titles in words, widths where given.** :attr:`StaticTable.titles` renames columns for the reader
  (the frame keeps its names); a column with a width in :attr:`StaticTable.widths` wraps inside it, one
  in :attr:`StaticTable.wrap` wraps in what the page leaves (the table then spans the page), the others
  keep their text on one line. A table wider than the page scrolls sideways inside its box; one longer
  than ``max_height`` scrolls down under a header that stays in view.
- **Values as the frame holds them**: no rounding here (the views round what they show); a missing value
  is an empty cell. Every header and cell carries ``data-field`` (the column's name), so a test or a
  reader's script finds a column by name.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import pandas as pd
import panel as pn
import param

CSS = """
.static-table { overflow: auto; max-width: 100%; }
table.fill { width: 100%; }
table { border-collapse: collapse; font-size: 0.875rem; line-height: 1.35; }
th, td { padding: 0.3em 0.7em; border-bottom: 1px solid #dee2e6; text-align: left; vertical-align: top;
         white-space: nowrap; }
th { position: sticky; top: 0; background: #f3f4f6; font-weight: 600; z-index: 1; }
th.number, td.number { text-align: right; font-variant-numeric: tabular-nums; }
th.wrap, td.wrap { white-space: normal; overflow-wrap: anywhere; }
tbody tr:nth-child(even) { background: #fafafa; }
"""


def cell_text(value: object) -> str:
    """A value as a table cell shows it: empty when missing, else its ``str``.

    Parameters
    ----------
    value
        One value of a frame.

    Returns
    -------
    str
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    return str(value)


def _attributes(column: str, widths: dict[str, int], wrap: Sequence[str], number: bool = False) -> str:
    """The attributes of ``column``'s header and cells: its field name, classes (wraps, holds numbers), width."""
    classes = [c for c, on in (("wrap", column in widths or column in wrap), ("number", number)) if on]
    out = f' data-field="{html.escape(column)}"'
    if classes:
        out += f' class="{" ".join(classes)}"'
    if column in widths:
        out += f' style="min-width:{int(widths[column])}px;max-width:{int(widths[column])}px"'
    return out


def table_html(
    frame: pd.DataFrame,
    titles: dict[str, str],
    widths: dict[str, int],
    max_height: int | None,
    wrap: Sequence[str] = (),
) -> str:
    """The HTML of ``frame`` as a read-only table (see the module's design decisions).

    Parameters
    ----------
    frame
        What the table shows, its index left out.
    titles
        Column → the title shown (default: the column's name).
    widths
        Column → width in pixels; such a column wraps its text.
    max_height
        Height in pixels beyond which the table scrolls (None: as tall as its rows).
    wrap
        Columns whose text wraps in the width the others leave (the table spans the page).

    Returns
    -------
    str
    """
    columns = [str(c) for c in frame.columns]
    numbers = [pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype) for dtype in frame.dtypes]
    attributes = [_attributes(c, widths, wrap, n) for c, n in zip(columns, numbers, strict=True)]
    head = "".join(
        f"<th{a}>{html.escape(str(titles.get(c, c)))}</th>" for c, a in zip(columns, attributes, strict=True)
    )
    rows = []
    for values in frame.itertuples(index=False, name=None):
        cells = "".join(f"<td{a}>{html.escape(cell_text(v))}</td>" for a, v in zip(attributes, values, strict=True))
        rows.append(f"<tr>{cells}</tr>")
    style = f' style="max-height:{int(max_height)}px"' if max_height else ""
    fill = ' class="fill"' if wrap else ""
    return (
        f'<div class="static-table"{style}><table{fill}><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


class StaticTable(pn.viewable.Viewer):
    """A read-only table of a frame, drawn as HTML (see the module's design decisions).

    Parameters
    ----------
    value : pandas.DataFrame, optional
        What the table shows (its index is left out).
    **params
        ``titles``, ``widths``, ``wrap``, ``max_height``, ``visible``.
    """

    value = param.DataFrame(default=None, doc="What the table shows (its index is left out).")
    titles = param.Dict(default={}, doc="Column → the title shown (default: the column's name).")
    widths = param.Dict(default={}, doc="Column → width in pixels; such a column wraps its text.")
    wrap = param.List(default=[], item_type=str, doc="Columns that wrap in what the others leave.")
    max_height = param.Integer(default=None, allow_None=True, doc="Pixels beyond which the table scrolls.")
    visible = param.Boolean(default=True, doc="Whether the table is shown.")

    def __init__(self, value: pd.DataFrame | None = None, **params) -> None:
        super().__init__(value=pd.DataFrame() if value is None else value, **params)
        self._pane = pn.pane.HTML(
            self.html(), sizing_mode="stretch_width", stylesheets=[CSS], visible=self.visible,
            css_classes=["static-table-pane"],
        )  # fmt: skip

    def html(self) -> str:
        """The table's HTML."""
        return table_html(self.value, self.titles, self.widths, self.max_height, self.wrap)

    @param.depends("value", "titles", "widths", "wrap", "max_height", watch=True)
    def _update(self) -> None:
        self._pane.object = self.html()

    @param.depends("visible", watch=True)
    def _show(self) -> None:
        self._pane.visible = self.visible

    def __panel__(self) -> pn.pane.HTML:
        return self._pane
