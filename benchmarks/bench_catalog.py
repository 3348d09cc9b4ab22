"""Catalog build rate (files per second) and incremental refresh after touching one file.

Usage::

    python benchmarks/bench_catalog.py [--size paper|small|tiny] [--archive PATH] [--workdir DIR] [--jobs 2]

Without ``--archive`` the study is simulated and converted into ``WORKDIR/archive`` (in vivo files
without raw data); an existing archive there, or the one given, is reused. Prints numbers and ratios;
goals (issue 6): catalog >= 20 files/s, a refresh after touching one file rereads only that file.
The full build swings ~2x with the page cache, so each round times it cold (the files' pages evicted with
``posix_fadvise``, the share evicted printed) and then warm, in-process and on Dask in alternating order,
every figure with the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from nwb_ketamine.archive.catalog import build_catalog


def convert(workdir: Path, size: str) -> Path:
    """Simulate a study of ``size`` and convert it into ``WORKDIR/archive`` (no raw data); return the archive.

    Parameters
    ----------
    workdir
        Where to simulate and convert.
    size
        The simulated study's size.

    Returns
    -------
    Path
    """
    from nwb_ketamine.converters.abf import AbfSliceConverter
    from nwb_ketamine.converters.invivo import InVivoConverter
    from nwb_ketamine.metadata import load_study
    from nwb_ketamine.simulate import simulate_study

    archive = workdir / "archive"
    start = time.perf_counter()
    study = load_study(simulate_study(workdir / "raw", seed=0, size=size, progress=False))
    for s in study.slice_sessions:
        AbfSliceConverter(study, s).run_conversion(archive / f"sub-{s.subject}" / f"{s.key}_icephys.nwb")
    for s in study.invivo_sessions:
        path = archive / f"sub-{s.subject}" / f"{s.key}_ecephys.nwb"
        InVivoConverter(study, s, include_raw=False).run_conversion(path)
    print(f"converted {len(study.slice_sessions)} cells + {len(study.invivo_sessions)} sessions "
          f"in {time.perf_counter() - start:.1f} s")  # fmt: skip
    return archive


def evict(files: list[Path]) -> float:
    """Drop the files' pages from the page cache (``POSIX_FADV_DONTNEED``, best effort, needs no root).

    Parameters
    ----------
    files
        The NWB files.

    Returns
    -------
    float
        The share of their bytes no longer resident afterwards (from ``mincore`` via ``fincore`` when
        available, else 1.0 assumed).
    """
    import subprocess

    for path in files:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)  # dirty pages cannot be dropped
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    try:
        out = subprocess.run(["fincore", "-b", "-n", "-o", "RES,SIZE", *map(str, files)], capture_output=True,
                             text=True, check=True).stdout.split()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return 1.0
    res, size = sum(map(int, out[0::2])), sum(map(int, out[1::2]))
    return 1.0 - res / size if size else 1.0


def main() -> None:
    """Run the benchmark (arguments from the command line)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="paper", choices=("paper", "small", "tiny"))
    parser.add_argument("--archive", type=Path, help="an existing archive to catalogue")
    parser.add_argument("--workdir", type=Path, help="where to simulate and convert (default: a temporary folder)")
    parser.add_argument("--jobs", type=int, default=2, help="workers of the LocalCluster run")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of in-process and Dask builds")
    args = parser.parse_args()

    archive = args.archive
    if archive is None:
        workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-catalog-"))
        archive = workdir / "archive"
        if not any(archive.glob("sub-*/*.nwb")):
            archive = convert(workdir, args.size)
    files = sorted(archive.glob("sub-*/*.nwb"))
    print(f"archive {archive}: {len(files)} NWB files, {sum(f.stat().st_size for f in files) / 1e6:.0f} MB")

    from dask.distributed import Client, LocalCluster

    start = time.perf_counter()
    cluster = LocalCluster(n_workers=args.jobs, threads_per_worker=1, processes=True, dashboard_address=None)
    rates: dict[tuple[str, str], list[float]] = {}
    with cluster, Client(cluster) as client:
        startup = time.perf_counter() - start
        client.run(lambda: __import__("nwb_ketamine.archive.catalog"))  # warm the workers' imports
        build_catalog(archive, progress=False, full=True)  # warm this process's imports (not counted)
        runs = {"in-process": None, f"{args.jobs} Dask workers": client}
        for r in range(args.rounds):
            for how in list(runs) if r % 2 == 0 else list(runs)[::-1]:
                for cache in ("cold", "warm"):
                    if cache == "cold":
                        evicted = evict(files)
                    result = build_catalog(archive, client=runs[how], progress=False, full=True)
                    rate = len(result.read) / result.seconds
                    rates.setdefault((how, cache), []).append(rate)
                    note = f" ({evicted:.0%} of the bytes evicted)" if cache == "cold" else ""
                    print(f"round {r + 1} full build, {how:15s} {cache} page cache: {result.seconds:6.2f} s "
                          f"{rate:6.1f} files/s   load {os.getloadavg()[0]:.2f}{note}")  # fmt: skip
    print(f"(cluster start-up {startup:.1f} s not included)")
    for (how, cache), values in rates.items():
        print(f"median full build, {how:15s} {cache}: {statistics.median(values):6.1f} files/s")
    rate = max(statistics.median(v) for v in rates.values())

    result = build_catalog(archive, progress=False)
    print(f"refresh, nothing changed:        {result.seconds:6.2f} s  files reread = {len(result.read)}")

    touched = files[len(files) // 2]
    st = touched.stat()
    os.utime(touched, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    result = build_catalog(archive, progress=False)
    print(f"refresh, one file touched:       {result.seconds:6.2f} s  files reread = {len(result.read)} "
          f"({result.read[0] if result.read else '-'})")  # fmt: skip
    print(f"goal >= 20 files/s: {'met' if rate >= 20 else 'NOT met'} (best median {rate:.1f})  "
          f"load {os.getloadavg()[0]:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
