"""The paired view: each unit's baseline → post-injection change as a line, with within-unit statistics.

Design decisions:

- The in vivo claim is a change within units, so the view pairs each unit with itself
  (:func:`~nwb_ketamine.analysis.paired.pair_epochs`): a thin line per unit, a thick one per animal (the
  mean of its units), one figure per group (drug × stress by default). Units that lack either epoch are
  left out.
- The statistics are :func:`~nwb_ketamine.analysis.paired.paired_table`: Wilcoxon signed-rank and paired
  t on the units and on the animal means, with their effect sizes; p-values shown with significant
  digits, the CSV with full floats.
- Like the compare view, it is a ``param``-driven :class:`pn.viewable.Viewer` whose derived data
  (:attr:`PairedView.pairs`, :attr:`PairedView.stats`) can be checked without a browser.
- Its CSVs carry what the compare view's do (:meth:`~nwb_ketamine.explorer.filtered.FilteredView.export_csv`):
  every factor (a pair's epoch is 'baseline → post-injection'), the grouping, the nwb-ketamine version and
  the catalog's hash; the view has no filters (``view_filters`` is '{}').
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import panel as pn
import param
from bokeh.models import ColumnDataSource, FixedTicker, Range1d
from bokeh.plotting import figure

from nwb_ketamine.analysis.hierarchical import format_p
from nwb_ketamine.analysis.paired import PAIRED_COLUMNS, pair_epochs, paired_table
from nwb_ketamine.explorer.factors import BASELINE_EPOCH, DEFAULT_EPOCH, FACTORS, factor_rows, ordered_levels
from nwb_ketamine.explorer.filtered import EXPORT_FACTORS, FilteredView
from nwb_ketamine.explorer.methods import catalog_rows, methods_markdown, paired_statistics_methods
from nwb_ketamine.explorer.methodscard import MethodsCard
from nwb_ketamine.explorer.paperfigure import PALETTE
from nwb_ketamine.explorer.provenance import provenance
from nwb_ketamine.explorer.statictable import StaticTable
from nwb_ketamine.explorer.store import ArchiveStore

#: key → (label, catalog column, unit) of the unit measures.
PAIRED_MEASURES = {
    "firing_rate": ("Firing rate", "firing_rate_hz", "Hz"),
    "percent_in_bursts": ("% spikes in bursts", "percent_spikes_in_bursts", "%"),
    "burst_rate": ("Burst frequency", "burst_rate_hz", "Hz"),
    "spikes_per_burst": ("Spikes per burst", "mean_spikes_per_burst", ""),
    "intraburst_frequency": ("Intraburst frequency", "mean_intraburst_frequency_hz", "Hz"),
    "tonic_rate": ("Tonic firing rate", "tonic_rate_hz", "Hz"),
}
_FACETS = {"None": "none", **{FACTORS[f]: f for f in ("region", "drug", "dose", "stress", "sex")}}
_P_COLUMNS = ("wilcoxon_p", "paired_p")


class PairedView(pn.viewable.Viewer):
    """Baseline → post-injection lines per unit and per animal, with paired tests per group.

    Parameters
    ----------
    store : ArchiveStore
        The archive's catalog.
    **params
        Initial values of the parameters below.
    """

    measure: param.Selector[str] = param.Selector(
        default="percent_in_bursts", objects={v[0]: k for k, v in PAIRED_MEASURES.items()}
    )
    facet_row: param.Selector[str] = param.Selector(default="stress", objects=_FACETS, label="Facet rows")
    facet_col: param.Selector[str] = param.Selector(default="drug", objects=_FACETS, label="Facet columns")
    accepted_only = param.Boolean(default=True, label="Good units only")

    def __init__(self, store: ArchiveStore, **params) -> None:
        super().__init__(**params)
        self.store = store
        self._plot_area = pn.Column(sizing_mode="stretch_width")
        self._stats_table = StaticTable()
        self._message = pn.pane.Alert("", alert_type="warning", visible=False)
        self.figures: list = []
        self.downloads = pn.Row(
            pn.widgets.FileDownload(callback=self.data_csv, filename="paired-data.csv", label="Pairs (CSV)"),
            pn.widgets.FileDownload(callback=self.stats_csv, filename="paired-statistics.csv", label="Stats (CSV)"),
        )
        self.methods = MethodsCard(store, self.methods_text, "paired-methods.md")
        self.refresh()

    @property
    def groups(self) -> list[str]:
        """The factors splitting the units into figures and test rows."""
        return [*dict.fromkeys(c for c in (self.facet_row, self.facet_col) if c != "none")]

    @property
    def value_label(self) -> str:
        """The measure's axis label with its unit."""
        label, _, unit = PAIRED_MEASURES[self.measure]
        return f"{label} ({unit})" if unit else label

    def refresh(self) -> None:
        """Recompute the pairs, statistics and figures from the current parameters."""
        column = PAIRED_MEASURES[self.measure][1]
        units = self.store.units
        rows = factor_rows(self.store, "units", self.accepted_only)
        source = units[units["curation_label"] == "good"] if self.accepted_only and "curation_label" in units else units
        rows["value"] = source[column].to_numpy(dtype=float) if column in source else np.nan
        self._unit_rows = rows  # their drug roles order the facets, the control first
        self.pairs = pair_epochs(rows.dropna(subset=["value"]), "value", unit=("subject", "key"),
                                 before=BASELINE_EPOCH, after=DEFAULT_EPOCH, groups=self.groups)  # fmt: skip
        self.stats = paired_table(self.pairs, groups=self.groups) if len(self.pairs) else pd.DataFrame(
            columns=[*self.groups, "level", "n_animals", *PAIRED_COLUMNS])  # fmt: skip
        self._message.object = f"No unit has a {BASELINE_EPOCH} and a {DEFAULT_EPOCH} value of {self.value_label}."
        self._message.visible = self.pairs.empty
        self._draw()
        self._stats_table.value = self._stats_display()
        self.methods.update()

    @param.depends("measure", "facet_row", "facet_col", "accepted_only", watch=True)
    def _on_change(self) -> None:
        self.refresh()

    def _facets(self) -> list[tuple[dict, pd.DataFrame]]:
        if self.pairs.empty:
            return []
        if not self.groups:
            return [({}, self.pairs)]
        out = []
        for key, part in self.pairs.groupby(self.groups, sort=False):
            out.append((dict(zip(self.groups, key if isinstance(key, tuple) else (key,), strict=True)), part))
        order = {c: ordered_levels(self._unit_rows, c) for c in self.groups}
        return sorted(out, key=lambda item: [order[c].index(item[0][c]) for c in self.groups])

    def _draw(self) -> None:
        facets = self._facets()
        values = self.pairs[["before", "after"]].to_numpy(dtype=float) if len(self.pairs) else np.zeros((0, 2))
        low, high = (np.nanmin(values), np.nanmax(values)) if values.size else (0.0, 1.0)
        pad = 0.05 * (high - low) or 1.0
        y_range = Range1d(start=low - pad, end=high + pad)
        self.figures = []
        for i, (labels, part) in enumerate(facets):
            title = " · ".join(f"{FACTORS[c]}: {v}" for c, v in labels.items())
            fig = figure(height=360, width=300, x_range=Range1d(start=-0.3, end=1.3), y_range=y_range, title=title,
                         tools="pan,box_zoom,wheel_zoom,reset,save", toolbar_location="above")  # fmt: skip
            colour = PALETTE[(i + 1) % len(PALETTE)]
            units = ColumnDataSource({"xs": [[0.0, 1.0]] * len(part), "ys": part[["before", "after"]].values.tolist()})
            fig.multi_line("xs", "ys", source=units, color=colour, alpha=0.35, line_width=1)
            means = part.groupby("subject")[["before", "after"]].mean()
            animals = ColumnDataSource({"xs": [[0.0, 1.0]] * len(means), "ys": means.values.tolist(),
                                        "subject": list(means.index)})  # fmt: skip
            fig.multi_line("xs", "ys", source=animals, color="black", line_width=3.5)
            fig.xaxis.ticker = FixedTicker(ticks=[0, 1])
            fig.xaxis.major_label_overrides = {0: BASELINE_EPOCH, 1: DEFAULT_EPOCH}
            fig.yaxis.axis_label = self.value_label
            fig.add_layout(_n_label(part), "below")
            self.figures.append(fig)
        self._plot_area.objects = [pn.FlexBox(*[pn.pane.Bokeh(f) for f in self.figures])]

    def _stats_display(self) -> pd.DataFrame:
        shown = self.stats.copy()
        for column in _P_COLUMNS:
            shown[column] = [format_p(v) for v in shown[column]]
        for column in ("mean_before", "mean_after", "mean_difference", "wilcoxon_w", "matched_rank_biserial",
                       "paired_t", "paired_df", "cohen_dz"):  # fmt: skip
            shown[column] = [float(f"{v:.3g}") if np.isfinite(v) else np.nan for v in shown[column].astype(float)]
        return shown

    def methods_text(self) -> str:
        """The methods paragraph of the paired units (:func:`~nwb_ketamine.explorer.methods.methods_markdown`).

        Returns
        -------
        str
            Markdown.
        """
        units = catalog_rows(self.store, "units", bool(self.accepted_only), self.pairs["key"])
        statistics = paired_statistics_methods(self.value_label, self.groups)
        return methods_markdown(pd.DataFrame(), units, groups=self.groups, sessions=self.store.sessions,
                                accepted_only=bool(self.accepted_only), statistics=statistics)  # fmt: skip

    # ------------------------------------------------------------------------------------------- export
    def data_csv(self) -> io.StringIO:
        """One row per unit: its groups, animal, key, baseline and post-injection values (CSV)."""
        out = self.pairs.rename(columns={"before": f"{BASELINE_EPOCH} {self.value_label}",
                                         "after": f"{DEFAULT_EPOCH} {self.value_label}"})  # fmt: skip
        units = self._unit_rows.drop_duplicates("key").set_index("key")
        catalog = self.store.units.drop_duplicates("unit_key").set_index("unit_key")  # the numeric labels
        for column in ("hours_since_injection", "dose_value", "dose_unit"):
            if column in catalog:
                out[column] = out["key"].map(catalog[column])
        for column in EXPORT_FACTORS:
            if column not in out.columns:
                out[column] = out["key"].map(units[column]) if column in units and column != "epoch" else ""
        out["epoch"] = f"{BASELINE_EPOCH} → {DEFAULT_EPOCH}"
        return self._export(out)

    def stats_csv(self) -> io.StringIO:
        """The paired statistics, units and animal means per group, full-precision p-values (CSV)."""
        out = self.stats.copy()
        out.insert(0, "measure", self.value_label)
        units = self._unit_rows[self._unit_rows["key"].isin(set(self.pairs["key"]))]
        missing = [c for c in EXPORT_FACTORS if c not in out.columns]
        out = out.reset_index(drop=True)
        if len(out) and len(units):
            out = out.join(FilteredView._pooled(out, units, missing))
        else:
            out = out.assign(**{c: "" for c in missing})
        return self._export(out)

    def _export(self, out: pd.DataFrame) -> io.StringIO:
        """``out`` with the view's settings, the nwb-ketamine version and the catalog's hash, as a CSV."""
        grouping = {"facet_rows": self.facet_row, "facet_columns": self.facet_col}
        settings = {"view": "paired", "view_measure": self.value_label,
                    "view_grouping": json.dumps(grouping), "view_filters": "{}",
                    "view_accepted_only": bool(self.accepted_only)}  # fmt: skip
        return io.StringIO(out.assign(**settings, **provenance(self.store)).to_csv(index=False))

    # ------------------------------------------------------------------------------------------- layout
    def controls(self):
        """The widgets of the view's parameters (the app puts them in the sidebar)."""
        return pn.Param(self.param, parameters=["measure", "facet_row", "facet_col", "accepted_only"], show_name=False)

    def __panel__(self):
        return pn.Column(
            self._message,
            pn.pane.Markdown(
                f"Each thin line: one unit, {BASELINE_EPOCH} → {DEFAULT_EPOCH}; thick black lines: animal means.",
                styles={"font-size": "0.85em"},
            ),
            self._plot_area,
            self.downloads,
            self.methods.card,
            pn.pane.Markdown("### Paired statistics (Wilcoxon signed-rank and paired t, on units and on animal means)"),
            self._stats_table,
            sizing_mode="stretch_width",
        )


def _n_label(part: pd.DataFrame):
    from bokeh.models.annotations import Title

    return Title(text=f"n = {len(part)} units / {part['subject'].nunique()} animals", align="center")
