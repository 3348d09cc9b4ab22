"""Burst detection throughput: the vectorised detector against a plain Python loop, same process, same train.

Claim (issue 5): at least 10 million spikes per second on one core. Run::

    OMP_NUM_THREADS=1 python benchmarks/bench_bursts.py [--spikes 10000000]

The train is a long simulated LHb-like train (bursts and tonic spikes, from the simulator's generator,
tiled). The loop baseline runs on a prefix (it is much slower: 11-16x per spike in the runs of issue 17,
the figure printed is the one measured) and its rate is compared per spike; both detectors' outputs are
checked equal on that prefix. The two alternate over ``--rounds`` rounds (A then B, then B then A, ...),
each figure printed with the load average, and the speed-up is the ratio of the median rates.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time

import numpy as np

from nwb_ketamine.analysis.bursts import BurstParameters, detect_bursts
from nwb_ketamine.simulate import spikes
from nwb_ketamine.simulate.parameters import SpikeParameters


def loop_detector(t: list[float], p: BurstParameters) -> list[int]:
    """Naive baseline: the rule spike by spike in pure Python."""
    ids, burst, i, n = [-1] * len(t), -1, 0, len(t)
    while i < n:
        before = t[i] - t[i - 1] if i else math.inf
        if before >= p.min_silence_s and i + 1 < n and t[i + 1] - t[i] <= p.onset_isi_s:
            j = i
            while j + 1 < n and t[j + 1] - t[j] <= p.end_isi_s:
                j += 1
            if j - i + 1 >= p.min_spikes:
                burst += 1
                for k in range(i, j + 1):
                    ids[k] = burst
            i = j + 1
        else:
            i += 1
    return ids


def make_train(n_spikes: int) -> np.ndarray:
    epochs = [spikes.Epoch("b", 0.0, 600.0, 0.45), spikes.Epoch("p", 600.0, 1200.0, 0.15)]
    unit = spikes.generate_unit(np.random.default_rng(0), epochs, 6.0, 30_000.0, SpikeParameters())
    t = unit.samples / 30_000.0
    reps = -(-n_spikes // t.size)
    return (t[None, :] + 1200.0 * np.arange(reps)[:, None]).ravel()[:n_spikes]


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spikes", type=int, default=10_000_000)
    parser.add_argument("--baseline-spikes", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    p = BurstParameters()
    t = make_train(args.spikes)
    prefix = t[: args.baseline_spikes]
    assert np.array_equal(detect_bursts(prefix, p), np.array(loop_detector(prefix.tolist(), p)))
    as_list = prefix.tolist()
    rates: dict[str, list[float]] = {"vectorised": [], "loop": []}
    runs = {
        "vectorised": lambda: t.size / best_of(lambda: detect_bursts(t, p), 3),
        "loop": lambda: prefix.size / best_of(lambda: loop_detector(as_list, p), 1),
    }
    for r in range(args.rounds):
        for name in ("vectorised", "loop") if r % 2 == 0 else ("loop", "vectorised"):
            rates[name].append(runs[name]())
            load = os.getloadavg()[0]
            what = f"{t.size:,} spikes" if name == "vectorised" else f"{prefix.size:,}-spike prefix"
            print(f"round {r + 1} {name:10s} ({what}): {rates[name][-1] / 1e6:6.2f} M spikes/s   load {load:.2f}")
    vec_rate, loop_rate = statistics.median(rates["vectorised"]), statistics.median(rates["loop"])
    in_bursts = float(np.mean(detect_bursts(t, p) >= 0))
    print(f"train: {t.size:,} spikes, {100 * in_bursts:.1f}% in bursts")
    print(
        f"median vectorised detect_bursts: {vec_rate / 1e6:.1f} M spikes/s; "
        f"python loop: {loop_rate / 1e6:.2f} M spikes/s"
    )
    print(
        f"measured speed-up: {vec_rate / loop_rate:.1f}x (load {os.getloadavg()[0]:.2f}); "
        f"goal >= 10 M spikes/s: {'met' if vec_rate >= 1e7 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
