"""Min/max decimation of one 10 s window (16 channels, 30 kHz, int16), A/B in one process.

A is ``rawread.minmax_decimate`` as of ``--baseline`` (default ``HEAD``), loaded from git; B is this tree's.
The samples are those of a 10 s window of FILE's first raw ElectricalSeries when a file is given, else
Gaussian noise (sd 300). Bins as the traces view makes them (default ``max_points``: 150 samples per bin).
Rounds alternate AB/BA; printed: the median of each with the load average, and B/A. Outputs are checked
identical. Usage::

    python benchmarks/bench_decimate.py [FILE.nwb] [--rounds 15] [--baseline REV]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
import types
from pathlib import Path

import numpy as np

from nwb_ketamine.explorer import rawread

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    """Run the alternating rounds and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--baseline", default="HEAD")
    args = parser.parse_args()
    text = subprocess.run(["git", "-C", str(ROOT), "show", f"{args.baseline}:explorer/rawread.py"], check=True,
                          capture_output=True).stdout  # fmt: skip
    old = types.ModuleType("old_rawread")
    exec(compile(text, "old_rawread", "exec"), old.__dict__)
    n = 300_000
    if args.file:
        import h5py

        with h5py.File(args.file, "r") as f:
            group = next(g for g in f["acquisition"].values() if "data" in g and g["data"].ndim == 2)
            data = group["data"][1_000_000 : 1_000_000 + n]
    else:
        data = (np.random.default_rng(0).standard_normal((n, 16)) * 300).astype(np.int16)
    width = -(-n // 2000)
    np.testing.assert_array_equal(old.minmax_decimate(data, width)[1], rawread.minmax_decimate(data, width)[1])
    times: dict[str, list[float]] = {"A": [], "B": []}
    functions = {"A": old.minmax_decimate, "B": rawread.minmax_decimate}
    for r in range(args.rounds):
        for mode in ("A", "B") if r % 2 == 0 else ("B", "A"):
            t0 = time.perf_counter()
            functions[mode](data, width)
            times[mode].append(time.perf_counter() - t0)
    a, b = statistics.median(times["A"]), statistics.median(times["B"])
    print(f"{data.shape[0]} x {data.shape[1]} {data.dtype} ({'FILE' if args.file else 'noise'}), bins of {width}: "
          f"median A ({args.baseline}) {1e3 * a:.1f} ms, B {1e3 * b:.1f} ms, B/A {b / a:.2f} over {args.rounds} "
          f"alternating rounds; load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip


if __name__ == "__main__":
    main()
