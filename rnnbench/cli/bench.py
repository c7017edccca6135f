"""``rnnbench bench`` (speed against NumPy, PyTorch and JAX, the speed goals) and ``rnnbench
warmup`` (compile every kernel once).

The parts of rnnbench a command uses are imported inside it (as in every cli module), so
that ``rnnbench --help`` imports neither Numba nor pandas."""
import sys
from pathlib import Path

from .options import ranged


def add_parser(sub):
    p = sub.add_parser("bench", help="speed against NumPy, PyTorch and JAX, and the speed goals",
                       description="Train each configuration with rnnbench, plain NumPy "
                       "(min-char-rnn; rnnbench.reference.cells for LSTM and GRU), PyTorch and "
                       "JAX (one jit per update, and the whole loop in one jit; each when "
                       "installed: pip install rnnbench[bench]), taking turns, one thread each, "
                       "each peer checked to agree with rnnbench's first losses; print updates/s, "
                       "chars/s, GFLOP/s against the measured peak and the ratios (medians), "
                       "then where each configuration's update time goes (each stage, and "
                       "its matrix products timed alone: the bound on this BLAS; the machine's "
                       "floor for any implementation), each speed "
                       "goal, start-up times and --jobs scaling. Writes bench.parquet, "
                       "goals.parquet, info.json, profile.parquet and bench.png to --out. "
                       "Where the environment pins OpenBLAS's kernels (OPENBLAS_CORETYPE), "
                       "measure the machine's own with: env -u OPENBLAS_CORETYPE -u "
                       "OPENBLAS_L2_SIZE rnnbench bench")
    p.add_argument("--suite", choices=["goals", "vanilla", "cells"], default="goals",
                   help="goals: the rows the speed goals name (default); vanilla: hidden 100 "
                   "RNN in float64 and float32; cells: LSTM and GRU at hidden 128/256, 1-2 "
                   "layers, float64/float32, batch 1/32")
    p.add_argument("--repeats", type=ranged(int, 1, 100), default=3,
                   help="interleaved repeats (median), 1 to 100 (default: 3)")
    p.add_argument("--seconds", type=ranged(float, 0, 600, low_open=True), default=1.0,
                   help="seconds per measurement, at most 600 (default: 1)")
    p.add_argument("--quick", action="store_true", help="about a minute: four rows, 3 repeats "
                   "of 0.3 s, warm start, no profile, cold start or scaling")
    p.add_argument("--no-startup", action="store_true",
                   help="skip the start-up times and the --jobs scaling (the threads row still "
                        "runs)")
    p.add_argument("--no-profile", action="store_true", help="skip where the time goes")
    p.add_argument("--default-malloc", action="store_true",
                   help="leave glibc's allocator as it is (by default the bench makes it keep "
                   "freed memory, for every contender alike, so that large temporaries do not "
                   "page-fault on every call)")
    p.add_argument("--out", type=Path, default=Path("results/bench"),
                   help="folder for the tables and the plot (default: results/bench)")

    p = sub.add_parser("warmup", help="compile every kernel now (the first run is then fast)",
                       description="Compile (or load from the cache) every kernel in float64 "
                       "and float32 and print where the cache lives. Run once after installing.")


def cmd_bench(args):
    from ..bench.contenders import ContenderMismatch
    from ..bench.measure import run_bench
    from ..bench.output import (HEADER, PROFILE_HEADER, format_goal, format_info,
                                format_profile, format_row, save_bench)

    suite, scaling_updates, profile = args.suite, 30000, not args.no_profile
    if args.quick:
        suite, args.repeats, args.seconds, scaling_updates, profile = "quick", 3, 0.3, 0, False

    def progress(kind, what):
        if kind == "row":
            print("\n".join(map(format_row, what)), flush=True)
        elif kind == "profile":
            print("\nwhere the time goes, us per update (products: the update's matrix "
                  "products timed alone; floor: the machine's, for any implementation)")
            print(PROFILE_HEADER)
            print("\n".join(map(format_profile, what)), flush=True)
        else:
            print("start-up and scaling measured", flush=True)

    from ..disk.writing import probe_writable
    args.out.mkdir(parents=True, exist_ok=True)  # a folder it cannot write fails now, not
    probe_writable(args.out / "bench.parquet")   # after the measurements
    print(HEADER, flush=True)
    try:
        rows, goal_rows, info = run_bench(suite, args.repeats, args.seconds,
                                          startup=not args.no_startup,
                                          scaling_updates=scaling_updates, profile=profile,
                                          progress=progress, keep_freed=not args.default_malloc)
    except ContenderMismatch as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(format_info(info))
    shown = goal_rows if suite in ("goals", "quick") else [g for g in goal_rows
                                                           if g["value"] is not None]
    if shown:  # another suite: the goals it measured
        print("\ngoals")
        print("\n".join(map(format_goal, shown)))
    out = save_bench(rows, goal_rows, info, args.out)
    print(f"\nsaved: {out}/bench.parquet, goals.parquet, info.json, bench.png")
    return 0


def cmd_warmup(args):
    from ..training.warmup import cache_dir, warmup

    seconds = warmup()
    print(", ".join(f"{d}: {s:.1f} s" for d, s in seconds.items()))
    print(f"kernel cache: {cache_dir()}")
    return 0
