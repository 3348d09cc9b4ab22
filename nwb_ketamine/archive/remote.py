"""Archives served over HTTP(S): listing, stat and random-access reads with range requests.

DANDI serves assets from S3, which answers HTTP range requests; an HDF5 file opened through a seekable
file-like object reads only the blocks its metadata and the requested datasets live in. :func:`open_remote`
gives such an object, for the catalog's reads and the explorer's alike: a remfile file (chunks of
:data:`BLOCK_SIZE` or more, grown on sequential reads, kept) that fetches in the calling thread. fsspec's
HTTP file fetched on its event-loop thread, where a garbage collection that frees an h5py object waits for
the h5py lock the reading thread holds (h5py#2019: a benchmark run hung at 0 % CPU); remfile also made
fewer requests at every block size (``benchmarks/bench_remote_readers.py``). Every request for a block
is checked before its body is read: a server that ignores ``Range`` (200, the whole file) is closed
unread, so no remote file is downloaded whole. Small files (indexes, listings, the served catalog's
tables) are fetched with ``requests``.

A plain HTTP server cannot list a folder reliably, so the files of a remote archive are found, in this
order, in the manifest ``convert`` keeps (``.nwb-ketamine/manifest.json``), in the ``files.json`` index a
catalog build writes, or in an HTML directory listing.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
from html.parser import HTMLParser
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

from nwb_ketamine.errors import NwbKetamineError

#: Bytes per range request (remfile's minimum chunk). HDF5 metadata is scattered in small pieces; 256 KiB
#: keeps the requests few without reading much more than needed from large files.
BLOCK_SIZE = 256 * 1024

#: Seconds to wait for a connection or for the next bytes of an answer.
TIMEOUT = 60


class RemoteArchiveError(NwbKetamineError):
    """A remote archive cannot be listed or read."""


def is_url(location) -> bool:
    """Whether ``location`` is an http(s) URL rather than a local path.

    Parameters
    ----------
    location
        A path or a URL.

    Returns
    -------
    bool
    """
    return isinstance(location, str) and location.split("://", 1)[0].lower() in ("http", "https")


def base_url(url: str) -> str:
    """The archive URL with exactly one trailing slash, so relative paths join under it.

    Parameters
    ----------
    url
        The archive's URL.

    Returns
    -------
    str
    """
    return url.rstrip("/") + "/"


_sessions: dict[int, object] = {}


def _session():
    """The ``requests`` session of this process (kept-alive connections; a session does not cross a fork)."""
    import requests

    session = _sessions.get(os.getpid())
    if session is None:
        session = _sessions[os.getpid()] = requests.Session()
    return session


def _request(method: str, url: str, **kwargs):
    """``method`` on ``url``, redirects followed; a failed connection is a :class:`RemoteArchiveError`."""
    import requests

    try:
        return _session().request(method, url, allow_redirects=True, timeout=TIMEOUT, **kwargs)
    except requests.RequestException as error:
        raise RemoteArchiveError(f"{url}: cannot connect ({type(error).__name__}: {_reason(error)})") from None


def _reason(error: Exception) -> str:
    """The innermost reason of a ``requests`` error (e.g. ``Connection refused``), on one line."""
    text = str(error)
    for marker in ("] ", "Errno "):
        if marker in text:
            text = text.rsplit(marker, 1)[1]
    return text.split("\n")[0].rstrip("')\"")


def fetch_bytes(url: str) -> bytes | None:
    """The whole body of a small file at ``url`` (an index, a catalog table), or None when it is not there.

    Parameters
    ----------
    url
        The file's URL.

    Returns
    -------
    bytes or None
        None for 404 (and 403, S3's answer for a missing key in a bucket that cannot be listed).

    Raises
    ------
    RemoteArchiveError
        When the server cannot be reached or answers another error.
    """
    response = _request("GET", url)
    if response.status_code in (403, 404):
        return None
    if response.status_code != 200:
        raise RemoteArchiveError(f"{url}: {response.status_code} {response.reason}")
    return response.content


def fetch_json(url: str):
    """The JSON document at ``url``, or None when it is not there or not JSON.

    Parameters
    ----------
    url
        The document's URL.

    Returns
    -------
    object or None

    Raises
    ------
    RemoteArchiveError
        When the server cannot be reached or answers an error other than "not found".
    """
    data = fetch_bytes(url)
    if data is None:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


def stat_remote(url: str) -> dict:
    """Size and change markers (ETag, Last-Modified) of ``url`` from one HEAD request.

    Parameters
    ----------
    url
        The file's URL.

    Returns
    -------
    dict
        ``size``, ``etag`` and ``modified``.

    Raises
    ------
    RemoteArchiveError
        When the file is not there, the server cannot be reached or gives no size.
    """
    response = _request("HEAD", url)
    length = response.headers.get("Content-Length")
    if response.status_code != 200 or length is None:
        found = f"{response.status_code} {response.reason}" if response.status_code != 200 else "no Content-Length"
        raise RemoteArchiveError(f"{url}: no size from a HEAD request ({found})")
    return {
        "size": int(length),
        "etag": response.headers.get("ETag") or "",
        "modified": response.headers.get("Last-Modified") or "",
    }


def _remfile_module():
    import remfile  # noqa: F401  (the package first: it binds its submodule)

    return importlib.import_module("remfile.RemFile")


@functools.cache
def _not_retried() -> type[Exception]:
    """An error remfile raises at once instead of retrying it (a 4xx; the whole file answered)."""
    base = getattr(_remfile_module(), "_PermanentHTTPError", Exception)

    class NotRetried(RemoteArchiveError, base):  # type: ignore[valid-type, misc]
        """A :class:`RemoteArchiveError` remfile does not retry."""

    return NotRetried


class _RangeSession:
    """The session remfile fetches blocks with: each answer is checked before its body is read.

    A server that ignores ``Range`` answers 200 with the whole file: that answer is closed unread and
    reported (remfile would read it all, find it too long and retry). The requests go through the process's
    session (:func:`_session`), so the files of one server share its kept-alive connections.
    """

    def __init__(self, url: str):
        self.url = url
        self.session = _session()
        self.error = _not_retried()

    def get(self, url, headers=None, **kwargs):
        """A GET with a ``Range`` header, answered 206 or raising.

        Parameters
        ----------
        url
            The file's URL.
        headers
            The request's headers (remfile's, with ``Range``).
        **kwargs
            Passed to :meth:`requests.Session.get`.

        Returns
        -------
        requests.Response
            Its body read.
        """
        response = self.session.get(url, headers=headers, stream=True, timeout=TIMEOUT, **kwargs)
        if response.status_code != 206:
            response.close()  # unread: a 200 would be the whole file
            asked = (headers or {}).get("Range", "")
            if response.status_code == 200:
                raise self.error(f"{self.url}: the server does not answer range requests (200 to Range: {asked})")
            raise self.error(f"{self.url}: {response.status_code} {response.reason} (Range: {asked})")
        response.content  # noqa: B018  (the block, read here)
        return response


def open_remote(url: str, size: int | None = None, block_size: int = BLOCK_SIZE):
    """A seekable, read-only file object on ``url`` that fetches blocks with range requests (remfile).

    Reads run in the calling thread (one fetch thread: none of remfile's own), so h5py's lock is never
    waited for by a thread of the reader.

    Parameters
    ----------
    url
        The file's URL.
    size
        The file's size when known (the catalog's): saves the HEAD request that asks for it (remfile's
        own way is a GET it aborts, which a server may answer with more of the file than needed).
    block_size
        remfile's minimum chunk: bytes per range request at least.

    Returns
    -------
    file object
        With ``read``, ``seek``, ``tell`` and ``close``; a failed read raises :class:`RemoteArchiveError`.

    Raises
    ------
    RemoteArchiveError
        When the file is not there or the server cannot be reached.
    """
    size = int(size) if size is not None else stat_remote(url)["size"]
    return _remote_file_class()(url, size, int(block_size))


@functools.cache
def _remote_file_class() -> type:
    """The remfile file class with checked range requests and errors that name the URL (built on first use)."""
    import remfile

    class RemoteFileObject(remfile.File):
        """remfile's file over :class:`_RangeSession`; a failed read names the URL.

        Parameters
        ----------
        url
            The file's URL.
        size
            Its size in bytes.
        block_size
            remfile's minimum chunk.
        """

        def __init__(self, url: str, size: int, block_size: int):
            super().__init__(url, _size=size, _min_chunk_size=block_size, _max_threads=1, _use_session=False)
            self.session = _RangeSession(url)

        def read(self, size=None):
            """``size`` bytes from the position (remfile's read), fetched with range requests.

            Parameters
            ----------
            size
                Bytes to read.

            Returns
            -------
            bytes
            """
            try:
                return super().read(size)
            except RemoteArchiveError as error:  # the session's (remfile's not-retried kind): names the URL
                raise RemoteArchiveError(str(error)) from None
            except Exception as error:
                message = str(error).splitlines()[0] if str(error) else type(error).__name__
                raise RemoteArchiveError(f"{self._url}: {message}") from error

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            self.close()

    return RemoteFileObject


class _Links(HTMLParser):
    """The ``href`` of every link of an HTML page."""

    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        """Keep the ``href`` of an ``a`` tag.

        Parameters
        ----------
        tag
            The tag's name.
        attrs
            Its (name, value) attributes.
        """
        if tag == "a":
            self.hrefs.extend(value for name, value in attrs if name == "href" and value)


def _walk_listing(root: str) -> list[str]:
    """URLs of the files under ``root`` in its HTML directory listings (subfolders followed, never up)."""
    found, todo, seen = set(), [root], {root}
    while todo:
        page = todo.pop()
        data = fetch_bytes(page)
        if data is None:
            continue
        parser = _Links()
        parser.feed(data.decode("utf-8", "replace"))
        for href in parser.hrefs:
            link = urldefrag(urljoin(page, href))[0].split("?", 1)[0]
            if not link.startswith(page) or link == page:
                continue  # the parent, another host, sorting links
            if link.endswith("/"):
                if link not in seen:
                    seen.add(link)
                    todo.append(link)
            else:
                found.add(link)
    return sorted(found)


def list_remote_nwb_files(url: str, *, index_paths: tuple[str, ...]) -> list[str]:
    """Paths (relative to ``url``) of the NWB files of a remote archive.

    ``index_paths`` are JSON files, relative to the archive, tried in order: a dict with ``outputs`` (the
    convert manifest) or ``files`` (the catalog's index), or a list of paths. Without any, the archive's
    HTML directory listing is walked (none at ``url``: no files).

    Parameters
    ----------
    url
        The archive's URL.
    index_paths
        The index files to try.

    Returns
    -------
    list of str

    Raises
    ------
    RemoteArchiveError
        When the server cannot be reached or answers an error other than "not found".
    """
    root = base_url(url)
    for index in index_paths:
        data = fetch_json(urljoin(root, index))
        if isinstance(data, dict):
            data = data.get("outputs") or data.get("files")
        if data:
            return sorted(p for p in data if str(p).endswith(".nwb"))
    paths = sorted({unquote(urlsplit(f).path)[len(unquote(urlsplit(root).path)) :] for f in _walk_listing(root)})
    return [p for p in paths if p.endswith(".nwb") and not any(part.startswith(".") for part in p.split("/"))]


class RemoteFile:
    """A file of a remote archive, as the explorer's store hands it out instead of a local path.

    It has no ``__fspath__``: code that would open it as a local file fails instead of reading a path
    named like a URL. :func:`nwb_ketamine.explorer.nwbfiles.h5_file` opens it with range requests.

    Parameters
    ----------
    url
        The file's URL.
    size
        Its size in bytes, when known (saves the HEAD request that asks for it).
    version
        What identifies this version of the file (ETag, Last-Modified): the key of the explorer's caches.

    Attributes
    ----------
    url, size, version
        As given.
    name, stem
        The last part of the URL's path, with and without its suffix (like :class:`pathlib.Path`'s).
    """

    def __init__(self, url: str, size: int | None = None, version: str = ""):
        self.url = url
        self.size = size
        self.version = version

    @property
    def name(self) -> str:
        """The file's name (the URL's last path part, unquoted)."""
        from urllib.parse import unquote, urlsplit

        return unquote(urlsplit(self.url).path.rsplit("/", 1)[-1])

    @property
    def stem(self) -> str:
        """The file's name without its suffix."""
        return self.name.rsplit(".", 1)[0] if "." in self.name else self.name

    def __eq__(self, other) -> bool:
        return isinstance(other, RemoteFile) and (self.url, self.version) == (other.url, other.version)

    def __hash__(self) -> int:
        return hash((self.url, self.version))

    def __repr__(self) -> str:
        return f"RemoteFile({self.url!r})"

    def __str__(self) -> str:
        return self.url
