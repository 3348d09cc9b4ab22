"""Raw traces: the tetrode channels of a session stacked, read window by window from the file.

Design decision: the visible window is the state — ``start_s`` and ``window_s`` parameters (with
navigation buttons, and a RangeX stream so zooming or panning the plot sets them) — and every change
reads only that window from the HDF5 file and reduces it to about ``max_points`` per channel with
min/max decimation (:func:`rawread.raw_window`). There is therefore no cap on zoom or on the
recording's length: a 1 s window is drawn at full resolution, a 1 h window as its exact envelope.
Each redraw sets the figure's x range to the window (a plot hook, and the DynamicMap ``framewise``):
HoloViews alone keeps the first window's x range once a RangeX stream has seen it, so a step button
would move the data out of view. The shown window exports as a figure for a paper
(:meth:`TracesView.figure_bytes`, :mod:`~nwb_ketamine.explorer.tracesfigure`).
"""

from __future__ import annotations

from pathlib import Path

import holoviews as hv
import numpy as np
import panel as pn
import param

from nwb_ketamine.explorer import panes, rawread
from nwb_ketamine.explorer.paperfigure import FigureExport, file_stem
from nwb_ketamine.explorer.tracesfigure import render_traces_figure

if "bokeh" not in hv.Store.loaded_backends():
    hv.extension("bokeh")


