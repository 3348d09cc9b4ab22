"""Archives served over HTTP(S): listing, stat and random-access reads with range requests.

DANDI serves assets from S3, which answers HTTP range requests; an HDF5 file opened through a seekable
file-like object reads only the blocks its metadata and the requested datasets live in. fsspec's
``HTTPFileSystem`` gives such an object (``blockcache``: fixed-size blocks fetched on demand and kept),
so no remote file is downloaded whole. A plain HTTP server cannot list a folder reliably, so the files
of a remote archive are found, in this order, in the manifest ``convert`` keeps
(``.nwb-ketamine/manifest.json``), in the ``files.json`` index a catalog build writes, or in an HTML
directory listing.
"""

from __future__ import annotations

import json
from urllib.parse import urljoin

from nwb_ketamine.errors import NwbKetamineError

#: Bytes per range request. HDF5 metadata is scattered in small pieces; 256 KiB keeps the requests few
#: without reading much more than needed from large files.
BLOCK_SIZE = 256 * 1024


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


def http_filesystem():
    """A fresh fsspec HTTP filesystem (one per process: its aiohttp session does not cross processes)."""
    import fsspec

    return fsspec.filesystem("http", skip_instance_cache=True)


def open_remote(url: str, fs=None, block_size: int = BLOCK_SIZE, cache_type: str = "blockcache", size=None):
    """A seekable, read-only file object on ``url`` that fetches blocks with range requests.

    Parameters
    ----------
    url
        The file's URL.
    fs
        An fsspec HTTP filesystem (default: :func:`http_filesystem`).
    block_size
        Bytes per range request.
    cache_type
        fsspec's cache of the file (``blockcache``: blocks fetched on demand and kept; see
        ``benchmarks/bench_remote_readers.py`` for the others).
    size
        The file's size when known (the catalog's): saves the HEAD request that asks for it.

    Returns
    -------
    file object
    """
    fs = fs or http_filesystem()
    extra = {"size": int(size)} if size else {}
    return fs.open(url, "rb", block_size=block_size, cache_type=cache_type, **extra)


def stat_remote(url: str, fs=None) -> dict:
    """Size and change markers (ETag, Last-Modified) of ``url`` from one HEAD request.

    Parameters
    ----------
    url
        The file's URL.
    fs
        An fsspec HTTP filesystem (default: :func:`http_filesystem`).

    Returns
    -------
    dict
        ``size``, ``etag`` and ``modified``.
    """
    fs = fs or http_filesystem()
    info = fs.info(url)
    return {"size": info.get("size"), "etag": info.get("ETag") or "", "modified": info.get("Last-Modified") or ""}


def _get_json(fs, url: str):
    try:
        with fs.open(url, "rb", block_size=0) as f:
            return json.loads(f.read())
    except (FileNotFoundError, OSError, ValueError):
        return None


def list_remote_nwb_files(url: str, *, index_paths: tuple[str, ...], fs=None) -> list[str]:
    """Paths (relative to ``url``) of the NWB files of a remote archive.

    ``index_paths`` are JSON files, relative to the archive, tried in order: a dict with ``outputs`` (the
    convert manifest) or ``files`` (the catalog's index), or a list of paths. Without any, the archive's
    HTML directory listing is walked.

    Parameters
    ----------
    url
        The archive's URL.
    index_paths
        The index files to try.
    fs
        An fsspec HTTP filesystem (default: :func:`http_filesystem`).

    Returns
    -------
    list of str

    Raises
    ------
    RemoteArchiveError
        When there is no index and the archive cannot be listed.
    """
    fs = fs or http_filesystem()
    root = base_url(url)
    for index in index_paths:
        data = _get_json(fs, urljoin(root, index))
        if isinstance(data, dict):
            data = data.get("outputs") or data.get("files")
        if data:
            return sorted(p for p in data if str(p).endswith(".nwb"))
    try:
        found = fs.find(root)
    except (FileNotFoundError, OSError) as error:
        raise RemoteArchiveError(f"{url}: cannot list the archive ({error}); serve a manifest or a listing") from None
    paths = sorted({f[len(root) :] for f in found if f.startswith(root) and f.endswith(".nwb")})
    return [p for p in paths if not any(part.startswith(".") for part in p.split("/"))]


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
