"""Before/after speed of two rnnbench trees on this machine: is a change to the package slower?

Times rows of ``rnnbench bench`` (by default rnn 100 and lstm 128, float64, seq_length 25,
batch 1; ``--rows`` picks others from ROWS, the batch rows among them), one thread, in a fresh
process per measurement, the two trees taking
turns (A B B A, ...) so that a shared machine's noise hits both alike, and prints each tree's
median updates/s, their spread (min to max) and the ratio after / before per row, by the wall
clock and by the process's CPU time (steadier when other work shares the cores).

    python benchmarks/ab.py BEFORE AFTER [--pairs 5] [--cold 2] [--rows "lstm 256 b32 f32"]

BEFORE and AFTER are checkouts of rnnbench (folders holding rnnbench/), each put first on
PYTHONPATH in turn. The time is that of TrainState.run, the compiled training loop, for the
row's updates on the built-in corpus; each process first runs a few updates, so compiling or
loading the kernels is not timed. ``--cold N`` also times ``rnnbench warmup`` with an empty
NUMBA_CACHE_DIR N times per tree (taking turns): the compile time from nothing.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# cell, hidden, updates, layers, batch, seq_length, dtype
ROWS = {"rnn 100": ("rnn", 100, 20000, 1, 1, 25, "float64"),
        "lstm 128": ("lstm", 128, 4000, 1, 1, 25, "float64"),
        "rnn 100 f32": ("rnn", 100, 30000, 1, 1, 25, "float32"),
        "lstm 256 b32 f32": ("lstm", 256, 60, 1, 32, 25, "float32"),
        "gru 256 b32 f32": ("gru", 256, 80, 1, 32, 25, "float32"),
        "lstm 2x128 b50 s50 f32": ("lstm", 128, 25, 2, 50, 50, "float32"),
        "lstm 128 b16 f32": ("lstm", 128, 400, 1, 16, 25, "float32"),
        "lstm 256 b32 f64": ("lstm", 256, 30, 1, 32, 25, "float64")}
DEFAULT_ROWS = ("rnn 100", "lstm 128")
ONE_THREAD = {name: "1" for name in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS",
                                     "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
CHILD = r"""
import json, sys, time
import numpy as np
import rnnbench
try:
    from rnnbench.training.state import TrainState
except ImportError:  # before the layout of issue 14
    from rnnbench.training import TrainState
cell, dtype = sys.argv[1], sys.argv[7]
hidden, updates, layers, batch, seq = (int(a) for a in sys.argv[2:7])
corpus = rnnbench.Corpus.load("pydoc")
model = rnnbench.Model.create(cell, corpus.vocab_size, hidden, num_layers=layers, seed=0,
                              dtype=dtype, chars=corpus.chars)
state = TrainState(model, corpus.train_ids, seq, batch_size=batch)
state.run(np.zeros(3), np.zeros(3))  # loads (or compiles) the kernels
wall, cpu = time.perf_counter(), time.process_time()
state.run(np.zeros(updates), np.zeros(updates))
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
print(json.dumps([rnnbench.__file__, updates / wall, updates / cpu]))
"""


def env_for(tree, **extra):
    return dict(os.environ, PYTHONPATH=str(tree), **ONE_THREAD, **extra)


def updates_per_s(tree, cell, *sizes):
    # in the tree: `python -c` puts the working folder first on sys.path, before PYTHONPATH
    out = subprocess.run([sys.executable, "-c", CHILD, cell, *map(str, sizes)],
                         cwd=tree, env=env_for(tree), capture_output=True, text=True,
                         check=True)
    where, wall, cpu = json.loads(out.stdout)
    assert where.startswith(str(tree)), f"{tree} is not the tree imported: {where}"
    return wall, cpu


def cold_warmup_s(tree):
    """(wall, CPU) seconds of ``rnnbench warmup`` from an empty cache."""
    with tempfile.TemporaryDirectory() as cache:
        start, used = time.perf_counter(), _children_cpu()
        subprocess.run([sys.executable, "-m", "rnnbench", "warmup"], cwd=tree, check=True,
                       env=env_for(tree, NUMBA_CACHE_DIR=cache), capture_output=True)
        return time.perf_counter() - start, _children_cpu() - used


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def turns(pairs):
    """A B, B A, A B, ...: each tree goes first as often as the other."""
    return [(0, 1) if k % 2 == 0 else (1, 0) for k in range(pairs)]


def report(row, measured, unit):
    """Per tree the median, min and max of the wall-clock and the CPU-time figures (on a shared
    machine the CPU time is the steadier), and the ratios after / before of the medians."""
    for k, clock in enumerate(("wall", "CPU")):
        values = [[m[k] for m in tree] for tree in measured]
        ratio = statistics.median(values[1]) / statistics.median(values[0])
        print(f"{row}, {clock}: after / before = {ratio:.3f}")
        for name, v in zip(("before", "after"), values):
            print(f"  {name}: median {statistics.median(v):,.1f} {unit} (min {min(v):,.1f}, "
                  f"max {max(v):,.1f}, n={len(v)})")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("before", type=Path)
    p.add_argument("after", type=Path)
    p.add_argument("--pairs", type=int, default=5, help="measurements per tree and row")
    p.add_argument("--cold", type=int, default=0, help="cold `rnnbench warmup` runs per tree")
    p.add_argument("--rows", nargs="+", choices=sorted(ROWS), default=DEFAULT_ROWS,
                   metavar="ROW", help=f"rows to time (default: {', '.join(DEFAULT_ROWS)}; "
                   f"all: {'; '.join(ROWS)})")
    args = p.parse_args(argv)
    trees = [args.before.resolve(), args.after.resolve()]
    for row in args.rows if args.pairs > 0 else ():
        speeds = ([], [])
        for order in turns(args.pairs):
            for k in order:
                speeds[k].append(updates_per_s(trees[k], *ROWS[row]))
        report(row, speeds, "upd/s")
    if args.cold:
        seconds = ([], [])
        for order in turns(args.cold):
            for k in order:
                seconds[k].append(cold_warmup_s(trees[k]))
        report("cold `rnnbench warmup`", seconds, "s")


if __name__ == "__main__":
    main()
