"""The time-course view: a measure against the time since injection (or the dose) per drug, and the fraction blocked.

Design decisions:

- **x is the study's time groups, in order of hours.** The axis is categorical: the time groups of the
  rows shown (``time_group``), ordered by their median ``hours_since_injection`` and equally spaced,
  each tick naming the group (and its median hours when the name states none, e.g. an in vivo epoch).
  The study's design is groups (1 h and 24 h after the injection), the matched control is matched on
  the group, and the hours within a group only spread with the time a recording started; a numeric
  axis would crowd 0.5–2 h against 24 h–7 d (linear) or could not show the in vivo epochs at ≤ 0 h
  (log). The median hours of every group are in the summary table and its CSV.
- **Nothing is pooled across region or stress.** The facets are fixed: one column per region, one row
  per stress level when the filters keep more than one (the default "stressed animals" filter, the
  landing view's, keeps one), so every plotted group is one region × stress × time group × drug
  (× dose) and its matched control sits in the same facet at the same time. One colour per drug level
  (grey: the control, :func:`~nwb_ketamine.explorer.factors.control_level` of the table's drug roles,
  as in the compare view); a drug with several doses among the rows shown gets one level per dose.
- **Dose-response.** x = "dose" puts each drug's doses side by side in order of ``dose_value``, the
  control first (labelled "(control)", its dose being a vehicle volume) and its mean drawn as a dashed
  line across the facet; the time groups then become facet rows, so doses are compared at one time.
- Each group shows its cells (jittered), its animal means (◆) and the mean of the animal means with
  its 95 % t-interval over animals (■ and bar), the means of one drug level joined along x, and
  "n cells/animals" under it. Below, the fraction blocked of every drug group with a matched control
  and its bootstrap interval (:mod:`~nwb_ketamine.explorer.timecoursestats` states both methods).
- Unit measures: the time groups of units are their epochs (baseline, post-injection), so a unit
  appears once in each.
- Like the compare view, a ``param``-driven viewer (filters from
  :class:`~nwb_ketamine.explorer.filtered.FilteredView`) whose derived data (:attr:`TimeCourseView.data`,
  :attr:`TimeCourseView.summary`, :attr:`TimeCourseView.facets`) can be checked without a browser; its
  bokeh figures are kept and their sources updated; the export renders the same facets with matplotlib.
"""

from __future__ import annotations

import io
import itertools

import numpy as np
import pandas as pd
import panel as pn
import param
from bokeh.models import Range1d

from nwb_ketamine.analysis.group_tables import animal_means
from nwb_ketamine.archive.catalog_columns import TIME_GROUPS
from nwb_ketamine.explorer import timecoursestats
from nwb_ketamine.explorer.compare import MEASURES
from nwb_ketamine.explorer.comparefigure import VALUE
from nwb_ketamine.explorer.factors import FACTORS, ordered_levels
from nwb_ketamine.explorer.filtered import NUMERIC_LABELS, FilteredView
from nwb_ketamine.explorer.methods import catalog_rows, methods_markdown, timecourse_statistics_methods
from nwb_ketamine.explorer.methodscard import MethodsCard
from nwb_ketamine.explorer.paperfigure import PALETTE
from nwb_ketamine.explorer.statictable import StaticTable
from nwb_ketamine.explorer.store import ArchiveStore
from nwb_ketamine.explorer.timecoursefigure import Facet, TimeCoursePanel, render_figure
from nwb_ketamine.explorer.timecoursestats import GROUPS

X_AXES = {"Time since injection": "time", "Dose": "dose"}
#: The parameters of the view that change what it shows.
VIEW_PARAMS = ["measure", "x", "accepted_only", *[f"filter_{factor}" for factor in FACTORS]]
POINT_COLUMNS = ["key", "subject", *FACTORS, *NUMERIC_LABELS, VALUE]