class TracesView(FigureExport, pn.viewable.Viewer):
    """The raw channels of one session, stacked, with events and the injection marked.

    Parameters
    ----------
    store
        The archive store (``path_of(file_key)`` → path).
    file_key
        The session's file, relative to the archive (the catalog's ``file``).
    start_s, window_s
        The first visible window.
    **params
        Initial values of the other parameters below.
    """

    file_key = param.String(doc="The session's file (catalog key).")
    start_s = param.Number(default=0.0, doc="Start of the visible window (s, session clock).")
    window_s = param.Number(default=10.0, bounds=(1e-4, None), doc="Length of the visible window (s).")
    group: param.Selector[str] = param.Selector(
        default="all", objects=["all"], doc="Electrode group (tetrode) to show."
    )
    spacing_uv = param.Number(default=0.0, bounds=(0.0, None), doc="Vertical offset between channels (µV); 0 = auto.")
    max_points = param.Integer(default=4000, bounds=(100, 100_000), doc="Points per channel drawn.")

    def __init__(self, store, file_key: str, start_s: float = 0.0, window_s: float = 10.0, **params):
        self.store = store
        super().__init__(file_key=file_key, start_s=start_s, window_s=window_s, **params)
        self._set_groups()
        self._range = hv.streams.RangeX()
        self._range.add_subscriber(self._on_range)
        self.downloads = self.figure_downloads(file_stem(f"traces-{Path(file_key).stem}"))

    def _path(self):
        return self.store.path_of(self.file_key)

    @param.depends("file_key", watch=True)
    def _set_groups(self):
        try:
            info = rawread.raw_window(self._path(), 0.0, 0.0)
        except Exception:
            return
        groups = ["all"] + sorted(set(info["groups"]))
        self.param.group.objects = groups
        self._groups, self._duration = info["groups"], info["duration_s"]
        if self.group not in groups:
            self.group = "all"

    def _channels(self):
        groups = getattr(self, "_groups", None)
        if self.group == "all" or not groups:
            return None
        return [i for i, g in enumerate(groups) if g == self.group]

    @param.depends("file_key", "start_s", "window_s", "group", "max_points")
    def window(self) -> dict:
        """:func:`rawread.raw_window` of the visible window."""
        return rawread.raw_window(
            self._path(), self.start_s, self.start_s + self.window_s, self._channels(), self.max_points
        )

    def _on_range(self, x_range=None):
        if x_range is None or None in x_range:
            return
        t0, t1 = float(x_range[0]), float(x_range[1])
        if t1 > t0 and (abs(t0 - self.start_s) > 1e-9 or abs(t1 - t0 - self.window_s) > 1e-9):
            self.param.update(start_s=t0, window_s=t1 - t0)

    # -- navigation ---------------------------------------------------------------------------------
    def step(self, fraction: float) -> None:
        """Move the window by ``fraction`` of its length (negative: back), staying in the recording.

        Parameters
        ----------
        fraction
            How far, in window lengths.
        """
        duration = getattr(self, "_duration", None)
        start = self.start_s + fraction * self.window_s
        if duration is not None:
            start = min(start, max(0.0, duration - self.window_s))
        self.start_s = max(0.0, start)

    def fit_window(self) -> str | None:
        """Move a window that lies after the recording's end (or is longer than it) into the recording.

        Returns
        -------
        str or None
            What was moved, in one line (for the page's notice), or None when the window fitted.
        """
        duration = getattr(self, "_duration", None)
        if duration is None or duration <= 0:
            return None
        start, window = self.start_s, self.window_s
        window_fits = window <= duration
        start_fits = start + min(window, duration) <= duration
        if window_fits and start_fits:
            return None
        new_window = min(window, duration)
        self.param.update(window_s=new_window, start_s=max(0.0, min(start, duration - new_window)))
        return (
            f"the window {start:g}–{start + window:g} s lies outside the recording (0–{duration:g} s); "
            f"shown from {self.start_s:g} s"
        )

    def zoom(self, factor: float) -> None:
        """Scale the window length by ``factor`` around its centre.

        Parameters
        ----------
        factor
            Above 1 zooms out, below 1 in.
        """
        centre = self.start_s + self.window_s / 2
        self.window_s = self.window_s * factor
        self.start_s = max(0.0, centre - self.window_s / 2)

    # -- plot -----------------------------------------------------------------------------------------
    def plot(self) -> hv.Overlay:
        """The channels stacked (offset by ``spacing_uv``), events as spans, the injection as a line."""
        w = self.window()
        data, t = w["data_uv"], w["time_s"]
        spacing = self.spacing(w)
        curves = []
        for c, name in enumerate(w["channels"]):
            offset = -c * spacing
            curves.append(
                hv.Curve((t, data[:, c] - np.nanmedian(data[:, c]) + offset), "time (s)", "µV", label=name).opts(
                    color="black" if w["groups"][c] == w["groups"][0] else "#1f4e79", line_width=0.7
                )
            )
        elements = curves or [hv.Curve([], "time (s)", "µV")]
        for _, event in w["events"].iterrows():
            stop = max(event["stop_s"], event["start_s"] + self.window_s / 500)
            elements.append(hv.VSpan(event["start_s"], stop).opts(color="orange", alpha=0.3))
        for gap_start, gap_stop in w.get("gaps", []):  # no samples were recorded there
            if gap_stop > self.start_s and gap_start < self.start_s + self.window_s:
                elements.append(hv.VSpan(gap_start, gap_stop).opts(color="grey", alpha=0.25))
        if w["injection_time_s"] is not None:
            elements.append(hv.VLine(w["injection_time_s"]).opts(color="green", line_width=2, line_dash="dashed"))
        ticks = [(-c * spacing, name) for c, name in enumerate(w["channels"])]
        how = "min/max envelope" if w["decimated"] else "every sample"
        gaps = "; recording gaps grey" if w.get("gaps") else ""
        title = f"{self.start_s:.3f}–{self.start_s + self.window_s:.3f} s ({how}; events orange, injection green{gaps})"
        return hv.Overlay(elements).opts(
            title=title, yticks=ticks, ylabel="channel", show_legend=False, responsive=True, height=600,
            xlim=(self.start_s, self.start_s + self.window_s), hooks=[self._set_x_range],
        )  # fmt: skip

    def spacing(self, w: dict) -> float:
        """The offset between channels (µV): ``spacing_uv``, or (0) the widest channel's 0.5–99.5 % spread.

        Parameters
        ----------
        w
            The window (:meth:`window`).

        Returns
        -------
        float
        """
        if self.spacing_uv:
            return float(self.spacing_uv)
        data = w["data_uv"]
        spread = np.nanpercentile(data, 99.5, axis=0) - np.nanpercentile(data, 0.5, axis=0) if data.size else [1]
        spacing = float(np.nanmax(spread)) if np.size(spread) and np.isfinite(np.nanmax(spread)) else 100.0
        return spacing or 100.0

    def figure_bytes(self, fmt: str = "png"):
        """The shown window for a paper: the channels stacked as on screen, scale bars instead of axes.

        (:func:`~nwb_ketamine.explorer.tracesfigure.render_traces_figure`, at :attr:`figure_size_mm`.)

        Parameters
        ----------
        fmt
            'pdf', 'svg' or 'png'.

        Returns
        -------
        io.BytesIO
        """
        w = self.window()
        title = f"{self.file_key}" + (f", {self.group}" if self.group != "all" else "")
        return render_traces_figure(w, self.start_s, self.window_s, self.spacing(w), title, fmt, self.figure_size_mm)

    def _set_x_range(self, plot, element) -> None:
        """Set the bokeh figure's x range to the window, on the first draw and every redraw."""
        plot.state.x_range.update(start=self.start_s, end=self.start_s + self.window_s)

    @param.depends("file_key", "start_s", "window_s", "group", "spacing_uv", "max_points")
    def _plot(self, x_range=None):
        return self.plot()

    def dynamic_map(self) -> hv.DynamicMap:
        """The plot, redrawn when a parameter changes, its axes set by each window (``framewise``).

        ``framewise`` is a norm option, honoured only on the DynamicMap itself (not on its frames).
        """
        return hv.DynamicMap(self._plot, streams=[self._range]).opts(framewise=True)

    def __panel__(self):
        try:
            self.window()
        except Exception as exc:  # no raw data, unreadable file: a message in the page
            return pn.pane.Alert(f"Cannot show raw traces of {self.file_key}: {exc}", alert_type="warning")
        dmap = self.dynamic_map()
        buttons = []
        for label, action in (("◀◀", lambda e: self.step(-1)), ("◀", lambda e: self.step(-0.5)),
                              ("▶", lambda e: self.step(0.5)), ("▶▶", lambda e: self.step(1)),
                              ("zoom in", lambda e: self.zoom(0.5)), ("zoom out", lambda e: self.zoom(2))):  # fmt: skip
            button = pn.widgets.Button(label=label, width=80)
            button.on_click(action)
            buttons.append(button)
        controls = panes.controls(self, ["start_s", "window_s", "group", "spacing_uv"], show_name=False)
        return pn.Column(
            pn.pane.Markdown(f"## Raw traces: {self.file_key}"),
            pn.FlexBox(*buttons, sizing_mode="stretch_width"),
            controls,
            pn.pane.HoloViews(dmap, sizing_mode="stretch_width"),
            self.downloads,
            sizing_mode="stretch_width",
        )
