"""Slice conversion speed: our ABF converter against NeuroConv's AbfInterface on the same cells.

Both convert the same simulated cells in the same run, alternating cell by cell so that machine noise
hits both alike; the script prints cells per minute for each and their ratio. NeuroConv comes from the
``bench`` optional dependencies. Usage::

    python benchmarks/bench_abf_convert.py [--size paper] [--cells 40] [--seed 0]
"""

import argparse
import tempfile
import time
import warnings
from datetime import datetime
from pathlib import Path

from nwb_ketamine.converters.abf import AbfSliceConverter
from nwb_ketamine.metadata import load_study
from nwb_ketamine.simulate import simulate_study


def neuroconv_convert(study, session, path: Path) -> None:
    from neuroconv.datainterfaces import AbfInterface

    files = [str(f.path) for f in session.files]
    sessions = [{"abf_file_name": f.path.name, "stimulus_type": f.protocol} for f in session.files]
    interface = AbfInterface(file_paths=files, icephys_metadata={"recording_sessions": sessions})
    metadata = interface.get_metadata()
    start = datetime.fromisoformat(str(metadata["NWBFile"]["session_start_time"]))
    metadata["NWBFile"]["session_start_time"] = start.replace(tzinfo=session.start_time.tzinfo)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interface.run_conversion(nwbfile_path=str(path), metadata=metadata, overwrite=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="paper")
    parser.add_argument("--cells", type=int, default=None, help="convert only the first N cells")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        study = load_study(simulate_study(tmp / "study", seed=args.seed, size=args.size, progress=False))
        cells = study.slice_sessions[: args.cells]
        print(f"simulated {args.size} study in {time.perf_counter() - t0:.1f} s; converting {len(cells)} cells")

        runners = {
            "nwb-ketamine (no analysis)": lambda s, p: AbfSliceConverter(study, s, analyse=False).run_conversion(p),
            "nwb-ketamine (with analysis)": lambda s, p: AbfSliceConverter(study, s).run_conversion(p),
            "NeuroConv AbfInterface": lambda s, p: neuroconv_convert(study, s, p),
        }
        # Warm up imports and caches once for each, outside the timing.
        for name, run in runners.items():
            run(cells[0], tmp / f"warmup-{len(name)}.nwb")
        seconds = dict.fromkeys(runners, 0.0)
        sizes = dict.fromkeys(runners, 0)
        for i, session in enumerate(cells):
            order = list(runners.items()) if i % 2 == 0 else list(reversed(runners.items()))
            for name, run in order:
                path = tmp / f"{abs(hash(name))}-{i}.nwb"
                t = time.perf_counter()
                run(session, path)
                seconds[name] += time.perf_counter() - t
                sizes[name] += path.stat().st_size
                path.unlink()

    baseline = "NeuroConv AbfInterface"
    print(f"{'converter':32s} {'cells/min':>10s} {'MB/cell':>8s} {'speed vs NeuroConv':>19s}")
    for name in runners:
        rate = len(cells) / seconds[name] * 60
        ratio = seconds[baseline] / seconds[name]
        print(f"{name:32s} {rate:10.1f} {sizes[name] / len(cells) / 1e6:8.2f} {ratio:18.2f}x")


if __name__ == "__main__":
    main()
