"""The whole study end to end: ``nwb-ketamine convert`` of a simulated study with 1 and with 2 workers.

For each ``--size`` (``small``: 80 cells and 8 tetrode sessions of 150 s, 1.8 GB of raw files; ``paper``: 168
cells and 20 tetrode sessions of 360 s; see ``nwb_ketamine.simulate.parameters.SIZES``) the study is
simulated once, its raw files are read once into the page cache (untimed, so no configuration pays the
cold reads alone), then converted by the command users run, ``nwb-ketamine convert STUDY ARCHIVE --jobs N
--quiet`` (validation of the study file, the Dask local cluster, every session written, validated and
hashed, the manifest and the catalog), into a fresh archive each time, for each ``--jobs`` value in
alternating order over ``--rounds`` rounds (1, 2, then 2, 1, ...).

Memory: the command's process tree is polled every 0.1 s through ``/proc`` and each process's peak RSS
is its kernel high-water mark (``VmHWM``), so short peaks between polls are not missed; Dask workers are
told apart from the main process by their command line (``multiprocessing.spawn``'s ``spawn_main``). Printed per run,
with the load average: wall time, sessions/min, MB/s of raw input, peak RSS of the main process and of
the largest worker, and from the command's per-session lines the mean worker-seconds per tetrode session
and per cell; then, when two sizes ran, the seconds per MB of raw input of the whole run, of the tetrode
sessions and of the cells against the first study (1.0: linear in the study's size; the paper's tetrode
sessions are longer than the small study's, so time per MB is the measure, not time per session).
With ``--neuroconv SIZE ...`` the same files of those sizes are also converted by NeuroConv (from
``benchmarks/.neuroconv-venv``, ``make bench-env``) in one warm process, serially: each Open Ephys
session with ``OpenEphysBinaryRecordingInterface`` at its defaults, each ABF file with
``AxonIntracellularInterface`` (NeuroConv has no one-command batch conversion of such a study; compare
with ``--jobs 1``, which compresses with 2 threads). It asserts nothing. Usage::

    python benchmarks/bench_study.py [--size small paper] [--jobs 1 2] [--rounds 1] [--neuroconv small] [--keep DIR]
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from neuroconv_env import RUNNER, neuroconv_python, run_in_venv  # noqa: E402

LINE = re.compile(r"converted (\S+) \((\d+(?:\.\d+)?) s\)")


def _tree(root: int) -> list[int]:
    """``root`` and its descendants, from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, []))
    return found


def _poll(root: int, peaks: dict[int, tuple[float, str]], stop: threading.Event) -> None:
    """Record each process's VmHWM (MB) and command line until ``stop`` is set."""
    while not stop.is_set():
        for pid in _tree(root):
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            match = re.search(r"VmHWM:\s+(\d+) kB", status)
            if match:
                mb = int(match.group(1)) / 1024
                if mb > peaks.get(pid, (0.0, ""))[0]:
                    peaks[pid] = (mb, cmdline)
        stop.wait(0.1)


