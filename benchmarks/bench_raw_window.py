"""Raw-window benchmark on a real 1 h, 16-channel, 30 kHz recording converted by our own pipeline.

The explorer's goal is "read and downsample any 10 s window of a 1 h 16-channel recording in < 300 ms".
This builds that file the way users get it — ``simulate_study(size="large")`` writes the 1 h Open Ephys
session (about 3.5 GB), ``convert_session`` (the batch converter's per-session task) converts it with raw
data — and then times :func:`nwb_ketamine.explorer.rawread.raw_window` on random 10 s windows spread over
the whole hour, all 16 channels, default ``max_points``.

Prints numbers, never asserts on time. As for the other benchmarks, the machine is noisy, so every window
is also read by a baseline in the same process — the plain I/O floor: h5py slicing of the same samples
(same rows, all channels; no decimation, no time lookup, no metadata) — and the ratio raw_window / baseline
is printed along with the absolute times.

The conversion runs in a child process (multiprocessing ``spawn``) that reports its own peak resident
memory (``VmHWM`` from ``/proc/self/status``) when it is done; the parent polls the child's ``VmRSS`` for
the progress lines. Conversion time, peak memory and file size are kept in ``DATA/conversion.json`` and
printed again when a rerun reuses the file.

Cold reads: dropping the page cache needs root. The "cold" case evicts this file's pages with
``posix_fadvise(POSIX_FADV_DONTNEED)`` (best effort; ``fincore`` reports how much stayed resident) and
re-opens the file, then times the first read; the "first read after opening" of a warm file is printed
too. Usage::

    python benchmarks/bench_raw_window.py [--data DATA] [--windows 30] [--seed 0]

DATA keeps the simulated study (``DATA/study``) and the converted session (``DATA/archive``), so a rerun with
the same DATA skips the ~3 minutes of generation and conversion. Without ``--data`` a temporary folder is
used and removed at the end. Needs ~7 GB of free disk.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import multiprocessing
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

WINDOW_S = 10.0
LONG_S = 3_000.0  # an in vivo session at least this long is "the 1 h session" of the large study


def proc_status_kb(pid: int | str, field: str) -> int | None:
    """A ``kB`` field (``VmHWM``, ``VmRSS``) of /proc/<pid>/status, or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def long_session(study_path: Path):
    """The 1 h in vivo session of a ``large`` simulated study (the longest one, by its epochs)."""
    from nwb_ketamine.metadata import load_study

    study = load_study(study_path, check_files=False)
    sessions = [(max((e.stop for e in s.epochs), default=0.0), s) for s in study.invivo_sessions]
    length, session = max(sessions, key=lambda pair: pair[0])
    if length < LONG_S:
        raise SystemExit(f"{study_path}: no in vivo session of >= {LONG_S:.0f} s (simulate with --size large)")
    return session


def _convert_child(study: str, key: str, archive: str, threads: int | None, conn) -> None:
    """Runs in the spawned child: convert one session, then report the result and this process's own peak."""
    before_kb = proc_status_kb("self", "VmHWM")  # after the interpreter start, before importing the pipeline
    from nwb_ketamine.archive.batch import convert_session

    imported_kb = proc_status_kb("self", "VmHWM")
    result = convert_session(study, key, archive, include_raw=True, threads=threads)
    conn.send(
        {
            "status": result.status,
            "message": result.message,
            "path": result.path,
            "seconds": result.seconds,
            "vmhwm_start_kb": before_kb,
            "vmhwm_imported_kb": imported_kb,
            "vmhwm_kb": proc_status_kb("self", "VmHWM"),
        }
    )
    conn.close()


def partial_bytes(archive: Path) -> int:
    """Bytes of the temporary files a conversion is writing (``atomic_path``'s hidden ``.partial`` names)."""
    from nwb_ketamine.archive.batch import PARTIAL_SUFFIXES

    if not archive.exists():
        return 0
    total = 0
    for p in archive.rglob(".*"):
        with contextlib.suppress(FileNotFoundError):  # renamed into place meanwhile
            total += p.stat().st_size if p.is_file() and p.suffix in PARTIAL_SUFFIXES else 0
    return total


