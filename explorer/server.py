"""Serving the explorer: one page per browser session, loopback unless asked otherwise.

Design decisions:

- **Store → views → app.** One :class:`ArchiveStore` is loaded per server and shared read-only; every
  browser session gets its own :class:`~nwb_ketamine.explorer.app.ExplorerApp` (``pn.serve`` is given a
  function), so one user's measure, grouping and selection never leak into another's.
- **Loopback by default.** :func:`serve` refuses a non-loopback address unless ``allow_remote`` is given,
  and then warns: the app is read-only but shows whatever the archive holds.
- The first NWB file opened imports pynwb and loads its namespaces (seconds): :func:`serve` imports pynwb
  in the background at start, not on the first click.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import warnings
from pathlib import Path

import panel as pn

from nwb_ketamine.errors import NwbKetamineError
from nwb_ketamine.explorer.app import ExplorerApp
from nwb_ketamine.explorer.store import ArchiveStore
from nwb_ketamine.explorer.urlstate import apply_query

log = logging.getLogger(__name__)


def create_app(store: ArchiveStore):
    """A new session's page (called by the server once per browser session).

    Parameters
    ----------
    store : ArchiveStore
        The archive, shared between sessions.

    Returns
    -------
    panel.template.BootstrapTemplate
    """
    pn.extension("tabulator", notifications=False)
    app = ExplorerApp(store)
    apply_query(app, pn.state.session_args or {})  # first render already shows the URL's view
    pn.state.onload(app.sync_url)  # the browser's location is known once the page has loaded
    return app.template()


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
