"""The overview view: the study at a glance, straight from the catalog.

Design decision: everything here is a count or a table derived from :class:`ArchiveStore` in pandas
(no file is opened), so the view is instant whatever the archive size. A unit is a cluster curated as
``good`` (a single unit); multi-unit (``mua``) and ``noise`` clusters, and clusters without a curation
label (e.g. from a foreign file), are counted in their own columns, never as units
(:func:`unit_quality`). The validation status comes from
the report ``nwb-ketamine validate ARCHIVE --json ARCHIVE/.nwb-ketamine/validation.json`` writes. A click on
a session row sets :attr:`OverviewView.selected_file` (a catalog key), which the app opens.
"""

from __future__ import annotations

import pandas as pd
import panel as pn
import param

from nwb_ketamine.explorer.factors import region_names

GROUPS = ["region", "drug", "stress", "time_group"]
SESSION_COLUMNS = ["file", "subject", "session_id", "modality", "origin", "region", "drug", "dose", "stress",
                   "time_group", "n_cells", "n_units", "n_good_units", "contents"]  # fmt: skip
#: Column titles shown in the tables (the frames keep the short names).
TITLES = {"units": "units (good)", "mua": "multi-unit (MUA)", "noise": "noise clusters", "uncurated": "not curated",
          "n_cells": "cells", "n_units": "clusters (all)", "n_good_units": "good units"}  # fmt: skip
#: Curation label → what the overview counts it as (lower case; anything else is 'uncurated').
QUALITY = {"good": "units", "single": "units", "su": "units", "sua": "units", "mua": "mua", "multi": "mua",
           "mu": "mua", "noise": "noise"}  # fmt: skip
QUALITY_COLUMNS = ["units", "mua", "noise", "uncurated"]


def unit_quality(units: pd.DataFrame) -> pd.Series:
    """What each unit row counts as: 'units' (good, single), 'mua', 'noise' or 'uncurated'.

    Parameters
    ----------
    units : pandas.DataFrame
        The catalog's units table (``curation_label`` column: good, mua, noise or unsorted; may be missing).

    Returns
    -------
    pandas.Series
        Aligned with ``units``.
    """
    if "curation_label" not in units:
        return pd.Series("uncurated", index=units.index)
    labels = units["curation_label"].fillna("").astype(str).str.strip().str.lower()
    return labels.map(QUALITY).fillna("uncurated")


