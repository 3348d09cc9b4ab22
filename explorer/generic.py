"""Any NWB file: metadata, the object tree, and plots of its time series and units.

Design decision: a file from elsewhere may use extensions, old schema versions or no NWB at all, so the
view opens it with the namespaces cached in the file (``load_namespaces=True``) and turns *every*
failure — opening, reading, plotting one object — into a message in the page instead of a traceback.
Time series are read only up to ``max_samples`` from the start and min/max decimated like raw traces.
"""

from __future__ import annotations

from pathlib import Path

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param

from nwb_ketamine.archive.remote import RemoteFile
from nwb_ketamine.explorer import nwbfiles, rawread
from nwb_ketamine.explorer.analysisinfo import analysis_fields
from nwb_ketamine.explorer.panes import field_table, table

if "bokeh" not in hv.Store.loaded_backends():
    hv.extension("bokeh")

METADATA_FIELDS = ("identifier", "session_description", "session_start_time", "experimenter", "institution",
                   "lab", "experiment_description", "session_id", "keywords")  # fmt: skip


def plain_text(value) -> str:
    """A metadata value as a person reads it: a list or an HDF5 dataset of strings joined by '; '.

    pynwb gives some fields (``keywords``, sometimes ``experimenter``) as a lazily read HDF5 dataset,
    whose ``str`` is the object (``<StrDataset for HDF5 dataset "keywords" ...>``), not its text. Items
    are joined by '; ' since names such as 'Doe, Jane' contain commas.

    Parameters
    ----------
    value
        A field of the NWB file.

    Returns
    -------
    str
    """
    if hasattr(value, "shape") and not isinstance(value, (str, bytes, np.ndarray, np.generic)):
        try:
            value = value[()] if value.shape == () else value[:]
        except Exception:  # an unreadable dataset: say what it is
            return f"(unreadable: {type(value).__name__})"
    if isinstance(value, (bytes, np.bytes_)):
        return value.decode("utf-8", "replace")
    if isinstance(value, (list, tuple, np.ndarray)):
        return "; ".join(plain_text(item) for item in np.ravel(np.asarray(value, dtype=object)))
    return str(value)


