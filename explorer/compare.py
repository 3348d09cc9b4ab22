"""The compare view (the explorer's landing view): one measure across groups, every cell a point.

Design decisions:

- The view is a ``param``-driven :class:`pn.viewable.Viewer`: measure, grouping and options are
  parameters, so the URL, the widgets and the tests drive it the same way, and the derived data
  (:attr:`CompareView.data`, :attr:`CompareView.stats`, :attr:`CompareView.counts`) can be checked
  without a browser.
- Groups sit at integer x positions and the boxes are drawn from quartiles computed here (rectangles
  and segments) instead of ``hv.BoxWhisker`` on nested categorical axes: holoviews cannot overlay
  jittered points on nested factors, and numeric positions let the boxes, the points, the animal means
  and the "n = cells / animals" labels share one axis. Points are a ``hv.Scatter`` whose
  ``Selection1D`` stream (tap) sets :attr:`CompareView.selected` to the clicked cell or unit key.
- Figure export renders the same geometry with matplotlib (PNG and SVG without a browser driver).
"""

from __future__ import annotations

import io

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  (options below are bokeh options, also without pn.extension)
import numpy as np
import pandas as pd
import panel as pn
import param

from nwb_ketamine.analysis.stats import animal_means, comparison_table, group_counts, normalise_to_reference

