"""The base of the views that plot one catalog measure over filtered rows (compare, time course).

Design decisions:

- One set of filter parameters (``filter_<factor>`` for every factor of
  :data:`~nwb_ketamine.explorer.factors.FACTORS`), the QC switch and the unit epoch live here, so the
  compare and time-course views filter the same way and show the same widgets; the landing filter
  "stressed animals" (stress: :data:`~nwb_ketamine.explorer.factors.NOT_CONTROL`) is the default of both.
- The catalog rows of a table (:func:`~nwb_ketamine.explorer.factors.factor_rows`) and their measure
  columns are read once per table and QC filter and cached: only the measure changes between most updates.
- The figure's size for export is the user's, in mm (:attr:`FilteredView.figure_width_mm` and height), with
  a journal's single and double column as presets; the figure downloads as PDF, SVG and 300 dpi PNG
  (:class:`~nwb_ketamine.explorer.paperfigure.FigureExport`).
- Every CSV a view exports (:meth:`FilteredView.export_csv`) carries all the factors (:data:`EXPORT_FACTORS`:
  subject, region with the study's label and the CCF acronym, drug and dose, stress, time since
  injection, epoch), then the view's measure, grouping and filters (JSON, so a script can read them back),
  then the nwb-ketamine version and the catalog's hash (:mod:`~nwb_ketamine.explorer.provenance`). A table
  of groups has a factor it does not group by filled with the levels its rows pooled ('; '-joined), so
  nothing is left implicit; an epoch does not apply to a slice cell (empty).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import panel as pn
import param

from nwb_ketamine.explorer.comparefigure import VALUE
from nwb_ketamine.explorer.factors import (
    DEFAULT_EPOCH,
    FACTORS,
    NOT_CONTROL,
    accepted_source,
    control_level,
    factor_rows,
    filter_mask,
    one_epoch,
)
from nwb_ketamine.explorer.paperfigure import FigureExport
from nwb_ketamine.explorer.provenance import provenance
from nwb_ketamine.explorer.store import ArchiveStore

#: Numeric label columns of the catalog a view may carry along with its measure.
NUMERIC_LABELS = ("hours_since_injection", "dose_value", "dose_unit")
#: The factors every exported CSV has, in this order when the table lacks them.
EXPORT_FACTORS = ("subject", "region", "region_label", "region_ccf", "agent", "drug", "dose", "dose_value",
                  "dose_unit", "drug_role", "stress", "time_group", "hours_since_injection", "epoch")  # fmt: skip
#: The text factors a table of groups is grouped by (its rows matched to the data's on them).
_GROUP_LABELS = ("subject", "region", "agent", "drug", "dose", "drug_role", "stress", "time_group", "epoch")


def _filter(factor: str, default=()) -> param.List:
    return param.List(
        default=list(default), item_type=str, doc=f"Levels of {FACTORS[factor].lower()} kept (all if empty)."
    )


class FilteredView(FigureExport, pn.viewable.Viewer):
    """Filters, QC switch and unit epoch shared by the measure views, and the rows they keep.

    Parameters
    ----------
    store : ArchiveStore
        The archive's catalog.
    **params
        Initial values of the parameters below (and of the subclass's).
    """

    filter_region = _filter("region")
    filter_drug = _filter("drug")
    filter_dose = _filter("dose")
    filter_stress = _filter("stress", [NOT_CONTROL])
    filter_time_group = _filter("time_group")
    filter_epoch = _filter("epoch")
    filter_sex = _filter("sex")
    filter_qc = _filter("qc")
    epoch = param.String(default=DEFAULT_EPOCH, doc="The epoch of unit measures shown when epoch is on no axis.")
    # precedence: after the subclass's own parameters in the sidebar (pn.Param sorts by it)
    accepted_only = param.Boolean(default=True, label="QC-accepted cells / good units only", precedence=1)

    def __init__(self, store: ArchiveStore, **params) -> None:
        super().__init__(**params)
        self.store = store
        self.shown_epoch: str | None = None
        self._row_cache: dict[tuple[str, bool], tuple[pd.DataFrame, pd.DataFrame]] = {}

    @property
    def table(self) -> str:
        """'cells' or 'units': the catalog table of the view's measure (the subclass says which)."""
        raise NotImplementedError

    @property
    def control(self) -> str | None:
        """The control drug level: :func:`~nwb_ketamine.explorer.factors.control_level` of the table's rows.

        Taken from the rows and their drug roles before the filters, so that filtering the control out of
        view does not make another drug the control.
        """
        rows, _ = self._rows(self.table)
        return control_level("drug", rows) if len(rows) else None

    def download_row(self, name: str, tables: Sequence[tuple[str, str, Callable[[], object]]]) -> pn.Column:
        """The view's download buttons: one CSV per table, the figure's size, then the figure as PDF, SVG and PNG.

        Parameters
        ----------
        name : str
            The start of every file name (``NAME-SUFFIX.csv``, ``NAME.png``).
        tables : sequence of (label, suffix, callback)
            The button's label (' (CSV)' is added), the file name's suffix and what makes the CSV.

        Returns
        -------
        panel.Column
            The buttons in a row, and the figure's size below.
        """
        csvs = [
            pn.widgets.FileDownload(callback=make, filename=f"{name}-{suffix}.csv", label=f"{label} (CSV)")
            for label, suffix, make in tables
        ]
        return pn.Column(pn.Row(*csvs, *self.figure_buttons(name)), self.figure_size_row())

    def view_settings(self) -> dict[str, object]:
        """The view's name, measure, grouping and options, as the CSVs record them (the subclass says which).

        Returns
        -------
        dict
            ``view``, ``measure`` and ``grouping`` (axis → factor) at least.
        """
        raise NotImplementedError

    def export_csv(self, frame: pd.DataFrame, value_label: str | None = None) -> io.StringIO:
        """``frame`` as a CSV with every factor, the view's settings and filters, the version and catalog hash.

        Parameters
        ----------
        frame, value_label
            As :meth:`export_frame` takes them.

        Returns
        -------
        io.StringIO
            :meth:`export_frame` as CSV text.
        """
        return io.StringIO(self.export_frame(frame, value_label).to_csv(index=False))

    def export_frame(self, frame: pd.DataFrame, value_label: str | None = None) -> pd.DataFrame:
        """The table :meth:`export_csv` writes: ``frame`` with the factors, settings, filters and provenance.

        Parameters
        ----------
        frame : pandas.DataFrame
            A table of the view: its plotted rows (with ``key``) or a table of groups.
        value_label : str, optional
            The name of the :data:`VALUE` column (the measure with its unit).

        Returns
        -------
        pandas.DataFrame
        """
        out = frame.reset_index(drop=True)
        data: pd.DataFrame = getattr(self, "data", pd.DataFrame())
        missing = [c for c in EXPORT_FACTORS if c not in out.columns]
        if "key" in out.columns or data.empty:  # plotted rows: what they lack is not a factor of theirs
            out = out.assign(**{c: "" for c in missing})
        elif missing:  # a table of groups: each row's factors as the levels its group pooled
            out = out.join(self._pooled(out, data, missing))
        if value_label is not None:
            out = out.rename(columns={VALUE: value_label})
        settings = self.view_settings()
        shown: dict[str, object] = {"view": settings.pop("view")}
        for name, setting in settings.items():
            shown[f"view_{name}"] = (
                json.dumps(setting, ensure_ascii=False) if isinstance(setting, dict | list) else setting
            )
        shown["view_filters"] = json.dumps({f: v for f, v in self.filters.items() if v}, ensure_ascii=False)
        shown["view_accepted_only"] = bool(self.accepted_only)
        shown["view_epoch_shown"] = self.shown_epoch or ""
        for name, text in {**shown, **provenance(self.store)}.items():
            out[name] = text
        return out

    @staticmethod
    def _pooled(groups: pd.DataFrame, data: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
        """Per row of ``groups``, the '; '-joined levels of ``columns`` among the data rows of its group.

        A row's group is the data rows sharing its labels of the factors both tables have (a statistics
        row: its region and time group, both the drug and its control).
        """
        shared = [c for c in groups.columns if c in data.columns and c in _GROUP_LABELS]
        text = data.assign(**{c: data[c].astype(str) for c in [*shared, *columns] if c in data})
        present = [c for c in columns if c in text]

        def joined(values: pd.Series) -> str:  # numpydoc ignore=PR01,RT01
            """The distinct levels, sorted, '; '-joined ('nan' and '' left out)."""
            return "; ".join(sorted({str(v) for v in values if pd.notna(v)} - {"nan", "", "<NA>"}))

        if shared:
            pooled = text.groupby(shared, sort=False)[present].agg(joined).reset_index()
            keys = groups[shared].astype(str)
            out = keys.merge(pooled, on=shared, how="left")[present]
        else:
            out = pd.DataFrame({c: [joined(text[c])] * len(groups) for c in present}, index=groups.index)
        out.index = groups.index
        return out.assign(**{c: "" for c in columns if c not in present}).fillna("")[columns]

    @property
    def filters(self) -> dict[str, list[str]]:
        """The levels each factor's filter keeps (empty: all)."""
        return {factor: list(getattr(self, f"filter_{factor}")) for factor in FACTORS}

    def _rows(self, table: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The rows of catalog ``table`` the view may show (QC filter applied) and their numeric columns.

        Cached per table and QC filter, since only the measure column changes between most updates.
        """
        cache_key = (table, self.accepted_only)
        if cache_key not in self._row_cache:
            rows = factor_rows(self.store, table, self.accepted_only)
            source = accepted_source(self.store, table, self.accepted_only)
            numeric = [c for c in source.columns if c in NUMERIC_LABELS or pd.api.types.is_numeric_dtype(source[c])]
            self._row_cache[cache_key] = (rows, source[numeric])
        return self._row_cache[cache_key]

    def measure_frame(
        self, table: str, column: str, transform: Callable | None, axes: Sequence[str], carry: Sequence[str] = ()
    ) -> pd.DataFrame:
        """The rows kept by the filters with measure ``column`` as :data:`VALUE`, one epoch unless on an axis.

        Sets :attr:`shown_epoch` (:func:`~nwb_ketamine.explorer.factors.one_epoch`).

        Parameters
        ----------
        table : str
            'cells' or 'units'.
        column : str
            The catalog column of the measure (all NaN when the catalog lacks it).
        transform : callable or None
            Applied to the values (e.g. ``numpy.abs``).
        axes : sequence of str
            The factors on the view's axes (a unit is shown in one epoch unless epoch or time group is one).
        carry : sequence of str
            Other catalog columns (:data:`NUMERIC_LABELS`) to keep alongside.

        Returns
        -------
        pandas.DataFrame
            The factor rows with ``carry`` and :data:`VALUE` (rows without a value left out), index 0..n-1.
        """
        rows, numeric = self._rows(table)
        frame = rows.copy(deep=False)
        for name in carry:
            frame[name] = numeric[name].to_numpy() if name in numeric else np.nan
        frame[VALUE] = numeric[column].to_numpy(dtype=float) if column in numeric else np.nan
        if transform is not None:
            frame[VALUE] = transform(frame[VALUE])
        frame = frame[filter_mask(frame, self.filters)]
        frame, self.shown_epoch = one_epoch(frame, axes, self.epoch)
        return frame.dropna(subset=[VALUE]).reset_index(drop=True)

    def filter_widgets(self) -> list:
        """One multi-choice per factor, its options the levels of cells and units (and 'all but control').

        Returns
        -------
        list of panel.widgets.MultiChoice
        """
        widgets = []
        for factor, label in FACTORS.items():
            levels: set[str] = set()
            for table in ("cells", "units"):
                rows, _ = self._rows(table)
                if factor in rows:
                    levels |= set(rows[factor].unique())
            options = [NOT_CONTROL, *sorted(levels | set(getattr(self, f"filter_{factor}")) - {NOT_CONTROL})]
            widgets.append(pn.widgets.MultiChoice.from_param(
                self.param[f"filter_{factor}"], options=options, name=label, placeholder="all",
                sizing_mode="stretch_width",
            ))  # fmt: skip
        return widgets

    def filter_notes(self) -> str:
        """The filters in force, as one sentence ('' when none is set).

        Returns
        -------
        str
        """
        chosen = {f: v for f, v in self.filters.items() if v}
        if not chosen:
            return ""
        return "Filters: " + "; ".join(f"{FACTORS[f]} ∈ {', '.join(v)}" for f, v in chosen.items()) + "."
