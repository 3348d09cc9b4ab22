"""The explorer app: a template with a sidebar, navigation between views, URL state, serving.

Design decisions:

- **Store → views → app.** One :class:`ArchiveStore` is loaded per server and shared read-only; every
  browser session gets its own :class:`ExplorerApp` (``pn.serve`` is given a function), so one user's
  measure, grouping and selection never leak into another's.
- **The URL is the state.** ``view``, ``cell``, ``unit`` and ``file`` of the app, the compare view's
  measure and grouping, the unit view's burst rule (``unit_onset_isi_ms``, ...) and the traces view's
  window (``traces_start_s``, ``traces_window_s``, ``traces_group``) are synced to the query string
  (``pn.state.location.sync``), so a view can be shared by copying the address. Detail views are rebuilt
  whenever the app's view or key changes, so their URL parameters live in one :class:`DetailState` that
  is synced once and linked to each new detail view; opening another unit or file starts from that
  view's own values (the rule stored in the file, the first 10 s). Keys from the URL are only ever
  looked up in the catalog; an unknown key (including ``../../etc/passwd`` or ``/etc/passwd``) gives a
  message in the page, never a file read.
- **Clicks open views at once, repeated or not.** A click (a point, a table row) hands a key to the app
  through a parameter, which is cleared once the view is opened, so clicking the same row again after
  coming back opens it again. Once the page has loaded, a view is built on the next tick of the event
  loop with the main area marked as loading, so the click's round trip returns at once and the user
  sees that something is happening while a file is opened (the first open of an NWB file imports pynwb
  and loads its namespaces: seconds; :func:`serve` imports pynwb in the background at start).
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
import math
import threading
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
APP_URL_PARAMS = ["cell", "unit", "file", "view"]
#: Detail view → {URL name (a :class:`DetailState` parameter): the view's parameter}.
DETAIL_URL_PARAMS = {
    "unit": {"unit_onset_isi_ms": "onset_isi_ms", "unit_end_isi_ms": "end_isi_ms",
             "unit_min_silence_ms": "min_silence_ms", "unit_min_spikes": "min_spikes"},
    "traces": {"traces_start_s": "start_s", "traces_window_s": "window_s", "traces_group": "group"},
}  # fmt: skip
#: Detail view → the app parameter holding its key.
DETAIL_KEYS = {"unit": "unit", "traces": "file"}


class DetailState(param.Parameterized):
    """The detail views' parameters as kept in the URL; None: the view's own value."""

    unit_onset_isi_ms = param.Number(default=None, allow_None=True, doc="Unit view: burst onset ISI (ms).")
    unit_end_isi_ms = param.Number(default=None, allow_None=True, doc="Unit view: burst end ISI (ms).")
    unit_min_silence_ms = param.Number(default=None, allow_None=True, doc="Unit view: silence before a burst (ms).")
    unit_min_spikes = param.Integer(default=None, allow_None=True, doc="Unit view: fewest spikes in a burst.")
    traces_start_s = param.Number(default=None, allow_None=True, doc="Traces view: window start (s).")
    traces_window_s = param.Number(default=None, allow_None=True, doc="Traces view: window length (s).")
    traces_group = param.String(default=None, allow_None=True, doc="Traces view: electrode group shown.")


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
        self.detail = DetailState()
        #: detail view → the key (unit, file) its DetailState values were made for (None: any)
        self._detail_keys: dict[str, str | None] = {}
        self._detail_watchers: list[tuple[param.Parameterized, object]] = []
        self._loaded = False  # set once the page has loaded: renders are then deferred to the next tick
        self._pending = False
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
        self.compare.selected = ""  # a parameter only signals changes: clear it so the same key opens again

    def _open_file(self, event) -> None:
        key = event.new
        if not key:
            return
        try:
            raw_series = int(self.store.session(key).get("n_raw_series", 0) or 0)
        except NwbKetamineError:
            raw_series = 0
        # A session with raw series opens on its traces; sorting-only, --no-raw and foreign files on the file view.
        self.param.update(file=key, view="traces" if raw_series else "file")
        self.overview.selected_file = ""  # so that clicking the same row again opens it again

    @param.depends("view", "cell", "unit", "file", watch=True)
    def _render(self) -> None:
        self._nav.value = self.view
        doc = pn.state.curdoc
        if self._loaded and doc is not None and doc.session_context is not None:
            # Return from the click's round trip now and show the spinner; build on the next tick.
            if not self._pending:
                self._pending = True
                self._main.loading = True
                pn.state.execute(self._render_now, schedule=True)
            return
        self._render_now()

    def _render_now(self) -> None:
        self._pending = False
        try:
            body = self._build(self.view)
        except NwbKetamineError as exc:
            body = _message(str(exc))
        except Exception as exc:  # a bug in a view must not take the page down
            log.exception("building the %s view failed", self.view)
            body = _message(f"The {VIEWS[self.view]} view failed: {type(exc).__name__}: {exc}", "danger")
        self.current = body
        self._main.objects = [body]
        self._main.loading = False
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
        if view in DETAIL_URL_PARAMS:
            return self._link_detail(view, key, cls(self.store, key))
        return cls(path)

    def _link_detail(self, view: str, key: str, detail):
        """Give a new detail view the URL's values (if made for this key) and keep them in sync with it."""
        names = DETAIL_URL_PARAMS[view]
        for obj, watcher in self._detail_watchers:
            obj.param.unwatch(watcher)
        self._detail_watchers = []
        if self._detail_keys.get(view) not in (None, key):  # another unit or file: its own values
            self.detail.param.update({name: None for name in names})
        self._detail_keys[view] = key
        for url_name, name in names.items():
            value = getattr(self.detail, url_name)
            if value is None:
                continue
            try:
                detail.param.update({name: value})
            except Exception as exc:  # out of bounds, a group this file does not have: the view's own value
                log.info("ignoring %s=%r for %s: %s", url_name, value, key, exc)
        self.detail.param.update({url_name: getattr(detail, name) for url_name, name in names.items()})
        to_url = {name: url_name for url_name, name in names.items()}

        def view_to_state(*events):
            self.detail.param.update({to_url[e.name]: e.new for e in events})

        def state_to_view(*events):
            values = {names[e.name]: e.new for e in events if e.new is not None}
            try:
                detail.param.update(values)
            except Exception as exc:
                log.info("ignoring %s for %s: %s", values, key, exc)

        self._detail_watchers = [
            (detail, detail.param.watch(view_to_state, list(names.values()))),
            (self.detail, self.detail.param.watch(state_to_view, list(names))),
        ]
        return detail

    # ------------------------------------------------------------------------------------------- layout
    def sync_url(self) -> None:
        """Keep the view state in the URL's query string (only inside a served session)."""
        location = pn.state.location
        if location is None:
            return
        location.sync(self, {name: name for name in ("view", "cell", "unit", "file")})
        location.sync(self.compare, {name: name for name in COMPARE_URL_PARAMS})
        location.sync(self.detail, {name: name for names in DETAIL_URL_PARAMS.values() for name in names})
        self._loaded = True

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


