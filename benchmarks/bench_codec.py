"""Chunk codecs side by side: MB/s and compression ratio of zlib, ISA-L and libdeflate on tetrode chunks.

What is compressed is what the direct-chunk writer (``converters/chunked.py``) hands to each codec: ~10 MB
chunks of int16 samples × all channels after HDF5's byte shuffle. Two sources:

- ``simulated``: a simulated Open Ephys binary session (16 channels, 30 kHz, ``--minutes`` long, made by
  the project's simulator as in ``bench_tetrode_convert.py``), every full 10 MB chunk of it;
- ``real``: the real Open Ephys legacy recording in ``../shared/realdata/openephys_legacy`` (16 channels,
  40 kHz, 3.3 s recorded on a real rig: one 4.3 MB chunk), when present (sha256 checked against the
  MANIFEST);
- ``abf``: every sweep of the 11 real ABF files in ``../shared/realdata/abf`` as pyabf returns it (float32, one
  chunk per sweep, as ``converters/abf.py`` stores them), when present.

Every (codec, level) compresses all chunks of a source once per round; rounds alternate the order of the
configurations (forward, then reversed), ``--rounds`` times, in one process, and the load average is
printed with every round. Reported: the median over rounds of single-thread MB/s (uncompressed bytes per
second), of the MB/s with ``--threads`` threads compressing different chunks at once (the writer's thread
pool: a codec that holds the GIL does not gain), the compression ratio and the file-size change against
zlib level 4, and decompression MB/s of each decoder on zlib level-4 streams. Every stream is checked to
decompress with plain ``zlib.decompress`` to the shuffled input. Prints numbers, asserts nothing.

``--convert`` measures the whole raw conversion instead: ``InVivoConverter`` (raw only, no sorting) on the
simulated session with zlib level 4 (the writer before), libdeflate level 2 and the default (``auto``:
ISA-L level 2), each in its own subprocess (peak RSS from ``os.wait4``), alternating the order every round,
the load average printed with every figure; the files' samples are checked identical.
Usage::

    python benchmarks/bench_codec.py [--minutes 1] [--rounds 3] [--threads 2] [--sources simulated,real,abf]
    python benchmarks/bench_codec.py --convert [--minutes 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from nwb_ketamine.gzipcodec import get_codec, installed_codecs, shuffle

REALDATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "realdata" / "openephys_legacy" / "Record Node 105"
LEGACY_HEADER, LEGACY_RECORD = 1024, 8 + 2 + 2 + 2048 + 10
CHUNK_BYTES = 10 * 1024 * 1024
LEVELS = {"zlib": (1, 4, 6), "isal": (1, 2, 3), "libdeflate": (1, 2, 4, 6)}


def simulated_chunks(minutes: float, tmp: Path) -> list[np.ndarray]:
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_tetrode_convert import simulate

    simulate(tmp / "study", minutes, 0)
    raw = next((tmp / "study").rglob("continuous.dat"))
    samples = np.fromfile(raw, dtype=np.int16).reshape(-1, 16)
    rows = CHUNK_BYTES // (2 * 16)
    return [samples[a : a + rows] for a in range(0, samples.shape[0] - rows + 1, rows)]


def manifest_sha(name: str) -> str | None:
    manifest = REALDATA.parents[1] / "MANIFEST.md"
    for line in manifest.read_text().splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 3 and cells[1] == f"Record Node 105/{name}":
            return cells[3]
    return None


def real_chunks() -> list[np.ndarray]:
    """The 16 channels of the legacy Open Ephys recording (big-endian int16 in 1024-sample records)."""
    channels = []
    for k in range(1, 17):
        path = REALDATA / f"100_example-data_CH{k}.continuous"
        raw = path.read_bytes()
        if hashlib.sha256(raw).hexdigest() != manifest_sha(path.name):
            raise SystemExit(f"{path}: sha256 differs from the MANIFEST")
        records = np.frombuffer(raw[LEGACY_HEADER:], dtype=np.uint8).reshape(-1, LEGACY_RECORD)
        channels.append(records[:, 12 : 12 + 2048].copy().view(">i2").astype(np.int16).reshape(-1))
    return [np.stack(channels, axis=1)]


def abf_chunks() -> list[np.ndarray]:
    """Every sweep of every channel of the real ABF files (float32, what the slice converter stores)."""
    import pyabf

    sweeps = []
    for path in sorted((REALDATA.parents[1] / "abf").glob("*.abf")):
        abf = pyabf.ABF(str(path))
        for channel in range(abf.channelCount):
            for sweep in abf.sweepList:
                abf.setSweep(sweep, channel=channel)
                sweeps.append(np.asarray(abf.sweepY, dtype=np.float32).copy())
    return sweeps


CONVERT = """
import dataclasses, sys, time
from nwb_ketamine.converters.invivo import InVivoConverter
from nwb_ketamine.metadata import load_study
study = load_study(sys.argv[1])
session = dataclasses.replace(study.invivo_sessions[-1], sorting_path=None)
level = None if sys.argv[4] == "default" else int(sys.argv[4])
t0 = time.perf_counter()
InVivoConverter(study, session, codec=sys.argv[3], gzip_level=level).run_conversion(sys.argv[2])
print(time.perf_counter() - t0)
"""


def convert_ab(minutes: float, rounds: int) -> None:
    """Whole raw conversions with zlib 4, libdeflate 2 and the default codec, alternating, in subprocesses."""
    import subprocess

    import h5py

    sys.path.insert(0, str(Path(__file__).parent))
    from bench_tetrode_convert import simulate

    configs = [("zlib", "4"), ("libdeflate", "2"), ("auto", "default")]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        study = simulate(tmp / "study", minutes, 0)
        raw_mb = next((tmp / "study").rglob("continuous.dat")).stat().st_size / 1e6
        print(f"simulated {minutes:g} min, 16 channels, 30 kHz: {raw_mb:.0f} MB of int16; {load()}")
        wall: dict = {c: [] for c in configs}
        inner: dict = {c: [] for c in configs}
        peak: dict = {c: [] for c in configs}
        size: dict = {}
        for r in range(rounds):
            for codec, level in configs if r % 2 == 0 else configs[::-1]:
                out = tmp / f"{codec}.nwb"
                out.unlink(missing_ok=True)
                t0 = time.perf_counter()
                proc = subprocess.Popen([sys.executable, "-c", CONVERT, str(study), str(out), codec, level],
                                        stdout=subprocess.PIPE, text=True)  # fmt: skip
                stdout = proc.stdout.read() if proc.stdout else ""
                _, status, usage = os.wait4(proc.pid, 0)
                if os.waitstatus_to_exitcode(status):
                    raise SystemExit(f"conversion with {codec} failed")
                wall[(codec, level)].append(time.perf_counter() - t0)
                inner[(codec, level)].append(float(stdout.split()[-1]))
                peak[(codec, level)].append(usage.ru_maxrss / 1024)
                size[(codec, level)] = out.stat().st_size
            print(f"  round {r + 1}/{rounds} ({'forward' if r % 2 == 0 else 'reversed'}), {load()}")
        for codec, level in configs:
            c = (codec, level)
            best = statistics.median(inner[c])
            runs = ", ".join(f"{t:.1f}" for t in inner[c])
            change = 100 * (size[c] / size[configs[0]] - 1)
            print(f"  {codec:10s} level {level:7s}: conversion {best:5.1f} s median in the child (runs {runs}; "
                  f"with process start {statistics.median(wall[c]):.1f} s), {raw_mb / best:5.1f} MB/s, file "
                  f"{size[c] / 1e6:6.1f} MB ({change:+.1f}% vs zlib 4), peak RSS {max(peak[c]):.0f} MB")  # fmt: skip
        files = [h5py.File(tmp / f"{codec}.nwb", "r") for codec, _ in configs]
        for name, group in files[0]["acquisition"].items():
            if "electrodes" in group:
                reference = group["data"]
                for f in files[1:]:
                    other = f["acquisition"][name]["data"]
                    for a in range(0, reference.shape[0], reference.chunks[0]):
                        b = a + reference.chunks[0]
                        assert np.array_equal(reference[a:b], other[a:b]), name
        print(f"  samples identical in all files; {load()}")


def load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0, help="length of the simulated session")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sources", default="simulated,real,abf", help="comma-separated: simulated, real, abf")
    parser.add_argument("--convert", action="store_true", help="time whole raw conversions instead")
    args = parser.parse_args()
    wanted = set(args.sources.split(","))
    if args.convert:
        convert_ab(args.minutes, args.rounds)
        return

    names = installed_codecs()
    print(f"codecs installed: {', '.join(names)}; {os.cpu_count()} cores; {load()}")
    sources = {}
    if "simulated" in wanted:
        with tempfile.TemporaryDirectory() as tmp:
            sources["simulated"] = simulated_chunks(args.minutes, Path(tmp))
    if REALDATA.exists() and "real" in wanted:
        sources["real"] = real_chunks()
    if (REALDATA.parents[1] / "abf").exists() and "abf" in wanted:
        sources["abf"] = abf_chunks()
    configs = [(name, level) for name in names for level in LEVELS[name]]
    codecs = {name: get_codec(name) for name in names}

    for source, blocks in sources.items():
        shuffled = [shuffle(b) for b in blocks]
        total = sum(s.nbytes for s in shuffled)
        shape = " x ".join(str(n) for n in blocks[0].shape)
        print(f"\n{source}: {len(blocks)} chunk(s) of {shape} {blocks[0].dtype} (the first), {total / 1e6:.1f} MB "
              "after the byte shuffle")  # fmt: skip
        single: dict = {c: [] for c in configs}
        threaded: dict = {c: [] for c in configs}
        size: dict = {}
        for r in range(args.rounds):
            order = configs if r % 2 == 0 else configs[::-1]
            for name, level in order:
                codec = codecs[name]
                t0 = time.perf_counter()
                out = [codec.compress(s, level) for s in shuffled]
                single[(name, level)].append(total / (time.perf_counter() - t0) / 1e6)
                size[(name, level)] = sum(len(o) for o in out)
                if r == 0:
                    assert all(zlib.decompress(o) == s.tobytes() for o, s in zip(out, shuffled, strict=True))
                work = shuffled * args.threads  # every thread has as much to do as one thread had
                with ThreadPoolExecutor(args.threads) as pool:
                    t0 = time.perf_counter()
                    list(pool.map(lambda s, codec=codec, level=level: codec.compress(s, level), work))
                    threaded[(name, level)].append(total * args.threads / (time.perf_counter() - t0) / 1e6)
            print(f"  round {r + 1}/{args.rounds} done ({'forward' if r % 2 == 0 else 'reversed'}), {load()}")
        ref = size[("zlib", 4)]
        print(f"  {'codec':11s} {'level':>5s} {'MB/s 1 thread':>14s} {f'MB/s {args.threads} threads':>15s} "
              f"{'ratio':>7s} {'size vs zlib 4':>15s}")  # fmt: skip
        for c in configs:
            print(f"  {c[0]:11s} {c[1]:5d} {statistics.median(single[c]):14.1f} {statistics.median(threaded[c]):15.1f} "
                  f"{total / size[c]:7.3f} {100 * (size[c] / ref - 1):+14.1f}%")  # fmt: skip
        streams = [zlib.compress(s, 4) for s in shuffled]
        decode: dict = {name: [] for name in names}
        for r in range(args.rounds):
            for name in names if r % 2 == 0 else names[::-1]:
                t0 = time.perf_counter()
                for z, s in zip(streams, shuffled, strict=True):
                    codecs[name].decompress(z, s.nbytes)
                decode[name].append(total / (time.perf_counter() - t0) / 1e6)
        print("  decompression of zlib level-4 streams, 1 thread: " + ", ".join(
            f"{name} {statistics.median(decode[name]):.0f} MB/s" for name in names) + f" ({load()})")  # fmt: skip


if __name__ == "__main__":
    main()
