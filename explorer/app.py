"""The explorer app: a template with a sidebar, navigation between views, URL state, serving.

Design decisions:

- **Store → views → app.** One :class:`ArchiveStore` is loaded per server and shared read-only; every
  browser session gets its own :class:`ExplorerApp` (``pn.serve`` is given a function), so one user's
  measure, grouping and selection never leak into another's.
- **The URL is the state.** ``view``, ``cell``, ``unit`` and ``file`` of the app and the compare view's
  measure and grouping are synced to the query string (``pn.state.location.sync``), so a view can be
  shared by copying the address. Keys from the URL are only ever looked up in the catalog; an unknown key
  (including ``../../etc/passwd`` or ``/etc/passwd``) gives a message in the page, never a file read.
- **Errors are messages.** Building a view is wrapped: a user error shows its one-line message, anything
  else its type and message, in an alert in the page; the traceback goes to the server log only.
- **Nothing from the internet.** The BootstrapTemplate (not the Fast templates, which fetch Google fonts)
  so that the page loads offline with every resource served by the app itself.
- **Loopback by default.** :func:`serve` refuses a non-loopback address unless ``allow_remote`` is given,
  and then warns: the app is read-only but shows whatever the archive holds.
"""

from __future__ import annotations

import importlib
import ipaddress
import logging
import warnings
from pathlib import Path

import pandas as pd
import panel as pn
import param

from nwb_ketamine.errors import NwbKetamineError
from nwb_ketamine.explorer.compare import CompareView
from nwb_ketamine.explorer.overview import OverviewView
from nwb_ketamine.explorer.store import ArchiveStore

log = logging.getLogger(__name__)

VIEWS = {"compare": "Compare", "overview": "Overview", "cell": "Cell", "unit": "Unit", "traces": "Raw traces",
         "file": "NWB file"}  # fmt: skip
#: view → (module, class) of the detail views, imported when first needed.
DETAIL_VIEWS = {
    "cell": ("cell", "CellView"),
    "unit": ("unit", "UnitView"),
    "traces": ("traces", "TracesView"),
    "file": ("generic", "GenericView"),
}
COMPARE_URL_PARAMS = ["measure", "x", "colour", "facet", "normalise", "accepted_only"]


def _detail_class(view: str):
    module_name, class_name = DETAIL_VIEWS[view]
    try:
        module = importlib.import_module(f"nwb_ketamine.explorer.{module_name}")
    except ImportError:
        return None
    return getattr(module, class_name, None)


def _message(text: str, kind: str = "warning"):
    return pn.pane.Alert(text, alert_type=kind, sizing_mode="stretch_width")


class ExplorerApp(pn.viewable.Viewer):
    """One browser session of the explorer.

    Parameters
    ----------
    store : ArchiveStore
        The archive (shared between sessions).
    **params
        Initial ``view``, ``cell``, ``unit``, ``file``.
    """

    view = param.Selector(default="compare", objects=list(VIEWS))
    cell = param.String(default="", doc="cell_key of the cell shown in the cell view.")
    unit = param.String(default="", doc="unit_key of the unit shown in the unit view.")
    file = param.String(default="", doc="Catalog 'file' key shown in the traces or file view.")

    def __init__(self, store: ArchiveStore, **params):
        super().__init__(**params)
        self.store = store
        self.compare = CompareView(store)
        self.overview = None
        self.compare.param.watch(self._open_selected, "selected")
        self._main = pn.Column(sizing_mode="stretch_width")
        self._nav = pn.widgets.RadioButtonGroup(
            options={label: key for key, label in VIEWS.items()}, value=self.view, button_type="primary",
            button_style="outline", orientation="vertical", sizing_mode="stretch_width",
        )  # fmt: skip
        self._nav.param.watch(lambda event: setattr(self, "view", event.new), "value")
        self._sidebar_extra = pn.Column(sizing_mode="stretch_width")
        self.current = None
        self._render()

    # ------------------------------------------------------------------------------------------- navigation
    def _open_selected(self, event) -> None:
        key = event.new
        if not key:
            return
        if self.compare.table == "cells":
            self.param.update(cell=key, view="cell")
        else:
            self.param.update(unit=key, view="unit")

    def _open_file(self, event) -> None:
        key = event.new
        if not key:
            return
        try:
            modality = self.store.session(key).get("modality", "")
        except NwbKetamineError:
            modality = ""
        self.param.update(file=key, view="traces" if modality == "ecephys" else "file")

    @param.depends("view", "cell", "unit", "file", watch=True)
    def _render(self) -> None:
        self._nav.value = self.view
        try:
            body = self._build(self.view)
        except NwbKetamineError as exc:
            body = _message(str(exc))
        except Exception as exc:  # a bug in a view must not take the page down
            log.exception("building the %s view failed", self.view)
            body = _message(f"The {VIEWS[self.view]} view failed: {type(exc).__name__}: {exc}", "danger")
        self.current = body
        self._main.objects = [body]
        self._sidebar_extra.objects = [self.compare.controls()] if self.view == "compare" else []

    def _build(self, view: str):
        if view == "compare":
            return self.compare
        if view == "overview":
            if self.overview is None:
                self.overview = OverviewView(self.store)
                self.overview.param.watch(self._open_file, "selected_file")
            return self.overview
        key = {"cell": self.cell, "unit": self.unit, "traces": self.file, "file": self.file}[view]
        if not key:
            return _message(f"No {VIEWS[view].lower()} chosen: click a point in Compare or a session in Overview.")
        # Look the key up first: an unknown or path-like key never reaches a detail view.
        if view == "cell":
            row = self.store.cell(key)
        elif view == "unit":
            row = self.store.unit(key).iloc[0]
        else:
            row = self.store.session(key)
            path = self.store.path_of(key)
        cls = _detail_class(view)
        if cls is None:
            return pn.Column(
                _message(f"The {VIEWS[view].lower()} view is not available in this version; catalog row:", "info"),
                pn.widgets.Tabulator(
                    pd.DataFrame({"field": row.index, "value": row.astype(str).values}),
                    show_index=False,
                    disabled=True,
                    sizing_mode="stretch_width",
                ),  # fmt: skip
            )
        if view == "cell":
            return cls(self.store, key)
        if view == "unit":
            return cls(self.store, key)
        if view == "traces":
            return cls(self.store, key)
        return cls(path)

    # ------------------------------------------------------------------------------------------- layout
    def sync_url(self) -> None:
        """Keep the view state in the URL's query string (only inside a served session)."""
        location = pn.state.location
        if location is None:
            return
        location.sync(self, {name: name for name in ("view", "cell", "unit", "file")})
        location.sync(self.compare, {name: name for name in COMPARE_URL_PARAMS})

    def __panel__(self):
        return self._main

    def template(self):
        """The page: a BootstrapTemplate with navigation and the view's controls in the sidebar."""
        return pn.template.BootstrapTemplate(
            title="nwb-ketamine explorer",
            sidebar=[pn.pane.Markdown(f"**Archive** `{self.store.archive.name}`"), self._nav, self._sidebar_extra],
            main=[self._main],
            sidebar_width=320,
            header_background="#7a1622",
        )


