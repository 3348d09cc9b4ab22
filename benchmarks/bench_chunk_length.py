"""Time-chunk length of the raw ElectricalSeries: 10 s window reads vs writing speed vs file size.

The raw writer (``converters/chunked.py``) chunks a tetrode recording along time, all channels per chunk.
A 10 s window of the explorer's traces view decodes every chunk it touches, whole: with ~10 MB chunks
(10.9 s of 16 channels at 30 kHz) that is two chunks, ~20 MB, for 9.6 MB of samples shown. Shorter chunks
decode less per window but mean more chunks (more direct-chunk writes and index entries) per file.

This writes the same samples — the first ``--minutes`` of the 1 h, 16-channel, 30 kHz simulated session
``bench_raw_window.py`` builds (``--data``), or of any Open Ephys ``continuous.dat`` given with ``--dat`` —
once per chunk size in ``--sizes`` (MiB) with the converters' own writer (``fill_dataset``: default codec,
all cores), and reports per size:

- writing: MB/s of int16 samples and CPU seconds of all threads (medians over ``--rounds`` alternating
  rounds; the source is read from the page cache), and the file's size against the first size's file;
- reading: ``read_raw_window`` (the explorer's decode + min/max decimation + µV scaling, all channels,
  default ``max_points``) through the direct chunk reader on the same random 10 s windows, the decoded-chunk
  cache emptied before every window, page cache warm (each file read once first); rounds alternate the
  order of the sizes; median wall and CPU time per window (CPU: all threads, steadier than wall time on a
  shared machine) and the CPU ratio to the first size, with the load average.

Every file's samples are checked identical to the source. Prints numbers, asserts nothing. Usage::

    python benchmarks/bench_chunk_length.py --data DATA [--minutes 20] [--sizes 10,5,2,1] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

from nwb_ketamine.converters.chunked import chunk_rows, fill_dataset
from nwb_ketamine.explorer import chunkread
from nwb_ketamine.explorer.rawread import read_raw_window

RATE = 30_000.0
WINDOW_S = 10.0


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def find_dat(data: Path) -> tuple[Path, int]:
    """The 1 h session's ``continuous.dat`` under ``DATA/study`` and its channel count (from structure.oebin)."""
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_raw_window import long_session

    session = long_session(data / "study" / "study.yaml")
    dat = next(Path(session.raw_path).rglob("continuous.dat"))
    return dat, oebin_channels(dat)


def oebin_channels(dat: Path) -> int:
    for parent in dat.parents:
        oebin = parent / "structure.oebin"
        if oebin.exists():
            return int(json.loads(oebin.read_text())["continuous"][0]["num_channels"])
    raise SystemExit(f"no structure.oebin above {dat}")


class Series:
    """The fields of an ElectricalSeries that ``read_raw_window`` uses, on a bare dataset."""

    def __init__(self, dset):
        self.data = chunkread.direct_reader(dset)
        self.rate, self.starting_time, self.conversion, self.offset = RATE, 0.0, 0.195e-6, 0.0
        self.channel_conversion = None


