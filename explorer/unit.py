"""Unit detail: spikes of one unit around the injection, its bursts, ISI, autocorrelogram and waveforms.

Design decision: the burst rule is the only thing a user changes here, so it is four parameters of the
view (in ms, as people think of it) and every burst-dependent output — burst spikes in the raster,
firing and % spikes in bursts over time, the per-epoch metrics table — is recomputed from the spike
train with the project's own detector (:mod:`nwb_ketamine.analysis.bursts`), which is vectorised and
takes milliseconds. The stored metrics are shown next to the live ones, so a reader sees what changed.
Spikes and waveforms are read once per unit (:func:`nwbread.unit_spikes`).
"""

from __future__ import annotations

import math

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param

from nwb_ketamine.analysis.bursts import BurstParameters, detect_bursts, epoch_burst_metrics
from nwb_ketamine.explorer import nwbread

if "bokeh" not in hv.Store.loaded_backends():
    hv.extension("bokeh")


def isi_histogram(spike_times_s, bins_per_decade: int = 20, lo_s: float = 1e-3, hi_s: float = 10.0):
    """Counts of ISIs in log-spaced bins from ``lo_s`` to ``hi_s``: (edges_s, counts)."""
    isi = np.diff(np.asarray(spike_times_s, dtype=float))
    edges = np.logspace(math.log10(lo_s), math.log10(hi_s), int(bins_per_decade * math.log10(hi_s / lo_s)) + 1)
    counts, _ = np.histogram(np.clip(isi, lo_s, hi_s * 0.999999), edges)
    return edges, counts


def autocorrelogram(spike_times_s, window_s: float = 0.1, bin_s: float = 0.001):
    """Counts of spike-time differences in ``[-window_s, window_s]`` (zero lag excluded): (edges_s, counts).

    Only pairs within the window are formed (a sorted search bounds each spike's partners), so the cost
    grows with the number of close pairs, not with the square of the train.
    """
    t = np.asarray(spike_times_s, dtype=float)
    n_bins = int(round(window_s / bin_s))
    edges = np.arange(-n_bins, n_bins + 1) * bin_s
    if t.size < 2:
        return edges, np.zeros(edges.size - 1, dtype=np.int64)
    stop = np.searchsorted(t, t + window_s, side="right")
    counts = np.zeros(edges.size - 1, dtype=np.int64)
    lag = 1
    # Lag k: differences between each spike and its k-th successor; stop once none is in the window.
    while True:
        ok = np.arange(t.size - lag)[stop[: t.size - lag] > np.arange(lag, t.size)]
        if ok.size == 0:
            break
        d = t[ok + lag] - t[ok]
        h, _ = np.histogram(np.concatenate([d, -d]), edges)
        counts += h
        lag += 1
    return edges, counts


def binned_rates(spike_times_s, burst_id, start_s: float, stop_s: float, bin_s: float) -> pd.DataFrame:
    """Firing rate (Hz) and % spikes in bursts per time bin: columns start_s, rate_hz, percent_in_bursts."""
    t = np.asarray(spike_times_s, dtype=float)
    edges = np.arange(start_s, stop_s + bin_s * 0.5, bin_s)
    if edges.size < 2:
        edges = np.array([start_s, stop_s])
    counts, _ = np.histogram(t, edges)
    in_burst, _ = np.histogram(t[np.asarray(burst_id) >= 0], edges)
    with np.errstate(invalid="ignore", divide="ignore"):
        percent = np.where(counts > 0, 100.0 * in_burst / counts, np.nan)
    return pd.DataFrame({"start_s": edges[:-1], "rate_hz": counts / np.diff(edges), "percent_in_bursts": percent})


