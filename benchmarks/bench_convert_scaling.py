"""Batch conversion scaling: the same study converted with 1 and with 2 Dask workers, in the same run.

Prints wall times and the speed-up ratio (goal: 2 workers >= 1.7x one worker on 2 cores). Usage::

    python benchmarks/bench_convert_scaling.py [--size paper] [--study STUDY.yaml]
"""

import argparse
import tempfile
import time
from pathlib import Path

from nwb_ketamine.archive.batch import convert_study
from nwb_ketamine.simulate import simulate_study


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="paper")
    parser.add_argument("--study", type=Path, default=None, help="an existing study.yaml instead of simulating")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        study = args.study or simulate_study(tmp / "raw", seed=0, size=args.size, progress=False)
        seconds = {}
        for jobs in (1, 2):
            t0 = time.perf_counter()
            summary = convert_study(study, tmp / f"archive-{jobs}", jobs=jobs, progress=False, catalog=False,
                                    echo=lambda _: None)  # fmt: skip
            seconds[jobs] = time.perf_counter() - t0
            print(f"{jobs} worker(s): {seconds[jobs]:.1f} s for {summary.count('converted')} sessions "
                  f"({summary.count('failed')} failed)")  # fmt: skip
    print(f"speed-up with 2 workers: {seconds[1] / seconds[2]:.2f}x (goal >= 1.7x)")


if __name__ == "__main__":
    main()
