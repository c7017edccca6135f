"""Before/after speed of two rnnbench trees on this machine: is a change to the package slower?

Times the vanilla and LSTM rows of ``rnnbench bench`` (rnn 100 and lstm 128, float64,
seq_length 25, batch 1, one thread) in a fresh process per measurement, the two trees taking
turns (A B B A, ...) so that a shared machine's noise hits both alike, and prints each tree's
median updates/s, their spread (min to max) and the ratio after / before per row.

    python benchmarks/ab.py BEFORE AFTER [--pairs 5] [--cold 2]

BEFORE and AFTER are checkouts of rnnbench (folders holding rnnbench/), each put first on
PYTHONPATH in turn. The time is RunResult.summary["train_s"] (the compiled loop's, without
validation or samples) of ``rnnbench.train``, the public API, so any version can be timed; each
process first trains a few updates, so compiling or loading the kernels is not timed. ``--cold
N`` also times ``rnnbench warmup`` with an empty NUMBA_CACHE_DIR N times per tree (taking
turns): the compile time from nothing.
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

ROWS = {"rnn 100": ("rnn", 100, 20000), "lstm 128": ("lstm", 128, 4000)}  # cell, H, updates
ONE_THREAD = {name: "1" for name in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS",
                                     "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
CHILD = r"""
import json, sys
import rnnbench
cell, hidden, updates = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
base = dict(data="pydoc", cell=cell, hidden_size=hidden, sample_every=0)
rnnbench.train(rnnbench.RunConfig(**base, updates=50, trace_every=50, eval_every=50))
result = rnnbench.train(rnnbench.RunConfig(**base, updates=updates, trace_every=updates,
                                           eval_every=updates))
print(json.dumps(rnnbench.__file__) + " " + json.dumps(result.summary["updates_per_s"]))
"""


def env_for(tree, **extra):
    return dict(os.environ, PYTHONPATH=str(tree), **ONE_THREAD, **extra)


def updates_per_s(tree, cell, hidden, updates):
    out = subprocess.run([sys.executable, "-c", CHILD, cell, str(hidden), str(updates)],
                         env=env_for(tree), capture_output=True, text=True, check=True)
    where, speed = out.stdout.split()
    assert json.loads(where).startswith(str(tree)), f"{tree} is not the tree imported: {where}"
    return float(speed)


def cold_warmup_s(tree):
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "rnnbench", "warmup"], cwd=tree, check=True,
                       env=env_for(tree, NUMBA_CACHE_DIR=cache), capture_output=True)
        return time.perf_counter() - start


def turns(pairs):
    """A B, B A, A B, ...: each tree goes first as often as the other."""
    return [(0, 1) if k % 2 == 0 else (1, 0) for k in range(pairs)]


def summary(name, values, unit):
    return (f"{name}: median {statistics.median(values):,.{0 if unit == 'upd/s' else 1}f} "
            f"{unit} (min {min(values):,.1f}, max {max(values):,.1f}, n={len(values)})")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("before", type=Path)
    p.add_argument("after", type=Path)
    p.add_argument("--pairs", type=int, default=5, help="measurements per tree and row")
    p.add_argument("--cold", type=int, default=0, help="cold `rnnbench warmup` runs per tree")
    args = p.parse_args(argv)
    trees = [args.before.resolve(), args.after.resolve()]
    for row, (cell, hidden, updates) in ROWS.items():
        speeds = ([], [])
        for order in turns(args.pairs):
            for k in order:
                speeds[k].append(updates_per_s(trees[k], cell, hidden, updates))
        ratio = statistics.median(speeds[1]) / statistics.median(speeds[0])
        print(f"{row}: after / before = {ratio:.3f}")
        for name, values in zip(("  before", "  after"), speeds):
            print(summary(name, values, "upd/s"))
    if args.cold:
        seconds = ([], [])
        for order in turns(args.cold):
            for k in order:
                seconds[k].append(cold_warmup_s(trees[k]))
        print("cold `rnnbench warmup`:")
        for name, values in zip(("  before", "  after"), seconds):
            print(summary(name, values, "s"))


if __name__ == "__main__":
    main()
