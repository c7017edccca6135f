"""rnnbench's compiled loop against the two JAX forms (rnnbench/reference/jax.py), one thread
each, medians of interleaved repeats. `rnnbench bench` measures JAX in its table and goals; this
script adds what the bench does not: updates per CPU second, JAX left to its own threads, the
issue's 1-layer b50 s50 row, and glibc's default allocator against kept freed memory.

    python benchmarks/bench_jax.py                      # the rows of issue 17's table
    python benchmarks/bench_jax.py rnn100f64 --repeats 5
    python benchmarks/bench_jax.py --jax-threads all    # JAX left to XLA_FLAGS, as often done
    python benchmarks/bench_jax.py --keep-freed-memory  # glibc keeps large freed blocks

Text: the first 400,000 characters of ../shared/data/tinyshakespeare.txt (or --text). Besides
updates per wall second it prints updates per CPU second of the process, which a shared machine
disturbs less (every contender runs on one thread, so the two agree on a quiet machine).

At the large rows both contenders allocate tens of MB per call (XLA its temporaries, 55 MB at
lstm 2x128 b50 s50; rnnbench its workspace when updates_per_call is 1), which glibc maps and
unmaps each time above its mmap threshold (at most 32 MB): thousands of page faults per update.
--keep-freed-memory sets glibc's mallopt(M_MMAP_MAX=0, M_TRIM_THRESHOLD=2 GB) for the whole
process (all contenders alike), as MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=... would.
"""
import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROWS = {"rnn100f64": ("rnn", 100, 1, "float64", 1, 25),
        "rnn100f32": ("rnn", 100, 1, "float32", 1, 25),
        "lstm128f64": ("lstm", 128, 1, "float64", 1, 25),
        "lstm128f32": ("lstm", 128, 1, "float32", 1, 25),
        "gru128f64": ("gru", 128, 1, "float64", 1, 25),
        "lstm256b32f32": ("lstm", 256, 1, "float32", 32, 25),
        "lstm128b50s50f32": ("lstm", 128, 1, "float32", 50, 50),   # the table row
        "lstm2x128b50s50f32": ("lstm", 128, 2, "float32", 50, 50)}  # its goal row
TEXT = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare.txt"


def timed(step, seconds):
    """(updates per wall second, updates per CPU second) of calling step() for ``seconds``."""
    done, t0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        done += step()
    return done / (time.perf_counter() - t0), done / (time.process_time() - c0)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rows", nargs="*", default=list(ROWS), help=", ".join(ROWS))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--text", default=str(TEXT))
    ap.add_argument("--chars", type=int, default=400_000)
    ap.add_argument("--jax-threads", choices=("one", "all"), default="one",
                    help="all: start JAX with XLA_FLAGS=--xla_cpu_multi_thread_eigen=false "
                         "only, which does not hold it to one thread")
    ap.add_argument("--keep-freed-memory", action="store_true",
                    help="glibc: serve large blocks from the heap and never trim it")
    args = ap.parse_args(argv)
    unknown = [r for r in args.rows if r not in ROWS]
    if unknown:
        print(f"unknown rows: {', '.join(unknown)} (rows: {', '.join(ROWS)})", file=sys.stderr)
        return 2
    if not os.path.isfile(args.text):
        print(f"no text at {args.text} (give --text)", file=sys.stderr)
        return 2
    if args.keep_freed_memory:
        import ctypes
        try:  # M_MMAP_MAX = -4, M_TRIM_THRESHOLD = -1
            ok = ctypes.CDLL("libc.so.6").mallopt(-4, 0) and \
                ctypes.CDLL("libc.so.6").mallopt(-1, 2**31 - 1)
        except (OSError, AttributeError):
            ok = False
        if not ok:
            print("--keep-freed-memory needs glibc's mallopt", file=sys.stderr)
            return 1
    if args.jax_threads == "all":
        os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false"
        import jax
        jax.devices()

    from rnnbench.reference import jax as jr
    from rnnbench.bench.configs import Config
    from rnnbench.text.corpus import Corpus
    from rnnbench.training.threads import one_thread
    from rnnbench.training.state import TrainState

    jr.hold_to_one_thread()
    print(jr.describe())
    with open(args.text, encoding="utf-8") as f:
        corpus = Corpus(f.read()[:args.chars], 0.1, name="text")
    with one_thread():
        for key in args.rows:
            cfg = Config(*ROWS[key])
            model, k = cfg.model(corpus), cfg.updates_per_call
            T, B, data = cfg.seq_length, cfg.batch_size, corpus.train_ids
            ts = TrainState(model.copy(), data, T, batch_size=B)
            loop = jr.JaxLoop(model.copy(), data, T, batch_size=B)
            update = jr.JaxUpdate(model.copy(), data, T, batch_size=B)
            scratch = np.zeros(k)
            steps = {"rnnbench": lambda: ts.run(scratch, scratch),
                     "jax loop": lambda: loop.run(k), "jax update": lambda: update.run(k)}
            for step in steps.values():
                step()  # compile before timing
            rates = {name: [] for name in steps}
            for _ in range(args.repeats):
                for name, step in steps.items():
                    rates[name].append(timed(step, args.seconds))
            r = {name: np.array(v) for name, v in rates.items()}

            def cells(i):  # i = 0: per wall second, 1: per CPU second
                rate = "  ".join(f"{n} {np.median(v[:, i]):,.0f}" for n, v in r.items())
                vs = "  ".join(f"rnnbench/{n.split()[1]} "
                               f"{np.median(r['rnnbench'][:, i] / r[n][:, i]):.2f}x"
                               for n in ("jax loop", "jax update"))
                return f"{rate}  ({vs})"

            print(f"{cfg.label:<24} upd/s: {cells(0)}\n{'':<24} per CPU s: {cells(1)}",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
