"""Slice (ABF) conversion per file: ours against NeuroConv's two ABF interfaces on the real ABF files.

The 11 ABF files of ``../shared/realdata/abf`` (pClamp/Clampex recordings from real rigs, checked against
the sha256 in its MANIFEST.md) are each converted as one cell, response channel 0 with the clamp mode the
test suite gives it (``tests/realdata/test_abf_realdata.py``), by

- ``AbfSliceConverter`` without analysis (sweeps, commands, the icephys tables; comparable to NeuroConv)
  and with the EPSC analysis (where the study's analysis windows fit the file; failures are reported),
- the product's path, what ``nwb-ketamine convert`` does on a worker for each cell
  (``nwb_ketamine.archive.batch.convert_session``: sources hashed, written with the EPSC analysis,
  validated with pynwb, renamed into the archive, described for the manifest),
- NeuroConv's ``AxonIntracellularInterface`` (response channel 0, the reconstructed DAC command as
  stimulus where the file has one, i.e. ABF 2) and its legacy ``AbfInterface`` (every channel of the file,
  the clamp mode given as ``icephys_experiment_type``).

NeuroConv is no dependency of nwb-ketamine: it runs in ``benchmarks/.neuroconv-venv`` (``make bench-env``)
through ``benchmarks/neuroconv_runner.py``; without that venv the script says so and times our side only.
Each tool runs in its own fresh subprocess per round, converts the first file once untimed (imports,
caches), then every file in turn, timing each conversion inside the child (imports and reading the study
files excluded: a study file is read once per study, not per cell); the tools' order rotates from round to
round. Printed: per file the median seconds of each tool, then each tool's mean seconds per
file, peak RSS of its process and total output size, with the load average. It asserts nothing. Usage::

    python benchmarks/bench_abf_convert.py [--rounds 3] [--realdata ../shared/realdata]
"""

import argparse
import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]
from neuroconv_env import RUNNER, neuroconv_python, run_in_venv  # noqa: E402

OURS = """
import time
t0 = time.perf_counter()
import json, sys
from nwb_ketamine.converters.abf import AbfSliceConverter
from nwb_ketamine.metadata import load_study
print(json.dumps({"import_seconds": time.perf_counter() - t0}), flush=True)
spec = json.loads(sys.argv[1])

studies = {job["study"]: load_study(job["study"]) for job in spec["jobs"]}  # once per study, untimed

def convert(job):
    study = studies[job["study"]]
    if spec.get("batch"):
        from nwb_ketamine.archive.batch import convert_session

        result = convert_session(study, study.slice_sessions[0].key, job["out"])
        if result.status != "converted":
            raise RuntimeError(result.message)
        return
    AbfSliceConverter(study, study.slice_sessions[0], analyse=spec["analyse"]).run_conversion(job["out"])

if spec.get("warmup"):
    convert({**spec["jobs"][0], "out": spec["jobs"][0]["out"] + ".warmup.nwb"})
for job in spec["jobs"]:
    c0, t0 = time.process_time(), time.perf_counter()
    try:
        convert(job)
    except Exception as error:
        print(json.dumps({"out": job["out"], "error": f"{type(error).__name__}: {error}"[:200]}), flush=True)
        continue
    seconds = time.perf_counter() - t0
    print(json.dumps({"out": job["out"], "seconds": seconds, "cpu_seconds": time.process_time() - c0}), flush=True)
"""


def real_files(realdata: Path) -> list[tuple[Path, str]]:
    """The manifest's ABF files that are present and match their sha256, with their clamp mode."""
    from tests.realdata.test_abf_realdata import MANIFEST

    files = []
    for name, (sha, mode) in sorted(MANIFEST.items()):
        path = realdata / "abf" / name
        if not path.exists():
            print(f"  {name}: absent, left out")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != sha:
            print(f"  {name}: sha256 differs from the MANIFEST, left out")
        else:
            files.append((path, mode))
    return files


