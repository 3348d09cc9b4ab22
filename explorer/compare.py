"""The compare view (the explorer's landing view): one measure across groups, every cell a point.

Design decisions:

- The view is a ``param``-driven :class:`pn.viewable.Viewer`: measure, grouping and options are
  parameters, so the URL, the widgets and the tests drive it the same way, and the derived data
  (:attr:`CompareView.data`, :attr:`CompareView.stats`, :attr:`CompareView.counts`) can be checked
  without a browser.
- The figure is plain bokeh, kept between changes: each facet is a
  :class:`~nwb_ketamine.explorer.comparefigure.ComparePanel` whose column data sources get new arrays
  when the measure or grouping changes, so the server sends a small patch of numeric buffers. Rebuilding
  a HoloViews overlay for 10,000 points took ~0.7 s per change (plot initialisation); updating the
  sources takes a few tens of ms. A figure is added only when more facets
  are shown than ever before in the session; fewer facets hide the spare figures. A tap on a point sets
  :attr:`CompareView.selected` to its cell or unit key.
- Figure export renders the same geometry with matplotlib (PNG and SVG without a browser driver).
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import panel as pn
import param
from bokeh.models import Range1d

from nwb_ketamine.analysis.stats import STAT_COLUMNS, comparison_table, group_counts, normalise_to_reference
from nwb_ketamine.explorer.comparefigure import PALETTE, VALUE, ComparePanel
from nwb_ketamine.explorer.store import ArchiveStore

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
KEY_COLUMNS = {"cells": "cell_key", "units": "unit_key"}
DATA_COLUMNS = ["key", "subject", "region", "drug", "stress", "time_group", "epoch", VALUE]


def _levels(series: pd.Series, column: str) -> list[str]:
    from nwb_ketamine.analysis.stats import reference_level

    levels = sorted(series.astype(str).unique())
    reference = reference_level(column, levels)
    if reference is None or reference not in levels:
        return levels
    return [reference, *[v for v in levels if v != reference]]


class CompareView(pn.viewable.Viewer):
    """Box plots of one measure by group, with cell-level and animal-level statistics.

    Parameters
    ----------
    store : ArchiveStore
        The archive's catalog.
    **params
        Initial values of the parameters below.
    """

    measure: param.Selector[str] = param.Selector(
        default="nmda_amplitude", objects={v[0]: k for k, v in MEASURES.items()}
    )
    x: param.Selector[str] = param.Selector(
        default="region", objects={"Region": "region", "Drug": "drug"}, label="x axis"
    )
    colour: param.Selector[str] = param.Selector(
        default="drug", objects={"Drug": "drug", "Stress": "stress", "None": "none"}
    )
    facet: param.Selector[str] = param.Selector(
        default="none", objects={"None": "none", "Time since injection": "time_group", "Stress": "stress"}
    )
    normalise = param.Boolean(default=False, label="Normalise to the saline mean (same region and time)")
    accepted_only = param.Boolean(default=True, label="QC-accepted cells / good units only")
    selected = param.String(default="", doc="Key of the cell or unit last clicked (a point or a table row).")

    def __init__(self, store: ArchiveStore, **params) -> None:
        super().__init__(**params)
        self.store = store
        self._y_range = Range1d(start=0, end=1)
        self._pool: list[ComparePanel] = []  # one per facet shown so far, reused
        self.panels: list[ComparePanel] = []  # the facets shown now
        self._plot_area = pn.Row(sizing_mode="stretch_width")  # facets side by side (a grid re-lays out on change)
        self._row_cache: dict[tuple[str, bool], tuple[pd.DataFrame, pd.DataFrame]] = {}
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

    @property
    def counts(self) -> pd.DataFrame:
        """Cells (or unit × epoch rows) and animals per plotted group."""
        return group_counts(self.data, self._groups(), VALUE)

    def _groups(self) -> list[str]:
        return [*dict.fromkeys(c for c in (self.x, self.colour, self.facet) if c != "none")]

    def _rows(self, table: str) -> pd.DataFrame:
        """The rows of catalog ``table`` the view may show (QC filter applied), labels as strings.

        Cached per table and filter, since only the measure column changes between most updates.
        """
        cache_key = (table, self.accepted_only)
        if cache_key not in self._row_cache:
            source = getattr(self.store, table)
            if self.accepted_only:
                if table == "cells" and "accepted" in source:
                    source = source[source["accepted"].astype(bool)]
                elif table == "units" and "curation_label" in source:
                    source = source[source["curation_label"] == "good"]
            extra = ["epoch"] if table == "units" else []
            columns = [KEY_COLUMNS[table], "subject", "region", "drug", "stress", "time_group", "file", *extra]
            rows = source[[*dict.fromkeys(columns)]].rename(columns={KEY_COLUMNS[table]: "key"})
            rows = rows.astype({c: str for c in ("region", "drug", "stress", "time_group")})
            measures = [m[2] for m in MEASURES.values() if m[1] == table and m[2] in source]
            self._row_cache[cache_key] = (rows.reset_index(drop=True), source[measures].reset_index(drop=True))
        return self._row_cache[cache_key]

    def _frame(self) -> pd.DataFrame:
        _, table, column, _, transform = MEASURES[self.measure]
        rows, measures = self._rows(table)
        frame = rows.copy(deep=False)
        frame[VALUE] = measures[column].to_numpy(dtype=float)
        if transform is not None:
            frame[VALUE] = transform(frame[VALUE])
        if self.normalise:
            frame[VALUE] = normalise_to_reference(frame, VALUE, by=("region", "time_group"))
        return frame.dropna(subset=[VALUE]).reset_index(drop=True)

    def refresh(self) -> None:
        """Recompute the data, statistics and plot from the current parameters."""
        self.data = self._frame()
        contrast = self.colour if self.colour != "none" else self.x
        within = [c for c in (self.x, self.facet) if c not in ("none", contrast)]
        self.stats = comparison_table(self.data, VALUE, contrast, within)
        self._layout = self._positions()
        if self.data.empty:
            self._message.object = f"No {self.table} with a value of {MEASURES[self.measure][0]} in the catalog."
            self._message.visible = True
        else:
            self._message.visible = False
        self._update_plot()
        self._stats_table.value = self._stats_display()
        self._data_table.value = self._data_display()

    @param.depends("measure", "x", "colour", "facet", "normalise", "accepted_only", watch=True)
    def _on_change(self) -> None:
        self.refresh()

    def _positions(self) -> dict:
        """Per facet level: the groups in x order with their position, colour level, counts and row indices."""
        data = self.data
        facet_levels = _levels(data[self.facet], self.facet) if self.facet != "none" else [None]
        x_levels = _levels(data[self.x], self.x) if not data.empty else []
        colour_levels = _levels(data[self.colour], self.colour) if self.colour not in ("none", self.x) else [None]
        self.colours = {level: PALETTE[i % len(PALETTE)] for i, level in enumerate(colour_levels)}
        self._colour_codes = {level: i % len(PALETTE) for i, level in enumerate(colour_levels)}
        columns = [c for c in (self.facet, self.x, self.colour) if c != "none"]
        columns = [*dict.fromkeys(columns)]
        groups = data.groupby(columns, sort=False).indices if not data.empty else {}
        indices = {k if isinstance(k, tuple) else (k,): v for k, v in groups.items()}
        self._subjects = pd.factorize(data["subject"])
        subjects = self._subjects[0]
        layout = {}
        for facet_level in facet_levels:
            rows: list[dict] = []
            for xl in x_levels:
                for cl in colour_levels:
                    labels = {self.x: xl}
                    if cl is not None:
                        labels[self.colour] = cl
                    if facet_level is not None:
                        labels[self.facet] = facet_level
                    key = tuple(labels[c] for c in columns)
                    index = indices.get(key)
                    if index is None or index.size == 0:
                        continue
                    rows.append(
                        {
                            "x_level": xl,
                            "colour_level": cl,
                            "pos": len(rows),
                            "n_cells": int(index.size),
                            "n_animals": int(np.unique(subjects[index]).size),
                            "index": np.sort(index),
                        }
                    )
            layout[facet_level] = rows
        return layout

    # The tables always show the same columns: a Tabulator whose columns change rebuilds its column
    # models (~50 ms), the most expensive part of an update before this.
    def _stats_display(self) -> pd.DataFrame:
        """The statistics with the groups of each comparison in one 'within' column, numbers to 3 digits."""
        within = [c for c in self.stats.columns if c not in ("group_a", "group_b", *STAT_COLUMNS)]
        shown = self.stats[["group_a", "group_b", *STAT_COLUMNS]].copy()
        labels = self.stats[within].astype(str).agg(" · ".join, axis=1) if within and len(shown) else "all"
        shown.insert(0, "within", labels)
        for column in STAT_COLUMNS[3:]:
            shown[column] = [float(f"{v:.3g}") if np.isfinite(v) else np.nan for v in shown[column]]
        return shown

    def _data_display(self) -> pd.DataFrame:
        """The plotted rows, the same columns for cells and units (epoch is empty for cells)."""
        shown = self.data.reindex(columns=DATA_COLUMNS)
        shown["epoch"] = shown["epoch"].fillna("")
        shown[VALUE] = shown[VALUE].round(3)
        return shown

    # ------------------------------------------------------------------------------------------- plot
    def _update_plot(self) -> None:
        """Put the current groups into the bokeh figures.

        New data go into the existing sources when the number of panels is unchanged (a small document
        patch); new figures are made only when it changes.
        """
        panels = list(self._layout.items())
        if len(self._pool) < len(panels):
            self._pool += [ComparePanel(self._y_range, self._on_tap) for _ in range(len(panels) - len(self._pool))]
            self._plot_area.objects = [panel.pane for panel in self._pool]
        if len(panels) != len(self.panels):  # figures are kept (hidden when unused): a small patch
            self.panels = self._pool[: len(panels)]
            for i, panel in enumerate(self._pool):
                panel.pane.visible = i < len(panels)
        values = self.data[VALUE].to_numpy()
        low, high = (np.nanmin(values), np.nanmax(values)) if values.size else (0.0, 1.0)
        pad = 0.05 * (high - low) or 1.0
        self._y_range.update(start=low - pad, end=high + pad, reset_start=low - pad, reset_end=high + pad)
        jitter = np.random.default_rng(0).uniform(-0.18, 0.18, len(self.data))
        for panel, (facet_level, rows) in zip(self.panels, panels, strict=True):
            title = f"{GROUP_LABELS.get(self.facet, self.facet)}: {facet_level}" if facet_level is not None else ""
            panel.show(rows, values, self._subjects, jitter, self._colour_codes, self.value_label, title)

    def _on_tap(self, rows) -> None:
        """A point was clicked: ``rows`` are its row numbers in :attr:`data`."""
        if len(rows):
            self.selected = str(self.data["key"].iloc[int(rows[0])])

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
        """The figure rendered with matplotlib, as PNG or SVG bytes.

        Parameters
        ----------
        fmt
            'png' or 'svg'.

        Returns
        -------
        io.BytesIO
        """
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
            self._plot_area,
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
