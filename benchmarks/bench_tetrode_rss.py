"""Peak RSS of the tetrode raw conversion with the Open Ephys sample-number check unmapping what it read (B)
or keeping it mapped (A, the old check verbatim:
4 Mi-sample blocks, pages left resident).

Usage: ``python benchmarks/bench_tetrode_rss.py [--minutes 10] [--rounds 2] [--seed 0]``

The session of ``bench_tetrode_convert.py`` (16 channels, 30 kHz, default codec, raw only) is converted in a
fresh subprocess per run, alternating A/B; each run prints its peak RSS (the child's ``ru_maxrss``), wall time
and the load average, then the medians and B/A.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_tetrode_convert as tetrode  # noqa: E402

OLD_CHECK = """
import numpy as np
import nwb_ketamine.converters.source_checks as checks
def _old_check_increasing(path):  # the check before this change, verbatim: 4 Mi-sample blocks, nothing unmapped
    values = np.load(path, mmap_mode="r")
    for start in range(0, len(values), 1 << 22):
        block = np.asarray(values[start : start + (1 << 22) + 1])
        steps = np.diff(block)
        bad = np.flatnonzero(steps <= 0)
        if bad.size:
            raise checks.ConversionError(f"{path}: sample numbers go back")
checks._check_increasing = _old_check_increasing
"""


def main() -> None:
    """Run the alternating rounds and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        study = tetrode.simulate(tmp / "study", args.minutes, args.seed)
        peaks: dict[str, list[float]] = {"A": [], "B": []}
        for r in range(args.rounds):
            for mode in ("A", "B") if r % 2 == 0 else ("B", "A"):
                out = tmp / "out.nwb"
                out.unlink(missing_ok=True)
                script = (OLD_CHECK if mode == "A" else "") + tetrode.OURS
                t0 = time.perf_counter()
                peaks[mode].append(tetrode.peak_rss(script, study, out, "auto", "default"))
                label = "A pages kept    " if mode == "A" else "B pages released"
                print(f"round {r + 1} {label}: peak RSS {peaks[mode][-1]:5.0f} MB  {time.perf_counter() - t0:5.1f} s"
                      f"  load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
        a, b = statistics.median(peaks["A"]), statistics.median(peaks["B"])
        print(f"median peak RSS A {a:.0f} MB, B {b:.0f} MB, B/A = {b / a:.3f} ({args.minutes:g} min, 16 ch, 30 kHz)")


if __name__ == "__main__":
    main()