def write(path: Path, samples: np.ndarray, rows: int) -> tuple[float, float]:
    """Write ``samples`` chunked ``(rows, channels)`` with the converters' writer; (seconds, CPU seconds)."""
    path.unlink(missing_ok=True)
    c0, t0 = time.process_time(), time.perf_counter()
    with h5py.File(path, "w") as f:
        dset = f.create_dataset("data", shape=samples.shape, dtype=np.int16, chunks=(rows, samples.shape[1]),
                                compression="gzip", compression_opts=2, shuffle=True)  # fmt: skip
        fill_dataset(dset, lambda a, b: samples[a:b])
    return time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="bench_raw_window.py's DATA folder (the 1 h simulated session)")
    parser.add_argument("--dat", type=Path, help="an Open Ephys continuous.dat instead")
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--sizes", default="10,5,2,1", help="chunk sizes in MiB (the first is the reference)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--windows", type=int, default=20)
    parser.add_argument("--out", type=Path, default=None, help="folder for the files (default: a temporary one)")
    args = parser.parse_args()
    if args.dat:
        dat, n_ch = args.dat, oebin_channels(args.dat)
    elif args.data:
        dat, n_ch = find_dat(args.data)
    else:
        raise SystemExit("--data or --dat")
    n = int(args.minutes * 60 * RATE)
    samples = np.memmap(dat, dtype=np.int16, mode="r").reshape(-1, n_ch)[:n]
    n = samples.shape[0]
    np.asarray(samples).sum()  # into the page cache
    sizes = [float(s) for s in args.sizes.split(",")]
    rows = {s: chunk_rows(n_ch, chunk_bytes=int(s * 2**20)) for s in sizes}
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-chunk-length-"))
    out.mkdir(parents=True, exist_ok=True)
    paths = {s: out / f"chunks_{s:g}MiB.h5" for s in sizes}
    print(f"{dat}: {n_ch} channels, first {n / RATE / 60:.1f} min ({samples.nbytes / 1e6:.0f} MB of int16); "
          f"chunks {', '.join(f'{s:g} MiB = {rows[s]} rows ({rows[s] / RATE:.2f} s)' for s in sizes)}")  # fmt: skip
    print(f"decoder {chunkread.get_codec(reading=True).name}; {os.cpu_count()} cores; load {load()}")

    writes: dict[float, list[float]] = {s: [] for s in sizes}
    write_cpu: dict[float, list[float]] = {s: [] for s in sizes}
    for r in range(args.rounds):
        order = sizes if r % 2 == 0 else sizes[::-1]
        for s in order:
            wall, cpu = write(paths[s], samples, rows[s])
            writes[s].append(wall)
            write_cpu[s].append(cpu)
        print(f"write round {r + 1}: " + ", ".join(f"{s:g} MiB {samples.nbytes / 1e6 / writes[s][-1]:.0f} MB/s"
                                                 for s in sizes) + f"  load {load()}")  # fmt: skip
    ref = sizes[0]
    for s in sizes:
        with h5py.File(paths[s], "r") as f:
            for a in range(0, n, 10 * rows[s]):
                np.testing.assert_array_equal(f["data"][a : a + rows[s]], samples[a : a + rows[s]])
        with open(paths[s], "rb") as fh:  # into the page cache
            while fh.read(1 << 24):
                pass

    rng = np.random.default_rng(0)
    starts = rng.uniform(0, n / RATE - WINDOW_S, args.windows)
    files = {s: h5py.File(paths[s], "r", rdcc_nbytes=32 * 2**20) for s in sizes}
    reads: dict[float, list[float]] = {s: [] for s in sizes}
    read_cpu: dict[float, list[float]] = {s: [] for s in sizes}
    for r in range(args.rounds):
        order = sizes[r % len(sizes) :] + sizes[: r % len(sizes)]
        order = order if r % 2 == 0 else order[::-1]
        for s in order:
            series = Series(files[s]["data"])
            times, cpus = [], []
            for t in starts:
                chunkread.clear_cache()
                c0, t0 = time.process_time(), time.perf_counter()
                read_raw_window(series, t, t + WINDOW_S)
                times.append(time.perf_counter() - t0)
                cpus.append(time.process_time() - c0)
            reads[s].append(statistics.median(times))
            read_cpu[s].append(statistics.median(cpus))
        print(f"read round {r + 1}: " + ", ".join(f"{s:g} MiB {1e3 * reads[s][-1]:.1f} ms" for s in sizes)
              + f"  load {load()}")  # fmt: skip
    check = {s: read_raw_window(Series(files[s]["data"]), starts[0], starts[0] + WINDOW_S)["data_uv"] for s in sizes}
    for s in sizes:
        np.testing.assert_array_equal(check[s], check[ref])

    print(f"\nsummary ({args.rounds} rounds, {args.windows} random 10 s windows, 16 ch; load {load()}):")
    print("chunk MiB  chunk s  write MB/s  write CPU s  CPU vs ref  file MB  size vs ref  window ms  window CPU ms  "
          "CPU vs ref")  # fmt: skip
    size_ref = paths[ref].stat().st_size
    wc_ref, rc_ref = statistics.median(write_cpu[ref]), statistics.median(read_cpu[ref])
    for s in sizes:
        w, rd, size = statistics.median(writes[s]), statistics.median(reads[s]), paths[s].stat().st_size
        wc, rc = statistics.median(write_cpu[s]), statistics.median(read_cpu[s])
        print(f"{s:9g}  {rows[s] / RATE:7.2f}  {samples.nbytes / 1e6 / w:10.0f}  {wc:11.2f}  {wc / wc_ref:10.2f}  "
              f"{size / 1e6:7.1f}  {100 * (size / size_ref - 1):+10.2f}%  {1e3 * rd:9.1f}  {1e3 * rc:13.1f}  "
              f"{rc / rc_ref:10.2f}")  # fmt: skip
    for f in files.values():
        f.close()
    if args.out is None:
        for p in paths.values():
            p.unlink(missing_ok=True)
        out.rmdir()


if __name__ == "__main__":
    main()
