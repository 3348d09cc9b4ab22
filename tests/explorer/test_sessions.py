"""Sessions of a served explorer, through Bokeh's own client (a websocket, no browser).

A session built for a websocket alone is what a page got when its websocket came after Bokeh had dropped
the session made for the page (20 pages at once on 2 cores): that session asked the public CDN for
Panel's stylesheets. Every session now takes them from the server; the server counts its live sessions
and drops a session once its page has gone.
"""

import json
import os
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.browser.conftest import free_port, start_server

pytestmark = pytest.mark.slow

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def server_status(url: str) -> dict:
    with OPENER.open(f"{url}/nwb-ketamine/sessions", timeout=30) as response:
        return json.load(response)


def live_sessions(url: str) -> int:
    return server_status(url)["sessions"]


def wait_for(condition, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def with_session(url: str, use):
    """Open a session of ``url`` with Bokeh's client, call ``use(session)``, close it; return what ``use`` did.

    All in a thread of its own: the client runs an event loop, and an earlier test (Playwright, Panel) may
    have left one running in this thread.
    """
    from bokeh.client import pull_session

    def run():
        session = pull_session(url=url)
        try:
            return use(session)
        finally:
            session.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result(timeout=180)


@pytest.fixture(scope="module")
def server(tiny_archive):
    """``nwb-ketamine explore`` in a subprocess: its URL and its process."""
    port = free_port()
    proc = start_server(tiny_archive, port)
    yield f"http://127.0.0.1:{port}", proc
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def served(server):
    return server[0]


def test_a_websocket_only_session_takes_panels_stylesheets_from_the_server(served):
    import panel.models.tabulator  # noqa: F401  (the client must know the page's models to read the document)
    from bokeh.models import ImportedStyleSheet

    import nwb_ketamine.explorer.history  # noqa: F401  (the Back/Forward listener's model)

    urls = with_session(
        f"{served}/",
        lambda session: sorted({str(m.url) for m in session.document.models if isinstance(m, ImportedStyleSheet)}),
    )
    assert urls, "the explorer's page has no imported stylesheets: the test no longer looks at anything"
    assert all(url.startswith("/static/") for url in urls), [u for u in urls if not u.startswith("/static/")]


def test_the_server_counts_sessions_and_drops_one_when_its_page_goes(served):
    import panel.models.tabulator  # noqa: F401

    import nwb_ketamine.explorer.history  # noqa: F401

    assert wait_for(lambda: live_sessions(served) == 0)
    assert with_session(f"{served}/", lambda session: live_sessions(served)) == 1
    assert wait_for(lambda: live_sessions(served) == 0, timeout=12)
    status = with_session(f"{served}/", lambda session: server_status(served))
    assert status["sessions"] == status["connected"] == 1 and status["expiring"] == 0, status
    # Bokeh's default would keep it 15 s and look every 17 s; ours goes at the next check (2 s)
    assert wait_for(lambda: live_sessions(served) == 0, timeout=12)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator is used on Linux only")
@pytest.mark.skipif("PYTHONMALLOC" in os.environ, reason="the user's PYTHONMALLOC is kept")
def test_the_server_runs_on_glibcs_allocator_in_the_process_the_user_started(server):
    url, proc = server
    environ = Path(f"/proc/{proc.pid}/environ").read_bytes().split(b"\0")
    assert b"PYTHONMALLOC=malloc" in environ  # the command restarted itself in place: same PID, answering
    assert live_sessions(url) >= 0


def test_the_allocator_the_user_chose_is_kept(monkeypatch):
    from nwb_ketamine.explorer.allocator import use_system_allocator

    monkeypatch.setenv("PYTHONMALLOC", "pymalloc_debug")
    monkeypatch.setattr(os, "execve", lambda *a: pytest.fail(f"restarted although PYTHONMALLOC was set: {a}"))
    use_system_allocator(["explore", "somewhere"])


class _Session:
    """Stands in for Bokeh's ServerSession: the four attributes the sweep reads and the one it calls."""

    def __init__(self, connections: int) -> None:
        self.destroyed = False
        self.connection_count = connections
        self.expiration_requested = False

    def request_expiration(self) -> None:
        self.expiration_requested = True


class _Document:
    def __init__(self, session: _Session) -> None:
        self.session_context = type("Context", (), {"_session": session})()


def test_the_sweep_ends_sessions_whose_page_was_connected_and_went_without_a_connection_lost_event():
    from nwb_ketamine.explorer.server import SessionCount

    count = SessionCount()
    loaded, seen, open_, never = _Session(0), _Session(1), _Session(1), _Session(0)
    documents = [_Document(session) for session in (loaded, seen, open_, never)]
    count._documents.update(documents)  # what opened() does for each new session
    count._connected.add(documents[0])  # what the page's onload does
    count.sweep()
    seen.connection_count = 0  # Bokeh's keep-alive ping found the socket closed and detached it
    count.sweep()
    assert loaded.expiration_requested and seen.expiration_requested
    assert not open_.expiration_requested
    assert not never.expiration_requested  # still waiting for its page: kept for the session lifetime