def write_study(folder: Path, path: Path, mode: str) -> Path:
    """A one-cell study of ``path`` (channel 0), its start from the ABF header."""
    import pyabf

    from tests.conftest import write_slice_study

    folder.mkdir(parents=True)
    start = pyabf.ABF(str(path), loadData=False).abfDateTime.isoformat() + "+00:00"
    file = {"path": str(path), "protocol": "real", "holding_potential": "-70 mV", "clamp_mode": mode}
    file.update(response_channel=0, command_channel=0)
    return write_slice_study(folder, [{"start_time": start, "files": [file]}])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--realdata", type=Path, default=HERE.parent.parent / "shared" / "realdata")
    args = parser.parse_args()
    files = real_files(args.realdata)
    if not files:
        sys.exit(f"no ABF files in {args.realdata / 'abf'}")
    print(f"{len(files)} real ABF files, {sum(p.stat().st_size for p, _ in files) / 1e6:.1f} MB")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        studies = [write_study(tmp / f"study{i}", path, mode) for i, (path, mode) in enumerate(files)]

        runners: dict[str, tuple] = {}
        for analyse in (False, True):
            name = "ours (with analysis)" if analyse else "ours (no analysis)"
            spec = {"warmup": True, "analyse": analyse}
            spec["jobs"] = [
                {"study": str(s), "out": str(tmp / f"ours{int(analyse)}-{i}.nwb")} for i, s in enumerate(studies)
            ]
            runners[name] = (sys.executable, OURS, spec)
        spec = {"warmup": True, "analyse": True, "batch": True}
        spec["jobs"] = [{"study": str(s), "out": str(tmp / f"archive-{i}")} for i, s in enumerate(studies)]
        runners["ours (convert: analysis + validation)"] = (sys.executable, OURS, spec)
        python, version = neuroconv_python()
        if python is None:
            print(f"NeuroConv side skipped: {version}; timing ours only")
        else:
            print(f"NeuroConv {version} from {python.parent.parent}")
            axon = [
                {"kind": "axon", "file": str(p), "mode": m, "out": str(tmp / f"axon-{i}.nwb")}
                for i, (p, m) in enumerate(files)
            ]
            legacy = [
                {"kind": "abf", "files": [str(p)], "mode": m, "out": str(tmp / f"abf-{i}.nwb")}
                for i, (p, m) in enumerate(files)
            ]
            runners["NeuroConv AxonIntracellularInterface"] = (python, RUNNER, {"warmup": True, "jobs": axon})
            runners["NeuroConv AbfInterface"] = (python, RUNNER, {"warmup": True, "jobs": legacy})

        seconds: dict[str, list[list[float | None]]] = {name: [[] for _ in files] for name in runners}
        errors: dict[str, dict[int, str]] = {name: {} for name in runners}
        sizes: dict[str, int] = dict.fromkeys(runners, 0)
        peaks: dict[str, float] = dict.fromkeys(runners, 0.0)
        names = list(runners)
        for r in range(args.rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                python_, script, spec = runners[name]
                for job in spec["jobs"]:  # every round writes afresh (ours refuses to replace a file)
                    for out in (Path(job["out"]), Path(job["out"] + ".warmup.nwb")):
                        shutil.rmtree(out) if out.is_dir() else out.unlink(missing_ok=True)
                lines, cost = run_in_venv(python_, script, json.dumps(spec))
                results = [line for line in lines if "out" in line]
                for i, result in enumerate(results):
                    if "error" in result:
                        errors[name][i] = result["error"]
                    else:
                        seconds[name][i].append(result["seconds"])
                outputs = [p for j in spec["jobs"] for p in [Path(j["out"])] + sorted(Path(j["out"]).rglob("*.nwb"))]
                sizes[name] = sum(p.stat().st_size for p in outputs if p.is_file())
                peaks[name] = max(peaks[name], cost["rss_mb"])
                done = [s[-1] for s in seconds[name] if s]
                print(
                    f"  round {r + 1} {name:38s} {sum(done):6.2f} s for {len(done)} files "
                    f"({len(errors[name])} failed), process {cost['wall_s']:5.1f} s, RSS {cost['rss_mb']:4.0f} MB"
                    f"   load {cost['load']:.2f}"
                )

        def med(name: str, i: int) -> float | None:
            return statistics.median(seconds[name][i]) if seconds[name][i] else None

        base = "ours (no analysis)"
        print(f"\n{'file':30s}" + "".join(f"{n[:26]:>28s}" for n in names))
        for i, (path, _) in enumerate(files):
            cells = []
            for name in names:
                m = med(name, i)
                cells.append(f"{'failed':>28s}" if m is None else f"{m:27.3f}s")
            print(f"{path.name:30s}" + "".join(cells))
        print()
        for name in names:
            ok = [i for i in range(len(files)) if med(name, i) is not None]
            mean = statistics.mean(med(name, i) for i in ok) if ok else float("nan")  # type: ignore[misc]
            both = [i for i in ok if med(base, i) is not None]
            ratio = sum(med(name, i) for i in both) / sum(med(base, i) for i in both) if both else float("nan")  # type: ignore[misc]
            print(
                f"{name:38s} {mean:6.3f} s/file over {len(ok)} files; ours (no analysis) is {ratio:5.2f}x as fast "
                f"on the {len(both)} files both convert; peak RSS {peaks[name]:4.0f} MB; "
                f"output {sizes[name] / 1e6:6.2f} MB"
                f"   load {os.getloadavg()[0]:.2f}"
            )
        product = "ours (convert: analysis + validation)"
        for name in [n for n in names if n.startswith("NeuroConv")]:
            both = [i for i in range(len(files)) if med(name, i) is not None and med(product, i) is not None]
            if both:
                ratio = sum(med(name, i) for i in both) / sum(med(product, i) for i in both)  # type: ignore[misc]
                print(
                    f"{product} is {ratio:5.2f}x as fast as {name} on the {len(both)} files both convert"
                    f"   load {os.getloadavg()[0]:.2f}"
                )
        for name in names:
            for i, error in sorted(errors[name].items()):
                print(f"{name} failed on {files[i][0].name}: {error}")


if __name__ == "__main__":
    main()
