"""Which reader opens the explorer's views of a remote archive with the fewest requests and bytes.

The tiny simulated study is converted (or ``--archive`` is used) and served by Debian's nginx on 127.0.0.1
(:mod:`tests.nginx`: range requests, its access log has ``$body_bytes_sent`` and the ``Range`` header).
Each view's reader then opens its file through the explorer's own code path
(:data:`nwb_ketamine.explorer.nwbfiles.REMOTE_READER`), cold (files, layouts and decoded chunks
forgotten, a new HTTP session), once per reader:

- fsspec's ``HTTPFile`` (opened here: the project itself reads with remfile only; needs the ``bench``
  extra, fsspec and aiohttp) with ``blockcache`` (fixed blocks fetched on demand and kept), ``readahead`` (one
  buffer, refilled), ``bytes`` (one growing span) at several block sizes;
- remfile (its minimum chunk at several sizes; chunks grow when reads are sequential);
- h5py's ros3 driver only when this h5py was built with it (``h5py.get_config().ros3``; Debian's and
  PyPI's h5py here: False, so it is reported and skipped).

For each view: requests (GET with a Range, HEAD, GET without a Range), bytes sent, the file's size and
their ratio. Views: ``cell`` (every sweep of one cell: :func:`~nwb_ketamine.explorer.cellread.cell_sweeps`),
``unit`` (one unit's spikes, waveforms, epochs: :func:`~nwb_ketamine.explorer.unitread.unit_spikes`),
``traces-1s`` and ``traces-10s`` (the first raw window of 1 s and of the recording's whole 10 s:
:func:`~nwb_ketamine.explorer.rawread.raw_window`), ``file`` (the generic view's pynwb read, metadata and
object tree, without its time-series plot). Prints numbers; asserts nothing. Usage::

    python benchmarks/bench_remote_readers.py [--archive ARCHIVE]
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.explorer.test_remote import cold, view_opens  # noqa: E402
from tests.nginx import Nginx  # noqa: E402

KIB = 1024
_fs = None  # the fsspec readers' HTTP filesystem; a new one (a new session) per cold open


def _fsspec_open(url: str, size: int | None, *, cache_type: str, block_size: int):
    """fsspec's HTTP file on ``url`` (``cache_type``, ``block_size``), as the explorer's other reader."""
    global _fs
    import fsspec

    if _fs is None:
        _fs = fsspec.filesystem("http", skip_instance_cache=True)
    extra = {"size": int(size)} if size else {}
    return _fs.open(url, "rb", block_size=block_size, cache_type=cache_type, **extra)


def _fsspec(cache_type: str, block_size: int) -> dict:
    opener = partial(_fsspec_open, cache_type=cache_type, block_size=block_size)
    return {"reader": "fsspec", "cache_type": cache_type, "block_size": block_size, "open": opener}


def _cold() -> None:
    """:func:`cold`, a new fsspec session, and the garbage of the last view collected here.

    Left to a later collection, that garbage (a closed view's pynwb IO, in reference cycles) may be freed on
    fsspec's event-loop thread, whose ``__del__`` then waits for the h5py lock the main thread holds while
    it waits for that thread's read: h5py#2019, seen here at fsspec/readahead 256 KiB's cell view (faulthandler).
    """
    global _fs
    cold()
    _fs = None
    gc.collect()


READERS = [
    *(_fsspec("blockcache", b * KIB) for b in (16, 64, 256, 512, 1024, 2048)),
    *(_fsspec("readahead", b * KIB) for b in (64, 256)),
    _fsspec("bytes", 256 * KIB),
    *({"reader": "remfile", "block_size": b * KIB} for b in (16, 64, 100, 256, 512, 1024)),
]


def _label(reader: dict) -> str:
    kind = reader["reader"] if reader["reader"] == "remfile" else f"fsspec/{reader['cache_type']}"
    return f"{kind} {reader['block_size'] // KIB} KiB"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--archive", type=Path, help="a converted archive with a catalog (default: the tiny study)")
    args = parser.parse_args(argv)
    import h5py

    import nwb_ketamine.extension  # noqa: F401  (pynwb and the namespaces loaded before timing anything)
    from nwb_ketamine.explorer import nwbfiles
    from nwb_ketamine.explorer.store import ArchiveStore

    print(f"h5py {h5py.__version__}: ros3 driver {'built' if h5py.get_config().ros3 else 'not built (skipped)'}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        archive = args.archive
        if archive is None:
            from nwb_ketamine.cli import main as cli
            from nwb_ketamine.simulate import simulate_study

            study = simulate_study(tmp / "tiny", seed=0, size="tiny", progress=False)
            archive = tmp / "served" / "archive"
            assert cli(["convert", str(study), str(archive), "--jobs", "1", "--quiet"]) == 0
        archive = archive.resolve()
        with Nginx(archive.parent, tmp / "nginx") as server:
            store = ArchiveStore(server.url + archive.name + "/", cache=tmp / "cache")
            sizes = {p: (archive / p).stat().st_size for p in store.sessions["file"]}
            views = view_opens(store, windows=(1.0, 10.0))
            print(f"{'reader':<26} {'view':<11} {'GET':>4} {'HEAD':>4} {'whole':>5} {'bytes':>9} {'size':>9} "
                  f"{'ratio':>6} {'s':>6}")  # fmt: skip
            totals = {}
            for reader in READERS:
                nwbfiles.REMOTE_READER = reader
                for name, (file_key, read) in views.items():
                    _cold()
                    mark = server.mark()
                    start = time.perf_counter()
                    read()
                    seconds = time.perf_counter() - start
                    _cold()  # closes the file object: a reader that fetches on close would count here
                    sent = [r for r in server.transfers(mark) if r.path.endswith(file_key)]
                    ranged = sum(1 for r in sent if r.method == "GET" and r.range)
                    heads = sum(1 for r in sent if r.method == "HEAD")
                    whole = sum(1 for r in sent if r.method == "GET" and not r.range)
                    size = sizes[file_key]
                    nbytes = sum(r.bytes for r in sent)
                    totals.setdefault(_label(reader), [0, 0])
                    totals[_label(reader)][0] += ranged + heads + whole
                    totals[_label(reader)][1] += nbytes
                    print(f"{_label(reader):<26} {name:<11} {ranged:>4} {heads:>4} {whole:>5} {nbytes:>9} {size:>9} "
                          f"{nbytes / size:>6.2f} {seconds:>6.2f}")  # fmt: skip
            print("\ntotals over the five view opens (requests, bytes):")
            for label, (requests, nbytes) in sorted(totals.items(), key=lambda kv: (kv[1][0], kv[1][1])):
                print(f"  {label:<26} {requests:>4} requests {nbytes:>10} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