class TimeCourseView(FilteredView):
    """A measure against the time since injection or the dose, per drug, and the fraction blocked.

    Parameters
    ----------
    store : ArchiveStore
        The archive's catalog.
    **params
        Initial values of the parameters below (and the filters of :class:`FilteredView`).
    """

    measure: param.Selector[str] = param.Selector(
        default="nmda_amplitude", objects={v[0]: k for k, v in MEASURES.items()}
    )
    x: param.Selector[str] = param.Selector(default="time", objects=X_AXES, label="x axis")
    selected = param.String(default="", doc="Key of the cell or unit last clicked.")

    def __init__(self, store: ArchiveStore, **params) -> None:
        super().__init__(store, **params)
        self._y_range, self._fraction_range = Range1d(start=0, end=1), Range1d(start=-0.1, end=1)
        self._pool: list[TimeCoursePanel] = []
        self.panels: list[TimeCoursePanel] = []
        self.shape: tuple[int, int] = (0, 0)
        self._laid_out: tuple[int, int] | None = None
        self._plot_area = pn.Column(sizing_mode="stretch_width")
        self._message = pn.pane.Alert("", alert_type="warning", visible=False)
        self._notice = pn.pane.Alert("", alert_type="info", visible=False)
        self._totals = pn.pane.Markdown("", styles={"font-size": "0.9em"})
        self._summary_table = StaticTable(pd.DataFrame(columns=timecoursestats.SUMMARY_COLUMNS))
        self.downloads = self.download_row(
            "timecourse", [("Points", "points", self.points_csv), ("Summary", "summary", self.summary_csv)]
        )
        self.methods = MethodsCard(store, self.methods_text, "timecourse-methods.md")
        self.refresh()

    # ------------------------------------------------------------------------------------------- data
    @property
    def table(self) -> str:
        """'cells' or 'units': the catalog table of the current measure."""
        return MEASURES[self.measure][1]

    @property
    def value_label(self) -> str:
        """Axis label of the current measure, with its unit."""
        label, _, _, unit, _ = MEASURES[self.measure]
        return f"{label} ({unit})" if unit else label

    @property
    def several_doses(self) -> list[str]:
        """The drug levels (not the control) with more than one dose among the rows shown."""
        if self.data.empty:
            return []
        doses = self.data.groupby("drug")["dose"].nunique()
        return sorted(str(d) for d in doses[doses > 1].index if d != self.control)

    @property
    def totals(self) -> str:
        """What the figure shows, as a sentence: distinct cells (units), animals and groups."""
        noun = "cell" if self.table == "cells" else "unit"
        n, animals = self.data["key"].nunique(), self.data["subject"].nunique()
        return (f"Shown: {n} {noun}{'s' * (n != 1)} from {animals} animal{'s' * (animals != 1)} in "
                f"{len(self.summary)} group{'s' * (len(self.summary) != 1)}.")  # fmt: skip

    def refresh(self) -> None:
        """Recompute the data, summary and figures from the current parameters."""
        _, table, column, _, transform = MEASURES[self.measure]
        data = self.measure_frame(table, column, transform, GROUPS, carry=NUMERIC_LABELS)
        # The drug factor names an agent's doses apart ('ketamine 3 mg/kg'); here the dose is a group
        # column of its own (the dose-response axis), so a group's drug is the agent.
        self.data = data.assign(drug=data["agent"]) if "agent" in data else data
        self.summary = timecoursestats.summary_table(self.data, VALUE, self.control)
        self.facets, self.shape = self._facets()
        self._message.object = f"No {table} with a value of {MEASURES[self.measure][0]} pass the filters."
        self._message.visible = self.data.empty
        self._notice.object = " ".join(self._notes())
        self._notice.visible = bool(self._notice.object)
        self._totals.object = self.totals
        self._update_plot()
        self._summary_table.value = self._summary_display()
        self.methods.update()

    @param.depends(*VIEW_PARAMS, watch=True)
    def _on_change(self) -> None:
        self.refresh()

    def _notes(self) -> list[str]:
        notes = [self.filter_notes()] if self.filter_notes() else []
        several = self.several_doses
        if self.x == "dose" and not several and not self.data.empty:
            notes.append("No drug has several doses among the rows shown: one dose per drug.")
        elif self.x == "time" and several:
            notes.append(f"{', '.join(several)}: one colour per dose (choose x axis = Dose for the dose-response).")
        if self.control is not None and not self.data.empty and self.control not in set(self.data["drug"]):
            notes.append(f"The control ({self.control}) is not among the rows shown: no fraction blocked.")
        return notes

    def _levels(self, summary: pd.DataFrame) -> pd.DataFrame:
        """``summary`` with each group's colour level (``treatment``), x position, colour, line, label and n."""
        control, several = self.control, set(self.several_doses)
        out = summary.copy()
        split = self.x == "time"
        pairs = zip(out.drug, out.dose, strict=True)
        out["treatment"] = [f"{d} {dose}" if split and d in several else d for d, dose in pairs]
        order = out.assign(_c=out["drug"] != control, _v=out["dose_value"].astype(float).fillna(np.inf))
        order = order.sort_values(["_c", "drug", "_v", "dose"])
        treatments = list(dict.fromkeys(order["treatment"]))
        codes = {t: 1 + i for i, t in enumerate(t for t in treatments if t != control)} | {control: 0}
        out["code"] = out["treatment"].map(codes)
        out["colour"] = [PALETTE[c % len(PALETTE)] for c in out["code"]]
        out["legend"] = [f"{t} (control)" if d == control else t for t, d in zip(out.treatment, out.drug, strict=True)]
        if self.x == "time":
            times = self.data.groupby("time_group")["hours_since_injection"].median().astype(float)
            times = sorted(times.items(), key=lambda item: (not np.isfinite(item[1]), item[1], item[0]))
            where = {t: i for i, (t, _) in enumerate(times)}
            slot, width = {t: i for i, t in enumerate(treatments)}, 0.8 / max(len(treatments), 1)
            centre = (len(treatments) - 1) / 2
            keys = zip(out.time_group, out.treatment, strict=True)
            out["pos"] = [where[t] + (slot[k] - centre) * width for t, k in keys]
            out["line"] = out["treatment"]
            self._ticks = {float(i): _time_tick(t, h) for i, (t, h) in enumerate(times)}
            self._half_width, self._x_end = 0.3 * width, len(times) - 0.4
        else:
            items = list(dict.fromkeys(zip(order["drug"], order["dose"], strict=True)))
            where = {item: i for i, item in enumerate(items)}
            out["pos"] = [float(where[item]) for item in zip(out.drug, out.dose, strict=True)]
            out["line"] = out["drug"]
            self._ticks = {float(i): f"{dose}\n{drug}" + (" (control)" if drug == control else "")
                           for i, (drug, dose) in enumerate(items)}  # fmt: skip
            self._half_width, self._x_end = 0.15, len(items) - 0.4
        out["label"] = out[list(GROUPS)].astype(str).agg(" · ".join, axis=1)
        out["n"] = [f"{c}/{a}" for c, a in zip(out["n_cells"], out["n_animals"], strict=True)]
        return out

    def _facets(self) -> tuple[list[Facet], tuple[int, int]]:
        """One :class:`Facet` per region (columns) × stress, and time group on a dose axis (rows, when several)."""
        if self.data.empty:
            extra = ("pos", "colour", "code", "line", "label", "n", "treatment", "legend")
            self.groups = self.summary.assign(**{c: [] for c in extra})
            return [], (0, 0)
        self.groups = groups = self._levels(self.summary)
        row_factors = [f for f in ("stress", "time_group") if self.data[f].nunique() > 1]
        row_factors = [f for f in row_factors if f == "stress" or self.x == "dose"]
        row_keys = list(itertools.product(*[ordered_levels(self.data[f], f) for f in row_factors]))
        regions = ordered_levels(self.data["region"], "region")
        placed = self.data.reset_index(names="row").merge(groups[[*GROUPS, "pos", "code"]], on=list(GROUPS))
        jitter = np.random.default_rng(0).uniform(-1, 1, len(self.data))[placed["row"].to_numpy()]
        placed["xpos"] = placed["pos"] + jitter * self._half_width
        animals = animal_means(placed, VALUE, [*GROUPS, "pos"])
        facets = []
        for row_key in row_keys:
            for region in regions:
                labels = {"region": region, **dict(zip(row_factors, row_key, strict=True))}
                facets.append(self._facet(labels, groups, placed, animals))
        return facets, (len(row_keys), len(regions))

    def _facet(self, labels: dict, groups: pd.DataFrame, placed: pd.DataFrame, animals: pd.DataFrame) -> Facet:
        mine = _pick(groups, labels)
        control_rows = mine[mine["drug"] == self.control]
        control_mean = float(control_rows["mean"].mean()) if self.x == "dose" and len(control_rows) else np.nan
        unmatched = mine[(mine["drug"] != self.control) & (mine["control"] == "")]
        if mine.empty:
            message = f"No {self.table} pass the filters here."
        elif (mine["drug"] == self.control).all():
            message = "Only the control here."
        elif len(unmatched):
            where = ", ".join(dict.fromkeys(f"{t} {k}" for t, k in zip(unmatched.time_group, unmatched.treatment,
                                                                         strict=True)))  # fmt: skip
            message = f"No matched {self.control or 'control'} group: {where}."
        else:
            message = ""
        points = _pick(placed, labels).rename(columns={"code": "colour"})
        title = " · ".join(f"{FACTORS[f]}: {v}" for f, v in labels.items())
        return Facet(title, self._ticks, self._x_end, points[["xpos", VALUE, "colour", "row"]],
                     _pick(animals, labels).rename(columns={"pos": "xpos"}), mine, control_mean, message)  # fmt: skip

    def _summary_display(self) -> pd.DataFrame:
        shown = self.summary.copy()
        for column in ("hours", "mean", "ci_low", "ci_high", "fraction_blocked", "fb_ci_low", "fb_ci_high"):
            shown[column] = [float(f"{v:.3g}") if np.isfinite(v) else np.nan for v in shown[column].astype(float)]
        return shown

    # ------------------------------------------------------------------------------------------- plot
    def _update_plot(self) -> None:
        if len(self._pool) < len(self.facets):
            self._pool += [TimeCoursePanel(self._y_range, self._fraction_range, self._on_tap)
                           for _ in range(len(self.facets) - len(self._pool))]  # fmt: skip
        if self.shape != self._laid_out:  # lay the rows of facets out again only when the grid changes
            self._laid_out = self.shape
            for spare in self._pool[len(self.facets) :]:  # emptied while still in the document: no stale points
                spare.clear()
            self.panels = self._pool[: len(self.facets)]
            n_cols = max(self.shape[1], 1)
            self._plot_area.objects = [
                pn.Row(*[p.pane for p in self.panels[r * n_cols : (r + 1) * n_cols]], sizing_mode="stretch_width")
                for r in range(self.shape[0])
            ]
        shown = np.concatenate([self.data[VALUE].to_numpy(dtype=float),  # the points and every whole interval
                                self.summary[["ci_low", "ci_high"]].to_numpy(dtype=float).ravel()])  # fmt: skip
        _fit(self._y_range, shown, below=0.12)  # room for the n labels under the points
        fractions = self.summary[["fraction_blocked", "fb_ci_low", "fb_ci_high"]].to_numpy(dtype=float).ravel()
        _fit(self._fraction_range, np.append(fractions, 0.0))
        for panel, facet in zip(self.panels, self.facets, strict=True):
            panel.show(facet, self.value_label)

    def _on_tap(self, rows) -> None:
        """A point was clicked: ``rows`` are its row numbers in :attr:`data`."""
        if len(rows):
            self.selected = str(self.data["key"].iloc[int(rows[0])])

    def methods_text(self) -> str:
        """The methods paragraph of the cells (units) shown (:func:`~nwb_ketamine.explorer.methods.methods_markdown`).

        Returns
        -------
        str
            Markdown.
        """
        rows = catalog_rows(self.store, self.table, bool(self.accepted_only), self.data["key"])
        cells, units = (rows, pd.DataFrame()) if self.table == "cells" else (pd.DataFrame(), rows)
        return methods_markdown(
            cells, units, groups=["region", "stress", "time_group", "drug"], sessions=self.store.sessions,
            accepted_only=bool(self.accepted_only), filters=self.filter_notes(),
            statistics=timecourse_statistics_methods(self.table),
        )  # fmt: skip

    # ------------------------------------------------------------------------------------------- export
    def points_csv(self) -> io.StringIO:
        """Every plotted cell (or unit in one time group) with its groups, hours, dose and value (CSV).

        Returns
        -------
        io.StringIO
        """
        columns = [*POINT_COLUMNS[:-1], *(c for c in self.data.columns if c not in POINT_COLUMNS), VALUE]
        return self.export_csv(self.data.reindex(columns=columns), self.value_label)

    def summary_csv(self) -> io.StringIO:
        """One row per group: n cells, n animals, mean, its CI, fraction blocked and its CI, full precision (CSV).

        Returns
        -------
        io.StringIO
        """
        out = self.summary.copy()
        out.insert(0, "group", out[list(GROUPS)].astype(str).agg(" · ".join, axis=1) if len(out) else [])
        out.insert(0, "measure", self.value_label)
        return self.export_csv(out)

    def view_settings(self) -> dict[str, object]:
        """The view, its measure and grouping (axis → factor), as the CSVs record them.

        Returns
        -------
        dict
        """
        rows = "stress" if self.x != "dose" else "stress, time_group"  # the facet rows when levels differ
        grouping = {"x": self.x, "facet_columns": "region", "facet_rows": rows, "colour": "drug (with dose)"}
        return {"view": "timecourse", "measure": self.value_label, "grouping": grouping, "groups": list(GROUPS)}

    def figure_bytes(self, fmt: str = "png") -> io.BytesIO:
        """The figure rendered with matplotlib, as PDF, SVG or PNG bytes.

        Parameters
        ----------
        fmt : str
            'pdf', 'svg' or 'png'.

        Returns
        -------
        io.BytesIO
        """
        return render_figure(self.facets, self.shape, self.value_label, fmt, self.figure_size_mm)

    # ------------------------------------------------------------------------------------------- layout
    def controls(self):
        """The widgets of the view's parameters and the filters (the app puts them in the sidebar).

        Returns
        -------
        panel.Column
        """
        return pn.Column(
            pn.pane.Markdown("**What is plotted**"),
            pn.Param(self.param, parameters=["measure", "x"], show_name=False),
            pn.pane.Markdown("**Options**"),
            pn.Param(self.param, parameters=["accepted_only"], show_name=False),
            pn.pane.Markdown("**Filters** (empty: all levels)"),
            *self.filter_widgets(),
            sizing_mode="stretch_width",
        )

    def __panel__(self):
        return pn.Column(
            self._message,
            self._notice,
            self._totals,
            self._plot_area,
            pn.pane.Markdown(
                "· cells (jittered) · ◆ animal means · ■ mean of the animal means with its 95 % CI · "
                "labels: n cells / animals · grey: the control · click a point to open it",
                styles={"font-size": "0.85em"},
            ),
            self.downloads,
            self.methods.card,
            pn.pane.Markdown("### Summary (per region × stress × time since injection × drug × dose)"),
            pn.pane.Markdown(timecoursestats.caption(), styles={"font-size": "0.85em"}),
            self._summary_table,
            sizing_mode="stretch_width",
        )


def _pick(frame: pd.DataFrame, labels: dict) -> pd.DataFrame:
    keep = np.ones(len(frame), dtype=bool)
    for factor, level in labels.items():
        keep &= frame[factor].to_numpy() == level
    return frame[keep]


def _time_tick(name: str, hours: float) -> str:
    """A time group's tick: its name, and its median hours when the name states no time."""
    if name in TIME_GROUPS or not np.isfinite(hours):
        return name
    return f"{name}\n(median {hours:.3g} h)"


def _fit(target: Range1d, values: np.ndarray, below: float = 0.05) -> None:
    values = values[np.isfinite(values)]
    low, high = (values.min(), values.max()) if values.size else (0.0, 1.0)
    span = (high - low) or 1.0
    start, end = low - below * span, high + 0.05 * span
    target.update(start=start, end=end, reset_start=start, reset_end=end)
