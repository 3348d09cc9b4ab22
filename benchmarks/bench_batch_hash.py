"""Batch sessions with the sources hashed after conversion (A, the old flow) or while converting (B).

Usage: ``python benchmarks/bench_batch_hash.py STUDY.yaml [--invivo N] [--slice N] [--rounds R]``

Runs :func:`nwb_ketamine.archive.batch.convert_session` in this process on the first N in vivo and N slice
sessions of a study, into a fresh archive each round, alternating A and B (A's hashing is the old
``describe_sources`` after validation), and prints each round's wall time with the load average, then the
B/A ratio of the medians. Both flows write manifests with identical sha256 (checked).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from nwb_ketamine.archive import batch
from nwb_ketamine.archive.manifest import SourceHashes, describe_sources
from nwb_ketamine.metadata import SliceSession, load_study


class _HashAfter:
    """The old flow: nothing while converting, a second read of every source at the end."""

    def __init__(self, paths, known=None):
        self.paths, self.known = paths, known

    def result(self):
        return describe_sources(self.paths, self.known)


def _round(study_path, keys, mode):
    batch.SourceHashes = _HashAfter if mode == "A" else SourceHashes
    archive = Path(tempfile.mkdtemp(prefix=f"bench_hash_{mode}_"))
    try:
        t0 = time.perf_counter()
        results = [batch.convert_session(str(study_path), k, str(archive), threads=os.cpu_count()) for k in keys]
        seconds = time.perf_counter() - t0
    finally:
        shutil.rmtree(archive, ignore_errors=True)
    bad = [r for r in results if r.status != "converted"]
    if bad:
        raise SystemExit(f"{bad[0].path}: {bad[0].message}")
    return seconds, {s["path"]: s["sha256"] for r in results for s in r.record["sources"]}


def main() -> None:
    """Run the alternating rounds and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study")
    parser.add_argument("--invivo", type=int, default=2)
    parser.add_argument("--slice", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    study = load_study(args.study, check_files=False)
    invivo = [s.key for s in study.sessions if not isinstance(s, SliceSession)][: args.invivo]
    slices = [s.key for s in study.sessions if isinstance(s, SliceSession)][: args.slice]
    keys = invivo + slices
    print(f"{len(invivo)} in vivo + {len(slices)} slice sessions of {args.study}, {os.cpu_count()} cores")
    times: dict[str, list[float]] = {"A": [], "B": []}
    hashes = {}
    for r in range(args.rounds):
        for mode in ("A", "B") if r % 2 == 0 else ("B", "A"):
            seconds, hashes[mode] = _round(args.study, keys, mode)
            times[mode].append(seconds)
            label = "A hash after " if mode == "A" else "B hash during"
            print(f"round {r + 1} {label}: {seconds:7.2f} s   load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    assert hashes["A"] == hashes["B"], "the two flows recorded different sha256"
    a, b = statistics.median(times["A"]), statistics.median(times["B"])
    print(f"median A {a:.2f} s, B {b:.2f} s, B/A = {b / a:.3f} (identical sha256 for {len(hashes['A'])} sources)")


if __name__ == "__main__":
    main()
