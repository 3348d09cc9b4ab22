"""Where a conversion's time goes: the share of wall and CPU time of each stage, for each kind of session.

One simulated study with one in vivo tetrode session (Open Ephys binary, 16 channels at 30 kHz,
``--minutes`` long, with its phy sorting) and one slice cell (ABF files, ``--sweeps`` sweeps each) is
written; then each session is converted the way the batch converter does it on a worker
(``nwb_ketamine.archive.batch.convert_session``: hashing the sources, writing, pynwb validation, describing
the output), each in a fresh subprocess (so imports are paid as on a cold worker); "raw input" is every file of the
recording folder (samples, sample numbers, timestamps) and the ABF files, the two kinds in
alternating order over ``--rounds`` rounds, and converted a second time in the same process (a warm
worker's later sessions: imports done, validators cached).

Instrumentation: timers, not a sampling profiler. Before anything of nwb-ketamine is imported, the child
wraps ``builtins.__import__`` and ``importlib.import_module``, then (after importing the converters) the
functions that make up each stage, by rebinding them in every module that holds them (no code of the
package is changed):

- ``imports``: every import statement that loads a module (one whose module and names are already loaded
  is only counted: it costs less than the timer), from the first import of the package on;
- ``read``: ``open_raw``, ``read_sorting``, ``read_abf`` and the block reads of the raw writer;
- ``shuffle``: ``gzipcodec.shuffle``; ``compress``: ``Codec.compress`` (ISA-L, libdeflate or zlib);
- ``write raw chunks``: the writer's ``write_direct_chunk`` calls and ``write_single_chunk`` (ABF sweeps);
  ``write pynwb``: ``NWBHDF5IO.write`` (building and writing everything else: metadata, tables, units);
- ``analysis``: burst metrics, unit quality metrics, waveform extraction, the EPSC analysis;
- ``validation``: the batch path's pynwb validation; ``hash sources``: the background hashing thread
  (``SourceHashes._run``) and the wait for it; ``describe output``: ``describe_output``.

Each timer records the wall time (``perf_counter``) and the thread's CPU time (``thread_time``) of every
call, exclusive of the stages nested in it (an import inside the analysis counts as import), per thread.
``other`` is what no timer covers: on the main thread wall time minus its stages, and process CPU
(``process_time``) minus every stage's CPU. Worker threads (compression pool, hashing) overlap the main
thread, so their wall time is printed apart, as thread-seconds. Medians over the rounds; the load average
with every figure. It asserts nothing. Usage::

    python benchmarks/bench_stages.py [--minutes 10] [--sweeps 20] [--rounds 2]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STAGES = (
    "imports",
    "read",
    "shuffle",
    "compress",
    "write raw chunks",
    "write pynwb",
    "analysis",
    "validation",
    "hash sources",
    "describe output",
)


def child(study_path: str, key: str, archive: str) -> None:
    """Convert one session with timers on every stage; print the totals as JSON (runs in a fresh process)."""
    import builtins
    import importlib
    import threading

    c_start, t_start = time.process_time(), time.perf_counter()
    main_thread = threading.get_ident()
    totals: dict[tuple[str, bool], list[float]] = {}  # (stage, on main thread) -> [wall, cpu, calls]
    local = threading.local()

    def timed(stage, fn):
        def wrapper(*args, **kwargs):
            stack = local.__dict__.setdefault("stack", [])
            frame = [time.perf_counter(), time.thread_time(), 0.0, 0.0]
            stack.append(frame)
            try:
                return fn(*args, **kwargs)
            finally:
                stack.pop()
                wall, cpu = time.perf_counter() - frame[0], time.thread_time() - frame[1]
                if stack:  # the enclosing stage excludes this one
                    stack[-1][2] += wall
                    stack[-1][3] += cpu
                entry = totals.setdefault((stage, threading.get_ident() == main_thread), [0.0, 0.0, 0])
                entry[0] += wall - frame[2]
                entry[1] += cpu - frame[3]
                entry[2] += 1

        wrapper.__wrapped__ = fn
        return wrapper

    plain_import, timed_import = builtins.__import__, timed("imports", builtins.__import__)

    counts: dict[str, int] = {}

    def importing(name, globals=None, locals=None, fromlist=(), level=0):
        # An import that loads nothing (its module and names already there) runs untimed, only counted:
        # the timer's own cost would dominate it.
        module = sys.modules.get(name) if level == 0 else None
        if module is not None and all(hasattr(module, attr) for attr in fromlist or ()):
            counts[name] = counts.get(name, 0) + 1
            return plain_import(name, globals, locals, fromlist, level)
        return timed_import(name, globals, locals, fromlist, level)

    builtins.__import__ = importing
    importlib.import_module = timed("imports", importlib.import_module)

    import h5py
    import pynwb

    import nwb_ketamine.analysis.burst_store
    import nwb_ketamine.analysis.quality
    import nwb_ketamine.analysis.store
    import nwb_ketamine.analysis.waveforms
    import nwb_ketamine.archive.batch
    import nwb_ketamine.archive.manifest
    import nwb_ketamine.converters.abf
    import nwb_ketamine.converters.abf_reader
    import nwb_ketamine.converters.chunked
    import nwb_ketamine.converters.invivo
    import nwb_ketamine.converters.neo_raw
    import nwb_ketamine.converters.registry
    import nwb_ketamine.gzipcodec as gzipcodec
    from nwb_ketamine.archive.batch import convert_session

    def rebind(module: str, name: str, stage: str, wrap=None) -> None:
        """Replace ``module.name`` by its timed wrapper everywhere it is bound in nwb-ketamine's modules."""
        original = getattr(sys.modules[module], name)
        wrapped = wrap(original) if wrap else timed(stage, original)
        for mod in list(sys.modules.values()):
            if getattr(mod, "__name__", "").startswith("nwb_ketamine") and getattr(mod, name, None) is original:
                setattr(mod, name, wrapped)

    rebind("nwb_ketamine.converters.neo_raw", "open_raw", "read")
    rebind("nwb_ketamine.converters.registry", "read_sorting", "read")
    rebind("nwb_ketamine.converters.abf_reader", "read_abf", "read")
    rebind("nwb_ketamine.gzipcodec", "shuffle", "shuffle")
    rebind("nwb_ketamine.converters.chunked", "write_single_chunk", "write raw chunks")
    for name in ("add_burst_metrics",):
        rebind("nwb_ketamine.analysis.burst_store", name, "analysis")
    for name in ("isi_violations_fraction", "presence_ratio", "waveform_snr"):
        rebind("nwb_ketamine.analysis.quality", name, "analysis")
    rebind("nwb_ketamine.analysis.waveforms", "raw_waveforms", "analysis")
    rebind("nwb_ketamine.analysis.store", "analyse_cell", "analysis")
    rebind("nwb_ketamine.archive.batch", "_validate_nwb", "validation")
    rebind("nwb_ketamine.archive.manifest", "describe_output", "describe output")
    gzipcodec.Codec.compress = timed("compress", gzipcodec.Codec.compress)
    pynwb.NWBHDF5IO.write = timed("write pynwb", pynwb.NWBHDF5IO.write)
    hashes = nwb_ketamine.archive.manifest.SourceHashes
    hashes._run = timed("hash sources", hashes._run)
    hashes.result = timed("hash sources", hashes.result)

    class _TimedID:
        def __init__(self, dsid):
            self._id = dsid
            self.write_direct_chunk = timed("write raw chunks", dsid.write_direct_chunk)

        def __getattr__(self, name):
            return getattr(self._id, name)

    class _TimedDataset:
        def __init__(self, dset: h5py.Dataset):
            self._dset, self.id = dset, _TimedID(dset.id)

        def __getattr__(self, name):
            return getattr(self._dset, name)

    def wrap_fill(fill):
        def fill_dataset(dset, read, **kwargs):
            return fill(_TimedDataset(dset), timed("read", read), **kwargs)

        return fill_dataset

    rebind("nwb_ketamine.converters.chunked", "fill_dataset", "", wrap=wrap_fill)

    for warm in (False, True):  # a cold worker's first session, then the same session again on it, warm
        if warm:
            totals.clear()
            counts.clear()
            c_start, t_start = time.process_time(), time.perf_counter()
        result = convert_session(study_path, key, archive + ("-warm" if warm else ""))
        wall, cpu = time.perf_counter() - t_start, time.process_time() - c_start
        stages = {f"{stage}|{int(main)}": value for (stage, main), value in totals.items()}
        frequent = sorted(counts.items(), key=lambda item: -item[1])[:5]
        print(
            json.dumps(
                {"status": result.status, "message": result.message, "wall": wall, "cpu": cpu, "stages": stages}
                | {"untimed_imports": sum(counts.values()), "frequent_imports": frequent, "warm": warm}
            ),
            flush=True,
        )


