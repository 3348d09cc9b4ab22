"""Serving the explorer: one page per browser session, loopback unless asked otherwise.

Design decisions:

- **Store → views → app.** One :class:`ArchiveStore` is loaded per server and shared read-only; every
  browser session gets its own :class:`~nwb_ketamine.explorer.app.ExplorerApp` (``pn.serve`` is given a
  function), so one user's measure, grouping and selection never leak into another's.
- **Loopback by default.** :func:`serve` refuses a non-loopback address unless ``allow_remote`` is given,
  and then warns: the app is read-only but shows whatever the archive holds.
- The first NWB file opened imports pynwb and loads its namespaces (seconds): :func:`serve` imports pynwb
  in the background at start, not on the first click.
- **A page keeps its session until it closes.** Bokeh builds a session when it serves the page and
  discards any session without a connection after ``unused_session_lifetime`` (15 s by default). Under
  load (20 pages at once on 2 cores) a page's websocket can come later than that: Bokeh had dropped the
  session and built a new one for the websocket, without the page's resource settings, so the page asked
  the public CDN for Panel's CSS and the server built the app twice. Here a session waits
  :data:`SESSION_LIFETIME_MS` (5 min) for its page; once its page has connected and then goes, the
  session is discarded at the next check (:data:`SESSION_CHECK_MS`), through Bokeh's ``ConnectionLost``
  event and ``request_expiration``. Each document is also told from the start to take Panel's files from
  this server (``dist_url``, which Panel otherwise sets only when it serves the page), so even a session
  built for a late websocket asks no CDN. :class:`SessionCount` keeps the live count, served as JSON at
  ``/nwb-ketamine/sessions`` (the load benchmark polls it).
- **The server gives back what closed sessions used.** Python's own small-object allocator (pymalloc)
  keeps its arenas while any object lives in them, so after 20 sessions at once the server stayed 25 %
  above its idle memory although every session was freed; with glibc's allocator and ``malloc_trim``
  it came back to 6–11 % (measured with 20 concurrent Bokeh-client sessions, 2 rounds, tiny archive;
  CPU per session 5–10 % higher). ``nwb-ketamine explore`` therefore runs its server with
  ``PYTHONMALLOC=malloc`` (:mod:`nwb_ketamine.explorer.allocator`), unless the user set ``PYTHONMALLOC``.
  The release (a full garbage collection, then ``malloc_trim``) waits until no page has changed for
  :data:`QUIET_S`, so that it does not hold up another page's click.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import ipaddress
import json
import logging
import threading
import time
import warnings
import weakref
from pathlib import Path

import panel as pn
from bokeh.events import ConnectionLost
from panel.io.resources import LOCAL_DIST
from tornado.ioloop import IOLoop, PeriodicCallback
from tornado.web import RequestHandler

from nwb_ketamine.errors import NwbKetamineError
from nwb_ketamine.explorer.app import ExplorerApp
from nwb_ketamine.explorer.store import ArchiveStore
from nwb_ketamine.explorer.urlstate import apply_query

log = logging.getLogger(__name__)

SESSION_LIFETIME_MS = 300_000
"""How long a session waits for its page to connect (a closed page's session goes at the next check)."""
SESSION_CHECK_MS = 2_000
"""How often the server looks for sessions to discard."""
PING_INTERVAL_S = 30
"""Tornado pings every page's websocket this often (keeps proxies from dropping an idle page, and closes a
dead one). Bokeh's own keep-alive ping is off: when it found a closed socket it detached the connection
itself, so the socket's close then failed ("Uncaught exception GET /ws"), the page's last messages failed
too ("error handling message ... AssertionError") and the session missed ``ConnectionLost``: 40 such
errors when 20 pages closed at once at load 25. Tornado's ping closes a dead socket the ordinary way."""
STATUS_PATH = "/nwb-ketamine/sessions"
TRIM_DELAY_S = 1.0
"""After a session is discarded, how long to wait for the rest of its batch before releasing memory."""
QUIET_S = 1.0
"""Memory is released only once no session's document has changed for this long. The full garbage
collection takes 0.1–0.3 s of the server's one thread (its heap holds pandas, pynwb and Bokeh): a page
closed just before another's click made that click wait for it (point click 1.07 → 0.88 s median in the
benchmark's order of actions, where each action opens a new page as the previous one closes)."""


class SessionCount:
    """The number of live browser sessions, counted as they are created and destroyed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.live = 0
        self._trim_pending = False
        self._documents: weakref.WeakSet = weakref.WeakSet()
        self._connected: weakref.WeakSet = weakref.WeakSet()  # documents whose page has been connected
        self._sweeper: PeriodicCallback | None = None
        self._last_change = time.monotonic()  # when a session's document last changed (or a session opened)

    def opened(self) -> None:
        """Count the current session, arrange for its end to be counted, and end it when its page goes."""
        with self._lock:
            self.live += 1
        pn.state.on_session_destroyed(self._closed)
        self._last_change = time.monotonic()
        doc = pn.state.curdoc
        if doc is not None:
            self._documents.add(doc)
            doc.on_change(self._changed)
            doc.on_event(ConnectionLost, lambda event: _expire(doc))
            pn.state.onload(lambda: self._connected.add(doc))  # its page is connected and has drawn it
        if self._sweeper is None:  # on the server's event loop, where Bokeh discards sessions
            self._sweeper = PeriodicCallback(self.sweep, SESSION_CHECK_MS)
            self._sweeper.start()

    def sweep(self) -> None:
        """Ask every session whose page was connected and has gone to expire.

        The ``ConnectionLost`` event does that as a page's websocket closes, but not when Bokeh's keep-alive
        ping finds the socket closed first: it detaches the connection without the event, and the socket's
        own close then fails on the detached connection (an "Uncaught exception GET /ws" in the log). That
        left 2–4 of 20 sessions per load-benchmark round waiting the whole :data:`SESSION_LIFETIME_MS`.
        A page counts as connected once its document has loaded or a sweep has seen its connection.
        """
        for doc in list(self._documents):
            session = getattr(doc.session_context, "_session", None)
            if session is None or session.destroyed or session.expiration_requested:
                continue
            if session.connection_count > 0:
                self._connected.add(doc)
            elif doc in self._connected:
                session.request_expiration()

    def status(self) -> dict[str, int]:
        """The live count, and how many sessions Bokeh holds and of those are connected, expiring or blocked.

        Expiring: asked to expire, as their page has gone. Blocked: kept from expiring by a callback that
        holds or awaits the session's lock.

        Returns
        -------
        dict
            ``sessions`` (live), ``held`` (sessions Bokeh still holds), ``connected``, ``expiring``, ``blocked``.
        """
        sessions = (getattr(doc.session_context, "_session", None) for doc in list(self._documents))
        held = [session for session in sessions if session is not None and not session.destroyed]
        return {
            "sessions": self.live,
            "held": len(held),
            "connected": sum(session.connection_count > 0 for session in held),
            "expiring": sum(session.expiration_requested for session in held),
            "blocked": sum(session.expiration_blocked for session in held),
        }

    def _changed(self, event) -> None:
        self._last_change = time.monotonic()

    def _closed(self, session_context) -> None:
        with self._lock:
            self.live -= 1
            if self._trim_pending:
                return
            self._trim_pending = True
        # Sessions are discarded in batches, one per check: give the memory back once per batch.
        IOLoop.current().call_later(TRIM_DELAY_S, self._trim)

    def _trim(self) -> None:
        quiet = time.monotonic() - self._last_change
        if quiet < QUIET_S:  # a page is loading or a user acting: not now
            IOLoop.current().call_later(QUIET_S - quiet, self._trim)
            return
        with self._lock:
            self._trim_pending = False
        release_memory()


def release_memory() -> None:
    """Collect garbage and hand the freed heap back to the system (glibc's ``malloc_trim``; a no-op elsewhere).

    A closed session's objects are freed by Python, but the process keeps the pages they lived on: without
    this the server's resident memory stays at its peak after a burst of sessions.
    """
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _expire(doc) -> None:
    """Ask Bokeh to discard ``doc``'s session at its next check (its page has gone)."""
    session = getattr(doc.session_context, "_session", None)  # bokeh's BokehSessionContext keeps it here
    if session is not None:
        session.request_expiration()


class StatusHandler(RequestHandler):
    """``GET /nwb-ketamine/sessions``: the live session count and more (:meth:`SessionCount.status`)."""

    def initialize(self, count: SessionCount) -> None:
        """Tornado's per-request set-up: the count to report.

        Parameters
        ----------
        count : SessionCount
            The server's session count.
        """
        self.count = count

    def get(self) -> None:
        """Write the count."""
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps(self.count.status()))


def create_app(store: ArchiveStore, sessions: SessionCount | None = None):
    """A new session's page (called by the server once per browser session).

    Parameters
    ----------
    store : ArchiveStore
        The archive, shared between sessions.
    sessions : SessionCount, optional
        Counts the session while it lives.

    Returns
    -------
    panel.template.BootstrapTemplate or None
        None inside a served session (the page is already in the session's document), else the template.
    """
    pn.extension("tabulator", notifications=False)
    doc = pn.state.curdoc
    if doc is not None:  # Panel's own template variable: where the page's stylesheets come from
        doc.template_variables.setdefault(
            "dist_url", f"{pn.state.rel_path}/{LOCAL_DIST}" if pn.state.rel_path else LOCAL_DIST
        )
    app = ExplorerApp(store)
    apply_query(app, pn.state.session_args or {})  # first render already shows the URL's view
    pn.state.onload(app.sync_url)  # the browser's location is known once the page has loaded
    if sessions is not None:
        sessions.opened()
    template = app.template()
    if doc is None:
        return template
    # What Panel would do with the template returned (Viewable._modify_doc), with the document's models
    # frozen: one recompute of the document's model graph instead of one per root the template adds
    # (~0.17 s of the 0.46 s of server CPU this takes). A None return leaves the document as it is.
    with doc.models.freeze():
        template.server_doc(doc)
    return None


def is_loopback(address: str) -> bool:
    """Whether ``address`` is a loopback address or ``localhost``.

    Parameters
    ----------
    address
        A host name or an IP address.

    Returns
    -------
    bool
    """
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
    cache: str | Path | None = None,
    threaded: bool = False,
    start: bool = True,
):
    """Serve the explorer of ``archive``.

    Parameters
    ----------
    archive : str or Path
        Archive folder with a catalog, or an archive's http(s) URL (its catalog is fetched, or built and
        cached: :mod:`~nwb_ketamine.explorer.remotestore`; its files are read with range requests).
    port, address : int, str
        Where to listen (loopback by default).
    show : bool
        Open a browser tab.
    allow_remote : bool
        Required for a non-loopback ``address``; a warning is printed.
    validation_report : str or Path, optional
        JSON report of ``nwb-ketamine validate`` (default ``ARCHIVE/.nwb-ketamine/validation.json``).
    cache : str or Path, optional
        Cache root of a remote archive's catalog (default ``$XDG_CACHE_HOME/nwb-ketamine/remote``).
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
    store = ArchiveStore(archive, validation_report=validation_report, cache=cache)
    if store.url is not None:
        print(f"remote archive {store.url}: catalog in {store.catalog}")
    # The first NWB file opened imports pynwb and the extension (seconds): do it now, not on the first click.
    threading.Thread(target=_preload, name="nwb-ketamine-preload", daemon=True).start()
    if not is_loopback(address):
        served = store.label if store.url else store.archive
        message = f"serving {served} on {address}:{port}: anyone who can reach it can read the archive"
        warnings.warn(message, stacklevel=2)
        print(f"WARNING: {message}")
    origins = [f"127.0.0.1:{port}", f"localhost:{port}"] if is_loopback(address) else ["*"]
    sessions = SessionCount()
    return pn.serve(
        {"/": lambda: create_app(store, sessions)},
        extra_patterns=[(STATUS_PATH, StatusHandler, {"count": sessions})],
        check_unused_sessions_milliseconds=SESSION_CHECK_MS,
        keep_alive_milliseconds=0,  # Bokeh's own ping: see PING_INTERVAL_S
        websocket_ping_interval=PING_INTERVAL_S,
        unused_session_lifetime_milliseconds=SESSION_LIFETIME_MS,
        port=port,
        address=address,
        show=show,
        websocket_origin=origins,
        title="nwb-ketamine explorer",
        threaded=threaded,
        start=start,
        print_url=True,
    )