def apply_query(app: ExplorerApp, args: dict) -> None:
    """Set the initial state from the request's query arguments (values that do not fit are ignored)."""
    for obj, names in ((app.compare, COMPARE_URL_PARAMS), (app, ["cell", "unit", "file", "view"])):
        values = {}
        for name in names:
            raw = args.get(name)
            if not raw:
                continue
            text = raw[0].decode("utf-8", "replace") if isinstance(raw[0], bytes) else str(raw[0])
            try:
                values[name] = obj.param[name].deserialize(text)
            except Exception:
                continue
        for name, value in values.items():
            try:
                obj.param.update(**{name: value})
            except Exception:
                continue


def create_app(store: ArchiveStore):
    """A new session's page (called by the server once per browser session)."""
    pn.extension("tabulator", notifications=False)
    app = ExplorerApp(store)
    apply_query(app, pn.state.session_args or {})  # first render already shows the URL's view
    pn.state.onload(app.sync_url)  # the browser's location is known once the page has loaded
    return app.template()


def is_loopback(address: str) -> bool:
    """Whether ``address`` is a loopback address or ``localhost``."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def serve(
    archive: str | Path,
    *,
    port: int = 5006,
    address: str = "127.0.0.1",
    show: bool = False,
    allow_remote: bool = False,
    validation_report: str | Path | None = None,
    threaded: bool = False,
    start: bool = True,
):
    """Serve the explorer of ``archive``.

    Parameters
    ----------
    archive : str or Path
        Archive folder with a catalog.
    port, address : int, str
        Where to listen (loopback by default).
    show : bool
        Open a browser tab.
    allow_remote : bool
        Required for a non-loopback ``address``; a warning is printed.
    validation_report : str or Path, optional
        JSON report of ``nwb-ketamine validate`` (default ``ARCHIVE/.nwb-ketamine/validation.json``).
    threaded, start : bool
        Passed to ``pn.serve`` (tests run the server in a thread).

    Returns
    -------
    The Bokeh server (``pn.serve``'s return value).
    """
    if not is_loopback(address) and not allow_remote:
        raise NwbKetamineError(
            f"--address {address} is not a loopback address; add --allow-remote to serve the archive to other machines"
        )
    store = ArchiveStore(archive, validation_report=validation_report)
    if not is_loopback(address):
        message = f"serving {store.archive} on {address}:{port}: anyone who can reach it can read the archive"
        warnings.warn(message, stacklevel=2)
        print(f"WARNING: {message}")
    origins = [f"127.0.0.1:{port}", f"localhost:{port}"] if is_loopback(address) else ["*"]
    return pn.serve(
        {"/": lambda: create_app(store)},
        port=port,
        address=address,
        show=show,
        websocket_origin=origins,
        title="nwb-ketamine explorer",
        threaded=threaded,
        start=start,
        print_url=True,
    )
