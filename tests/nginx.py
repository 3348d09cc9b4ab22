"""A real web server for the tests and benchmarks of remote archives: Debian's nginx, run as this user.

nginx answers ``Range`` for static files by default (206 + Content-Range, one range per request), sends
ETag and Last-Modified, and lists folders with ``autoindex``, as DANDI's S3 answers the readers. Each
instance has its own prefix, configuration, pid file, temp folders and logs in a folder of its own, listens
on 127.0.0.1 on a free port and runs in the foreground (``daemon off``) as a subprocess that :meth:`stop`
ends; started as root, its worker runs as root too (nginx would switch it to ``nobody``, who cannot read
pytest's 0700 temp folders). The access log has one line per request with ``$body_bytes_sent`` and the
``Range`` header, from which :meth:`Nginx.transfers` counts what a reader fetched.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

#: One access-log line: method, path, status, body bytes sent, the Range header.
LOG_FORMAT = "'$request_method $uri $status $body_bytes_sent \"$http_range\"'"

CONFIG = """daemon off;
worker_processes 1;
{user}
pid {work}/nginx.pid;
error_log {work}/error.log;
events {{ worker_connections 256; }}
http {{
    log_format ranges {log_format};
    access_log {work}/access.log ranges;
    client_body_temp_path {work}/tmp/body;
    proxy_temp_path {work}/tmp/proxy;
    fastcgi_temp_path {work}/tmp/fastcgi;
    uwsgi_temp_path {work}/tmp/uwsgi;
    scgi_temp_path {work}/tmp/scgi;
    types {{ application/json json; text/html html; }}
    default_type application/octet-stream;
    keepalive_requests 100000;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        autoindex on;
{locations}
    }}
}}
"""


@dataclass
class Request:
    """One line of the access log."""

    method: str
    path: str
    status: int
    bytes: int
    range: str


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _opener():
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxy of the environment


class Nginx:
    """nginx serving ``root`` on 127.0.0.1 with its own files in ``work``; a context manager.

    Parameters
    ----------
    root
        The folder served at ``/``.
    work
        A folder of its own (configuration, pid, logs, temp folders).
    locations
        Extra ``location`` blocks of the server.
    """

    def __init__(self, root: Path, work: Path, locations: str = ""):
        self.root, self.work = Path(root), Path(work)
        (self.work / "tmp").mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = self.work / "access.log"
        user = ""
        if os.geteuid() == 0:
            user = f"user {pwd.getpwuid(os.getuid()).pw_name} {grp.getgrgid(os.getgid()).gr_name};"
        config = CONFIG.format(
            user=user, work=self.work, port=self.port, root=self.root, locations=locations, log_format=LOG_FORMAT
        )
        self.config = self.work / "nginx.conf"
        self.config.write_text(config)
        self.proc: subprocess.Popen | None = None

    def start(self) -> Nginx:
        """Start nginx and return once it answers (``RuntimeError`` with its error log when it does not)."""
        self.proc = subprocess.Popen(
            [NGINX, "-p", str(self.work), "-c", str(self.config), "-e", str(self.work / "error.log")],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.proc.stdout.read().decode()} {self._error_log()}")
            try:
                _opener().open(self.url, timeout=5).read()
                return self
            except urllib.error.HTTPError:
                return self  # it answers
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nginx did not answer on {self.url}: {self._error_log()}")

    def _error_log(self) -> str:
        path = self.work / "error.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        """Stop nginx (SIGTERM: fast shutdown) and wait for it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        self.proc = None

    def __enter__(self) -> Nginx:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------------------------ the access log
    def _sync(self) -> int:
        """Send a marker request and wait until the log has it: every request answered before is logged.

        Returns the log's length up to the marker's line.
        """
        marker = f"/__mark__/{uuid.uuid4().hex}"
        with contextlib.suppress(urllib.error.HTTPError):  # 404: logged like any other request
            _opener().open(self.url.rstrip("/") + marker, timeout=10).read()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            text = self.log.read_bytes() if self.log.exists() else b""
            at = text.find(f" {marker} ".encode())
            if at >= 0:
                return text.rfind(b"\n", 0, at) + 1
            time.sleep(0.02)
        raise RuntimeError(f"nginx did not log {marker}")

    def mark(self) -> int:
        """A position in the access log: what is answered after it is counted by :meth:`transfers`."""
        start = self._sync()
        text = self.log.read_bytes()
        return text.index(b"\n", start) + 1  # after the marker's own line

    def transfers(self, since: int) -> list[Request]:
        """The requests logged since :meth:`mark` returned ``since`` (markers left out).

        Parameters
        ----------
        since
            A position :meth:`mark` returned.
        """
        stop = self._sync()
        lines = self.log.read_bytes()[since:stop].decode().splitlines()
        out = []
        for line in lines:
            method, path, status, sent, rng = line.split(" ", 4)
            if not path.startswith("/__mark__/"):
                out.append(Request(method, path, int(status), int(sent), rng.strip('"').removeprefix("-")))
        return out
