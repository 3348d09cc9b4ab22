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
- The landing view is the study's headline: NMDAR-EPSC amplitude of stressed animals (the stress filter
  "all but control"), x = region, colour = drug, one facet column per time since injection.
- Honest units of observation: a unit measure shows one epoch (post-injection by default, said in a
  notice) unless epoch or the unit's time group is on an axis, so a unit never counts twice in a box;
  the n labels count distinct cells (units) and animals.
- The statistics (:mod:`~nwb_ketamine.explorer.comparestats`) add the mixed model only when asked
  (:attr:`CompareView.mixed_model`): a fit takes ~0.5 s at 10,000 rows, far more than an update; so do
  the region × drug interaction rows. The plot kind (:mod:`~nwb_ketamine.explorer.comparekinds`) switches
  renderers of the kept figures, without recomputing the statistics. For a unit measure,
  :mod:`~nwb_ketamine.explorer.comparebursting` tabulates the fraction of bursting units per group.
- The tables below the plot are HTML (:mod:`~nwb_ketamine.explorer.statictable`) except the data table,
  whose rows open their cell or unit: that one is a Tabulator, sent when its "Data" card is first opened.
  The three Tabulators this page had were 0.45 s of its first page in Chromium.
- Figure export renders the same geometry with matplotlib (PDF, SVG and PNG without a browser driver), at
  the size the user chose.
- What a reader sees is in words: the regions by :func:`~nwb_ketamine.explorer.factors.region_name`, the
  colour encoding in a legend above the plot (:meth:`CompareView.colour_legend`, and in the exported
  figure), the statistics columns titled with the measure's unit (:func:`comparestats.titles`), the
  sidebar's widgets in labelled groups.
