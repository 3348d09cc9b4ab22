"""Time to open the explorer's cell and unit detail views, stage by stage, against a pynwb full read.

Usage::

    python benchmarks/bench_detail_views.py ARCHIVE [--cells 3] [--units 3]

ARCHIVE is a converted archive with its catalog (e.g. one made by ``bench_catalog.py`` or the demo at
``/tmp/demo/archive``). For each of the first ``--cells`` cells and ``--units`` units (each in a different
file where possible, every file seen for the first time, so nothing is served from the open-file cache)
it prints, in seconds:

- ``baseline``: ``NWBHDF5IO(load_namespaces=True).read()`` of the same file (the reference: what opening a
  view cost when it went through pynwb's full object construction);
- ``read``: ``CellView(store, key).data()`` / ``UnitView(store, key).data()``: constructing the view and
  reading what it shows (:func:`cellread.cell_sweeps` / :func:`unitread.unit_spikes`);
- ``build``: the view's ``__panel__()`` with the data already read;
- ``render``: ``get_root`` of that layout into a fresh bokeh Document (what the server does to show it);
- ``total`` = read + build + render, and ``ratio`` = ``total / baseline``;
- ``open_nwb``: :func:`nwbfiles.open_nwb` of the same file (pynwb's full read, still used by the generic
  "any NWB file" view; it skips loading the file's cached namespaces when the same versions are loaded),
  not part of ``total``; compare it with ``baseline`` for what skipping the namespaces saves.

The baseline runs after the view, on the same file, so both see a warm OS page cache. The first item is
also run once more untimed at the start (imports, first bokeh models).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def _time(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def baseline(path) -> float:
    from pynwb import NWBHDF5IO

    start = time.perf_counter()
    with NWBHDF5IO(str(path), mode="r", load_namespaces=True) as io:
        io.read()
    return time.perf_counter() - start


def first_per_file(frame, key: str, n: int):
    """Keys of ``n`` items, one per file while there are files left."""
    frame = frame.drop_duplicates(key)
    firsts = frame.drop_duplicates("file")
    keys = list(firsts[key])[:n]
    keys += [k for k in frame[key] if k not in keys][: n - len(keys)]
    return keys


def run(kind: str, store, key: str) -> dict:
    import bokeh.document

    from nwb_ketamine.explorer import nwbfiles
    from nwb_ketamine.explorer.cell import CellView
    from nwb_ketamine.explorer.unit import UnitView

    cls = CellView if kind == "cell" else UnitView
    file = store.cell(key)["file"] if kind == "cell" else store.unit(key)["file"].iloc[0]
    path = store.path_of(file)

    def read_view():
        view = cls(store, key)
        view.data()
        return view

    view, read = _time(read_view)
    layout, build = _time(view.__panel__)
    _, render = _time(lambda: layout.get_root(bokeh.document.Document()))
    _, open_nwb = _time(lambda: nwbfiles.open_nwb(path))
    nwbfiles.close_all()
    base = baseline(path)
    total = read + build + render
    return {"view": kind, "key": key, "baseline": base, "open_nwb": open_nwb, "read": read, "build": build,
            "render": render, "total": total, "ratio": total / base}  # fmt: skip


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("archive", type=Path)
    parser.add_argument("--cells", type=int, default=3)
    parser.add_argument("--units", type=int, default=3)
    args = parser.parse_args(argv)

    from nwb_ketamine.explorer import nwbfiles
    from nwb_ketamine.explorer.store import ArchiveStore

    store = ArchiveStore(args.archive)
    cells = first_per_file(store.cells, "cell_key", args.cells + 1)
    units = first_per_file(store.units, "unit_key", args.units + 1)
    # Warm-up on an extra item of each kind (imports, first bokeh/HoloViews plot classes), not reported.
    run("cell", store, cells.pop())
    run("unit", store, units.pop())
    nwbfiles.close_all()
    results = [run("cell", store, k) for k in cells] + [run("unit", store, k) for k in units]
    columns = ["baseline", "open_nwb", "read", "build", "render", "total", "ratio"]
    print(f"{'view':5} {'key':40} " + " ".join(f"{c:>8}" for c in columns))
    for r in results:
        print(f"{r['view']:5} {r['key'][:40]:40} " + " ".join(f"{r[c]:8.3f}" for c in columns))
    for kind in ("cell", "unit"):
        rs = [r for r in results if r["view"] == kind]
        if rs:
            mean = {c: sum(r[c] for r in rs) / len(rs) for c in columns}
            print(f"{kind:5} {'mean':40} " + " ".join(f"{mean[c]:8.3f}" for c in columns))


if __name__ == "__main__":
    main()