class UnitView(pn.viewable.Viewer):
    """One unit: raster around the injection with burst spikes marked, ISI histogram (log axis),
    autocorrelogram, firing and % spikes in bursts over time, waveforms, quality and burst metrics.

    Parameters
    ----------
    store
        The archive store (``unit(unit_key)`` → the unit's catalog rows, ``path_of(file)`` → path).
    unit_key
        The unit's catalog key.
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
        """What :func:`nwbread.unit_spikes` reads for this unit (cached per key)."""
        cache = self.__dict__.setdefault("_data_cache", {})
        if self.unit_key not in cache:
            cache.clear()
            row = self.rows().iloc[0]
            cache[self.unit_key] = nwbread.unit_spikes(self.store.path_of(row["file"]), int(row["unit_row"]))
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
        live = pd.DataFrame(epoch_burst_metrics(d["spike_times_s"], spans, self.rule()))
        stored = d["stored_metrics"]
        if stored is not None and len(stored):
            keep = ["epoch", "firing_rate_hz", "percent_spikes_in_bursts", "burst_rate_hz", "mean_spikes_per_burst"]
            live = live.merge(stored[keep], on="epoch", how="left", suffixes=("", " (stored)"))
        return live

    def quality(self) -> pd.DataFrame:
        """Quality metrics and identity of the unit (field, value)."""
        d = self.data()
        fields = [(k, v) for k, v in d["metrics"].items()]
        fields += [("electrode group", d["electrode_group"]), ("region", d["region"])]
        fields += [("channels", ", ".join(d["channels"]))]
        if d["injection_time_s"] is not None:
            fields.append(("injection", f"{d['injection_label']} at {d['injection_time_s']:g} s"))
        row = self.rows().iloc[0]
        fields += [(k, row.get(k, "")) for k in ("drug", "dose", "stress", "file", "object_path")]
        return pd.DataFrame([(str(k), str(v)) for k, v in fields], columns=["field", "value"])

    # -- plots ------------------------------------------------------------------------------------
    def raster_plot(self) -> hv.Overlay:
        """The train cut into rows of ``raster_row_s`` from the injection; burst spikes in red."""
        d, zero = self.data(), self._zero()
        start, stop = self._span()
        row_s = self.raster_row_s or _nice((stop - start) / 30)
        t = d["spike_times_s"] - zero
        row = np.floor(t / row_s)
        frame = pd.DataFrame(
            {"x": t - row * row_s, "row": row * row_s, "burst": np.where(self.burst_id() >= 0, "burst", "single")}
        )
        single = hv.Scatter(frame[frame["burst"] == "single"], "x", "row", label="single spikes")
        burst = hv.Scatter(frame[frame["burst"] == "burst"], "x", "row", label="burst spikes")
        injection = hv.HLine(0.0).opts(color="green", line_width=2, line_dash="dashed")
        return (
            single.opts(marker="dash", angle=90, size=10, color="black")
            * burst.opts(marker="dash", angle=90, size=10, color="#d62728")
            * injection
        ).opts(
            title=f"Raster, rows of {row_s:g} s from the injection (dashed)",
            xlabel="time in row (s)",
            ylabel="row start from injection (s)",
            invert_yaxis=True,
            responsive=True,
            height=320,
        )

    def isi_plot(self) -> hv.Histogram:
        """ISI histogram on a logarithmic time axis, with the onset and end ISIs marked."""
        edges, counts = isi_histogram(self.data()["spike_times_s"])
        hist = hv.Histogram((edges * 1e3, counts), kdims="ISI (ms)", vdims="count").opts(
            logx=True, color="#555555", line_color=None
        )
        return (
            hist
            * hv.VLine(self.onset_isi_ms).opts(color="#d62728", line_dash="dashed")
            * hv.VLine(self.min_silence_ms or 1e-3).opts(color="green", line_dash="dotted")
        ).opts(title="ISI histogram (onset ISI red, min silence green)", responsive=True, height=250)

    def acg_plot(self) -> hv.Histogram:
        """Autocorrelogram in ±``acg_window_ms``."""
        window = self.acg_window_ms / 1e3
        edges, counts = autocorrelogram(self.data()["spike_times_s"], window, max(window / 100, 1e-4))
        return hv.Histogram((edges * 1e3, counts), kdims="lag (ms)", vdims="count").opts(
            title="Autocorrelogram", color="#555555", line_color=None, responsive=True, height=250
        )

    def rates_plot(self) -> hv.Layout:
        """Firing rate and % spikes in bursts over time (from the injection), the injection marked."""
        d, zero = self.data(), self._zero()
        start, stop = self._span()
        bin_s = self.rate_bin_s or _nice((stop - start) / 50)
        frame = binned_rates(d["spike_times_s"], self.burst_id(), start, stop, bin_s)
        frame["t"] = frame["start_s"] - zero + bin_s / 2
        mark = hv.VLine(0.0).opts(color="green", line_dash="dashed", line_width=2)
        rate = hv.Curve(frame, "t", "rate_hz").opts(interpolation="steps-mid", color="black")
        percent = hv.Curve(frame, "t", "percent_in_bursts").opts(interpolation="steps-mid", color="#d62728")
        common = dict(responsive=True, height=220, xlabel="time from injection (s)")
        return (
            (rate * mark).opts(title=f"Firing rate ({bin_s:g} s bins)", ylabel="rate (Hz)", **common)
            + (percent * mark).opts(title="% spikes in bursts", ylabel="% in bursts", ylim=(0, 100), **common)
        ).cols(1)

    def waveform_plot(self) -> hv.Layout:
        """Mean ± SD waveform on each channel of the tetrode."""
        d = self.data()
        mean, sd = d["waveform_mean_uv"], d["waveform_sd_uv"]
        if mean is None:
            return hv.Layout([hv.Curve([], "time (ms)", "µV").opts(title="no waveforms in the file")])
        rate = d["waveform_rate_hz"] or 1.0
        t = np.arange(mean.shape[0]) / rate * 1e3
        names = d["channels"] or [str(c) for c in range(mean.shape[1])]
        lo, hi = np.nanmin(mean - (sd if sd is not None else 0)), np.nanmax(mean + (sd if sd is not None else 0))
        panels = []
        for c in range(mean.shape[1]):
            curve = hv.Curve((t, mean[:, c]), "time (ms)", "µV").opts(color="black")
            band = hv.Spread(
                (t, mean[:, c], sd[:, c] if sd is not None else np.zeros_like(t)), "time (ms)", ["µV", "sd"]
            )
            name = names[c] if c < len(names) else str(c)
            panels.append((band.opts(alpha=0.3, color="gray") * curve).opts(
                title=name, ylim=(float(lo), float(hi)) if np.isfinite([lo, hi]).all() else None, width=200, height=200
            ))  # fmt: skip
        return hv.Layout(panels).cols(4)

    # -- layout ------------------------------------------------------------------------------------
    @param.depends("unit_key", "onset_isi_ms", "end_isi_ms", "min_silence_ms", "min_spikes", "raster_row_s")
    def _raster(self):
        return pn.pane.HoloViews(self.raster_plot(), sizing_mode="stretch_width")

    @param.depends("unit_key", "onset_isi_ms", "min_silence_ms", "acg_window_ms")
    def _intervals(self):
        return pn.Row(
            pn.pane.HoloViews(self.isi_plot(), sizing_mode="stretch_width"),
            pn.pane.HoloViews(self.acg_plot(), sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )

    @param.depends("unit_key", "onset_isi_ms", "end_isi_ms", "min_silence_ms", "min_spikes", "rate_bin_s")
    def _rates(self):
        return pn.pane.HoloViews(self.rates_plot(), sizing_mode="stretch_width")

    @param.depends("unit_key", "onset_isi_ms", "end_isi_ms", "min_silence_ms", "min_spikes")
    def _metrics(self):
        return pn.widgets.Tabulator(
            self.metrics().round(3), show_index=False, disabled=True, sizing_mode="stretch_width"
        )

    @param.depends("unit_key")
    def _quality(self):
        return pn.widgets.Tabulator(self.quality(), show_index=False, disabled=True, sizing_mode="stretch_width")

    @param.depends("unit_key")
    def _waveforms(self):
        return pn.pane.HoloViews(self.waveform_plot())

    def __panel__(self):
        try:
            self.data()
        except Exception as exc:  # an unreadable file is a message in the page, not a traceback
            return pn.pane.Alert(f"Cannot read unit {self.unit_key}: {type(exc).__name__}: {exc}", alert_type="danger")
        rule = pn.Param(
            self.param,
            parameters=["onset_isi_ms", "end_isi_ms", "min_silence_ms", "min_spikes"],
            name="Burst rule (recomputes live)",
            default_layout=pn.Row,
        )
        display = pn.Param(
            self.param, parameters=["raster_row_s", "rate_bin_s", "acg_window_ms"], show_name=False,
            default_layout=pn.Row,
        )  # fmt: skip
        return pn.Column(
            pn.pane.Markdown(f"## Unit {self.unit_key}"),
            rule,
            self._metrics,
            display,
            self._raster,
            self._intervals,
            self._rates,
            pn.Row(self._waveforms, self._quality, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )


def _nice(value: float) -> float:
    """``value`` rounded up to 1, 2 or 5 × a power of ten (bin and row lengths people read easily)."""
    if not value > 0:
        return 1.0
    exponent = 10 ** math.floor(math.log10(value))
    return next(m * exponent for m in (1, 2, 5, 10) if m * exponent >= value)
