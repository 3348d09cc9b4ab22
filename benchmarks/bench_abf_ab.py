"""The product's slice path, before and after: a git revision of nwb-ketamine against the working tree.

What ``nwb-ketamine convert`` does for each slice cell on a worker
(``nwb_ketamine.archive.batch.convert_session``: hash the sources, write with the EPSC analysis, validate
the file with pynwb, describe it) is timed on the 11 real ABF files of ``../shared/realdata/abf``, each
converted as one cell (as ``bench_abf_convert.py`` does), by two versions of the package:

- ``old``: the files of ``--base`` (default ``main``) exported with ``git archive`` into a temporary folder
  and put first on ``sys.path`` of the child (the editable install maps ``nwb_ketamine.converters`` to
  ``converters/``; the export is assembled in the same layout);
- ``new``: the working tree (the editable install).

Each round runs both, each in a fresh subprocess, the order alternating from round to round; a child
converts the first cell once untimed (imports, caches: a warm worker), then every cell, timing each
``convert_session`` (wall and process CPU time: on this shared machine the CPU time varies less with the
load) and, inside it, the write (``write_nwb``) and the validation (``_validate_nwb``). Printed: each
round's seconds per cell of both and the ratios new/old with the load average, then the medians and their
ratios. Afterwards the two versions' outputs of every cell are compared with the h5py
walker of ``tests/archive/test_reproducible.py`` (only ``/file_create_date`` ignored; the identifier
contains the package version, so both sides report the same version). It asserts nothing. Usage::

    python benchmarks/bench_abf_ab.py [--base main] [--rounds 4] [--realdata ../shared/realdata]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT)]

CHILD = """
import json, sys, time
spec = json.loads(sys.argv[1])
if spec["src"]:
    sys.path.insert(0, spec["src"])
import nwb_ketamine
assert nwb_ketamine.__file__.startswith(spec["src"] or spec["root"]), nwb_ketamine.__file__
import nwb_ketamine.archive.batch as batch
from nwb_ketamine.converters.base import SessionConverter
from nwb_ketamine.metadata import load_study

stages = {}

def timed(name, fn):
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            stages[name] = stages.get(name, 0.0) + time.perf_counter() - t0
    return wrapper

batch._validate_nwb = timed("validate", batch._validate_nwb)
SessionConverter.write_nwb = timed("write", SessionConverter.write_nwb)
studies = [load_study(s, check_files=False) for s in spec["studies"]]

def convert(i, archive):
    study = studies[i]
    result = batch.convert_session(study, study.slice_sessions[0].key, archive)
    if result.status != "converted":
        raise SystemExit(f"cell {i}: {result.message}")
    return result

convert(0, spec["out"] + "-warmup")
for i in range(len(studies)):
    stages.clear()
    c0, t0 = time.process_time(), time.perf_counter()
    result = convert(i, spec["out"])
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({"cell": i, "seconds": seconds, "cpu": cpu, "path": result.path, **stages}), flush=True)
"""


def export(base: str, into: Path) -> Path:
    """The package of git revision ``base`` in the editable install's layout, under ``into``; its folder."""
    src = into / "export"
    src.mkdir(parents=True)
    tar = subprocess.run(
        ["git", "-C", str(ROOT), "archive", base, "nwb_ketamine", "converters", "explorer", "schemas"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=tar, check=True)
    pkg = into / "pkg"
    pkg.mkdir()
    shutil.move(str(src / "nwb_ketamine"), pkg / "nwb_ketamine")
    for name in ("converters", "explorer", "schemas"):
        shutil.move(str(src / name), pkg / "nwb_ketamine" / name)
    return pkg


def main():
    from bench_abf_convert import real_files, write_study

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="main", help="the git revision to compare against")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--realdata", type=Path, default=ROOT.parent / "shared" / "realdata")
    args = parser.parse_args()
    files = real_files(args.realdata)
    if not files:
        sys.exit(f"no ABF files in {args.realdata / 'abf'}")
    rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.base], capture_output=True, text=True)
    print(f"{len(files)} real ABF cells; old = {args.base} ({rev.stdout.strip()}), new = the working tree")

    from tests.archive.test_reproducible import _differences

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        studies = [str(write_study(tmp / f"study{i}", path, mode)) for i, (path, mode) in enumerate(files)]
        sources = {"old": str(export(args.base, tmp / "old")), "new": ""}
        runs: dict[str, list[list[dict]]] = {"old": [], "new": []}
        ratios: list[float] = []
        cpu_ratios: list[float] = []
        for r in range(args.rounds):
            order = ["old", "new"] if r % 2 == 0 else ["new", "old"]
            per_cell = {}
            for side in order:
                spec = {"src": sources[side], "root": str(ROOT), "studies": studies, "out": str(tmp / f"{side}-{r}")}
                t0 = time.perf_counter()
                out = subprocess.run(
                    [sys.executable, "-c", CHILD, json.dumps(spec)], capture_output=True, text=True, check=False
                )
                if out.returncode:
                    sys.exit(f"{side}: {out.stderr.strip()[-2000:]}")
                cells = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
                runs[side].append(cells)
                per_cell[side] = sum(c["seconds"] for c in cells) / len(cells)
                print(
                    f"  round {r + 1} {side}: {per_cell[side]:.3f} s/cell, CPU "
                    f"{sum(c['cpu'] for c in cells) / len(cells):.3f} s/cell (write "
                    f"{sum(c.get('write', 0) for c in cells) / len(cells):.3f}, validate "
                    f"{sum(c.get('validate', 0) for c in cells) / len(cells):.3f}), process "
                    f"{time.perf_counter() - t0:.1f} s   load {os.getloadavg()[0]:.2f}"
                )
            ratios.append(per_cell["new"] / per_cell["old"])
            cpu = {side: sum(c["cpu"] for c in runs[side][-1]) for side in runs}
            cpu_ratios.append(cpu["new"] / cpu["old"])
            print(
                f"  round {r + 1}: new/old wall {ratios[-1]:.3f}, CPU {cpu_ratios[-1]:.3f}"
                f"   load {os.getloadavg()[0]:.2f}"
            )

        def median(side: str, key: str) -> float:
            return statistics.median(sum(c.get(key, 0.0) for c in cells) / len(cells) for cells in runs[side])

        print()
        for key in ("seconds", "cpu", "write", "validate"):
            old, new = median("old", key), median("new", key)
            print(
                f"{key:9s} s/cell, median of {args.rounds} rounds: old {old:.3f}  new {new:.3f}  new/old "
                f"{new / old:.3f}   load {os.getloadavg()[0]:.2f}"
            )
        low, high = min(ratios), max(ratios)
        print(f"per-round ratio new/old: median {statistics.median(ratios):.3f}, range {low:.3f}-{high:.3f}")
        low, high = min(cpu_ratios), max(cpu_ratios)
        print(
            f"per-round CPU ratio new/old: median {statistics.median(cpu_ratios):.3f}, range {low:.3f}-{high:.3f}"
            f"   load {os.getloadavg()[0]:.2f}"
        )

        problems = []
        for old_cell, new_cell in zip(runs["old"][-1], runs["new"][-1], strict=True):
            r = args.rounds - 1
            a, b = tmp / f"old-{r}" / old_cell["path"], tmp / f"new-{r}" / new_cell["path"]
            problems += _differences(a, b)
        print(
            f"outputs of the last round, old vs new, {len(files)} cells: "
            + ("identical (only /file_create_date ignored)" if not problems else f"{len(problems)} differences")
        )
        for line in problems[:20]:
            print("  " + line)


if __name__ == "__main__":
    main()
