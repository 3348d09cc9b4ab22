"""Slice conversion with the sweeps compressed by HDF5's zlib inside pynwb's write (before) or by libdeflate
with direct chunk writes after it (now), cell by cell, alternating, in one process.

"before" is ``AbfSliceConverter`` with its sweeps handed to pynwb as data (``H5DataIO(sweep, gzip 4,
shuffle, one chunk)``, what the converter did until the codec change); "now" is the converter as it is
(``codec="auto"``: libdeflate level 2 when installed). Both without the EPSC analysis (``--analyse`` adds
it), on the slice cells of a simulated study (``--size``). Prints the median seconds per cell, the total
file size and the load average. Asserts that both files hold the same sweep values. Usage::

    python benchmarks/bench_abf_codec.py [--size tiny] [--cells N] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
from hdmf.backends.hdf5 import H5DataIO

from nwb_ketamine.converters.abf import AbfSliceConverter
from nwb_ketamine.metadata import load_study
from nwb_ketamine.simulate import simulate_study


class Before(AbfSliceConverter):
    """The converter with the sweeps compressed by HDF5 during pynwb's write (the former path)."""

    def _series(self, cls, name, sweep, conversion, description, common):
        data = H5DataIO(sweep, compression="gzip", compression_opts=4, shuffle=True, chunks=sweep.shape)
        return cls(name=name, data=data, conversion=conversion, description=description, **common)


def sweeps(path: Path) -> dict:
    with h5py.File(path, "r") as f:
        return {f"{w}/{n}": g["data"][()] for w in ("acquisition", "stimulus/presentation") for n, g in f[w].items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="tiny")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--analyse", action="store_true")
    parser.add_argument("--cells", type=int, default=None, help="only the first N cells")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        study = load_study(simulate_study(tmp / "sim", seed=args.seed, size=args.size, progress=False))
        sessions = study.slice_sessions[: args.cells]
        sweep_mb = sum(f.path.stat().st_size for s in sessions for f in s.files) / 1e6
        print(f"{len(sessions)} simulated cells ({sweep_mb:.1f} MB of ABF), load {os.getloadavg()[0]:.2f}")
        times: dict = {"before": [], "now": []}
        sizes: dict = {"before": 0, "now": 0}
        for r in range(args.rounds):
            for k, session in enumerate(sessions):
                order = ("before", "now") if (r + k) % 2 == 0 else ("now", "before")
                paths = {}
                for which in order:
                    cls = Before if which == "before" else AbfSliceConverter
                    out = tmp / f"{which}_{session.key}.nwb"
                    out.unlink(missing_ok=True)
                    t0 = time.perf_counter()
                    paths[which] = cls(study, session, analyse=args.analyse).run_conversion(out)
                    times[which].append(time.perf_counter() - t0)
                    if r == 0:
                        sizes[which] += out.stat().st_size
                if r == 0:
                    a, b = sweeps(paths["before"]), sweeps(paths["now"])
                    assert a.keys() == b.keys() and all(np.array_equal(a[n], b[n]) for n in a)
            print(f"  round {r + 1}/{args.rounds}: load {os.getloadavg()[0]:.2f}")
        for which in ("before", "now"):
            median = 1e3 * statistics.median(times[which])
            print(f"{which:6s}: median {median:.0f} ms per cell, total {sum(times[which]) / args.rounds:.2f} s "
                  f"per round, files {sizes[which] / 1e6:.2f} MB")  # fmt: skip
        print(f"now / before: time {statistics.median(times['now']) / statistics.median(times['before']):.2f}, "
              f"size {sizes['now'] / sizes['before']:.3f} (load {os.getloadavg()[0]:.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