def _query_values(obj: param.Parameterized, names, args: dict) -> dict:
    """The values of ``names`` in the query ``args``, deserialised by ``obj``'s parameters (misfits left out)."""
    values = {}
    for name in names:
        raw = args.get(name)
        if not raw:
            continue
        text = raw[0].decode("utf-8", "replace") if isinstance(raw[0], bytes) else str(raw[0])
        try:
            values[name] = _deserialize(obj.param[name], text)
        except Exception:
            continue
    return values


def _deserialize(parameter: param.Parameter, text: str):
    # param's Number.deserialize returns the text unchanged (JSON numbers need no decoding)
    if isinstance(parameter, param.Integer):
        return int(text)
    if isinstance(parameter, param.Number):
        value = float(text)
        if not math.isfinite(value):
            raise ValueError(f"{text!r} is not a finite number")
        return value
    return parameter.deserialize(text)


def _update_each(obj: param.Parameterized, values: dict) -> None:
    for name, value in values.items():
        try:
            obj.param.update(**{name: value})
        except Exception:
            continue


def apply_query(app: ExplorerApp, args: dict) -> None:
    """Set the initial state from the request's query arguments (values that do not fit are ignored).

    The detail views' values are set before the app's view and keys, so the first build uses them, and
    only for the unit or file the URL names.
    """
    compare = _query_values(app.compare, COMPARE_URL_PARAMS, args)
    detail = _query_values(app.detail, [n for names in DETAIL_URL_PARAMS.values() for n in names], args)
    own = _query_values(app, APP_URL_PARAMS, args)
    _update_each(app.compare, compare)
    _update_each(app.detail, detail)
    for view, names in DETAIL_URL_PARAMS.items():
        if any(name in detail for name in names):
            app._detail_keys[view] = own.get(DETAIL_KEYS[view], "")
    _update_each(app, own)


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


def _preload() -> None:
    try:
        import pynwb  # noqa: F401

        import nwb_ketamine.extension  # noqa: F401
    except Exception:  # the views report import errors themselves
        log.exception("preloading pynwb failed")


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
    # The first NWB file opened imports pynwb and the extension (seconds): do it now, not on the first click.
    threading.Thread(target=_preload, name="nwb-ketamine-preload", daemon=True).start()
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
