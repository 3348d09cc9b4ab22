"""Tetrode raw conversion: our parallel direct-chunk writer against NeuroConv's Open Ephys interface.

One simulated Open Ephys binary session (16 channels at 30 kHz, ``--minutes`` long, 10 min by default)
is converted in the same run by ``InVivoConverter`` (raw only: no sorting) and by NeuroConv's
``OpenEphysBinaryRecordingInterface``, both at gzip level 4 with shuffle (set on NeuroConv's backend
configuration) and ~10 MB chunks spanning all channels. Each conversion runs in its own subprocess,
alternating ``--repeats`` times; its peak RSS is that child's own ``ru_maxrss`` (``os.wait4``, what
``/usr/bin/time`` reports). The script prints wall times, throughput ratio, file sizes and peak memory;
it asserts nothing. NeuroConv comes from the ``bench`` optional dependencies.
Usage::

    python benchmarks/bench_tetrode_convert.py [--minutes 10] [--repeats 2] [--seed 0]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OURS = """
import dataclasses, sys
from nwb_ketamine.converters.invivo import InVivoConverter
from nwb_ketamine.metadata import load_study
study = load_study(sys.argv[1])
session = dataclasses.replace(study.invivo_sessions[-1], sorting_path=None)
InVivoConverter(study, session, gzip_level=4).run_conversion(sys.argv[2])
"""

NEUROCONV = """
import sys, warnings
warnings.simplefilter("ignore")
from neuroconv.datainterfaces import OpenEphysBinaryRecordingInterface
from neuroconv.tools.nwb_helpers import configure_backend, get_default_backend_configuration
from pynwb import NWBHDF5IO
from nwb_ketamine.metadata import load_study
study = load_study(sys.argv[1])
session = study.invivo_sessions[-1]
interface = OpenEphysBinaryRecordingInterface(folder_path=str(session.raw_path))
metadata = interface.get_metadata()
metadata["NWBFile"]["session_start_time"] = session.start_time
nwbfile = interface.create_nwbfile(metadata=metadata)
config = get_default_backend_configuration(nwbfile=nwbfile, backend="hdf5")
for dataset in config.dataset_configurations.values():
    dataset.compressors = ["shuffle", "gzip"]
    dataset.compressor_options = [None, {"level": 4}]
    if dataset.dataset_name == "data" and len(dataset.full_shape) == 2:
        n, c = dataset.full_shape
        dataset.chunk_shape = (min(n, (10 * 1024 * 1024) // (2 * c)), c)
        print("neuroconv chunks", dataset.chunk_shape, "buffer", dataset.buffer_shape, file=sys.stderr)
configure_backend(nwbfile=nwbfile, backend_configuration=config)
with NWBHDF5IO(sys.argv[2], "w") as io:
    io.write(nwbfile)
"""


def simulate(out: Path, minutes: float, seed: int) -> Path:
    """A tiny study whose one in vivo session lasts ``minutes`` (40 % baseline, 60 % after injection)."""
    from nwb_ketamine.simulate import simulate_study
    from nwb_ketamine.simulate.parameters import SIZES, StudySize

    seconds = 60.0 * minutes
    SIZES["bench"] = StudySize("bench", 1, 1, 1, (10, 10), 1, 0.4 * seconds, 0.6 * seconds, tiny=True)
    return simulate_study(out, seed=seed, size="bench", progress=False)


def peak_rss(script: str, study: Path, out: Path) -> float:
    """Peak RSS (MB) of one conversion in a fresh subprocess: the child's own rusage from ``os.wait4``."""

    proc = subprocess.Popen([sys.executable, "-c", script, str(study), str(out)])
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"conversion failed with {proc.returncode}")
    return usage.ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        study = simulate(tmp / "study", args.minutes, args.seed)
        raw = next((tmp / "study" / "raw" / "invivo").rglob("continuous.dat"))
        mb = raw.stat().st_size / 1e6
        print(
            f"simulated {args.minutes:g} min, 16 ch, 30 kHz ({mb:.0f} MB of int16) in {time.perf_counter() - t0:.0f} s"
        )
        runners = {"nwb-ketamine": OURS, "NeuroConv": NEUROCONV}
        times = {name: [] for name in runners}
        peaks = {name: [] for name in runners}
        sizes = {}
        for _ in range(args.repeats):
            for name, script in runners.items():
                out = tmp / f"{name}.nwb"
                out.unlink(missing_ok=True)
                t0 = time.perf_counter()
                peaks[name].append(peak_rss(script, study, out))
                times[name].append(time.perf_counter() - t0)
                sizes[name] = out.stat().st_size
        for name in runners:
            best = min(times[name])
            print(
                f"{name:14s} wall {best:6.1f} s (runs {', '.join(f'{t:.1f}' for t in times[name])})  "
                f"{mb / best:6.1f} MB/s  file {sizes[name] / 1e6:7.1f} MB  peak RSS {max(peaks[name]):6.0f} MB"
            )
        ours, theirs = min(times["nwb-ketamine"]), min(times["NeuroConv"])
        print(f"throughput ratio (NeuroConv time / ours): {theirs / ours:.2f}x  (goal >= 1.7x)")
        print(f"file size ratio (ours / NeuroConv): {sizes['nwb-ketamine'] / sizes['NeuroConv']:.3f}  (goal within 5%)")
        print(
            f"peak RSS ratio (ours / NeuroConv): {max(peaks['nwb-ketamine']) / max(peaks['NeuroConv']):.2f}  "
            "(goal <= 1)"
        )
        print(json.dumps({"times_s": times, "peak_rss_mb": peaks, "sizes_bytes": sizes, "raw_mb": mb}))


if __name__ == "__main__":
    main()
