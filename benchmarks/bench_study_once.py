"""Batch sessions on Dask with the study file re-read by every task (A, the old flow) or parsed once (B).

Usage: ``python benchmarks/bench_study_once.py STUDY.yaml [--sessions N] [--jobs J] [--rounds R] [--stub]``

Each round starts a fresh local cluster of J worker processes (so a worker's first parse counts, as it does
in a real run), then converts the first N sessions of the study into a fresh archive with
:func:`nwb_ketamine.archive.batch.convert_session`: A hands each task the study file's path (every task
loads and validates it again), B parses it once in the driver and hands each task
that study cut down to its session (what ``convert_study`` does).
Rounds alternate A/B (ABBA...); each prints its wall time (cluster start excluded) with the load average,
then the medians and the B/A ratio. Both flows must record the same metadata digests (checked).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from nwb_ketamine.archive.batch import NO_DASHBOARD, convert_session, study_for_session
from nwb_ketamine.metadata import load_study


def _round(study, keys, mode, jobs, stub):
    from dask.distributed import Client, LocalCluster

    archive = Path(tempfile.mkdtemp(prefix=f"bench_once_{mode}_"))
    cluster = LocalCluster(
        n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None, scheduler_kwargs=NO_DASHBOARD
    )
    client = Client(cluster)
    try:
        client.wait_for_workers(jobs)
        threads = max(1, (os.cpu_count() or 1) // jobs)
        t0 = time.perf_counter()
        ref = str(study.path) if mode == "A" else None
        parsed = load_study(study.path, check_files=False) if mode == "B" else study  # the driver's one parse
        by_key = {s.key: s for s in parsed.sessions}
        futures = [
            client.submit(
                convert_session,
                ref or study_for_session(parsed, by_key[k]),
                k,
                str(archive),
                stub=stub,
                threads=threads,
                pure=False,
            )
            for k in keys
        ]
        results = client.gather(futures)
        seconds = time.perf_counter() - t0
    finally:
        client.close()
        cluster.close()
        shutil.rmtree(archive, ignore_errors=True)
    bad = [r for r in results if r.status != "converted"]
    if bad:
        raise SystemExit(f"{bad[0].path}: {bad[0].message}")
    return seconds, {r.key: r.record["metadata_sha256"] for r in results}


def main() -> None:
    """Run the alternating rounds and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study")
    parser.add_argument("--sessions", type=int, default=24)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--stub", action="store_true", help="quick previews (the parse is then a larger share)")
    args = parser.parse_args()
    study = load_study(args.study, check_files=False)
    keys = [s.key for s in study.sessions][: args.sessions]
    print(f"{len(keys)} sessions of {args.study}, {args.jobs} workers, stub={args.stub}, {os.cpu_count()} cores")
    times: dict[str, list[float]] = {"A": [], "B": []}
    digests = {}
    for r in range(args.rounds):
        for mode in ("A", "B") if r % 2 == 0 else ("B", "A"):
            seconds, digests[mode] = _round(study, keys, mode, args.jobs, args.stub)
            times[mode].append(seconds)
            label = "A parsed per task" if mode == "A" else "B parsed once   "
            print(f"round {r + 1} {label}: {seconds:7.2f} s   load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    assert digests["A"] == digests["B"], "the two flows recorded different metadata digests"
    a, b = statistics.median(times["A"]), statistics.median(times["B"])
    print(f"median A {a:.2f} s, B {b:.2f} s, B/A = {b / a:.3f} ({len(keys)} sessions, same metadata digests)")


if __name__ == "__main__":
    main()