def simulate(out: Path, minutes: float, sweeps: int, seed: int = 0) -> Path:
    """A study with one slice cell per region (``sweeps`` sweeps per file) and one tetrode session."""
    from nwb_ketamine.simulate import simulate_study
    from nwb_ketamine.simulate.parameters import SIZES, StudySize

    seconds = 60.0 * minutes
    SIZES["stages"] = StudySize("stages", 1, 1, 1, (sweeps, sweeps), 1, 0.4 * seconds, 0.6 * seconds, tiny=True)
    return simulate_study(out, seed=seed, size="stages", progress=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the tetrode session")
    parser.add_argument("--sweeps", type=int, default=20, help="sweeps per ABF file")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--child", nargs=3, metavar=("STUDY", "KEY", "ARCHIVE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    from nwb_ketamine.metadata import load_study

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        study_path = simulate(tmp / "study", args.minutes, args.sweeps)
        study = load_study(study_path)
        tetrode = study.invivo_sessions[0]
        cell = next(s for s in study.slice_sessions if s.region == "LHb")
        raw_mb = {
            "tetrode": sum(p.stat().st_size for p in Path(tetrode.raw_path).rglob("*") if p.is_file()) / 1e6,
            "ABF cell": sum(f.path.stat().st_size for f in cell.files) / 1e6,
        }
        print(
            f"simulated a {args.minutes:g} min tetrode session ({raw_mb['tetrode']:.0f} MB) and an LHb cell "
            f"({len(cell.files)} ABF files, {raw_mb['ABF cell']:.1f} MB) in {time.perf_counter() - t0:.0f} s"
            f"   load {os.getloadavg()[0]:.2f}"
        )
        kinds = {"tetrode": tetrode.key, "ABF cell": cell.key}
        runs: dict[str, list[dict]] = {f"{kind}, {w}": [] for kind in kinds for w in ("cold", "warm")}
        for r in range(args.rounds):
            for kind in list(kinds) if r % 2 == 0 else list(reversed(kinds)):
                archive = tmp / f"archive-{r}-{kind[0]}"
                t0 = time.perf_counter()
                out = subprocess.run(
                    [sys.executable, __file__, "--child", str(study_path), kinds[kind], str(archive)],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
                process_wall = time.perf_counter() - t0
                for line in out.strip().splitlines()[-2:]:
                    result = json.loads(line)
                    if result["status"] != "converted":
                        sys.exit(f"{kind}: {result['status']}: {result['message']}")
                    name = f"{kind}, warm" if result["warm"] else f"{kind}, cold"
                    runs[name].append(result)
                    print(
                        f"  round {r + 1} {name:15s} {result['wall']:6.1f} s wall and {result['cpu']:6.1f} s CPU "
                        + ("(the same session again in that process)" if result["warm"] else "after interpreter start")
                        + f"   load {os.getloadavg()[0]:.2f}"
                    )
                    print(
                        f"    {result['untimed_imports']} import statements that loaded nothing, most frequent: "
                        + ", ".join(f"{name} x{n}" for name, n in result["frequent_imports"])
                    )
                print(f"  round {r + 1} {kind}: the process took {process_wall:.1f} s")

    for kind, results in runs.items():
        wall = statistics.median(r["wall"] for r in results)
        cpu = statistics.median(r["cpu"] for r in results)
        mb = raw_mb[kind.split(",")[0]]
        print(
            f"\n{kind}: {mb:.1f} MB of raw input; median of {len(results)} runs: wall {wall:.2f} s "
            f"({mb / wall:.1f} MB/s), CPU {cpu:.2f} s (all threads)   load {os.getloadavg()[0]:.2f}"
        )
        print(
            f"  {'stage':18s} {'main wall s':>11s} {'% wall':>7s} {'other threads s':>15s} {'CPU s':>7s} {'% CPU':>6s}"
        )

        def med(stage: str, main: int, index: int, results=results) -> float:
            return statistics.median(r["stages"].get(f"{stage}|{main}", [0.0, 0.0, 0])[index] for r in results)

        main_total = cpu_total = 0.0
        for stage in STAGES:
            main_wall, side_wall = med(stage, 1, 0), med(stage, 0, 0)
            stage_cpu = med(stage, 1, 1) + med(stage, 0, 1)
            main_total += main_wall
            cpu_total += stage_cpu
            print(
                f"  {stage:18s} {main_wall:11.2f} {100 * main_wall / wall:6.1f}% {side_wall:15.2f} "
                f"{stage_cpu:7.2f} {100 * stage_cpu / cpu:5.1f}%"
            )
        print(
            f"  {'other':18s} {wall - main_total:11.2f} {100 * (wall - main_total) / wall:6.1f}% {'':15s} "
            f"{cpu - cpu_total:7.2f} {100 * (cpu - cpu_total) / cpu:5.1f}%"
        )
    print(json.dumps({"raw_mb": raw_mb, "runs": runs}))


if __name__ == "__main__":
    main()