def convert(study: Path, archive: Path, jobs: int) -> dict:
    """Run ``nwb-ketamine convert`` once into a fresh ``archive``; wall time, per-session lines, peak RSS."""
    shutil.rmtree(archive, ignore_errors=True)
    command = [sys.executable, "-m", "nwb_ketamine.cli", "convert", str(study), str(archive), "--jobs", str(jobs)]
    t0 = time.perf_counter()
    proc = subprocess.Popen([*command, "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peaks: dict[int, tuple[float, str]] = {}
    stop = threading.Event()
    poller = threading.Thread(target=_poll, args=(proc.pid, peaks, stop), daemon=True)
    poller.start()
    out, _ = proc.communicate()
    seconds = time.perf_counter() - t0
    stop.set()
    poller.join()
    if proc.returncode:
        raise RuntimeError(f"{' '.join(command)} failed ({proc.returncode}):\n{out[-2000:]}")
    sessions = [(path, float(s)) for path, s in LINE.findall(out)]
    workers = [mb for pid, (mb, cmd) in peaks.items() if pid != proc.pid and "spawn_main" in cmd]
    return {
        "wall_s": seconds,
        "sessions": sessions,
        "main_rss_mb": peaks.get(proc.pid, (0.0, ""))[0],
        "worker_rss_mb": max(workers, default=0.0),
        "workers_seen": len(workers),
        "load": os.getloadavg()[0],
    }


def _size(path: Path) -> int:
    """Bytes of a file or of every file under a folder."""
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def neuroconv_side(loaded, out: Path) -> None:
    """Convert the study's Open Ephys sessions and ABF files with NeuroConv's interfaces in one warm process."""
    python, version = neuroconv_python()
    if python is None:
        print(f"  NeuroConv side skipped: {version}")
        return
    out.mkdir(parents=True, exist_ok=True)
    jobs, kinds = [], []
    for i, s in enumerate(loaded.invivo_sessions):
        if s.raw_path is not None and (s.raw_format or "").lower().replace("_", "") in ("openephys", "openephysbinary"):
            jobs.append({"kind": "openephys", "folder": str(s.raw_path), "start": s.start_time.isoformat()})
            jobs[-1]["out"] = str(out / f"tetrode-{i}.nwb")
            kinds.append(("tetrode", s.raw_path))
    for i, cell in enumerate(loaded.slice_sessions):
        for j, f in enumerate(cell.files):
            jobs.append(
                {"kind": "axon", "file": str(f.path), "mode": f.clamp_mode, "out": str(out / f"cell-{i}-{j}.nwb")}
            )
            jobs[-1]["channel"] = f.response_channel or 0
            kinds.append(("cell", f.path))
    lines, cost = run_in_venv(python, RUNNER, json.dumps({"warmup": True, "jobs": jobs}))
    results = [line for line in lines if "out" in line]
    for kind in ("tetrode", "cell"):
        done = [(r, p) for r, (k, p) in zip(results, kinds, strict=True) if k == kind and "seconds" in r]
        failed = sum(1 for r, (k, _) in zip(results, kinds, strict=True) if k == kind and "error" in r)
        seconds = sum(r["seconds"] for r, _ in done)
        mb = sum(_size(Path(p)) for _, p in done) / 1e6
        what = "OpenEphysBinaryRecordingInterface (defaults)" if kind == "tetrode" else "AxonIntracellularInterface"
        unit = "sessions" if kind == "tetrode" else "ABF files"
        print(
            f"  NeuroConv {version} {what}: {len(done)} {unit} ({failed} failed) in {seconds:.1f} s of one "
            f"process, {seconds / max(len(done), 1):.2f} s each, {mb / seconds if seconds else 0:.1f} MB/s raw"
            f"   load {os.getloadavg()[0]:.2f}"
        )
    print(f"  NeuroConv process: {cost['wall_s']:.1f} s wall, peak RSS {cost['rss_mb']:.0f} MB")
    shutil.rmtree(out, ignore_errors=True)


def raw_megabytes(study_dir: Path) -> float:
    """The size of the study's raw files (everything but the study file), read once into the page cache."""
    total = 0
    for path in (study_dir / "raw").rglob("*"):
        if path.is_file():
            with path.open("rb") as f:
                while chunk := f.read(1 << 24):
                    total += len(chunk)
    return total / 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", nargs="+", default=["small", "paper"], help="study sizes, smallest first")
    parser.add_argument("--jobs", nargs="*", type=int, default=[1, 2], help="none: only the NeuroConv side")
    parser.add_argument("--rounds", type=int, default=1, help="timed runs of each job count, alternating")
    parser.add_argument(
        "--neuroconv",
        nargs="*",
        default=[],
        metavar="SIZE",
        help="also convert these sizes' Open Ephys sessions and ABF files with NeuroConv, serially in one process",
    )
    parser.add_argument("--keep", type=Path, default=None, help="simulate into DIR/SIZE and keep it (reused)")
    args = parser.parse_args()
    from nwb_ketamine.simulate import simulate_study

    tmp = tempfile.mkdtemp(prefix="bench-study-")
    root = args.keep or Path(tmp)
    per_session: dict[str, dict[str, float]] = {}
    try:
        for size in args.size:
            study_dir = root / size
            study = study_dir / "study.yaml"
            t0 = time.perf_counter()
            if not study.exists():
                simulate_study(study_dir, seed=0, size=size, progress=False)
            simulated = time.perf_counter() - t0
            from nwb_ketamine.metadata import load_study

            loaded = load_study(study)
            n_tetrode, n_cells = len(loaded.invivo_sessions), len(loaded.slice_sessions)
            n = n_tetrode + n_cells
            mb_tetrode = sum(_size(Path(s.raw_path)) for s in loaded.invivo_sessions if s.raw_path) / 1e6
            mb_cells = sum(f.path.stat().st_size for s in loaded.slice_sessions for f in s.files) / 1e6
            t0 = time.perf_counter()
            mb = raw_megabytes(study_dir)
            print(
                f"\n{size}: {n_cells} cells ({mb_cells:.0f} MB) + {n_tetrode} tetrode sessions ({mb_tetrode:.0f} MB), "
                f"{mb:.0f} MB of raw input in all "
                f"(simulated in {simulated:.0f} s, read once in {time.perf_counter() - t0:.0f} s)"
                f"   load {os.getloadavg()[0]:.2f}"
            )
            runs: dict[int, list[dict]] = {jobs: [] for jobs in args.jobs}
            for r in range(args.rounds):
                for jobs in args.jobs if r % 2 == 0 else list(reversed(args.jobs)):
                    run = convert(study, root / f"archive-{size}", jobs)
                    runs[jobs].append(run)
                    tetrode = [s for p, s in run["sessions"] if "_ecephys" in p]
                    cells = [s for p, s in run["sessions"] if "_ecephys" not in p]
                    print(
                        f"  round {r + 1} --jobs {jobs}: {run['wall_s']:6.1f} s, {len(run['sessions'])}/{n} sessions "
                        f"converted, {60 * n / run['wall_s']:5.1f} sessions/min, {mb / run['wall_s']:5.1f} MB/s raw; "
                        f"per tetrode session {statistics.mean(tetrode or [0]):5.1f} s, per cell "
                        f"{statistics.mean(cells or [0]):4.2f} s (worker-seconds); peak RSS main "
                        f"{run['main_rss_mb']:4.0f} MB, largest of {run['workers_seen']} workers "
                        f"{run['worker_rss_mb']:4.0f} MB   load {run['load']:.2f}"
                    )
                    shutil.rmtree(root / f"archive-{size}", ignore_errors=True)
            for jobs in args.jobs:
                wall = statistics.median(run["wall_s"] for run in runs[jobs])
                tetrode = [s for run in runs[jobs] for p, s in run["sessions"] if "_ecephys" in p]
                cells = [s for run in runs[jobs] for p, s in run["sessions"] if "_ecephys" not in p]
                per_session[f"{size} {jobs}"] = {
                    "wall/MB": wall / mb,
                    "tetrode/MB": sum(tetrode) / len(runs[jobs]) / mb_tetrode,
                    "cell/MB": sum(cells) / len(runs[jobs]) / mb_cells,
                }
                print(
                    f"  {size} --jobs {jobs}: median {wall:.1f} s, {60 * n / wall:.1f} sessions/min, "
                    f"{mb / wall:.1f} MB/s raw, {wall / n:.2f} s of wall per session   load {os.getloadavg()[0]:.2f}"
                )
            if size in args.neuroconv:
                neuroconv_side(loaded, root / f"neuroconv-{size}")
            if len(args.jobs) > 1:
                walls = {j: statistics.median(run["wall_s"] for run in runs[j]) for j in args.jobs}
                print(f"  {size}: --jobs {args.jobs[-1]} is {walls[args.jobs[0]] / walls[args.jobs[-1]]:.2f}x "
                      f"--jobs {args.jobs[0]}")  # fmt: skip
        first = args.size[0]
        for size in args.size[1:]:
            for jobs in args.jobs:
                a, b = per_session[f"{first} {jobs}"], per_session[f"{size} {jobs}"]
                print(
                    f"scaling {size} vs {first}, --jobs {jobs}, seconds per MB of raw input: whole run "
                    f"{b['wall/MB'] / a['wall/MB']:.2f}x, tetrode sessions {b['tetrode/MB'] / a['tetrode/MB']:.2f}x, "
                    f"cells {b['cell/MB'] / a['cell/MB']:.2f}x (1.00: linear in the study's size)"
                    f"   load {os.getloadavg()[0]:.2f}"
                )
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
