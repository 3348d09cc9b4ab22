"""The explorer app: one browser session's navigation between views, its sidebar and page layout.

Design decisions:

- **Clicks open views at once, repeated or not.** A click (a point, a table row) hands a key to the app
  through a parameter, which is cleared once the view is opened, so clicking the same row again after
  coming back opens it again. Once the page has loaded, a view is built on the next tick of the event
  loop with the main area marked as loading, so the click's round trip returns at once and the user
  sees that something is happening while a file is opened.
- **Keys are looked up, never resolved.** Keys from the URL (:mod:`~nwb_ketamine.explorer.urlstate`) or a
  click are only ever looked up in the catalog; an unknown key (including ``../../etc/passwd`` or
  ``/etc/passwd``) gives a message in the page, never a file read.
- **Errors are messages.** Building a view is wrapped: a user error shows its one-line message, anything
  else its type and message, in an alert in the page; the traceback goes to the server log only.
- **Nothing from the internet.** The BootstrapTemplate (not the Fast templates, which fetch Google fonts)
  so that the page loads offline with every resource served by the app itself.
- **Back and Forward move through views.** Each navigation pushes an address (Panel's location sync);
  after Back or Forward the page applies the address's query to the app (:mod:`.history`), so the view
  and its parameters follow the address.
- Detail views are imported when first opened (:data:`DETAIL_VIEWS`), so the landing page does not wait
  for their plotting code.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import panel as pn
import param
from panel.io.document import hold
from panel.io.location import Location
from param.parameterized import Watcher

from nwb_ketamine.errors import NwbKetamineError
from nwb_ketamine.explorer.compare import CompareView
from nwb_ketamine.explorer.overview import OverviewView
from nwb_ketamine.explorer.paired import PairedView
from nwb_ketamine.explorer.store import ArchiveStore
from nwb_ketamine.explorer.timecourse import TimeCourseView
from nwb_ketamine.explorer.urlstate import (
    APP_URL_PARAMS,
    COMPARE_URL_PARAMS,
    DETAIL_URL_PARAMS,
    PAIRED_URL_PARAMS,
    TIMECOURSE_URL_PARAMS,
    DetailState,
    apply_query,
    misfit,
    why_not,
)

if TYPE_CHECKING:
    from nwb_ketamine.explorer.history import HistoryListener

log = logging.getLogger(__name__)

VIEWS = {"compare": "Compare", "paired": "Paired (units)", "timecourse": "Time course", "overview": "Overview",
         "cell": "Cell", "unit": "Unit", "traces": "Raw traces", "file": "NWB file"}  # fmt: skip
#: The views kept in the page once shown (hidden while another is shown); the detail views are rebuilt.
KEPT_VIEWS = ("compare", "paired", "timecourse", "overview")
#: view → (module, class) of the detail views, imported when first needed.
DETAIL_VIEWS = {
    "cell": ("cell", "CellView"),
    "unit": ("unit", "UnitView"),
    "traces": ("traces", "TracesView"),
    "file": ("generic", "GenericView"),
}


def _detail_class(view: str) -> type:
    module_name, class_name = DETAIL_VIEWS[view]
    return getattr(importlib.import_module(f"nwb_ketamine.explorer.{module_name}"), class_name)


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

    view: param.Selector[str] = param.Selector(default="compare", objects=list(VIEWS))
    cell = param.String(default="", doc="cell_key of the cell shown in the cell view.")
    unit = param.String(default="", doc="unit_key of the unit shown in the unit view.")
    file = param.String(default="", doc="Catalog 'file' key shown in the traces or file view.")

    def __init__(self, store: ArchiveStore, **params):
        super().__init__(**params)
        self.store = store
        self.compare = CompareView(store)
        self._paired: PairedView | None = None  # built when first opened (or named by the URL)
        self._timecourse: TimeCourseView | None = None  # the same
        self.overview: OverviewView | None = None
        self.detail = DetailState()
        #: detail view → the key (unit, file) its DetailState values were made for (None: any)
        self.detail_keys: dict[str, str | None] = {}
        self._detail_watchers: list[tuple[param.Parameterized, Watcher]] = []
        self._loaded = False  # set once the page has loaded: renders are then deferred to the next tick
        self._pending = False
        self.compare.param.watch(self._open_selected, "selected")
        self._main = pn.Column(sizing_mode="stretch_width")
        #: view → (view object, its layout): the overview views' layouts, kept in the page once shown (hidden
        #: while another view is), so that coming back to one sends a visibility change, not the whole view
        self._kept: dict[str, tuple[object, Any]] = {}
        self._kept_area = pn.Column(sizing_mode="stretch_width")
        self._detail_area = pn.Column(sizing_mode="stretch_width")  # a detail view or a message, rebuilt each time
        self._controls: dict[str, Any] = {}  # view → its sidebar controls, kept like the views
        self._nav = pn.widgets.RadioButtonGroup(
            options={label: key for key, label in VIEWS.items()}, value=self.view, button_type="primary",
            button_style="outline", orientation="vertical", sizing_mode="stretch_width",
        )  # fmt: skip
        self._nav.param.watch(lambda event: setattr(self, "view", event.new), "value")
        self._sidebar_extra = pn.Column(sizing_mode="stretch_width")
        #: URL values that did not fit, one line each (:func:`~nwb_ketamine.explorer.urlstate.apply_query`)
        self.url_notices: list[str] = []
        self._url_notice = pn.pane.Alert("", alert_type="info", visible=False, sizing_mode="stretch_width")
        self._main.objects = [self._url_notice, self._kept_area, self._detail_area]
        self.current = None
        self._location: Location | None = None  # pn.state.location of the page, once loaded (sync_url)
        self._history: HistoryListener | None = None  # the Back/Forward listener, made with the page (template)
        self._render()

    @property
    def paired(self) -> PairedView:
        """The paired view, built on first use (each session's page costs the server less)."""
        if self._paired is None:
            self._paired = PairedView(self.store)
            if self._loaded and pn.state.location is not None:
                pn.state.location.sync(self._paired, PAIRED_URL_PARAMS)
        return self._paired

    @property
    def timecourse(self) -> TimeCourseView:
        """The time-course view, built on first use (its figures are not needed on the landing page)."""
        if self._timecourse is None:
            self._timecourse = TimeCourseView(self.store)
            self._timecourse.param.watch(self._open_selected, "selected")
            if self._loaded and pn.state.location is not None:
                pn.state.location.sync(self._timecourse, TIMECOURSE_URL_PARAMS)
        return self._timecourse

    # ------------------------------------------------------------------------------------------- navigation
    def _open_selected(self, event) -> None:
        key = event.new
        if not key:
            return
        if event.obj.table == "cells":
            self.param.update(cell=key, view="cell")
        else:
            self.param.update(unit=key, view="unit")
        event.obj.selected = ""  # a parameter only signals changes: clear it so the same key opens again

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
        event.obj.selected_file = ""  # the overview: so that clicking the same row again opens it again

    @param.depends("view", "cell", "unit", "file", watch=True)
    def _render(self) -> None:
        self._nav.value = self.view
        if self._loaded:  # the notices were about the URL the page was opened with
            self.url_notices.clear()
            self.show_url_notices()
        doc = pn.state.curdoc
        if self._loaded and doc is not None and doc.session_context is not None:
            # Return from the click's round trip now and show the spinner; build on the next tick.
            if not self._pending:
                self._pending = True
                self._main.loading = True
                pn.state.execute(self._render_now, schedule=True)
            return
        self._render_now()

    def show_url_notices(self) -> None:
        """Show :attr:`url_notices` in one line above the view (hidden when there are none)."""
        self._url_notice.object = "Ignored in the URL: " + "; ".join(self.url_notices) if self.url_notices else ""
        self._url_notice.visible = bool(self.url_notices)

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
        self._show(body)
        self._main.loading = False

    def _show(self, body) -> None:
        """Show ``body`` in the main area, and the view's controls in the sidebar.

        A view of :data:`KEPT_VIEWS` is kept in the page once shown and only made visible again later
        (re-adding a layout rebuilds and resends every model of it: ~0.6 s of server time for the compare
        view); a detail view or a message replaces the previous one. Until the page has loaded only the
        view shown goes into it (a page opened on a detail view, after the app's first render of Compare,
        holds no hidden Compare).

        Parameters
        ----------
        body
            The view (or message) :meth:`_build` made.
        """
        if not self._loaded:  # the page is not built yet: only the view it opens with goes into it
            for view in [v for v in self._kept if v != self.view]:
                self._kept_area.objects = [o for o in self._kept_area.objects if o is not self._kept.pop(view)[1]]
            for view in [v for v in self._controls if v != self.view]:
                dropped = self._controls.pop(view)
                self._sidebar_extra.objects = [o for o in self._sidebar_extra.objects if o is not dropped]
        kept = self._kept.get(self.view)
        is_kept = self.view in KEPT_VIEWS and not isinstance(body, pn.pane.Alert)
        shown = (kept[1] if kept is not None and kept[0] is body else pn.panel(body)) if is_kept else None
        with hold():  # one patch: the browser lays the page out once
            for _, layout in self._kept.values():  # hide the others before the new one is drawn
                layout.visible = layout is shown
            self._detail_area.visible = shown is None
            if shown is None:
                self._detail_area.objects = [body]
            else:
                if kept is None or kept[1] is not shown:
                    self._kept[self.view] = (body, shown)
                    old = kept[1] if kept is not None else None
                    self._kept_area.objects = [*(o for o in self._kept_area.objects if o is not old), shown]
                if self._detail_area.objects:
                    self._detail_area.objects = []
        owner = {"compare": self.compare, "paired": self._paired, "timecourse": self._timecourse}.get(self.view)
        if owner is not None and self.view not in self._controls:
            self._controls[self.view] = owner.controls()
            self._sidebar_extra.objects = list(self._controls.values())
        for view, controls in self._controls.items():
            controls.visible = view == self.view and owner is not None

    def _build(self, view: str):
        if view == "compare":
            return self.compare
        if view == "paired":
            return self.paired
        if view == "timecourse":
            return self.timecourse
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
            self.store.cell(key)
        elif view == "unit":
            self.store.unit(key)
        else:
            self.store.session(key)
            path = self.store.path_of(key)
        cls = _detail_class(view)
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
        if self.detail_keys.get(view) not in (None, key):  # another unit or file: its own values
            self.detail.param.update({name: None for name in names})
        self.detail_keys[view] = key
        for url_name, name in names.items():
            value = getattr(self.detail, url_name)
            if value is None:
                continue
            try:
                detail.param.update({name: value})
            except Exception as exc:  # out of bounds, a group this file does not have: the view's own value
                self.url_notices.append(misfit(url_name, value, why_not(detail.param[name], exc)))
        fit = getattr(detail, "fit_window", None)
        moved = fit() if fit is not None else None
        if moved:  # e.g. a traces window after the recording's end
            self.url_notices.append(moved)
        self.show_url_notices()
        self.detail.param.update({url_name: getattr(detail, name) for url_name, name in names.items()})
        to_url = {name: url_name for url_name, name in names.items()}

        def _view_to_state(*events):
            self.detail.param.update({to_url[e.name]: e.new for e in events})

        def _state_to_view(*events):
            values = {names[e.name]: e.new for e in events if e.new is not None}
            try:
                detail.param.update(values)
            except Exception as exc:
                log.info("ignoring %s for %s: %s", values, key, exc)

        self._detail_watchers = [
            (detail, detail.param.watch(_view_to_state, list(names.values()))),
            (self.detail, self.detail.param.watch(_state_to_view, list(names))),
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
        for view, names in ((self._paired, PAIRED_URL_PARAMS), (self._timecourse, TIMECOURSE_URL_PARAMS)):
            if view is not None:  # else synced when first built
                location.sync(view, names)
        location.sync(self.detail, {name: name for names in DETAIL_URL_PARAMS.values() for name in names})
        self._location = location
        self._loaded = True

    def apply_history(self, search: str) -> None:
        """Show what the address ``search`` (``?view=...``) describes: the browser went Back or Forward to it.

        Parameters of the app and the compare view that the address does not name go back to their
        defaults first. The address is already the browser's: the location is set to it while its own watchers are held
        back, so the values applied do not push a new address (which would lose the Forward history).

        Parameters
        ----------
        search : str
            The query string, with or without its leading ``?``.
        """
        args = parse_qs(search.lstrip("?"), keep_blank_values=True)
        location = self._location
        if location is None:
            self._apply_address(args)
            return
        syncing = location._syncing
        location._syncing = True  # Panel's own guard: its watchers do not write the address meanwhile
        try:
            location.search = search if not search or search.startswith("?") else "?" + search
            self._apply_address(args)
        finally:
            location._syncing = syncing

    def _apply_address(self, args: dict) -> None:
        # The address is the state: what it does not name is at its default (the page's first address,
        # '?view=compare', names nothing else). The detail views keep theirs (their own defaults).
        for obj, names in ((self, APP_URL_PARAMS), (self.compare, COMPARE_URL_PARAMS)):
            absent = {name: obj.param[name].default for name in names if name not in args}
            if absent:
                obj.param.update(absent)
        apply_query(self, args)

    def __panel__(self):
        return self._main

    def template(self):
        """The page: a BootstrapTemplate with navigation and the view's controls in the sidebar."""
        from nwb_ketamine.explorer.history import HistoryListener

        self._history = HistoryListener(self.apply_history)
        return pn.template.BootstrapTemplate(
            title="nwb-ketamine explorer",
            sidebar=[pn.pane.Markdown(f"**Archive** `{self.store.label}`"), self._nav, self._sidebar_extra],
            header=[remote_badge(self.store.url)] if self.store.url else [],
            main=[self._main, self._history],
            sidebar_width=320,
            header_background="#7a1622",
        )


def remote_badge(url: str):
    """The header's badge of an archive read over HTTP: 'remote archive' and its URL.

    Parameters
    ----------
    url : str
        The archive's URL.

    Returns
    -------
    panel.pane.HTML
    """
    from html import escape

    text = escape(url)
    return pn.pane.HTML(
        f'<span class="remote-archive" title="read over HTTP with range requests">'
        f"<b>remote archive</b> <code>{text}</code></span>",
        styles={"color": "white", "background": "#1f5fa8", "padding": "2px 10px", "border-radius": "10px",
                "font-size": "0.95em"},
    )  # fmt: skip