#: key → (label, table, column, unit, transform)
MEASURES = {
    "nmda_amplitude": ("NMDAR-EPSC amplitude", "cells", "nmda_amplitude_pa", "pA", None),
    "ampa_amplitude": ("AMPAR-EPSC amplitude", "cells", "ampa_amplitude_pa", "pA", np.abs),
    "nmda_ampa_ratio": ("NMDA/AMPA ratio", "cells", "nmda_ampa_ratio", "", None),
    "nmda_decay_tau": ("NMDAR decay τ", "cells", "nmda_decay_tau_ms", "ms", None),
    "firing_rate": ("Firing rate", "units", "firing_rate_hz", "Hz", None),
    "percent_in_bursts": ("% spikes in bursts", "units", "percent_spikes_in_bursts", "%", None),
    "burst_rate": ("Burst frequency", "units", "burst_rate_hz", "Hz", None),
    "spikes_per_burst": ("Spikes per burst", "units", "mean_spikes_per_burst", "", None),
    "intraburst_frequency": ("Intraburst frequency", "units", "mean_intraburst_frequency_hz", "Hz", None),
}
GROUP_LABELS = {"region": "Region", "drug": "Drug", "stress": "Stress", "time_group": "Time since injection"}
PALETTE = ["#7f7f7f", "#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
VALUE = "value"
KEY_COLUMNS = {"cells": "cell_key", "units": "unit_key"}


def _levels(series: pd.Series, column: str) -> list[str]:
    from nwb_ketamine.analysis.stats import reference_level

    levels = sorted(series.astype(str).unique())
    reference = reference_level(column, levels)
    return [reference, *[v for v in levels if v != reference]] if reference in levels else levels


class CompareView(pn.viewable.Viewer):
    """Box plots of one measure by group, with cell-level and animal-level statistics.

    Parameters
    ----------
    store : ArchiveStore
        The archive's catalog.
    **params
        Initial values of the parameters below.
    """

    measure = param.Selector(default="nmda_amplitude", objects={v[0]: k for k, v in MEASURES.items()})
    x = param.Selector(default="region", objects={"Region": "region", "Drug": "drug"}, label="x axis")
    colour = param.Selector(default="drug", objects={"Drug": "drug", "Stress": "stress", "None": "none"})
    facet = param.Selector(
        default="none", objects={"None": "none", "Time since injection": "time_group", "Stress": "stress"}
    )
    normalise = param.Boolean(default=False, label="Normalise to the saline mean (same region and time)")
    accepted_only = param.Boolean(default=True, label="QC-accepted cells / good units only")
    selected = param.String(default="", doc="Key of the cell or unit last clicked (a point or a table row).")

    def __init__(self, store, **params):
        super().__init__(**params)
        self.store = store
        self._plot_pane = pn.pane.HoloViews(sizing_mode="stretch_width", height=460, linked_axes=False)
        self._stats_table = pn.widgets.Tabulator(
            pd.DataFrame(), disabled=True, show_index=False, sizing_mode="stretch_width", height=220
        )
        self._data_table = pn.widgets.Tabulator(
            pd.DataFrame(),
            disabled=True,
            show_index=False,
            pagination="remote",
            page_size=10,
            sizing_mode="stretch_width",
            selectable=False,
        )
        self._data_table.on_click(self._on_table_click)
        self._message = pn.pane.Alert("", alert_type="warning", visible=False)
        self.downloads = pn.Row(
            pn.widgets.FileDownload(callback=self.data_csv, filename="compare-data.csv", label="Data (CSV)"),
            pn.widgets.FileDownload(callback=self.stats_csv, filename="compare-statistics.csv", label="Stats (CSV)"),
            pn.widgets.FileDownload(callback=lambda: self.figure_bytes("png"), filename="compare.png", label="PNG"),
            pn.widgets.FileDownload(callback=lambda: self.figure_bytes("svg"), filename="compare.svg", label="SVG"),
        )
        self.refresh()

    # ------------------------------------------------------------------------------------------- data
    @property
    def table(self) -> str:
        """'cells' or 'units': the catalog table of the current measure."""
        return MEASURES[self.measure][1]

    @property
    def value_label(self) -> str:
        """Axis label of the current measure (with its unit, or '% of saline' when normalised)."""
        label, _, _, unit, _ = MEASURES[self.measure]
        if self.normalise:
            return f"{label} (% of saline)"
        return f"{label} ({unit})" if unit else label

    def _groups(self) -> list[str]:
        return [*dict.fromkeys(c for c in (self.x, self.colour, self.facet) if c != "none")]

    def _frame(self) -> pd.DataFrame:
        label, table, column, _, transform = MEASURES[self.measure]
        source = getattr(self.store, table)
        if self.accepted_only:
            if table == "cells" and "accepted" in source:
                source = source[source["accepted"].astype(bool)]
            elif table == "units" and "curation_label" in source:
                source = source[source["curation_label"] == "good"]
        key = KEY_COLUMNS[table]
        extra = ["epoch"] if table == "units" else []
        columns = [*dict.fromkeys([key, "subject", "region", "drug", "stress", "time_group", "file", *extra])]
        frame = source[columns].copy()
        frame[VALUE] = source[column].to_numpy(dtype=float)
        if transform is not None:
            frame[VALUE] = transform(frame[VALUE])
        frame = frame.rename(columns={key: "key"})
        for c in ("region", "drug", "stress", "time_group"):
            frame[c] = frame[c].astype(str)
        if self.normalise:
            frame[VALUE] = normalise_to_reference(frame, VALUE, by=("region", "time_group"))
        return frame.dropna(subset=[VALUE]).reset_index(drop=True)

    def refresh(self) -> None:
        """Recompute the data, statistics and plot from the current parameters."""
        self.data = self._frame()
        groups = self._groups()
        self.counts = group_counts(self.data, groups, VALUE)
        contrast = self.colour if self.colour != "none" else self.x
        within = [c for c in (self.x, self.facet) if c not in ("none", contrast)]
        self.stats = comparison_table(self.data, VALUE, contrast, within)
        self.means = animal_means(self.data, VALUE, groups)
        self._layout = self._positions()
        if self.data.empty:
            self._message.object = f"No {self.table} with a value of {MEASURES[self.measure][0]} in the catalog."
            self._message.visible = True
        else:
            self._message.visible = False
        self.plot = self._build_plot()
        self._plot_pane.object = self.plot
        self._stats_table.value = self._stats_display()
        self._data_table.value = self.data.drop(columns=["file"]).round(3)

    @param.depends("measure", "x", "colour", "facet", "normalise", "accepted_only", watch=True)
    def _on_change(self) -> None:
        self.refresh()

    def _positions(self) -> dict:
        """Per facet level: the groups in x order with their position, colour level and counts."""
        facet_levels = _levels(self.data[self.facet], self.facet) if self.facet != "none" else [None]
        x_levels = _levels(self.data[self.x], self.x) if not self.data.empty else []
        colour_levels = _levels(self.data[self.colour], self.colour) if self.colour not in ("none", self.x) else [None]
        self.colours = {level: PALETTE[i % len(PALETTE)] for i, level in enumerate(colour_levels)}
        layout = {}
        for facet_level in facet_levels:
            rows = []
            for xl in x_levels:
                for cl in colour_levels:
                    mask = self.data[self.x] == xl
                    if cl is not None:
                        mask &= self.data[self.colour] == cl
                    if facet_level is not None:
                        mask &= self.data[self.facet] == facet_level
                    n_cells = int(mask.sum())
                    if n_cells == 0:
                        continue
                    part = self.data[mask]
                    rows.append(
                        {
                            "x_level": xl,
                            "colour_level": cl,
                            "pos": float(len(rows)),
                            "n_cells": n_cells,
                            "n_animals": int(part["subject"].nunique()),
                            "index": np.flatnonzero(mask.to_numpy()),
                        }
                    )
            layout[facet_level] = rows
        return layout

    def _stats_display(self) -> pd.DataFrame:
        shown = self.stats.copy()
        for column in shown.columns:
            if shown[column].dtype.kind == "f":
                shown[column] = shown[column].map(lambda v: float(f"{v:.3g}") if np.isfinite(v) else np.nan)
        return shown

    # ------------------------------------------------------------------------------------------- plot
    def _build_plot(self):
        panels = []
        rng = np.random.default_rng(0)
        jitter = rng.uniform(-0.18, 0.18, len(self.data))
        self._selections = []
        for facet_level, rows in self._layout.items():
            boxes, medians, whiskers, ticks = [], [], [], []
            point_rows, mean_rows = [], []
            for row in rows:
                values = self.data[VALUE].to_numpy()[row["index"]]
                q1, median, q3 = np.percentile(values, [25, 50, 75])
                iqr = q3 - q1
                low = values[values >= q1 - 1.5 * iqr].min()
                high = values[values <= q3 + 1.5 * iqr].max()
                colour = self.colours.get(row["colour_level"], PALETTE[0])
                p = row["pos"]
                boxes.append((p - 0.3, q1, p + 0.3, q3, colour))
                medians.append((p - 0.3, median, p + 0.3, median))
                whiskers += [(p, low, p, q1), (p, q3, p, high)]
                label = row["x_level"] if row["colour_level"] is None else f"{row['x_level']} · {row['colour_level']}"
                ticks.append((p, f"{label}\nn = {row['n_cells']} / {row['n_animals']}"))
                # only the columns the glyphs use: bokeh serialises and validates every column it is given
                part = self.data.iloc[row["index"]][[VALUE, "key", "subject"]]
                point_rows.append(part.assign(xpos=p + jitter[row["index"]], colour=str(row["colour_level"])))
                subject_means = part.groupby("subject")[VALUE].mean()
                mean_rows.append(pd.DataFrame({"xpos": p, VALUE: subject_means.values, "subject": subject_means.index}))
            empty = pd.DataFrame(columns=[VALUE, "key", "subject", "xpos", "colour"])
            points = pd.concat(point_rows) if point_rows else empty
            means = pd.concat(mean_rows) if mean_rows else pd.DataFrame(columns=["xpos", VALUE, "subject"])
            # No per-point string columns but the colour level: 10,000 keys and subjects cost holoviews and
            # bokeh ~0.3 s of range computation and decoding; a click maps the point index to its key instead.
            vdims = [hv.Dimension(VALUE, label=self.value_label), "colour"]
            # colour by level through a categorical colour mapper: per-point colour strings cost bokeh a
            # validation of each of them (~0.5 s for 10,000 points)
            cmap = {str(level): c for level, c in self.colours.items()}
            scatter = hv.Scatter(points, "xpos", vdims).opts(
                color="colour", cmap=cmap, size=6, alpha=0.75, tools=["tap", "hover"], nonselection_alpha=0.4,
                hover_tooltips=[("value", f"@{{{VALUE}}}"), ("group", "@colour")],
            )  # fmt: skip
            stream = hv.streams.Selection1D(source=scatter)
            keys = points["key"].tolist()
            stream.add_subscriber(lambda index, keys=keys: self._on_select(index, keys))
            self._selections.append(stream)
            overlay = (
                hv.Rectangles(boxes, vdims="colour").opts(color="colour", alpha=0.25, line_color="colour")
                * hv.Segments(whiskers).opts(color="#444444")
                * hv.Segments(medians).opts(color="black", line_width=2)
                * scatter
                * hv.Scatter(means, "xpos", [VALUE, "subject"]).opts(
                    marker="diamond", size=13, color="white", line_color="black", line_width=1.5
                )
            )
            title = f"{GROUP_LABELS.get(self.facet, self.facet)}: {facet_level}" if facet_level is not None else ""
            overlay = overlay.opts(
                title=title, xticks=ticks or [(0, "")], xlabel="", ylabel=self.value_label,
                responsive=True, min_height=380, show_legend=False,
                xlim=(-0.6, max(len(rows), 1) - 0.4), toolbar="above",
            )  # fmt: skip
            panels.append(overlay)
        if len(panels) == 1:
            return panels[0]
        return hv.Layout(panels).cols(min(len(panels), 3)).opts(shared_axes=True)

    def _on_select(self, index, keys) -> None:
        if index:
            self.selected = keys[index[0]]

    def _on_table_click(self, event) -> None:
        if event.row is not None and event.row < len(self.data):
            self.selected = str(self.data.iloc[event.row]["key"])

    # ------------------------------------------------------------------------------------------- export
    def data_csv(self) -> io.StringIO:
        """The plotted values, one row per cell or unit × epoch, with their group labels (CSV)."""
        out = self.data.rename(columns={VALUE: self.value_label})
        return io.StringIO(out.to_csv(index=False))

    def stats_csv(self) -> io.StringIO:
        """The statistics table, cell level and animal level (CSV)."""
        out = self.stats.copy()
        out.insert(0, "measure", self.value_label)
        return io.StringIO(out.to_csv(index=False))

    def figure_bytes(self, fmt: str = "png") -> io.BytesIO:
        """The figure rendered with matplotlib, as PNG or SVG bytes."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        panels = list(self._layout.items())
        fig, axes = plt.subplots(1, len(panels), figsize=(max(4, 2.2 * max(len(r) for _, r in panels) or 1), 4.5),
                                 squeeze=False, sharey=True)  # fmt: skip
        rng = np.random.default_rng(0)
        for ax, (facet_level, rows) in zip(axes[0], panels, strict=True):
            for row in rows:
                values = self.data[VALUE].to_numpy()[row["index"]]
                colour = self.colours.get(row["colour_level"], PALETTE[0])
                ax.boxplot(values, positions=[row["pos"]], widths=0.6, showfliers=False, patch_artist=True,
                           boxprops={"facecolor": colour, "alpha": 0.3}, medianprops={"color": "black"})  # fmt: skip
                ax.scatter(row["pos"] + rng.uniform(-0.18, 0.18, len(values)), values, s=10, color=colour, alpha=0.7)
                part = self.data.iloc[row["index"]]
                means = part.groupby("subject")[VALUE].mean()
                ax.scatter(np.full(len(means), row["pos"]), means, marker="D", s=40, facecolor="white",
                           edgecolor="black", zorder=3)  # fmt: skip
            ax.set_xticks([r["pos"] for r in rows])
            ax.set_xticklabels(
                [f"{r['x_level']}" + (f"\n{r['colour_level']}" if r["colour_level"] else "")
                 + f"\nn = {r['n_cells']}/{r['n_animals']}" for r in rows], fontsize=8,
            )  # fmt: skip
            if facet_level is not None:
                ax.set_title(f"{GROUP_LABELS.get(self.facet, self.facet)}: {facet_level}", fontsize=9)
        axes[0][0].set_ylabel(self.value_label)
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format=fmt, dpi=120)
        plt.close(fig)
        out.seek(0)
        return out

    # ------------------------------------------------------------------------------------------- layout
    def controls(self):
        """The widgets of the view's parameters (the app puts them in the sidebar)."""
        return pn.Param(
            self.param,
            parameters=["measure", "x", "colour", "facet", "normalise", "accepted_only"],
            show_name=False,
            widgets={"x": pn.widgets.RadioButtonGroup, "colour": pn.widgets.RadioButtonGroup},
        )

    def __panel__(self):
        return pn.Column(
            self._message,
            self._plot_pane,
            pn.pane.Markdown(
                "◆ animal mean · labels: n = cells (units) / animals · click a point to open it",
                styles={"font-size": "0.85em"},
            ),
            self.downloads,
            pn.pane.Markdown("### Statistics (each level vs the control; cells and animal means)"),
            self._stats_table,
            pn.pane.Markdown("### Data"),
            self._data_table,
            sizing_mode="stretch_width",
        )