class GenericView(pn.viewable.Viewer):
    """Metadata, object tree and plots of one NWB file that is not in the catalog.

    Parameters
    ----------
    path
        The file (resolved by the caller; never a user-typed path in the served app).
    **params
        Initial values of the parameters below.
    """

    series: param.Selector[str | None] = param.Selector(
        default=None, objects=[], allow_None=True, doc="Time series to plot."
    )
    max_samples = param.Integer(default=100_000, bounds=(100, None), doc="Samples of the series read from the start.")

    def __init__(self, path, **params):
        self.path = path if isinstance(path, RemoteFile) else Path(path)
        self.error = None
        self.nwbfile = None
        try:
            self.nwbfile = nwbfiles.open_nwb(self.path)
        except Exception as exc:  # anything: not HDF5, not NWB, unknown namespace...
            self.error = f"{self.path.name} cannot be read as an NWB file ({type(exc).__name__}: {exc})"
        super().__init__(**params)
        if self.nwbfile is not None:
            names = list(self._time_series())
            self.param.series.objects = names
            self.series = names[0] if names else None

    # -- content --------------------------------------------------------------------------------------
    def metadata(self) -> pd.DataFrame:
        """File-level fields, the subject and the analysis provenance (field, value)."""
        f = self.nwbfile
        rows = []
        for name in METADATA_FIELDS:
            value = getattr(f, name, None)
            if value is not None and not (hasattr(value, "__len__") and len(value) == 0):
                rows.append((name, plain_text(value)))
        if f.subject is not None:
            for name in ("subject_id", "species", "sex", "age", "genotype", "strain", "description"):
                value = getattr(f.subject, name, None)
                if value:
                    rows.append((f"subject.{name}", str(value)))
        rows += self.analysis_provenance()
        return pd.DataFrame(rows, columns=["field", "value"])

    def analysis_provenance(self) -> list[tuple[str, str]]:
        """The nwb-ketamine version and parameters of the analyses the file stores ([] when it stores none).

        Returns
        -------
        list of (str, str)
        """
        from nwb_ketamine.analysis.provenance import TOOL, read_provenance

        stored = [r for r in read_provenance(self.nwbfile) if r.get("tool") == TOOL]
        if not stored:
            return []
        version = ", ".join(dict.fromkeys(r.get("tool_version", "") for r in stored))
        parameters = {r["analysis"]: r["values"] for r in stored}
        return analysis_fields(version, parameters, list(parameters))

    def tree(self) -> pd.DataFrame:
        """Every object of the file: path, neurodata type and a short description (shape or length)."""
        rows = []
        for obj in self.nwbfile.objects.values():
            parts, node = [], obj
            while node is not None and node is not self.nwbfile:
                parts.append(node.name)
                node = node.parent
            data = getattr(obj, "data", None)
            shape = getattr(data, "shape", None)
            rows.append(
                (
                    "/" + "/".join(reversed(parts)),
                    getattr(obj, "data_type", type(obj).__name__),
                    str(tuple(shape)) if shape else "",
                )
            )
        frame = pd.DataFrame(rows, columns=["path", "type", "shape"])
        return frame.sort_values("path").reset_index(drop=True)

    def _time_series(self) -> dict:
        from pynwb.base import TimeSeries

        out = {}
        for obj in self.nwbfile.objects.values():
            if isinstance(obj, TimeSeries) and getattr(obj, "data", None) is not None:
                try:
                    if len(obj.data) == 0 or len(getattr(obj.data, "shape", (1,))) > 2:
                        continue
                except TypeError:
                    continue
                out[f"{obj.name} ({getattr(obj, 'data_type', type(obj).__name__)})"] = obj
        return out

    def series_plot(self):
        """The selected series (first ``max_samples`` samples, min/max decimated, first 8 columns)."""
        if self.series is None:
            return hv.Curve([]).opts(title="no time series in this file")
        ts = self._time_series()[self.series]
        n = min(len(ts.data), self.max_samples)
        data = np.asarray(ts.data[:n], dtype=np.float64).reshape(n, -1)[:, :8]
        data = data * float(ts.conversion or 1.0) + float(getattr(ts, "offset", 0.0) or 0.0)
        if ts.timestamps is not None:
            t = np.asarray(ts.timestamps[:n], dtype=np.float64)
        else:
            t = float(ts.starting_time or 0.0) + np.arange(n) / float(ts.rate)
        if n > 4000:
            positions, data = rawread.minmax_decimate(data, -(-n // 2000))
            t = t[positions]
        unit = getattr(ts, "unit", "")
        curves = [
            hv.Curve((t, data[:, c]), "time (s)", f"value ({unit})", label=f"column {c}") for c in range(data.shape[1])
        ]
        return hv.Overlay(curves).opts(
            title=f"{ts.name}: first {n} of {len(ts.data)} samples", responsive=True, height=300
        )

    def units_plot(self):
        """Raster of the units table (one row per unit), or a note when there is none."""
        units = self.nwbfile.units
        if units is None or len(units) == 0:
            return None
        xs, ys = [], []
        for i in range(min(len(units), 200)):
            t = np.asarray(units["spike_times"][i], dtype=float)
            xs.append(t)
            ys.append(np.full(t.size, i))
        frame = pd.DataFrame({"time (s)": np.concatenate(xs), "unit": np.concatenate(ys)})
        return hv.Scatter(frame, "time (s)", "unit").opts(
            marker="dash", angle=90, size=8, color="black", title=f"Units ({len(units)})", responsive=True, height=300
        )

    # -- layout ------------------------------------------------------------------------------------
    @param.depends("series", "max_samples")
    def _series(self):
        try:
            return pn.pane.HoloViews(self.series_plot(), sizing_mode="stretch_width")
        except Exception as exc:
            return pn.pane.Alert(f"Cannot plot {self.series}: {type(exc).__name__}: {exc}", alert_type="warning")

    def _section(self, title, build):
        try:
            content = build()
        except Exception as exc:
            return pn.pane.Alert(f"{title}: cannot be shown ({type(exc).__name__}: {exc})", alert_type="warning")
        return pn.Column(pn.pane.Markdown(f"### {title}"), content, sizing_mode="stretch_width")

    def __panel__(self):
        if self.error is not None:
            return pn.pane.Alert(self.error, alert_type="danger")

        def _units():
            plot = self.units_plot()
            return (
                pn.pane.HoloViews(plot, sizing_mode="stretch_width")
                if plot is not None
                else pn.pane.Markdown("No units table.")
            )

        return pn.Column(
            pn.pane.Markdown(f"## {self.path.name}"),
            self._section("Metadata", lambda: field_table(self.metadata())),
            self._section("Objects", lambda: table(self.tree())),
            self._section(
                "Time series",
                lambda: pn.Column(
                    pn.Param(self.param, parameters=["series", "max_samples"], show_name=False), self._series
                ),
            ),
            self._section("Units", _units),
            sizing_mode="stretch_width",
        )
