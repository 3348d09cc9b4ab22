"""Batch conversion scaling: the same study converted with 1 and with 2 Dask workers, in the same run.

Both configurations are warmed first (one untimed conversion each: sources in the page cache, bytecode
compiled), then timed in alternating rounds (1, 2, then 2, 1, ...), each into a fresh archive, every
figure printed with the load average. Prints the median wall times and their ratio (goal: 2 workers
>= 1.7x one worker on 2 cores). Usage::

    python benchmarks/bench_convert_scaling.py [--size paper] [--study STUDY.yaml] [--rounds 2]
"""

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from nwb_ketamine.archive.batch import convert_study
from nwb_ketamine.simulate import simulate_study


def _run(study: Path, archive: Path, jobs: int) -> tuple[float, str]:
    """Convert ``study`` into a fresh ``archive`` with ``jobs`` workers; wall seconds and a summary."""
    shutil.rmtree(archive, ignore_errors=True)
    t0 = time.perf_counter()
    summary = convert_study(study, archive, jobs=jobs, progress=False, catalog=False, echo=lambda _: None)
    seconds = time.perf_counter() - t0
    shutil.rmtree(archive, ignore_errors=True)
    return seconds, f"{summary.count('converted')} sessions ({summary.count('failed')} failed)"


def main():
    """Run the benchmark (arguments from the command line)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="paper")
    parser.add_argument("--study", type=Path, default=None, help="an existing study.yaml instead of simulating")
    parser.add_argument("--rounds", type=int, default=2, help="timed rounds of each configuration")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        study = args.study or simulate_study(tmp / "raw", seed=0, size=args.size, progress=False)
        for jobs in (1, 2):
            seconds, what = _run(study, tmp / "archive", jobs)
            print(f"warm-up {jobs} worker(s): {seconds:.1f} s for {what}, not counted   load {os.getloadavg()[0]:.2f}")
        seconds: dict[int, list[float]] = {1: [], 2: []}
        for r in range(args.rounds):
            for jobs in (1, 2) if r % 2 == 0 else (2, 1):
                s, what = _run(study, tmp / "archive", jobs)
                seconds[jobs].append(s)
                print(f"round {r + 1}, {jobs} worker(s): {s:.1f} s for {what}   load {os.getloadavg()[0]:.2f}")
    one, two = statistics.median(seconds[1]), statistics.median(seconds[2])
    print(f"median 1 worker {one:.1f} s, 2 workers {two:.1f} s: speed-up {one / two:.2f}x (goal >= 1.7x)  "
          f"load {os.getloadavg()[0]:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
