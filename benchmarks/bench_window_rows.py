"""10 s raw windows with direct chunk reads that unshuffle only the rows asked for (B) or whole chunks (A).

Usage: ``python benchmarks/bench_window_rows.py FILE.nwb [--windows 20] [--rounds 4] [--baseline REV]``

A is ``explorer/chunkread.py`` and ``gzipcodec.unshuffle`` as of ``--baseline`` (default ``HEAD``), loaded
from git into this process; B is this tree. Both decode with the same codec; the decoded-chunk cache of each
is emptied before every timed window (as ``bench_raw_window.py`` does). Rounds alternate ABBA over the same
random 10 s windows (all channels, default ``max_points``) and print the median per round with the load
average, then the medians of the rounds and B/A. The two return identical arrays (checked).
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


def _old_module(rev: str) -> types.ModuleType:
    def source(path):
        return subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:{path}"], check=True, capture_output=True).stdout

    codec = sys.modules["old_gzipcodec"] = types.ModuleType("old_gzipcodec")
    exec(compile(source("nwb_ketamine/gzipcodec.py"), "old_gzipcodec", "exec"), codec.__dict__)
    old = sys.modules["old_chunkread"] = types.ModuleType("old_chunkread")
    text = source("explorer/chunkread.py").decode()
    exec(compile(text, "old_chunkread", "exec"), old.__dict__)
    old.unshuffle = codec.unshuffle  # the baseline's unshuffle too
    return old


def main() -> None:
    """Run the alternating rounds and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--windows", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--baseline", default="HEAD")
    args = parser.parse_args()
    old = _old_module(args.baseline)
    readers = {"A": (old.direct_reader, old.clear_cache), "B": (chunkread.direct_reader, chunkread.clear_cache)}
    duration = rawread.raw_window(args.file, 0, 1)["duration_s"]
    starts = np.random.default_rng(0).uniform(0, max(0.0, duration - 10), args.windows)
    outputs, medians = {}, {"A": [], "B": []}
    for r in range(args.rounds):
        for mode in ("A", "B") if r % 2 == 0 else ("B", "A"):
            rawread.direct_reader, clear = readers[mode]
            times = []
            for t in starts:
                clear()
                t0 = time.perf_counter()
                out = rawread.raw_window(args.file, t, t + 10)
                times.append(time.perf_counter() - t0)
                outputs.setdefault(mode, {})[t] = out["data_uv"]
            medians[mode].append(statistics.median(times))
            print(f"round {r + 1} {mode}: median {1000 * medians[mode][-1]:6.1f} ms over {len(starts)} windows"
                  f"  load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
    rawread.direct_reader = readers["B"][0]
    for t in starts:
        np.testing.assert_array_equal(outputs["A"][t], outputs["B"][t])
    a, b = statistics.median(medians["A"]), statistics.median(medians["B"])
    print(f"median A {1000 * a:.1f} ms, B {1000 * b:.1f} ms, B/A = {b / a:.3f} (identical windows)")


if __name__ == "__main__":
    main()