"""

from __future__ import annotations

import html
import io

import numpy as np
import pandas as pd
import panel as pn
import param
from bokeh.models import Range1d

from nwb_ketamine.analysis.group_tables import normalise_to_reference
from nwb_ketamine.explorer import comparestats
from nwb_ketamine.explorer.comparebursting import BURSTING, BurstingSection, bursting
from nwb_ketamine.explorer.comparefigure import VALUE, ComparePanel, facet_groups, render_figure
from nwb_ketamine.explorer.comparekinds import KEYS, PLOT_KINDS
from nwb_ketamine.explorer.factors import (
    FACTORS,
    MATCHED_WITHIN,
    accepted_source,
    control_level,
    filter_mask,
    one_epoch,
)
from nwb_ketamine.explorer.filtered import NUMERIC_LABELS, FilteredView
from nwb_ketamine.explorer.methods import labelled_rows, methods_markdown
from nwb_ketamine.explorer.methodscard import MethodsCard
from nwb_ketamine.explorer.paperfigure import PALETTE
from nwb_ketamine.explorer.statictable import StaticTable
from nwb_ketamine.explorer.store import ArchiveStore

#: key → (label, table, column, unit, transform)
#: The cell measures are the catalog's display-unit columns (or dimensionless stored ones); each decay
#: tau is the mean of per-sweep fits, the weighted one from two exponentials where the rule of
#: :mod:`~nwb_ketamine.analysis.decay` keeps them (else the single tau).
MEASURES = {
    "nmda_amplitude": ("NMDAR-EPSC amplitude", "cells", "nmda_amplitude_pa", "pA", None),
    "nmda_value_at_latency": ("NMDAR-EPSC at the fixed latency", "cells", "nmda_value_at_latency_pa", "pA", None),
    "ampa_amplitude": ("AMPAR-EPSC amplitude", "cells", "ampa_amplitude_pa", "pA", np.abs),
    "nmda_ampa_ratio": ("NMDA/AMPA ratio", "cells", "nmda_ampa_ratio", "", None),
    "nmda_ampa_ratio_latency": ("NMDA/AMPA ratio at the fixed latency", "cells", "nmda_ampa_ratio_latency", "", None),
    "nmda_decay_tau": ("NMDAR decay τ, one exponential", "cells", "nmda_decay_tau_ms", "ms", None),
    "nmda_decay_tau_weighted": ("NMDAR decay τ, weighted", "cells", "nmda_decay_tau_weighted_ms", "ms", None),
    "ampa_decay_tau": ("AMPAR decay τ, one exponential", "cells", "ampa_decay_tau_ms", "ms", None),
    "series_resistance": ("Series resistance", "cells", "series_resistance_mohm", "MΩ", None),
    "input_resistance": ("Input resistance", "cells", "input_resistance_mohm", "MΩ", None),
    "ampa_holding_current": ("Holding current, AMPA sweeps at −70 mV", "cells", "ampa_holding_current_pa", "pA", None),
    "nmda_holding_current": ("Holding current, NMDA sweeps at +40 mV", "cells", "nmda_holding_current_pa", "pA", None),
    "firing_rate": ("Firing rate", "units", "firing_rate_hz", "Hz", None),
    "percent_in_bursts": ("% spikes in bursts", "units", "percent_spikes_in_bursts", "%", None),
    "burst_rate": ("Burst frequency", "units", "burst_rate_hz", "Hz", None),
    "spikes_per_burst": ("Spikes per burst", "units", "mean_spikes_per_burst", "", None),
    "intraburst_frequency": ("Intraburst frequency", "units", "mean_intraburst_frequency_hz", "Hz", None),
    "tonic_rate": ("Tonic firing rate", "units", "tonic_rate_hz", "Hz", None),
}
GROUP_LABELS = FACTORS
DATA_COLUMNS = ["key", "subject", *FACTORS, VALUE]
#: Normalisation compares with the control mean of the same region, stress and time group.
NORMALISE_WITHIN = MATCHED_WITHIN
_AXES = {label: key for key, label in FACTORS.items()}
_OR_NONE = {**_AXES, "None": "none"}


class CompareView(FilteredView):
    """Box plots of one measure by group, with cell-level, animal-level and mixed-model statistics.

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
    x: param.Selector[str] = param.Selector(default="region", objects=_AXES, label="x axis")
    colour: param.Selector[str] = param.Selector(default="drug", objects=_OR_NONE)
    facet_row: param.Selector[str] = param.Selector(default="none", objects=_OR_NONE, label="Facet rows")
    facet_col: param.Selector[str] = param.Selector(default="time_group", objects=_OR_NONE, label="Facet columns")
    plot: param.Selector[str] = param.Selector(default="boxes", objects=PLOT_KINDS, label="Plot")
    normalise = param.Boolean(default=False, label="Normalise to the control mean (same region, stress and time)")
    mixed_model = param.Boolean(default=False, label="Mixed model (animal random effect)")
    selected = param.String(default="", doc="Key of the cell or unit last clicked (a point or a table row).")

    def __init__(self, store: ArchiveStore, **params) -> None:
        super().__init__(store, **params)
        self._y_range = Range1d(start=0, end=1)
        self._pool: list[ComparePanel] = []  # one per facet shown so far, reused
        self.panels: list[ComparePanel] = []  # the facets shown now, row by row
        self._shape: tuple[int, int] = (0, 0)
        self._plot_area = pn.Column(sizing_mode="stretch_width")  # a Row of facets per facet row
        # the note wraps in a fixed width; wider tables scroll inside the table, not off the page
        self._stats_table = StaticTable(pd.DataFrame(columns=comparestats.DISPLAY_COLUMNS), widths={"note": 320})
        self._stats_caption = pn.pane.Markdown("", styles={"font-size": "0.85em"})
        self._data_table = pn.widgets.Tabulator(
            pd.DataFrame(),
            disabled=True,
            show_index=False,
            pagination="remote",
            page_size=10,
            sizing_mode="stretch_width",
            selectable=False,
            layout="fit_data_table",
            styles={"overflow-x": "auto"},
        )
        self._data_table.on_click(self._on_table_click)
        # The data table is a Tabulator (its rows are clicked): the card gets it when first opened.
        self._data_card = pn.Card(title="Data", collapsed=True, sizing_mode="stretch_width")
        self._data_card.param.watch(self._open_data, "collapsed")
        self._bursting = BurstingSection(self.export_csv)
        self._legend_note = pn.pane.Markdown("", styles={"font-size": "0.85em"})
        self._colour_legend = pn.pane.HTML("", sizing_mode="stretch_width", styles={"font-size": "0.9em"})
        self._message = pn.pane.Alert("", alert_type="warning", visible=False)
        self._notice = pn.pane.Alert("", alert_type="info", visible=False)
        self.downloads = self.download_row(
            "compare",
            [("Data", "data", self.data_csv), ("Stats", "statistics", self.stats_csv),
             ("Stats in words", "statistics-in-words", self.stats_words_csv)],
        )  # fmt: skip
        self.methods = MethodsCard(store, self.methods_text)
        self.methods_card = self.methods.card
        self.refresh()

    # ------------------------------------------------------------------------------------------- data
    @property
    def table(self) -> str:
        """'cells' or 'units': the catalog table of the current measure."""
        return MEASURES[self.measure][1]

    @property
    def value_unit(self) -> str:
        """The unit of the plotted values ('pA', '% of saline' when normalised, '' when dimensionless)."""
        return f"% of {self.control}" if self.normalise else MEASURES[self.measure][3]

    @property
    def value_label(self) -> str:
        """Axis label of the current measure (with its unit, or '% of CONTROL' when normalised)."""
        label, unit = MEASURES[self.measure][0], self.value_unit
        return f"{label} ({unit})" if unit else label

    def colour_legend(self) -> list[tuple[str, str]]:
        """The colour encoding: (level, colour) of every colour level shown, control first ([] without one).

        Returns
        -------
        list of (str, str)
        """
        if self.colour == "none" or self.colour == self.x:
            return []
        return [(str(level), colour) for level, colour in self.colours.items() if level is not None]

    def _colour_legend_html(self) -> str:
        entries = self.colour_legend()
        if not entries:
            return ""
        swatches = "".join(
            f'<span class="legend-entry" style="margin-right:1.2em;white-space:nowrap">'
            f'<span style="display:inline-block;width:0.9em;height:0.9em;background:{c};border:1px solid #333;'
            f'vertical-align:middle;margin-right:0.35em"></span>{html.escape(level)}</span>'
            for level, c in entries
        )
        return f'<div class="colour-legend"><b>Colour: {html.escape(FACTORS[self.colour])}</b> &nbsp; {swatches}</div>'

    @property
    def counts(self) -> pd.DataFrame:
        """Distinct cells (or units) and animals per plotted group."""
        groups = self._groups()
        grouped = self.data.groupby(groups, observed=True, sort=True) if groups else None
        if grouped is None:
            return pd.DataFrame(
                {"n_cells": [self.data["key"].nunique()], "n_animals": [self.data["subject"].nunique()]}
            )
        out = grouped["key"].nunique().to_frame("n_cells")
        out["n_animals"] = grouped["subject"].nunique()
        return out.reset_index()

    def _axes(self) -> list[str]:
        return [c for c in (self.x, self.colour, self.facet_row, self.facet_col) if c != "none"]

    def _groups(self) -> list[str]:
        return [*dict.fromkeys(self._axes())]

    def _bursting_rows(self) -> tuple[pd.DataFrame, str | None]:
        """The unit rows shown, whatever the measure, with :data:`BURSTING`; and the rule's catalog column."""
        rows, numeric = self._rows("units")
        flags, rule = bursting(numeric)
        frame = rows.assign(**{BURSTING: flags})
        return one_epoch(frame[filter_mask(frame, self.filters)], self._axes(), self.epoch)[0], rule

    def _frame(self) -> pd.DataFrame:
        _, table, column, _, transform = MEASURES[self.measure]
        frame = self.measure_frame(table, column, transform, self._axes(), carry=NUMERIC_LABELS)
        if self.normalise:
            control = control_level("drug", frame) or ""  # by the drug roles (factors.control_levels)
            frame = frame.assign(
                **{VALUE: normalise_to_reference(frame, VALUE, by=NORMALISE_WITHIN, column="drug", reference=control)}
            )
        return frame.dropna(subset=[VALUE]).reset_index(drop=True)

    def refresh(self) -> None:
        """Recompute the data, statistics and plot from the current parameters."""
        self.data = self._frame()
        contrast = self.colour if self.colour != "none" else self.x
        within = [c for c in (self.x, self.facet_row, self.facet_col) if c not in ("none", contrast)]
        reference = control_level(contrast, self.data) if len(self.data) else None
        self.stats = comparestats.statistics_table(self.data, VALUE, contrast, within, reference, self.mixed_model)
        key = (self.accepted_only, str(self.filters), tuple(self._axes()), self.epoch)
        self._bursting.update(self._bursting_rows if self.table == "units" else None, contrast, within, key)
        self._layout = self._positions()
        if self.data.empty:
            self._message.object = (
                f"No {self.table} with a value of {MEASURES[self.measure][0]} in the catalog pass the filters."
            )
            self._message.visible = True
        else:
            self._message.visible = False
        notes = []
        if self.shown_epoch is not None:
            notes.append(
                f"Unit measures: the **{self.shown_epoch}** epoch only (put Epoch on an axis to compare epochs)."
            )
        if self.filter_notes():
            notes.append(self.filter_notes())
        self._notice.object = " ".join(notes)
        self._notice.visible = bool(notes)
        self._update_plot()
        self._stats_table.titles = comparestats.titles(comparestats.DISPLAY_COLUMNS, self.value_unit)
        self._stats_table.value = comparestats.display(self.stats)
        self._colour_legend.object = self._colour_legend_html()
        self._stats_caption.object = comparestats.caption(self.stats)
        self._data_table.titles = {**FACTORS, "key": "Cell / unit", "subject": "Animal", VALUE: self.value_label}
        self._data_table.value = self._data_display()
        count = self.data["key"].nunique()  # a unit is in as many rows as epochs are shown
        noun = self.table if count != 1 else self.table[:-1]
        rows = f", {len(self.data)} rows" if len(self.data) != count else ""
        self._data_card.title = f"Data: the {count} {noun} plotted{rows} (click a row to open it)"
        self.methods.update()

    @param.depends(
        "measure", "x", "colour", "facet_row", "facet_col", "normalise", "accepted_only", "mixed_model", "epoch",
        *[f"filter_{factor}" for factor in FACTORS], watch=True,
    )  # fmt: skip
    def _on_change(self) -> None:
        self.refresh()

    @param.depends("plot", watch=True)
    def _on_plot(self) -> None:
        self._update_plot()

    def _positions(self) -> dict:
        """Per facet (row level, column level): the groups in x order with position, colour, counts and rows."""
        layout, colour_levels = facet_groups(self.data, self.x, self.colour, self.facet_row, self.facet_col)
        self.colours = {level: PALETTE[i % len(PALETTE)] for i, level in enumerate(colour_levels)}
        self._colour_codes = {level: i % len(PALETTE) for i, level in enumerate(colour_levels)}
        self._subjects = pd.factorize(self.data["subject"])
        return layout

    def _facet_title(self, facet: tuple) -> str:
        parts = [f"{FACTORS[c]}: {level}" for c, level in zip((self.facet_row, self.facet_col), facet, strict=True)
                 if level is not None]  # fmt: skip
        return " · ".join(parts)

    # The tables always show the same columns: a Tabulator whose columns change rebuilds its column
    # models (~50 ms), the most expensive part of an update before this.
    def _data_display(self) -> pd.DataFrame:
        """The plotted rows, the same columns for cells and units (epoch is empty for cells)."""
        shown = self.data.reindex(columns=DATA_COLUMNS)
        shown["epoch"] = shown["epoch"].astype(object).fillna("")
        shown[VALUE] = shown[VALUE].round(3)
        return shown

    # ------------------------------------------------------------------------------------------- plot
    def _update_plot(self) -> None:
        """Put the current groups into the bokeh figures.

        New data go into the existing sources (a small document patch); a figure is made only when more
        facets are shown than ever before, and the rows of facets are laid out again only when the grid's
        shape changes.
        """
        panels = list(self._layout.items())
        if len(self._pool) < len(panels):
            self._pool += [ComparePanel(self._y_range, self._on_tap) for _ in range(len(panels) - len(self._pool))]
        n_rows = len({facet[0] for facet, _ in panels}) or 1
        shape = (n_rows, max(len(panels) // n_rows, 1))
        if shape != self._shape or len(panels) != len(self.panels):
            self.panels = self._pool[: len(panels)]
            for i, panel in enumerate(self._pool):
                panel.pane.visible = i < len(panels)
            grid = [pn.Row(*[p.pane for p in self.panels[r * shape[1] : (r + 1) * shape[1]]],
                           sizing_mode="stretch_width") for r in range(shape[0])]  # fmt: skip
            spare = [p.pane for p in self._pool[len(panels) :]]
            self._plot_area.objects = [*grid, pn.Row(*spare, visible=False)]
            self._shape = shape
        values = self.data[VALUE].to_numpy()
        low, high = (np.nanmin(values), np.nanmax(values)) if values.size else (0.0, 1.0)
        pad = 0.05 * (high - low) or 1.0
        start, end = (-0.03, 1.03) if self.plot == "cumulative" else (low - pad, high + pad)
        self._y_range.update(start=start, end=end, reset_start=start, reset_end=end)
        jitter = np.random.default_rng(0).uniform(-0.18, 0.18, len(self.data))
        for panel, (facet, rows) in zip(self.panels, panels, strict=True):
            panel.show(rows, values, self._subjects, jitter, self._colour_codes, self.value_label,
                       self._facet_title(facet), self.plot, (low - pad, high + pad), self.fraction_label)  # fmt: skip
        self._legend_note.object = KEYS[self.plot]

    @property
    def fraction_label(self) -> str:
        """The y label of the cumulative plot."""
        return f"Fraction of {self.table} (cumulative)"

    def _on_tap(self, rows) -> None:
        """A point was clicked: ``rows`` are its row numbers in :attr:`data`."""
        if len(rows):
            self.selected = str(self.data["key"].iloc[int(rows[0])])

    def _open_data(self, event) -> None:
        if not event.new and not self._data_card.objects:
            self._data_card.objects = [self._data_table]

    def _on_table_click(self, event) -> None:
        if event.row is not None and event.row < len(self.data):
            self.selected = str(self.data.iloc[event.row]["key"])

    # ------------------------------------------------------------------------------------------- export
    def view_settings(self) -> dict[str, object]:
        """The view, its measure, grouping (axis → factor) and options, as the CSVs record them.

        Returns
        -------
        dict
        """
        grouping = {"x": self.x, "colour": self.colour, "facet_rows": self.facet_row, "facet_columns": self.facet_col}
        return {"view": "compare", "measure": self.value_label, "grouping": grouping, "plot": self.plot,
                "normalised": bool(self.normalise), "mixed_model": bool(self.mixed_model)}  # fmt: skip

    def data_csv(self) -> io.StringIO:
        """The plotted values, one row per cell or unit in one epoch, with every factor and the provenance (CSV)."""
        return self.export_csv(self.data, self.value_label)

    def stats_csv(self) -> io.StringIO:
        """The statistics table, every row with full-precision p-values, the factors and provenance (CSV)."""
        out = self.stats.copy()
        out.insert(0, "measure", self.value_label)
        return self.export_csv(out)

    def methods_rows(self) -> dict[str, pd.DataFrame]:
        """The cells and the units the view's filters keep, with their catalog columns and factor labels.

        The same filters, QC switch and unit epoch as the plotted rows, for both tables whatever the measure.

        Returns
        -------
        dict
            'cells' and 'units' → catalog rows (``key``, ``subject`` and the factors as shown replacing the
            catalog's labels), index 0..n-1.
        """
        out = {}
        for table in ("cells", "units"):
            rows, _ = self._rows(table)
            source = accepted_source(self.store, table, self.accepted_only)  # row for row those of rows
            kept, _ = one_epoch(rows[filter_mask(rows, self.filters)], self._axes(), self.epoch)
            out[table] = labelled_rows(source, kept)
        return out

    def methods_text(self) -> str:
        """The methods paragraph of the rows the filters keep (:func:`~nwb_ketamine.explorer.methods.methods_markdown`).

        Returns
        -------
        str
            Markdown.
        """
        frames = self.methods_rows()
        contrast = self.colour if self.colour != "none" else self.x
        within = [c for c in (self.x, self.facet_row, self.facet_col) if c not in ("none", contrast)]
        return methods_markdown(
            frames["cells"], frames["units"], groups=self._groups(), sessions=self.store.sessions,
            contrast=contrast, control=control_level(contrast, self.data) if len(self.data) else None,
            within=within, mixed_model=bool(self.mixed_model), table=self.table,
            accepted_only=bool(self.accepted_only), filters=self.filter_notes(),
        )  # fmt: skip

    def methods_file(self) -> io.StringIO:
        """The methods paragraph as a Markdown file (:meth:`MethodsCard.file`).

        Returns
        -------
        io.StringIO
        """
        return self.methods.file()

    def stats_words_csv(self) -> io.StringIO:
        """The statistics CSV with its columns in words and units, as the table shows them (for a reader).

        The same rows and values as :meth:`stats_csv`, whose short column names scripts read; each
        column titled by :func:`comparestats.titles` ('p_holm' → 'p, Holm-adjusted', 'estimate' →
        'Difference, mixed model (pA)').

        Returns
        -------
        io.StringIO
        """
        out = self.stats.copy()
        out.insert(0, "measure", self.value_label)
        out = self.export_frame(out)
        return io.StringIO(out.rename(columns=comparestats.titles(out.columns, self.value_unit)).to_csv(index=False))

    def figure_bytes(self, fmt: str = "png") -> io.BytesIO:
        """The figure rendered with matplotlib, as PDF, SVG or PNG bytes.

        Parameters
        ----------
        fmt
            'pdf', 'svg' or 'png'.

        Returns
        -------
        io.BytesIO
        """
        titled = [(self._facet_title(facet), rows) for facet, rows in self._layout.items()]
        return render_figure(titled, self._shape, self.data[VALUE].to_numpy(), self.data["subject"].to_numpy(),
                             self.colours, self.value_label, fmt, self.plot, self.fraction_label,
                             FACTORS[self.colour] if self.colour_legend() else "", self.figure_size_mm)  # fmt: skip

    # ------------------------------------------------------------------------------------------- layout
    def controls(self):
        """The widgets of the view's parameters (the app puts them in the sidebar)."""
        return pn.Column(
            pn.pane.Markdown("**What is plotted**"),
            pn.Param(self.param, parameters=["measure", "plot"], show_name=False),
            pn.pane.Markdown("**Grouping** (x axis, colour, facets)"),
            pn.Param(self.param, parameters=["x", "colour", "facet_row", "facet_col"], show_name=False),
            pn.pane.Markdown("**Options**"),
            pn.Param(self.param, parameters=["normalise", "accepted_only"], show_name=False),
            pn.pane.Markdown("**Filters** (empty: all levels)"),
            *self.filter_widgets(),
            sizing_mode="stretch_width",
        )

    def __panel__(self):
        return pn.Column(
            self._message,
            self._notice,
            self._colour_legend,
            self._plot_area,
            self._legend_note,
            self.downloads,
            self.methods_card,
            pn.pane.Markdown("### Statistics (each level vs the control; cells, animal means, mixed model)"),
            pn.widgets.Checkbox.from_param(self.param.mixed_model),
            self._stats_caption,
            self._stats_table,
            self._bursting.panel,
            self._data_card,
            sizing_mode="stretch_width",
        )
