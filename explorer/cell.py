"""Cell detail: the sweeps of one slice cell with the measurement windows, QC over time and where it lives.

Design decision: the view draws what the file stores, not a re-analysis. The per-sweep measures, QC
decisions and the EPSC parameters come from the file (:func:`cellread.cell_sweeps`); the windows are
drawn from those same parameters, and the decay is drawn with the stored time constant of the average
sweep from the average's peak, so a reader sees exactly which rule produced the catalog's numbers.
Parameters choose what is shown (which sweeps, rejected ones or not); there is nothing to recompute.
The current axis is set by the baseline and response windows stored in the file, so the stimulus
artefact (tens of times the EPSC) clips instead of flattening the EPSC (:meth:`CellView.response_y_range`).
The figures are plain bokeh (:func:`~nwb_ketamine.explorer.panes.detail_figure`), rebuilt when a display
parameter changes. The figure for a paper (:meth:`CellView.figure_bytes`) is the averages alone, with the
same windows, decay and time window, drawn with matplotlib (:mod:`~nwb_ketamine.explorer.cellfigure`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import panel as pn
import param
from bokeh.models import ColumnDataSource, HoverTool, Range1d
from bokeh.models.annotations import BoxAnnotation, Span

from nwb_ketamine.explorer import cellread
from nwb_ketamine.explorer.analysisinfo import row_fields
from nwb_ketamine.explorer.cellfigure import SweepPanel, render_cell_figure
from nwb_ketamine.explorer.factors import region_name
from nwb_ketamine.explorer.methodsfields import cell_methods_fields
from nwb_ketamine.explorer.panes import controls, detail_figure, field_table, table, unreadable
from nwb_ketamine.explorer.paperfigure import FigureExport, detail_title, file_stem

#: Display settings of the two EPSC kinds: holding potential label, colour, peak-window parameter.
KINDS = {
    "AMPA": {"label": "−70 mV (AMPAR-EPSC)", "color": "#1f77b4", "peak_end": "ampa_peak_end_s", "tau": "ampa"},
    "NMDA": {"label": "+40 mV (NMDAR-EPSC)", "color": "#d62728", "peak_end": "nmda_peak_end_s", "tau": "nmda"},
}
TIME, CURRENT = "time from stimulus (ms)", "current (pA)"
QC_COLOURS = {"accepted": "#2c7fb8", "rejected": "#d7301f"}


def _fmt(value, unit="", scale=1.0, digits=3) -> str:
    try:
        value = float(value) * scale
    except (TypeError, ValueError):
        return str(value)
    return "–" if not np.isfinite(value) else f"{value:.{digits}g} {unit}".strip()


class CellView(FigureExport, pn.viewable.Viewer):
    """One slice cell: its sweeps, their average and the analysis windows, Rs/Rin over time, its metadata.

    Sweeps at −70 and +40 mV are drawn apart; Rs is drawn with the QC threshold.

    Parameters
    ----------
    store
        The archive store (``cell(cell_key)`` → catalog row, ``path_of(file)`` → path).
    cell_key
        The cell's catalog key.
    **params
        Initial values of the parameters below.
    """

    cell_key = param.String(doc="Catalog key of the cell.")
    show_rejected = param.Boolean(default=True, doc="Draw the sweeps rejected by QC (dashed).")
    show_sweeps = param.Boolean(default=True, doc="Draw the individual sweeps under their average.")
    window_ms = param.Range(default=(-20.0, 200.0), bounds=(-500.0, 2000.0), doc="Time around the stimulus (ms).")

    def __init__(self, store, cell_key: str, **params):
        self.store = store
        super().__init__(cell_key=cell_key, **{"figure_height_mm": 70.0, **params})
        self.downloads = self.figure_downloads(file_stem(f"cell-{cell_key}"))

    # -- data -------------------------------------------------------------------------------------
    @param.depends("cell_key")
    def row(self) -> pd.Series:
        """The catalog row of the cell."""
        return self.store.cell(self.cell_key)

    @param.depends("cell_key")
    def data(self) -> dict:
        """What :func:`cellread.cell_sweeps` reads from the cell's file (cached per key)."""
        cache = self.__dict__.setdefault("_data_cache", {})
        if self.cell_key not in cache:
            cache.clear()
            cache[self.cell_key] = cellread.cell_sweeps(self.store.path_of(self.row()["file"]))
        return cache[self.cell_key]

    # -- plots ------------------------------------------------------------------------------------
    def sweeps_plot(self, kind: str):
        """Sweeps of one kind ('AMPA' at −70 mV, 'NMDA' at +40 mV), their average, windows and decay.

        A plain bokeh figure: accepted sweeps as one multi-line glyph (grey), rejected ones as another
        (dashed red), the average and the fitted decay as lines, the windows as shaded spans.

        Parameters
        ----------
        kind
            'AMPA' or 'NMDA'.
        """
        d = self.data()
        sweeps, current = d["sweeps"], d["current_a"]
        params, style = d["parameters"], KINDS[kind]
        stim = params.stimulus_time_s if params is not None else 0.0
        t_ms = (d["time_s"] - stim) * 1e3
        lo, hi = self.window_ms
        keep = (t_ms >= lo) & (t_ms <= hi)
        t = t_ms[keep]
        rows = sweeps.index[sweeps["kind"] == kind].to_numpy() if len(sweeps) else np.zeros(0, dtype=int)
        accepted = rows[sweeps.loc[rows, "accepted"].to_numpy(bool)] if rows.size else rows
        n_rej = int(rows.size - accepted.size)
        fig = detail_figure(f"{style['label']}: {accepted.size} accepted, {n_rej} rejected", TIME, CURRENT, 300)
        if self.show_sweeps:
            # one multi-line glyph per style, not a glyph per sweep (a cell has dozens of sweeps)
            shown = [(accepted, "lightgray", "solid", "accepted")]
            if self.show_rejected:
                shown.append((np.setdiff1d(rows, accepted), "#f4a3a3", "dashed", "rejected"))
            for which, color, dash, name in shown:
                if which.size:
                    fig.multi_line(
                        xs=[t] * which.size, ys=[current[i, keep] * 1e12 for i in which], color=color,
                        line_dash=dash, line_width=1, name=name,
                    )  # fmt: skip
        if accepted.size:
            average = np.nanmean(current[accepted][:, keep], axis=0) * 1e12
            fig.line(t, average, color=style["color"], line_width=2, legend_label=f"average of {accepted.size}",
                     name="average")  # fmt: skip
        if params is not None:
            self._windows(fig, kind, d, accepted, t, keep)
        y_range = self.response_y_range(kind)
        if y_range is not None:
            fig.y_range = Range1d(start=y_range[0], end=y_range[1])
        if fig.legend:
            fig.legend.location = "top_right"
        return fig

    def response_y_range(self, kind: str, with_sweeps: bool | None = None) -> tuple[float, float] | None:
        """The current axis (pA) that shows the baseline and the EPSC, not the stimulus artefact.

        Taken from what is drawn (the average, and the 0.5–99.5 percentiles of the sweeps shown) over
        the baseline window and the response window stored in the file (artefact blanking to the later
        of the peak and decay windows' ends), within the visible time window, padded by 10 %; the
        artefact, between the stimulus and the end of the blanking, may clip.

        Parameters
        ----------
        kind
            'AMPA' or 'NMDA'.
        with_sweeps
            Whether the sweeps are drawn under the average (default: ``show_sweeps``; the exported figure
            draws the average alone).

        Returns
        -------
        (low, high) or None
            None when the file stores no parameters or nothing is drawn in those windows.
        """
        d = self.data()
        p, sweeps = d["parameters"], d["sweeps"]
        if p is None or not len(sweeps):
            return None
        t_ms = (d["time_s"] - p.stimulus_time_s) * 1e3
        end_ms = max(getattr(p, KINDS[kind]["peak_end"]), getattr(p, f"{KINDS[kind]['tau']}_decay_end_s")) * 1e3
        lo, hi = self.window_ms
        windows = ((t_ms >= -p.baseline_window_s * 1e3) & (t_ms < 0)) | (
            (t_ms >= p.artefact_blanking_s * 1e3) & (t_ms <= end_ms)
        )
        keep = windows & (t_ms >= lo) & (t_ms <= hi)
        rows = sweeps.index[sweeps["kind"] == kind].to_numpy()
        accepted = rows[sweeps.loc[rows, "accepted"].to_numpy(bool)]
        show = self.show_sweeps if with_sweeps is None else with_sweeps
        drawn = [accepted] if show else []
        if show and self.show_rejected:
            drawn.append(np.setdiff1d(rows, accepted))
        values = []
        if accepted.size:
            values.append(np.nanmean(d["current_a"][accepted][:, keep], axis=0) * 1e12)
        for which in drawn:
            if which.size:
                values.append(np.nanpercentile(d["current_a"][which][:, keep] * 1e12, [0.5, 99.5]))
        values = [v[np.isfinite(v)] for v in values]
        values = [v for v in values if v.size]
        if not keep.any() or not values:
            return None
        low, high = float(min(v.min() for v in values)), float(max(v.max() for v in values))
        pad = 0.1 * (high - low) or 1.0
        return low - pad, high + pad

    def _windows(self, fig, kind, d, accepted, t, keep) -> None:
        """Baseline and peak windows, the fixed latency and the fitted decay, in ms from the stimulus."""
        windows = self.windows_ms(kind)
        fills = {"baseline window": ("#bbbbbb", 0.3), "peak window": (KINDS[kind]["color"], 0.08),
                 "latency window": ("orange", 0.4)}  # fmt: skip
        for name, (left, right) in windows.items():
            colour, alpha = fills[name]
            fig.add_layout(BoxAnnotation(left=left, right=right, fill_color=colour, fill_alpha=alpha, name=name))
        fig.add_layout(Span(location=0.0, dimension="height", line_color="black", line_dash="dotted", line_width=1,
                            name="stimulus"))  # fmt: skip
        if "latency window" in windows:
            fig.add_layout(Span(location=sum(windows["latency window"]) / 2, dimension="height", line_color="orange",
                                line_dash="dashed", line_width=1, name="latency"))  # fmt: skip
        curve = self.decay_curve(kind, t, np.nanmean(d["current_a"][accepted][:, keep], axis=0) * 1e12) \
            if accepted.size else None  # fmt: skip
        if curve is not None:
            tt, fit, tau = curve
            fig.line(tt, fit, color="black", line_dash="dashed", line_width=2,
                     legend_label=f"decay τ = {tau * 1e3:.3g} ms", name="decay")  # fmt: skip

    def windows_ms(self, kind: str) -> dict[str, tuple[float, float]]:
        """The measurement windows stored in the file, in ms from the stimulus: baseline, peak and (NMDA) latency.

        Parameters
        ----------
        kind
            'AMPA' or 'NMDA'.

        Returns
        -------
        dict
            Window name → (start, end) ms; empty when the file stores no parameters.
        """
        p = self.data()["parameters"]
        if p is None:
            return {}
        windows = {
            "baseline window": (-p.baseline_window_s * 1e3, 0.0),
            "peak window": (p.artefact_blanking_s * 1e3, getattr(p, KINDS[kind]["peak_end"]) * 1e3),
        }
        if kind == "NMDA":
            half, centre = p.latency_window_s / 2 * 1e3, p.nmda_latency_s * 1e3
            windows["latency window"] = (centre - half, centre + half)
        return windows

    def average(self, kind: str) -> tuple[np.ndarray, np.ndarray | None, int]:
        """The average of the QC-accepted sweeps of ``kind`` within ``window_ms``.

        Parameters
        ----------
        kind
            'AMPA' or 'NMDA'.

        Returns
        -------
        (time in ms from the stimulus, average in pA or None, number of sweeps averaged)
        """
        d = self.data()
        sweeps, p = d["sweeps"], d["parameters"]
        t_ms = (d["time_s"] - (p.stimulus_time_s if p is not None else 0.0)) * 1e3
        keep = (t_ms >= self.window_ms[0]) & (t_ms <= self.window_ms[1])
        accepted = sweeps.index[(sweeps["kind"] == kind) & sweeps["accepted"]].to_numpy() if len(sweeps) else []
        if not len(accepted):
            return t_ms[keep], None, 0
        return t_ms[keep], np.nanmean(d["current_a"][accepted][:, keep], axis=0) * 1e12, len(accepted)

    def decay_curve(self, kind: str, t, average) -> tuple[np.ndarray, np.ndarray, float] | None:
        """The stored decay of the average sweep: an exponential with the stored τ from the average's peak.

        Parameters
        ----------
        kind
            'AMPA' or 'NMDA'.
        t
            Time from the stimulus (ms) of the samples of ``average``.
        average
            The average of the accepted sweeps (pA).

        Returns
        -------
        (time in ms, current in pA, τ in s) or None
            None without parameters, a stored τ or samples in the peak window.
        """
        d = self.data()
        p, summary = d["parameters"], d["summary"] or {}
        tau = float(summary.get(f"{KINDS[kind]['tau']}_decay_tau_average_s", np.nan))
        if p is None or not (np.isfinite(tau) and tau > 0):
            return None
        peak_end = getattr(p, KINDS[kind]["peak_end"])
        base_mask = (t >= -p.baseline_window_s * 1e3) & (t < 0)
        baseline = float(np.nanmean(average[base_mask])) if base_mask.any() else 0.0
        search = (t >= p.artefact_blanking_s * 1e3) & (t <= peak_end * 1e3)
        if not search.any():
            return None
        sign = -1.0 if kind == "AMPA" else 1.0
        idx = np.flatnonzero(search)
        ipk = idx[np.nanargmax(sign * (average[idx] - baseline))]
        tp, amp = t[ipk], average[ipk] - baseline
        decay_end = getattr(p, f"{KINDS[kind]['tau']}_decay_end_s") * 1e3
        tt = np.linspace(tp, max(tp, decay_end), 200)
        return tt, baseline + amp * np.exp(-(tt - tp) / (tau * 1e3)), tau

    def figure_title(self) -> str:
        """The exported figure's title: the cell's key and region, then its group."""
        row = self.row()
        region = region_name(str(row.get("region_label", "")), str(row.get("region", "")))
        hours = _fmt(row.get("hours_since_injection", np.nan), "h")
        return detail_title(f"Cell {self.cell_key}", region, row, (f"{hours} since injection",) if hours != "–" else ())

    def figure_bytes(self, fmt: str = "png"):
        """The cell's representative averaged sweeps (AMPA at −70 mV, NMDA at +40 mV) for a paper.

        The averages of the QC-accepted sweeps in ``window_ms``, the measurement windows and decay stored
        in the file, at :attr:`figure_size_mm` (:func:`~nwb_ketamine.explorer.cellfigure.render_cell_figure`).

        Parameters
        ----------
        fmt
            'pdf', 'svg' or 'png'.

        Returns
        -------
        io.BytesIO
        """
        panels = []
        for kind, style in KINDS.items():
            t, average, n = self.average(kind)
            decay = self.decay_curve(kind, t, average) if average is not None else None
            panels.append(SweepPanel(kind, style["label"], t, average, n, self.windows_ms(kind), decay,
                                     self.response_y_range(kind, with_sweeps=False)))  # fmt: skip
        return render_cell_figure(panels, self.figure_title(), fmt, self.figure_size_mm)

    def qc_frame(self) -> pd.DataFrame:
        """Per sweep: start (min), Rs and Rin (MΩ), QC status and its colour, reason, protocol."""
        s = self.data()["sweeps"]
        if not len(s):
            return pd.DataFrame(columns=["start_min", "rs_mohm", "rin_mohm", "status", "colour", "reason", "protocol"])
        status = np.where(s["accepted"], "accepted", "rejected")
        return pd.DataFrame(
            {
                "start_min": s["start_time_s"] / 60,
                "rs_mohm": s["series_resistance_ohm"].astype(float) / 1e6,
                "rin_mohm": s["input_resistance_ohm"].astype(float) / 1e6,
                "status": status,
                "colour": np.where(s["accepted"], QC_COLOURS["accepted"], QC_COLOURS["rejected"]),
                "reason": s.get("rejection_reason", pd.Series([""] * len(s))).astype(str),
                "protocol": s["protocol"].astype(str),
            }
        )

    def qc_plot(self) -> list:
        """Rs and Rin of every sweep against its start time, with the Rs threshold; rejected sweeps in red.

        Two bokeh figures sharing one data source (and their x range).
        """
        p = self.data()["parameters"]
        source = ColumnDataSource(self.qc_frame())
        tips = [("sweep start (min)", "@start_min{0.00}"), ("status", "@status"), ("reason", "@reason"),
                ("protocol", "@protocol")]  # fmt: skip
        figures: list = []
        for column, label, title in (
            ("rs_mohm", "Rs (MΩ)", "Series resistance (QC threshold dashed)"),
            ("rin_mohm", "Rin (MΩ)", "Input resistance"),
        ):
            fig = detail_figure(title, "sweep start (min)", label, 250, x_range=figures[0].x_range if figures else None)
            fig.line("start_min", column, source=source, color="gray", alpha=0.5)
            dots = fig.scatter("start_min", column, source=source, color="colour", size=7, name=column)
            fig.add_tools(HoverTool(renderers=[dots], tooltips=[(label, f"@{column}{{0.00}}"), *tips]))
            figures.append(fig)
        if p is not None:
            threshold = Span(location=p.rs_max_ohm / 1e6, dimension="width", line_color=QC_COLOURS["rejected"],
                             line_dash="dashed", name="Rs threshold")  # fmt: skip
            figures[0].add_layout(threshold)
        return figures

    def metadata(self) -> pd.DataFrame:
        """Group labels, location, slice methods (when given) and analysis provenance: field, value."""
        row, d = self.row(), self.data()
        summary = d["summary"] or {}
        hours = row.get("hours_since_injection", np.nan)
        fields = [
            ("cell", self.cell_key),
            ("subject", row.get("subject", "")),
            ("region", region_name(str(row.get("region_label", "")), str(row.get("region", "")))),
            ("drug", row.get("drug", "")),
            ("dose", row.get("dose", "")),
            ("stress", row.get("stress", "")),
            ("time since injection", _fmt(hours, "h")),
            ("slice", row.get("slice_id", "")),
            ("cell id", row.get("cell_id", "")),
            ("bath", row.get("bath_drugs", "")),
            ("NMDA/AMPA ratio", _fmt(summary.get("nmda_ampa_ratio", np.nan))),
            ("AMPAR-EPSC", _fmt(summary.get("ampa_peak_a", np.nan), "pA", 1e12)),
            ("NMDAR-EPSC", _fmt(summary.get("nmda_peak_a", np.nan), "pA", 1e12)),
            ("cell QC", "accepted" if summary.get("accepted") else f"rejected: {summary.get('qc_reasons', '')}"),
            *cell_methods_fields(row),
            ("file", row.get("file", "")),
            ("object path", row.get("object_path", "")),
            *row_fields(row, ["epsc"]),
        ]
        return pd.DataFrame(fields, columns=["field", "value"])

    def sweeps_table(self) -> pd.DataFrame:
        """One row per sweep: protocol, holding, QC and the main measures in display units."""
        s = self.data()["sweeps"]
        if not len(s):
            return pd.DataFrame()
        return pd.DataFrame(
            {
                "sweep": s["name"],
                "start (s)": s["start_time_s"].round(2),
                "holding (mV)": (s["holding_potential_v"] * 1e3).round(1),
                "kind": s["kind"],
                "Rs (MΩ)": (s["series_resistance_ohm"].astype(float) / 1e6).round(2),
                "peak (pA)": (s["peak_a"].astype(float) * 1e12).round(1),
                "τ (ms)": (s["decay_tau_s"].astype(float) * 1e3).round(2),
                "accepted": s["accepted"],
                "reason": s.get("rejection_reason", ""),
            }
        )

    # -- layout ------------------------------------------------------------------------------------
    @param.depends("cell_key", "show_rejected", "show_sweeps", "window_ms")
    def _sweeps(self):
        return pn.Row(
            pn.pane.Bokeh(self.sweeps_plot("AMPA"), sizing_mode="stretch_width"),
            pn.pane.Bokeh(self.sweeps_plot("NMDA"), sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )

    @param.depends("cell_key")
    def _qc(self):
        return pn.Row(*(pn.pane.Bokeh(f, sizing_mode="stretch_width") for f in self.qc_plot()),
                      sizing_mode="stretch_width")  # fmt: skip

    @param.depends("cell_key")
    def _metadata(self):
        return field_table(self.metadata())

    @param.depends("cell_key")
    def _table(self):
        return table(self.sweeps_table())

    def __panel__(self):
        if (message := unreadable(f"cell {self.cell_key}", self.data)) is not None:
            return message
        return pn.Column(
            pn.pane.Markdown(f"## Cell {self.cell_key}"),
            pn.Row(self._metadata, sizing_mode="stretch_width"),
            controls(self, ["show_sweeps", "show_rejected", "window_ms"], show_name=False),
            self._sweeps,
            self.downloads,
            self._qc,
            self._table,
            sizing_mode="stretch_width",
        )
