"""Tetrode raw conversion: our parallel direct-chunk writer against NeuroConv's Open Ephys interface.

One simulated Open Ephys binary session (16 channels at 30 kHz, ``--minutes`` long, 10 min by default)
is converted in the same run by ``InVivoConverter`` (raw only: no sorting) with its *default* codec and
level (what users get: :data:`converters.chunked.DEFAULT_CODEC`) and with zlib level 4 beside it, and by
NeuroConv's ``OpenEphysBinaryRecordingInterface`` twice: at its real defaults (no backend configuration
touched) and matched to our filters (gzip level 4 with shuffle and ~10 MB chunks spanning all channels,
set on its backend configuration). Each conversion runs in its own subprocess, the runners in rotating
order over ``--repeats`` rounds; its peak RSS is that child's own ``ru_maxrss`` (``os.wait4``, what
``/usr/bin/time`` reports), and every run is printed with the load average. The script prints wall times,
throughput ratios against each NeuroConv configuration, file sizes and peak memory; it asserts nothing.
NeuroConv comes from the ``bench`` optional dependencies; when it is not importable the script says so
and compares our two codecs only.
Usage::

    python benchmarks/bench_tetrode_convert.py [--minutes 10] [--repeats 2] [--seed 0]
"""

import argparse
import importlib.util
import json
import os
import statistics
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
codec, level = sys.argv[3], (None if sys.argv[4] == "default" else int(sys.argv[4]))
InVivoConverter(study, session, codec=codec, gzip_level=level).run_conversion(sys.argv[2])
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
config = get_default_backend_configuration(nwbfile=nwbfile, backend="hdf5")  # "defaults": used unchanged
for dataset in config.dataset_configurations.values() if sys.argv[3] == "matched" else ():
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


def peak_rss(script: str, study: Path, out: Path, *options: str) -> float:
    """Peak RSS (MB) of one conversion in a fresh subprocess: the child's own rusage from ``os.wait4``."""

    proc = subprocess.Popen([sys.executable, "-c", script, str(study), str(out), *options])
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
        from nwb_ketamine.converters.chunked import DEFAULT_CODEC, resolve_codec

        codec, level = resolve_codec(DEFAULT_CODEC)
        runners = {
            f"ours {codec.name} {level} (default)": (OURS, "auto", "default"),
            "ours zlib 4": (OURS, "zlib", "4"),
        }
        if importlib.util.find_spec("neuroconv") is None:
            print("NeuroConv is not importable in this environment: compared against nothing but ourselves "
                  "(install the 'bench' extra to add its default and matched runs)")  # fmt: skip
        else:
            runners["NeuroConv defaults"] = (NEUROCONV, "defaults")
            runners["NeuroConv matched"] = (NEUROCONV, "matched")
        times: dict[str, list[float]] = {name: [] for name in runners}
        peaks: dict[str, list[float]] = {name: [] for name in runners}
        sizes = {}
        names = list(runners)
        for r in range(args.repeats):
            for name in names[r % len(names) :] + names[: r % len(names)]:  # rotate who goes first
                script, *options = runners[name]
                out = tmp / "out.nwb"
                out.unlink(missing_ok=True)
                t0 = time.perf_counter()
                peaks[name].append(peak_rss(script, study, out, *options))
                times[name].append(time.perf_counter() - t0)
                sizes[name] = out.stat().st_size
                print(f"  round {r + 1} {name:24s} {times[name][-1]:6.1f} s   load {os.getloadavg()[0]:.2f}")
        for name in runners:
            med = statistics.median(times[name])
            print(
                f"{name:24s} median wall {med:6.1f} s (runs {', '.join(f'{t:.1f}' for t in times[name])})  "
                f"{mb / med:6.1f} MB/s  file {sizes[name] / 1e6:7.1f} MB  peak RSS {max(peaks[name]):6.0f} MB"
            )
        ours = names[0]
        for other in names[1:]:
            print(
                f"{ours} vs {other}: {statistics.median(times[other]) / statistics.median(times[ours]):.2f}x "
                f"faster, file size {sizes[ours] / sizes[other]:.3f}x, "
                f"peak RSS {max(peaks[ours]) / max(peaks[other]):.2f}x   load {os.getloadavg()[0]:.2f}"
            )
        print(json.dumps({"times_s": times, "peak_rss_mb": peaks, "sizes_bytes": sizes, "raw_mb": mb}))


if __name__ == "__main__":
    main()