def convert_long_session(study: Path, archive: Path, threads: int | None) -> dict:
    """Convert the 1 h session in a spawned child, printing progress; return what the child measured."""
    session = long_session(study)
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_convert_child, args=(str(study), session.key, str(archive), threads, send))
    t0 = time.perf_counter()
    child.start()
    send.close()
    print(f"converting {session.key} (raw data included) in child process {child.pid} ...", flush=True)
    peak_seen_kb = 0
    while not receive.poll(10.0):
        if not child.is_alive():
            raise SystemExit(f"conversion child exited with code {child.exitcode} without a result")
        rss = proc_status_kb(child.pid, "VmRSS") or 0
        peak_seen_kb = max(peak_seen_kb, proc_status_kb(child.pid, "VmHWM") or 0)
        written = partial_bytes(archive)
        print(f"  {time.perf_counter() - t0:5.0f} s: {written / 1e9:.2f} GB written, child RSS {rss / 1024:.0f} MB, "
              f"load {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
    out = receive.recv()
    child.join()
    out["wall_seconds"] = time.perf_counter() - t0
    out["vmhwm_polled_kb"] = peak_seen_kb
    out["session"] = session.key
    if out["status"] != "converted":
        raise SystemExit(f"conversion {out['status']}: {out['message']}")
    nwb = archive / out["path"]
    out["file_bytes"] = nwb.stat().st_size
    raw = [p for p in Path(session.raw_path).rglob("*") if p.is_file()]
    out["raw_bytes"] = sum(p.stat().st_size for p in raw)
    out["samples_bytes"] = sum(p.stat().st_size for p in raw if p.name == "continuous.dat")
    return out


def build(data: Path, threads: int | None) -> tuple[Path, dict]:
    """The converted 1 h NWB file under ``data`` and the conversion record; simulates and converts as needed."""
    from nwb_ketamine.simulate import simulate_study

    study = data / "study" / "study.yaml"
    if study.exists():
        print(f"reusing the simulated study {study}")
    else:
        print(f"simulating the large study into {study.parent} (about 1.5 min, 3.5 GB for the 1 h session) ...")
        t0 = time.perf_counter()
        simulate_study(study.parent, seed=0, size="large", progress=True)
        print(f"simulated in {time.perf_counter() - t0:.0f} s")
    record_path = data / "conversion.json"
    if record_path.exists():
        record = json.loads(record_path.read_text())
        if (data / "archive" / record["path"]).exists():
            print(f"reusing the converted session {data / 'archive' / record['path']} (measured when it was converted)")
            return data / "archive" / record["path"], record
    record = convert_long_session(study, data / "archive", threads)
    record_path.write_text(json.dumps(record, indent=1))
    return data / "archive" / record["path"], record


def print_conversion(record: dict) -> None:
    mb = 1 / 1024
    print(f"conversion of {record['session']} (convert_session, one process, all cores compressing):")
    print(f"  time: {record['seconds']:.1f} s inside the child ({record['wall_seconds']:.1f} s with process start)")
    print(f"  peak memory (VmHWM of the converting process): {record['vmhwm_kb'] * mb:.0f} MB "
          f"(after imports: {record['vmhwm_imported_kb'] * mb:.0f} MB; bare interpreter: "
          f"{record['vmhwm_start_kb'] * mb:.0f} MB; highest polled by the parent: "
          f"{record['vmhwm_polled_kb'] * mb:.0f} MB)")  # fmt: skip
    print(f"  NWB file: {record['file_bytes'] / 1e9:.2f} GB from {record['samples_bytes'] / 1e9:.2f} GB of int16 "
          f"samples ({record['samples_bytes'] / record['file_bytes']:.2f}x smaller; the raw folder with Open Ephys's "
          f"sample_numbers and timestamps is {record['raw_bytes'] / 1e9:.2f} GB)")  # fmt: skip


def resident(path: Path) -> str:
    """How much of ``path`` is in the page cache, according to ``fincore`` ('?' without it)."""
    if not shutil.which("fincore"):
        return "?"
    out = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES,SIZE", str(path)],
                         capture_output=True, text=True)  # fmt: skip
    try:
        res, size = (int(v) for v in out.stdout.split())
    except ValueError:
        return "?"
    return f"{100 * res / size:.0f}%"


