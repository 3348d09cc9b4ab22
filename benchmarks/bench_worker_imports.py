"""What a batch worker imports to convert one session of each kind, and what that costs: a commit against this tree.

Usage: ``python benchmarks/bench_worker_imports.py STUDY.yaml [--baseline REV] [--rounds R]``

A worker of ``convert_study`` unpickles a parsed study and runs ``convert_session`` (``--stub``). This
script does exactly that in a fresh interpreter for the first slice and the first in vivo session, with the
package taken either from a checkout of ``--baseline`` (default ``HEAD``; ``git archive`` into a temporary folder,
put first on ``PYTHONPATH``) or from this tree, alternating A/B per round. It prints each run's wall time (the
process from start to exit: imports, the stub conversion, validation), the heavy modules it loaded and the
load average, then the medians and B/A per kind.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("scipy.stats", "scipy.optimize", "statsmodels", "pydantic", "jsonschema", "neo", "pynwb", "pandas")

PROBE = f"""
import json, pickle, sys, tempfile
study = pickle.load(open(sys.argv[1], "rb"))  # as Dask does on a worker
from nwb_ketamine.archive.batch import convert_session
import nwb_ketamine.metadata
r = convert_session(study if sys.argv[2] == "object" else str(study.path), study.sessions[0].key, tempfile.mkdtemp(),
                    stub=True)
assert r.status == "converted", r.message
print(json.dumps({{"heavy": [m for m in {HEAVY!r} if m in sys.modules], "from": nwb_ketamine.metadata.__file__}}))
"""


def _run(pkl: Path, pythonpath: str | None, how: str) -> tuple[float, dict]:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(pkl), how], env=env, capture_output=True, text=True, cwd=pkl.parent
    )  # not from this tree: "-c" puts the working folder first on sys.path
    seconds = time.perf_counter() - t0
    if out.returncode:
        raise SystemExit(out.stderr[-2000:])
    return seconds, json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Run the alternating rounds and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study")
    parser.add_argument("--baseline", default="HEAD")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--baseline-gets-path", action="store_true", help="the baseline's convert_session takes the study file's path"
    )
    args = parser.parse_args()
    from nwb_ketamine.metadata import InVivoSession, SliceSession, load_study

    study = load_study(args.study, check_files=False)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        base = tmp / "baseline"
        base.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.baseline], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive.stdout, check=True)
        if True:
            pkls = {}
            for kind, cls in (("slice", SliceSession), ("invivo", InVivoSession)):
                session = next(s for s in study.sessions if type(s) is cls)
                pkls[kind] = tmp / f"{kind}.pkl"
                cut = study.__class__(**{**study.__dict__, "sessions": (session,), "raw": {}})
                pkls[kind].write_bytes(pickle.dumps(cut))
            times: dict[tuple[str, str], list[float]] = {}
            for r in range(args.rounds):
                for mode in ("A", "B") if r % 2 == 0 else ("B", "A"):
                    for kind, pkl in pkls.items():
                        how = "path" if mode == "A" and args.baseline_gets_path else "object"
                        seconds, info = _run(pkl, str(base) if mode == "A" else None, how)
                        times.setdefault((mode, kind), []).append(seconds)
                        label = f"A {args.baseline}" if mode == "A" else "B this tree"
                        print(f"round {r + 1} {label:14s} {kind:6s} {seconds:6.2f} s  heavy {','.join(info['heavy'])}"
                              f"  (from {Path(info['from']).parents[2].name})"
                              f"  load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
            for kind in pkls:
                a, b = statistics.median(times["A", kind]), statistics.median(times["B", kind])
                print(f"{kind:6s} median A {a:.2f} s, B {b:.2f} s, B/A = {b / a:.3f}")


if __name__ == "__main__":
    main()
