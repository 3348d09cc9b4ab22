"""The pieces the detail views build their pages from: a bokeh figure, a read-only table, a row of widgets.

Plain bokeh rather than HoloViews for the figures: building and rendering a view's figures takes a tenth
of the time HoloViews' plot initialisation and range computation took (the compare view moved for the same
reason). A detail view that cannot read its file shows :func:`unreadable`'s message instead of its page.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import panel as pn
import param
from bokeh.plotting import figure

from nwb_ketamine.explorer.statictable import StaticTable

TOOLS = "pan,wheel_zoom,box_zoom,reset,save"
TABLE_HEIGHT = 420
"""Pixels beyond which a detail view's table scrolls down (about 14 rows)."""


def detail_figure(title: str, xlabel: str, ylabel: str, height: int, **kwargs):
    """A bokeh figure as the detail views draw them: stretching to the width (unless given), the usual tools.

    Parameters
    ----------
    title, xlabel, ylabel
        The figure's title and axis labels.
    height
        Height in pixels.
    **kwargs
        Further :func:`bokeh.plotting.figure` options; those given as None are left to bokeh's defaults.

    Returns
    -------
    bokeh.plotting.figure
    """
    kwargs = {"sizing_mode": "stretch_width", "tools": TOOLS} | {k: v for k, v in kwargs.items() if v is not None}
    return figure(title=title, x_axis_label=xlabel, y_axis_label=ylabel, height=height, **kwargs)


def table(frame: pd.DataFrame, max_height: int | None = TABLE_HEIGHT, **kwargs) -> StaticTable:
    """A read-only table of ``frame`` without its index, stretching to the width.

    Columns fit their text: a table wider than the page scrolls sideways instead of cutting its last columns
    off, and one taller than ``max_height`` scrolls down (:mod:`~nwb_ketamine.explorer.statictable`).

    Parameters
    ----------
    frame
        What the table shows.
    max_height
        Pixels beyond which the table scrolls (None: all its rows in the page).
    **kwargs
        Further :class:`~nwb_ketamine.explorer.statictable.StaticTable` options (``titles``, ``widths``,
        ``wrap``).

    Returns
    -------
    StaticTable
    """
    return StaticTable(frame, max_height=max_height, **kwargs)


def field_table(frame: pd.DataFrame, **kwargs) -> StaticTable:
    """A two-column (field, value) table whose long values wrap inside the page rather than run off it.

    Parameters
    ----------
    frame
        Columns ``field`` and ``value``.
    **kwargs
        Further :func:`table` options.

    Returns
    -------
    StaticTable
    """
    return table(frame, **({"widths": {"field": 220}, "wrap": ["value"]} | kwargs))


def controls(view: param.Parameterized, parameters: list[str], **kwargs) -> pn.Param:
    """The widgets of some of ``view``'s parameters in a row that wraps (a FlexBox) when the page is narrow.

    A plain Row of 300 px sliders is wider than the main area with five of them, and its last ones were
    cut off.

    Parameters
    ----------
    view
        The view whose parameters the widgets set.
    parameters
        Their names, in order.
    **kwargs
        Further :class:`panel.Param` options (``name``, ``show_name``).

    Returns
    -------
    panel.Param
    """
    kwargs = {"sizing_mode": "stretch_width"} | kwargs
    return pn.Param(view.param, parameters=parameters, default_layout=pn.FlexBox, **kwargs)


def unreadable(what: str, read: Callable[[], object]) -> pn.pane.Alert | None:
    """None when ``read()`` succeeds, else the message that ``what`` cannot be read (never a traceback).

    Parameters
    ----------
    what
        What the view shows ('cell KEY', 'unit KEY').
    read
        Reads the view's data.

    Returns
    -------
    panel.pane.Alert or None
    """
    try:
        read()
    except Exception as exc:  # an unreadable file is a message in the page, not a traceback
        return pn.pane.Alert(f"Cannot read {what}: {type(exc).__name__}: {exc}", alert_type="danger")
    return None