def evict(path: Path) -> None:
    """Ask the kernel to drop ``path``'s clean pages from the page cache (no root needed; best effort)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def baseline_read(dataset, i0: int, i1: int) -> float:
    """The I/O floor: h5py slicing of rows ``[i0, i1)``, all channels; seconds."""
    start = time.perf_counter()
    dataset[i0:i1]
    return time.perf_counter() - start


def timed_raw_window(path: Path, t0: float, direct: bool = True) -> tuple[float, dict]:
    """raw_window's time: ``direct`` decodes chunks with the fast codec, else h5py slices (the former path)."""
    from nwb_ketamine.explorer.rawread import raw_window

    start = time.perf_counter()
    out = raw_window(path, t0, t0 + WINDOW_S, direct=direct)
    return time.perf_counter() - start, out


def ms(seconds) -> str:
    return f"{1e3 * seconds:.0f} ms"


def summary(label: str, ours: list[float], base: list[float], h5: list[float] | None = None) -> None:
    ratios = [r / b for r, b in zip(ours, base, strict=True)]
    print(f"{label} (load average {os.getloadavg()[0]:.1f}):")
    print(f"  raw_window:                 median {ms(statistics.median(ours))}, max {ms(max(ours))} (goal < 60 ms "
          "warm; direct chunk reads, fast decoder)")  # fmt: skip
    if h5 is not None:
        print(f"  raw_window(direct=False):   median {ms(statistics.median(h5))}, max {ms(max(h5))} (h5py slicing, "
              f"the path before; per window h5py/direct median "
              f"{statistics.median([h / r for h, r in zip(h5, ours, strict=True)]):.2f}x)")  # fmt: skip
    print(f"  baseline (h5py slice only): median {ms(statistics.median(base))}, max {ms(max(base))}")
    print(f"  raw_window / baseline:      median {statistics.median(ratios):.2f}x, max {max(ratios):.2f}x "
          f"(per window; ratio of medians {statistics.median(ours) / statistics.median(base):.2f}x)")  # fmt: skip


