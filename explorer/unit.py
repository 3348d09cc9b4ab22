"""Unit detail: spikes of one unit around the injection, its bursts, ISI, autocorrelogram and waveforms.

Design decision: the burst rule is the only thing a user changes here, so it is four parameters of the
view (in ms, as people think of it) and every burst-dependent output — burst spikes in the raster,
firing and % spikes in bursts over time, the per-epoch metrics table — is recomputed from the spike
train with the project's own detector (:mod:`nwb_ketamine.analysis.bursts`), which is vectorised and
takes milliseconds. The stored metrics are shown next to the live ones, so a reader sees what changed.
Spikes and waveforms are read once per unit (:func:`unitread.unit_spikes`).

The figures are plain bokeh, built once per unit (:meth:`UnitView.figures`); a parameter change puts
the recomputed data into their existing sources (and moves the marks), so a burst-rule change sends
only new numbers to the browser and keeps the user's zoom. HoloViews overlays took over a second to
render this view. The figure for a paper (:meth:`UnitView.figure_bytes`: raster, ISI histogram, mean
waveform, the burst rule written out) is drawn with matplotlib (:mod:`~nwb_ketamine.explorer.unitfigure`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import panel as pn
import param
from bokeh.models import ColumnDataSource, Range1d
from bokeh.models.annotations import Span

from nwb_ketamine.analysis.bursts import BurstParameters, detect_bursts, epoch_burst_metrics
from nwb_ketamine.explorer import unitread
from nwb_ketamine.explorer.analysisinfo import row_fields
from nwb_ketamine.explorer.factors import region_name
from nwb_ketamine.explorer.methodsfields import implant_fields
from nwb_ketamine.explorer.panes import controls, detail_figure, field_table, table, unreadable
from nwb_ketamine.explorer.paperfigure import FigureExport, detail_title, file_stem, nice_length
from nwb_ketamine.explorer.spiketrain import autocorrelogram, binned_rates, isi_histogram
from nwb_ketamine.explorer.unitfigure import UnitFigure, largest_channel, render_unit_figure


class UnitView(FigureExport, pn.viewable.Viewer):
    """One unit: its spikes around the injection, bursts, ISIs, autocorrelogram, waveforms and metrics.

    A raster with burst spikes marked, an ISI histogram (log axis), the autocorrelogram, firing and %
    spikes in bursts over time, waveforms, quality and burst metrics.

    Parameters
    ----------
    store
        The archive store (``unit(unit_key)`` → the unit's catalog rows, ``path_of(file)`` → path).
    unit_key
        The unit's catalog key.
    **params
        Initial values of the parameters below.
    """

    unit_key = param.String(doc="Catalog key of the unit.")
    onset_isi_ms = param.Number(
        default=20.0, bounds=(0.5, 500.0), step=0.5, doc="Burst onset: ISI to the next spike ≤."
    )
    end_isi_ms = param.Number(default=20.0, bounds=(0.5, 500.0), step=0.5, doc="A burst continues while ISIs ≤.")
    min_silence_ms = param.Number(default=100.0, bounds=(0.0, 5000.0), step=5.0, doc="Silence before a burst ≥.")
    min_spikes = param.Integer(default=2, bounds=(2, 20), doc="Fewest spikes in a burst.")
    raster_row_s = param.Number(default=0.0, bounds=(0.0, None), doc="Raster row length (s); 0 chooses ~30 rows.")
    rate_bin_s = param.Number(default=0.0, bounds=(0.0, None), doc="Bin of the rate plots (s); 0 chooses ~50 bins.")
    acg_window_ms = param.Number(default=100.0, bounds=(5.0, 2000.0), doc="Autocorrelogram half-width (ms).")

    def __init__(self, store, unit_key: str, **params):
        self.store = store
        super().__init__(unit_key=unit_key, **params)
        self._load_rule()
        self.downloads = self.figure_downloads(file_stem(f"unit-{unit_key}"))

    # -- data -------------------------------------------------------------------------------------
    @param.depends("unit_key")
    def rows(self) -> pd.DataFrame:
        """The unit's catalog rows (one per epoch)."""
        rows = self.store.unit(self.unit_key)
        if len(rows) == 0:
            raise KeyError(f"no unit {self.unit_key!r} in the catalog")
        return rows

    @param.depends("unit_key")
    def data(self) -> dict:
        """What :func:`unitread.unit_spikes` reads for this unit (cached per key)."""
        cache = self.__dict__.setdefault("_data_cache", {})
        if self.unit_key not in cache:
            cache.clear()
            row = self.rows().iloc[0]
            cache[self.unit_key] = unitread.unit_spikes(self.store.path_of(row["file"]), int(row["unit_row"]))
        return cache[self.unit_key]

    @param.depends("unit_key", watch=True)
    def _load_rule(self):
        """Start from the burst rule stored in the file."""
        try:
            rule = self.data()["burst_parameters"]
        except Exception:
            return
        if rule is not None:
            self.param.update(
                onset_isi_ms=rule.onset_isi_s * 1e3,
                end_isi_ms=rule.end_isi_s * 1e3,
                min_silence_ms=rule.min_silence_s * 1e3,
                min_spikes=int(rule.min_spikes),
            )

    def rule(self) -> BurstParameters:
        """The burst rule of the current parameters."""
        return BurstParameters(
            onset_isi_s=self.onset_isi_ms / 1e3,
            end_isi_s=self.end_isi_ms / 1e3,
            min_silence_s=self.min_silence_ms / 1e3,
            min_spikes=int(self.min_spikes),
        )

    @param.depends("unit_key", "onset_isi_ms", "end_isi_ms", "min_silence_ms", "min_spikes")
    def burst_id(self) -> np.ndarray:
        """Burst id of every spike under the current rule (-1 outside bursts)."""
        return detect_bursts(self.data()["spike_times_s"], self.rule())

    def _zero(self) -> float:
        injection = self.data()["injection_time_s"]
        return float(injection) if injection is not None else 0.0

    def _span(self) -> tuple[float, float]:
        return self.data()["recording_s"]

    def metrics(self) -> pd.DataFrame:
        """Per-epoch firing and burst metrics with the current rule, next to the stored ones."""
        d = self.data()
        epochs = d["epochs"]
        if len(epochs):
            spans = list(epochs[["name", "start_s", "stop_s"]].itertuples(index=False, name=None))
        else:
            spans = [("recording", *self._span())]
        spans = [span for span in spans if span[2] > span[1]]  # a unit with no spikes and no epochs spans nothing
        if not spans:
            return pd.DataFrame({"epoch": []})
        live = pd.DataFrame(epoch_burst_metrics(d["spike_times_s"], spans, self.rule()))
        stored = d["stored_metrics"]
        if stored is not None and len(stored):
            keep = ["epoch", "firing_rate_hz", "percent_spikes_in_bursts", "burst_rate_hz", "mean_spikes_per_burst"]
            live = live.merge(stored[keep], on="epoch", how="left", suffixes=("", " (stored)"))
        return live

    def quality(self) -> pd.DataFrame:
        """Quality metrics, identity and analysis provenance of the unit (field, value)."""
        d = self.data()
        fields = [(k, v) for k, v in d["metrics"].items()]
        row = self.rows().iloc[0]
        region = region_name(str(row.get("region_label", "")), str(d["region"]))
        fields += [("electrode group", d["electrode_group"]), ("region", region)]
        fields += [("channels", ", ".join(d["channels"]))]
        fields += implant_fields(row)
        if d["injection_time_s"] is not None:
            fields.append(("injection", f"{d['injection_label']} at {d['injection_time_s']:g} s"))
        fields += [(k, row.get(k, "")) for k in ("drug", "dose", "stress", "file", "object_path")]
        fields += row_fields(row, ["bursts", "units"])
        return pd.DataFrame([(str(k), str(v)) for k, v in fields], columns=["field", "value"])

    def rule_text(self) -> str:
        """The current burst rule in words, with the share of spikes it puts in bursts."""
        ids = self.burst_id()
        share = f"; {100 * float((ids >= 0).mean()):.3g} % of {ids.size} spikes in bursts" if ids.size else ""
        return (f"Bursts: onset ISI ≤ {self.onset_isi_ms:g} ms, continuing while ISI ≤ {self.end_isi_ms:g} ms, "
                f"≥ {self.min_silence_ms:g} ms silence before, ≥ {int(self.min_spikes)} spikes{share}")  # fmt: skip

    def figure_bytes(self, fmt: str = "png"):
        """The unit's raster from the injection, ISI histogram (log ms) and mean waveform, for a paper.

        The raster and ISI marks follow the current burst rule and raster row; the rule is written under
        the panels (:func:`~nwb_ketamine.explorer.unitfigure.render_unit_figure`).

        Parameters
        ----------
        fmt
            'pdf', 'svg' or 'png'.

        Returns
        -------
        io.BytesIO
        """
        d = self.data()
        edges, counts = isi_histogram(d["spike_times_s"])
        waveform = largest_channel(d["waveform_mean_uv"], d["waveform_sd_uv"], d["waveform_rate_hz"], d["channels"])
        unit = UnitFigure(self.raster_frame(), self.raster_row(), edges * 1e3, counts, float(self.onset_isi_ms),
                          float(self.min_silence_ms), self.rule_text(), waveform)  # fmt: skip
        row = self.rows().iloc[0]
        title = detail_title(
            f"Unit {self.unit_key}", region_name(str(row.get("region_label", "")), str(d["region"])), row
        )
        return render_unit_figure(unit, title, fmt, self.figure_size_mm)

    # -- plot data --------------------------------------------------------------------------------
    def raster_row(self) -> float:
        """Length of a raster row (s): ``raster_row_s`` or a round value giving about 30 rows."""
        start, stop = self._span()
        return self.raster_row_s or nice_length((stop - start) / 30)

    def raster_frame(self) -> pd.DataFrame:
        """Every spike as x (time in its row, s), row (row start from the injection, s), burst or single."""
        t = self.data()["spike_times_s"] - self._zero()
        row_s = self.raster_row()
        row = np.floor(t / row_s)
        return pd.DataFrame(
            {"x": t - row * row_s, "row": row * row_s, "burst": np.where(self.burst_id() >= 0, "burst", "single")}
        )

    def rate_bin(self) -> float:
        """Bin of the rate plots (s): ``rate_bin_s`` or a round value giving about 50 bins."""
        start, stop = self._span()
        return self.rate_bin_s or nice_length((stop - start) / 50)

    def rates_frame(self) -> pd.DataFrame:
        """:func:`binned_rates` of the unit under the current rule, with ``t`` = bin centre from the injection."""
        start, stop = self._span()
        bin_s = self.rate_bin()
        frame = binned_rates(self.data()["spike_times_s"], self.burst_id(), start, stop, bin_s)
        frame["t"] = frame["start_s"] - self._zero() + bin_s / 2
        return frame

    # -- plots ------------------------------------------------------------------------------------
    def figures(self) -> dict:
        """The unit's bokeh figures, built once per unit and updated in place when a parameter changes.

        Keys: ``raster``, ``isi``, ``acg``, ``rate``, ``percent`` (figures) and ``waveforms`` (a list of
        figures, one per channel); ``sources`` holds their data sources by the same names.
        """
        built = self.__dict__.get("_figures")
        if built is None or built[0] != self.unit_key:
            built = (self.unit_key, self._build_figures())
            self._figures = built
        return built[1]

    def _build_figures(self) -> dict:
        sources = {
            "single": ColumnDataSource({"x": [], "row": []}),
            "burst": ColumnDataSource({"x": [], "row": []}),
            "isi": ColumnDataSource({"left": [], "right": [], "count": []}),
            "acg": ColumnDataSource({"left": [], "right": [], "count": []}),
            "rates": ColumnDataSource({"t": [], "rate_hz": [], "percent_in_bursts": []}),
        }
        raster = detail_figure("Raster", "time in row (s)", "row start from injection (s)", 320)
        raster.y_range.flipped = True
        for name, color, label in (("single", "black", "single spikes"), ("burst", "#d62728", "burst spikes")):
            raster.scatter("x", "row", source=sources[name], marker="dash", angle=math.pi / 2, size=10, color=color,
                           legend_label=label, name=name)  # fmt: skip
        raster.add_layout(Span(location=0.0, dimension="width", line_color="green", line_width=2, line_dash="dashed",
                               name="injection"))  # fmt: skip
        raster.legend.location = "top_right"
        isi_title = "ISI histogram (onset ISI red, min silence green)"
        isi = detail_figure(isi_title, "ISI (ms)", "count", 250, x_axis_type="log")
        isi.quad(left="left", right="right", top="count", bottom=0, source=sources["isi"], color="#555555",
                 line_color=None, name="isi")  # fmt: skip
        marks = {
            "onset": Span(dimension="height", line_color="#d62728", line_dash="dashed", name="onset ISI"),
            "silence": Span(dimension="height", line_color="green", line_dash="dotted", name="min silence"),
        }
        for mark in marks.values():
            isi.add_layout(mark)
        acg = detail_figure("Autocorrelogram", "lag (ms)", "count", 250)
        acg.quad(left="left", right="right", top="count", bottom=0, source=sources["acg"], color="#555555",
                 line_color=None, name="acg")  # fmt: skip
        rate = detail_figure("Firing rate", "time from injection (s)", "rate (Hz)", 220)
        percent = detail_figure("% spikes in bursts", "time from injection (s)", "% in bursts", 220,
                                x_range=rate.x_range, y_range=Range1d(start=0, end=100))  # fmt: skip
        for fig, column, color in ((rate, "rate_hz", "black"), (percent, "percent_in_bursts", "#d62728")):
            fig.step("t", column, source=sources["rates"], mode="center", color=color, name=column)
            fig.add_layout(Span(location=0.0, dimension="height", line_color="green", line_dash="dashed",
                                line_width=2, name="injection"))  # fmt: skip
        figs = {"raster": raster, "isi": isi, "acg": acg, "rate": rate, "percent": percent,
                "waveforms": self._waveform_figures(), "sources": sources, "marks": marks}  # fmt: skip
        self._update_raster(figs)
        self._update_isi(figs)
        self._update_acg(figs)
        self._update_rates(figs)
        return figs

    def _current(self, figs):
        """The built figures when they are those of the current unit (nothing to update otherwise)."""
        if figs is not None:
            return figs
        built = self.__dict__.get("_figures")
        return built[1] if built is not None and built[0] == self.unit_key else None

    @param.depends("onset_isi_ms", "end_isi_ms", "min_silence_ms", "min_spikes", "raster_row_s", watch=True)
    def _update_raster(self, figs=None) -> None:
        if (figs := self._current(figs)) is None:
            return
        frame = self.raster_frame()
        for name in ("single", "burst"):
            part = frame[frame["burst"] == name]
            figs["sources"][name].data = {"x": part["x"].to_numpy(), "row": part["row"].to_numpy()}
        figs["raster"].title.text = f"Raster, rows of {self.raster_row():g} s from the injection (dashed)"

    @param.depends("onset_isi_ms", "min_silence_ms", watch=True)
    def _update_isi(self, figs=None) -> None:
        if (figs := self._current(figs)) is None:
            return
        if not len(figs["sources"]["isi"].data["count"]):
            edges, counts = isi_histogram(self.data()["spike_times_s"])
            figs["sources"]["isi"].data = {"left": edges[:-1] * 1e3, "right": edges[1:] * 1e3, "count": counts}
        figs["marks"]["onset"].location = float(self.onset_isi_ms)
        figs["marks"]["silence"].location = float(self.min_silence_ms or 1e-3)

    @param.depends("acg_window_ms", watch=True)
    def _update_acg(self, figs=None) -> None:
        if (figs := self._current(figs)) is None:
            return
        window = self.acg_window_ms / 1e3
        edges, counts = autocorrelogram(self.data()["spike_times_s"], window, max(window / 100, 1e-4))
        figs["sources"]["acg"].data = {"left": edges[:-1] * 1e3, "right": edges[1:] * 1e3, "count": counts}

    @param.depends("onset_isi_ms", "end_isi_ms", "min_silence_ms", "min_spikes", "rate_bin_s", watch=True)
    def _update_rates(self, figs=None) -> None:
        if (figs := self._current(figs)) is None:
            return
        frame = self.rates_frame()
        figs["sources"]["rates"].data = {c: frame[c].to_numpy() for c in ("t", "rate_hz", "percent_in_bursts")}
        figs["rate"].title.text = f"Firing rate ({self.rate_bin():g} s bins)"

    def raster_plot(self):
        """The train cut into rows of ``raster_row_s`` from the injection; burst spikes in red."""
        return self.figures()["raster"]

    def isi_plot(self):
        """ISI histogram on a logarithmic time axis, with the onset ISI and the minimum silence marked."""
        return self.figures()["isi"]

    def acg_plot(self):
        """Autocorrelogram in ±``acg_window_ms``."""
        return self.figures()["acg"]

    def rates_plot(self) -> list:
        """Firing rate and % spikes in bursts over time (from the injection), the injection marked."""
        figs = self.figures()
        return [figs["rate"], figs["percent"]]

    def waveform_plot(self) -> list:
        """Mean ± SD waveform on each channel of the tetrode (one figure per channel, shared y range)."""
        return self.figures()["waveforms"]

    def _waveform_figures(self) -> list:
        d = self.data()
        mean, sd = d["waveform_mean_uv"], d["waveform_sd_uv"]
        if mean is None:
            return [detail_figure("no waveforms in the file", "time (ms)", "µV", 200, width=200, sizing_mode="fixed")]
        rate = d["waveform_rate_hz"] or 1.0
        t = np.arange(mean.shape[0]) / rate * 1e3
        names = d["channels"] or [str(c) for c in range(mean.shape[1])]
        spread = sd if sd is not None else np.zeros_like(mean)
        lo, hi = np.nanmin(mean - spread), np.nanmax(mean + spread)
        y_range = Range1d(start=float(lo), end=float(hi)) if np.isfinite([lo, hi]).all() and hi > lo else None
        figures = []
        for c in range(mean.shape[1]):
            name = names[c] if c < len(names) else str(c)
            fig = detail_figure(name, "time (ms)", "µV", 200, width=200, sizing_mode="fixed", y_range=y_range)
            fig.varea(x=t, y1=mean[:, c] - spread[:, c], y2=mean[:, c] + spread[:, c], color="gray", alpha=0.3,
                      name="sd")  # fmt: skip
            fig.line(t, mean[:, c], color="black", name="mean")
            figures.append(fig)
        return figures

    # -- layout ------------------------------------------------------------------------------------
    @param.depends("unit_key", "onset_isi_ms", "end_isi_ms", "min_silence_ms", "min_spikes")
    def _metrics(self):
        return table(self.metrics().round(3))

    @param.depends("unit_key")
    def _quality(self):
        return field_table(self.quality())

    @param.depends("unit_key")
    def _plots(self):
        figs = self.figures()

        def _pane(fig):
            return pn.pane.Bokeh(fig, sizing_mode="stretch_width")

        return pn.Column(
            _pane(figs["raster"]),
            pn.Row(_pane(figs["isi"]), _pane(figs["acg"]), sizing_mode="stretch_width"),
            _pane(figs["rate"]),
            _pane(figs["percent"]),
            pn.Row(
                pn.GridBox(*(pn.pane.Bokeh(f) for f in figs["waveforms"]), ncols=4),
                self._quality,
                sizing_mode="stretch_width",
            ),
            sizing_mode="stretch_width",
        )

    def __panel__(self):
        if (message := unreadable(f"unit {self.unit_key}", self.data)) is not None:
            return message
        rule = ["onset_isi_ms", "end_isi_ms", "min_silence_ms", "min_spikes"]
        return pn.Column(
            pn.pane.Markdown(f"## Unit {self.unit_key}"),
            controls(self, rule, name="Burst rule (recomputes live)"),
            self._metrics,
            controls(self, ["raster_row_s", "rate_bin_s", "acg_window_ms"], show_name=False),
            self._plots,
            self.downloads,
            sizing_mode="stretch_width",
        )