def _named(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with its regions named as a reader understands them (:func:`~.factors.region_names`)."""
    return table.assign(region=region_names(table)) if "region" in table and len(table) else table


def group_summary(store) -> pd.DataFrame:
    """Subjects, sessions, cells, units and the other clusters per group (region × drug × stress × time group).

    Cells and units carry their own time group (a cell's hours since the injection, e.g. '1h'; a unit ×
    epoch row's epoch, e.g. 'baseline'), so a group's subjects and sessions are those with a cell or a
    unit in it, and a session with neither is counted in its own (the sessions table's) group. ``units``
    counts distinct good (single) units: a unit recorded in two epochs counts once in each epoch's group;
    ``mua``, ``noise`` and ``uncurated`` count the other clusters the same way (:func:`unit_quality`).

    Parameters
    ----------
    store : ArchiveStore
        The archive's catalog.

    Returns
    -------
    pandas.DataFrame
        One row per group: the group columns, ``subjects``, ``sessions``, ``cells``, ``units``.
    """
    keys = [*GROUPS, "subject", "file"]
    cells, units, sessions = (_named(t) for t in (store.cells, store.units, store.sessions))
    parts = [t[keys] for t in (cells, units) if all(c in t for c in keys)]
    described = set(pd.concat(parts)["file"]) if parts else set()
    parts.append(sessions.loc[~sessions["file"].isin(described), keys])
    members = pd.concat([p.astype({c: str for c in GROUPS}) for p in parts], ignore_index=True)
    # A file from elsewhere may have no subject id: no id is not one more subject (nunique skips NA).
    members["subject"] = members["subject"].replace("", pd.NA)
    out = members.groupby(GROUPS).agg(subjects=("subject", "nunique"), sessions=("file", "nunique"))
    if len(cells) and "cell_key" in cells:
        counts = cells.astype({c: str for c in GROUPS}).groupby(GROUPS)["cell_key"].nunique()
        out = out.join(counts.rename("cells"), how="left")
    else:
        out["cells"] = 0
    if len(units) and "unit_key" in units:
        units = units.astype({c: str for c in GROUPS}).assign(_quality=unit_quality(units))
        counts = units.groupby([*GROUPS, "_quality"])["unit_key"].nunique().unstack("_quality")
        out = out.join(counts.reindex(columns=QUALITY_COLUMNS), how="left")
    else:
        out[QUALITY_COLUMNS] = 0
    return out.fillna(0).astype(int).reset_index()


class OverviewView(pn.viewable.Viewer):
    """Counts per group, validation status per file and a filterable, sortable table of sessions.

    Parameters
    ----------
    store : ArchiveStore
        The archive's catalog and validation report.
    **params
        Initial values of the parameters below.
    """

    selected_file = param.String(default="", doc="Catalog key of the session last clicked.")

    def __init__(self, store, **params):
        super().__init__(**params)
        self.store = store
        self.summary = group_summary(store)
        if not self.summary["uncurated"].any():  # every cluster curated: no column of zeros
            self.summary = self.summary.drop(columns="uncurated")
        status = store.validation_status()
        sessions = _named(store.sessions)[[c for c in SESSION_COLUMNS if c in store.sessions]]
        self.sessions = sessions.merge(status[["file", "status"]], on="file", how="left")
        self.sessions = self.sessions.rename(columns={"status": "validation"})
        self.status = status
        filters = {c: {"type": "input", "func": "like", "placeholder": "filter"} for c in self.sessions.columns}
        self._sessions_table = pn.widgets.Tabulator(
            self.sessions, show_index=False, disabled=True, header_filters=filters, pagination="local",
            page_size=15, sizing_mode="stretch_width", selectable=False, layout="fit_data_table",
            titles={c: t for c, t in TITLES.items() if c in self.sessions}, max_height=700,
        )  # fmt: skip
        self._sessions_table.on_click(self._on_click)

    def _on_click(self, event) -> None:
        if event.row is None:
            return
        # Panel maps the clicked row to its position in the table's value (whatever the sorting, header
        # filters and page), so the position is looked up there.
        self.selected_file = str(self._sessions_table.value.iloc[event.row]["file"])

    def quality_counts(self) -> dict[str, int]:
        """Distinct units per quality ('units' = good, 'mua', 'noise', 'uncurated') in the whole archive."""
        units = self.store.units
        if not len(units) or "unit_key" not in units:
            return dict.fromkeys(QUALITY_COLUMNS, 0)
        counts = units.assign(_quality=unit_quality(units)).groupby("_quality")["unit_key"].nunique()
        return {name: int(counts.get(name, 0)) for name in QUALITY_COLUMNS}

    def headline(self) -> str:
        """One line of totals: units are good (single) units; the other clusters are named after them."""
        s = self.store
        subjects = s.sessions["subject"].replace("", pd.NA).nunique()  # a foreign file may have no subject id
        q = self.quality_counts()
        others = [f"{q['mua']} multi-unit (MUA)", f"{q['noise']} noise"]
        if q["uncurated"]:
            others.append(f"{q['uncurated']} not curated")
        return (
            f"**{subjects} subjects · {len(s.sessions)} sessions · {len(s.cells)} cells · "
            f"{q['units']} units** (good single units; other clusters: {', '.join(others)}) in `{s.label}`"
        )

    def validation_text(self) -> str:
        """A sentence on the validation report."""
        if not self.store.validation:
            return (
                "No validation report found: run `nwb-ketamine validate ARCHIVE --json "
                "ARCHIVE/.nwb-ketamine/validation.json`."
            )
        counts = self.status["status"].value_counts().to_dict()
        parts = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        verdict = "FAILED" if self.store.validation.get("has_errors") else "PASSED"
        return f"Validation {verdict}: {parts} (files)."

    def __panel__(self):
        return pn.Column(
            pn.pane.Markdown(self.headline()),
            pn.pane.Markdown("### Per group (region × drug × stress × time)"),
            pn.widgets.Tabulator(
                self.summary,
                show_index=False,
                disabled=True,
                sizing_mode="stretch_width",
                pagination="local",
                page_size=12,
                layout="fit_data_table",
                titles={c: t for c, t in TITLES.items() if c in self.summary},
            ),  # fmt: skip
            pn.pane.Markdown("### Validation"),
            pn.pane.Markdown(self.validation_text()),
            pn.pane.Markdown("### Sessions (filter in the header; click a row to open the file)"),
            self._sessions_table,
            sizing_mode="stretch_width",
        )