def warm_up(path: Path) -> None:
    """Read the whole file once, so that its pages are in the page cache."""
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def measure(path: Path, n_windows: int, n_cold: int, seed: int) -> None:
    from nwb_ketamine.explorer.chunkread import clear_cache
    from nwb_ketamine.explorer.nwbfiles import close_all, open_nwb
    from nwb_ketamine.gzipcodec import get_codec

    def _raw_series(nwbfile):
        return next(s for s in nwbfile.acquisition.values() if type(s).__name__ == "ElectricalSeries")

    close_all()
    dataset = _raw_series(open_nwb(path)).data
    rate = float(_raw_series(open_nwb(path)).rate)
    n_samples, n_channels = dataset.shape
    duration = n_samples / rate
    chunk_rows = dataset.chunks[0]
    chunk_mb = chunk_rows * n_channels * dataset.dtype.itemsize / 1e6
    cache_mib = dataset.id.get_access_plist().get_chunk_cache()[1] / 2**20
    print(f"\n{path.name}: {n_channels} channels x {duration:.0f} s at {rate:.0f} Hz, {dataset.dtype}, chunks "
          f"{dataset.chunks} ({chunk_rows / rate:.1f} s, {chunk_mb:.1f} MB each), {dataset.compression} "
          f"{dataset.compression_opts}, shuffle={dataset.shuffle}; HDF5 chunk cache {cache_mib:.0f} MiB")  # fmt: skip

    def rows(t0: float) -> tuple[int, int]:
        # The same rows raw_window reads (it clips to the recording the same way).
        i0 = int(np.clip(math.floor(t0 * rate), 0, n_samples))
        return i0, int(np.clip(math.ceil((t0 + WINDOW_S) * rate), i0, n_samples))

    readers = ("raw_window", "raw_window_h5py", "baseline")

    def both(t0: float, k: int, before) -> tuple[float, float, dict, float]:
        """Time raw_window (direct and h5py) and the baseline on the window at ``t0``, the order rotating."""
        out = {}
        for which in readers[k % 3 :] + readers[: k % 3]:
            before()
            # Empty the dataset's HDF5 chunk cache (H5Drefresh) and the direct reader's decoded chunks: no read
            # reuses chunks another one decompressed.
            _raw_series(open_nwb(path)).data.refresh()
            clear_cache()
            if which == "baseline":
                out[which] = baseline_read(_raw_series(open_nwb(path)).data, *rows(t0))
            elif which == "raw_window":
                out[which], result = timed_raw_window(path, t0)
            else:
                out[which], _ = timed_raw_window(path, t0, direct=False)
        return out["raw_window"], out["baseline"], result, out["raw_window_h5py"]

    print(f"direct chunk reads decode with {get_codec(reading=True).name}")
    load = os.getloadavg()
    print(f"load average {load[0]:.1f} on {os.cpu_count()} cores (other processes make single reads slow: compare "
          "raw_window with the baseline measured alongside)")  # fmt: skip

    # Fresh random positions over the whole hour, plus the very last window (the edge chunk).
    rng = np.random.default_rng(seed)
    starts = list(rng.uniform(0.0, duration - WINDOW_S, n_windows - 1)) + [duration - WINDOW_S]
    cold_starts = list(rng.uniform(0.0, duration - WINDOW_S, n_cold))

    # Opening: pynwb reads the file's structure once; the explorer then keeps it open (open_nwb's cache).
    close_all()
    evict(path)
    print(f"file evicted from the page cache with posix_fadvise; resident now: {resident(path)}")
    start = time.perf_counter()
    open_nwb(path)
    t_open_cold = time.perf_counter() - start
    close_all()
    start = time.perf_counter()
    open_nwb(path)
    t_open_warm = time.perf_counter() - start
    print(f"opening the file with pynwb (once per file, then kept open): {ms(t_open_cold)} evicted, "
          f"{ms(t_open_warm)} again")  # fmt: skip

    # Cold: the file's pages evicted and the chunk cache emptied before every read; the file already open.
    timed = [both(t0, k, lambda: evict(path)) for k, t0 in enumerate(cold_starts)]
    summary(f"\ncold: {n_cold} random 10 s windows, file evicted from the page cache before every read",
            [t[0] for t in timed], [t[1] for t in timed], [t[3] for t in timed])  # fmt: skip

    # Warm page cache, chunk cache emptied before every read: what a user sees once the file was read.
    warm_up(path)
    print(f"\nfile read once into the page cache; resident now: {resident(path)}")
    timed = [both(t0, k, lambda: None) for k, t0 in enumerate(starts)]
    for _, _, out, _ in timed:
        assert out["data_uv"].shape[1] == n_channels and out["decimated"]
    points = timed[0][2]["data_uv"].shape[0]
    summary(f"warm: {len(starts)} random 10 s windows over the hour (last at {starts[-1]:.0f} s), {n_channels} "
            f"channels, default max_points -> {points} points per channel", [t[0] for t in timed],
            [t[1] for t in timed], [t[3] for t in timed])  # fmt: skip
    print(f"  windows at: {', '.join(f'{t:.0f}' for t in sorted(starts))} s")

    # Panning back: the same window again, its chunks still in HDF5's chunk cache.
    again = [timed_raw_window(path, starts[0])[0] for _ in range(6)][1:]
    again_h5 = [timed_raw_window(path, starts[0], direct=False)[0] for _ in range(6)][1:]
    print(f"\nsame window again, its chunks cached: raw_window median {ms(statistics.median(again))} (decoded-chunk "
          f"LRU), direct=False {ms(statistics.median(again_h5))} (HDF5's chunk cache)")  # fmt: skip
    close_all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="folder to keep (and reuse) the study and the file")
    parser.add_argument("--windows", type=int, default=30, help="random 10 s windows to time (default 30)")
    parser.add_argument("--cold", type=int, default=6, help="windows read with the file evicted (default 6)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the window positions (default: fresh)")
    parser.add_argument("--threads", type=int, default=None, help="compression threads (default: all cores)")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little")
    data = args.data or Path(tempfile.mkdtemp(prefix="bench-raw-window-"))
    data.mkdir(parents=True, exist_ok=True)
    try:
        path, record = build(data, args.threads)
        print_conversion(record)
        print(f"window positions: seed {seed}")
        measure(path, max(2, args.windows), max(1, args.cold), seed)
    finally:
        if args.data is None:
            shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
