"""10 s raw windows, A/B in one process: the window reader at a git revision (A) against this tree (B).

Usage::

    python benchmarks/bench_window_rows.py FILE.nwb [--windows 20] [--rounds 4] [--baseline REV]
    python benchmarks/bench_window_rows.py FILE.nwb --file-b OTHER.nwb [--baseline WORKTREE]

A is ``explorer/rawread.py``, ``explorer/chunkread.py`` and ``nwb_ketamine/gzipcodec.py`` as of ``--baseline``
(default ``HEAD``), loaded from git into this process (``WORKTREE``: this tree, for comparing two files with
the same code); B is this tree. With ``--file-b``, B reads OTHER.nwb (the same samples written another way,
e.g. another chunk length) instead of FILE.nwb. Both decode with the same codec; the decoded-chunk cache of
each is emptied before every timed window (as ``bench_raw_window.py`` does); the page cache is warm (both
files read once first). Every round reads the same random 10 s windows (all channels, default
``max_points``), A and B one after the other on each window, the order alternating from window to window
(the load of this shared machine drifts within seconds); printed: the medians per round with the load
average, then over all reads, B/A and the median of the per-window B/A, and the CPU time per read (all
threads, ``time.process_time``: less swayed by other processes than wall time). The two return identical samples
(checked).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np

from nwb_ketamine.explorer import chunkread, rawread

ROOT = Path(__file__).resolve().parents[1]


def _module(name: str, text: bytes, **patch) -> types.ModuleType:
    module = sys.modules[name] = types.ModuleType(name)
    exec(compile(text, name, "exec"), module.__dict__)
    module.__dict__.update(patch)
    return module


def old_reader(rev: str) -> tuple[types.ModuleType, types.ModuleType]:
    """(rawread, chunkread) as of ``rev``, each using the other's and gzipcodec's code of ``rev``."""

    def source(path):
        return subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:{path}"], check=True, capture_output=True).stdout

    codec = _module("old_gzipcodec", source("nwb_ketamine/gzipcodec.py"))
    old_chunkread = _module("old_chunkread", source("explorer/chunkread.py"))
    for name in ("unshuffle", "unshuffle_elements", "get_codec", "Codec"):
        if hasattr(codec, name) and name in old_chunkread.__dict__:
            old_chunkread.__dict__[name] = getattr(codec, name)
    old_rawread = _module("old_rawread", source("explorer/rawread.py"), direct_reader=old_chunkread.direct_reader)
    return old_rawread, old_chunkread


def warm(path: str) -> None:
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def main() -> None:
    """Run the alternating rounds and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--file-b", default=None, help="B reads this file (the same samples) instead of FILE")
    parser.add_argument("--windows", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--baseline", default="HEAD", help="git revision of A's code, or WORKTREE (this tree)")
    args = parser.parse_args()
    old = (rawread, chunkread) if args.baseline == "WORKTREE" else old_reader(args.baseline)
    files = {"A": args.file, "B": args.file_b or args.file}
    readers = {"A": old, "B": (rawread, chunkread)}
    for path in set(files.values()):
        warm(path)
    duration = rawread.raw_window(args.file, 0, 1)["duration_s"]
    starts = np.random.default_rng(0).uniform(0, max(0.0, duration - 10), args.windows)
    print(f"A: {args.baseline} on {files['A']}\nB: this tree on {files['B']}\n{len(starts)} windows of 10 s over "
          f"{duration:.0f} s; {os.cpu_count()} cores")  # fmt: skip
    outputs: dict[str, dict] = {"A": {}, "B": {}}
    for mode, (reader, _) in readers.items():
        reader.raw_window(files[mode], 0, 1)  # not timed: opens the file (and builds B's cached layout)
    times: dict[str, list[float]] = {"A": [], "B": []}
    cpu: dict[str, list[float]] = {"A": [], "B": []}  # CPU time of all threads: less swayed by other processes
    for r in range(args.rounds):
        for k, t in enumerate(starts):
            # A and B read the same window one after the other, the order alternating: the machine's load
            # drifts over seconds, and both see the same.
            for mode in ("A", "B") if (r + k) % 2 == 0 else ("B", "A"):
                reader, chunks = readers[mode]
                chunks.clear_cache()
                c0, t0 = time.process_time(), time.perf_counter()
                out = reader.raw_window(files[mode], t, t + 10)
                times[mode].append(time.perf_counter() - t0)
                cpu[mode].append(time.process_time() - c0)
                outputs[mode][t] = out["data_uv"]
        n = len(starts)
        a, b = statistics.median(times["A"][-n:]), statistics.median(times["B"][-n:])
        print(f"round {r + 1}: median A {1000 * a:6.1f} ms, B {1000 * b:6.1f} ms over {n} windows, B/A {b / a:.3f}"
              f"  load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
    for t in starts:
        np.testing.assert_array_equal(outputs["A"][t], outputs["B"][t])
    a, b = statistics.median(times["A"]), statistics.median(times["B"])
    ratio = statistics.median([y / x for x, y in zip(times["A"], times["B"], strict=True)])
    print(f"all {len(times['A'])} reads: median A {1000 * a:.1f} ms, B {1000 * b:.1f} ms, B/A = {b / a:.3f} "
          f"(median of per-window B/A {ratio:.3f}; identical windows; load {os.getloadavg()[0]:.2f})")  # fmt: skip
    a, b = statistics.median(cpu["A"]), statistics.median(cpu["B"])
    print(f"CPU time per read (all threads): median A {1000 * a:.1f} ms, B {1000 * b:.1f} ms, B/A = {b / a:.3f}")


if __name__ == "__main__":
    main()
