"""Tetrode raw conversion: our parallel direct-chunk writer against NeuroConv's Open Ephys interface.

One simulated Open Ephys binary session (16 channels at 30 kHz, ``--minutes`` long, 10 min by default)
is converted in the same run by ``InVivoConverter`` (raw only: no sorting) with its *default* codec and
level (what users get: :data:`converters.chunked.DEFAULT_CODEC`) and with zlib level 4 beside it (the
file-size reference), and by NeuroConv's ``OpenEphysBinaryRecordingInterface`` twice: at its real defaults
(no backend configuration touched) and matched to our filters (gzip level 4 with shuffle and chunks of our
length, ``chunked.CHUNK_BYTES``, spanning all channels, set on its backend configuration).

NeuroConv is no dependency of nwb-ketamine: it runs in ``benchmarks/.neuroconv-venv`` (created by
``python benchmarks/neuroconv_env.py``), driven through ``benchmarks/neuroconv_runner.py``; when that venv
is missing or broken the script says so and times our two codecs only.

Every conversion runs in its own fresh subprocess, the four runners in rotating order over ``--repeats``
rounds. For each run it prints the subprocess's wall time, the conversion's own time (imports excluded,
measured inside the child), the child's CPU time and its peak RSS (``ru_maxrss`` from ``os.wait4``), with
the load average. Then medians, throughput ratios against both NeuroConv configurations, file sizes
against zlib level 4, and a sample check: every file's 2-D ``data`` under ``/acquisition`` is read back
with h5py and compared with the int16 samples of ``continuous.dat``. It asserts nothing. Usage::

    python benchmarks/bench_tetrode_convert.py [--minutes 10] [--repeats 2] [--seed 0]
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from neuroconv_env import RUNNER, neuroconv_python, run_in_venv  # noqa: E402

OURS = """
import time
t0 = time.perf_counter()
import dataclasses, json, sys
from nwb_ketamine.converters.invivo import InVivoConverter
from nwb_ketamine.metadata import load_study
imports = time.perf_counter() - t0
study = load_study(sys.argv[1])
session = dataclasses.replace(study.invivo_sessions[-1], sorting_path=None)
codec, level = sys.argv[3], (None if sys.argv[4] == "default" else int(sys.argv[4]))
c0, t0 = time.process_time(), time.perf_counter()
InVivoConverter(study, session, codec=codec, gzip_level=level).run_conversion(sys.argv[2])
print(json.dumps({"import_seconds": imports}))
print(json.dumps({"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}))
"""


def simulate(out: Path, minutes: float, seed: int) -> Path:
    """A tiny study whose one in vivo session lasts ``minutes`` (40 % baseline, 60 % after injection)."""
    from nwb_ketamine.simulate import simulate_study
    from nwb_ketamine.simulate.parameters import SIZES, StudySize

    seconds = 60.0 * minutes
    SIZES["bench"] = StudySize("bench", 1, 1, 1, (10, 10), 1, 0.4 * seconds, 0.6 * seconds, tiny=True)
    return simulate_study(out, seed=seed, size="bench", progress=False)


def same_samples(nwb: Path, raw: Path, n_channels: int = 16) -> str:
    """Whether the file's 2-D acquisition ``data`` equals the raw int16 samples, checked block by block."""
    import h5py

    samples = np.memmap(raw, dtype="<i2", mode="r").reshape(-1, n_channels)
    with h5py.File(nwb, "r") as f:
        found = []
        f["acquisition"].visititems(
            lambda name, obj: found.append(obj) if isinstance(obj, h5py.Dataset) and obj.ndim == 2 else None
        )
        if len(found) != 1:
            return f"{len(found)} 2-D datasets under /acquisition"
        data = found[0]
        if data.shape != samples.shape:
            return f"shape {data.shape} != raw {samples.shape}"
        step = 1 << 20
        for start in range(0, len(samples), step):
            if not np.array_equal(data[start : start + step], samples[start : start + step]):
                return f"differs in samples {start}..{start + step} ({data.dtype})"
        return f"identical ({data.dtype}, {data.shape[0]} x {data.shape[1]}, chunks {data.chunks})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        study_yaml = simulate(tmp / "study", args.minutes, args.seed)
        raw = next((tmp / "study" / "raw" / "invivo").rglob("continuous.dat"))
        mb = raw.stat().st_size / 1e6
        print(
            f"simulated {args.minutes:g} min, 16 ch, 30 kHz ({mb:.0f} MB of int16) in {time.perf_counter() - t0:.0f} s"
        )
        from nwb_ketamine.converters.chunked import CHUNK_BYTES, DEFAULT_CODEC, resolve_codec
        from nwb_ketamine.metadata import load_study

        session = load_study(study_yaml).invivo_sessions[-1]
        codec, level = resolve_codec(DEFAULT_CODEC)
        ours = f"ours {codec.name} {level} (default)"
        runners = {ours: (sys.executable, OURS, "auto", "default"), "ours zlib 4": (sys.executable, OURS, "zlib", "4")}
        python, version = neuroconv_python()
        if python is None:
            print(f"NeuroConv side skipped: {version}; timing our two codecs only")
        else:
            print(f"NeuroConv {version} from {python.parent.parent}")
            for config in ("defaults", "matched"):
                runners[f"NeuroConv {config}"] = (python, RUNNER, config)

        def run(name: str, out: Path) -> dict:
            python, script, *options = runners[name]
            if script is RUNNER:
                job = {"kind": "openephys", "folder": str(session.raw_path), "out": str(out), "config": options[0]}
                job["start"] = session.start_time.isoformat()
                job["chunk_bytes"] = CHUNK_BYTES  # "matched": our chunk length too
                lines, cost = run_in_venv(python, script, json.dumps({"jobs": [job]}))
            else:
                lines, cost = run_in_venv(python, script, str(study_yaml), str(out), *options)
            result = {k: v for line in lines for k, v in line.items()}
            if "error" in result:
                raise RuntimeError(f"{name}: {result['error']}")
            return {**cost, "convert_s": result["seconds"], "import_s": result["import_seconds"]}

        runs: dict[str, list[dict]] = {name: [] for name in runners}
        sizes: dict[str, int] = {}
        names = list(runners)
        print(f"{'':10s}{'runner':26s} {'wall s':>7s} {'conv s':>7s} {'import':>7s} {'CPU s':>6s} {'RSS MB':>7s}  load")
        for r in range(args.repeats):
            for name in names[r % len(names) :] + names[: r % len(names)]:  # rotate who goes first
                out = tmp / f"out-{names.index(name)}.nwb"
                out.unlink(missing_ok=True)
                c = run(name, out)
                runs[name].append(c)
                sizes[name] = out.stat().st_size
                print(
                    f"  round {r + 1} {name:26s} {c['wall_s']:7.1f} {c['convert_s']:7.1f} {c['import_s']:7.1f} "
                    f"{c['cpu_s']:6.1f} {c['rss_mb']:7.0f}  {c['load']:.2f}"
                )

        def med(name: str, key: str = "wall_s") -> float:
            return statistics.median(c[key] for c in runs[name])

        print()
        for name in runners:
            print(
                f"{name:26s} median wall {med(name):6.1f} s ({mb / med(name):5.1f} MB/s), conversion alone "
                f"{med(name, 'convert_s'):6.1f} s ({mb / med(name, 'convert_s'):5.1f} MB/s), "
                f"CPU {med(name, 'cpu_s'):5.1f} s, file {sizes[name] / 1e6:6.1f} MB = "
                f"{sizes[name] / sizes['ours zlib 4']:.3f}x zlib-4's, "
                f"peak RSS {max(c['rss_mb'] for c in runs[name]):4.0f} MB   load {os.getloadavg()[0]:.2f}"
            )
        for other in names[1:]:
            print(
                f"{ours} vs {other}: {med(other) / med(ours):.2f}x the throughput (wall), "
                f"{med(other, 'convert_s') / med(ours, 'convert_s'):.2f}x (conversion alone), "
                f"file size {sizes[ours] / sizes[other]:.3f}x, peak RSS "
                f"{max(c['rss_mb'] for c in runs[ours]) / max(c['rss_mb'] for c in runs[other]):.2f}x"
                f"   load {os.getloadavg()[0]:.2f}"
            )
        for name in names:
            print(f"samples of {name}: {same_samples(tmp / f'out-{names.index(name)}.nwb', raw)}")
        print(json.dumps({"runs": runs, "sizes_bytes": sizes, "raw_mb": mb}))


if __name__ == "__main__":
    main()
