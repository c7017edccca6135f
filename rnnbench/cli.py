"""The rnnbench command line. Numba and pandas are imported only by the commands that need them."""
import argparse
import json
import sys
import time
import typing
from pathlib import Path

EXIT_INVALID = 2


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{self.prog}: {message}")


def _field_options(parser, config_cls):
    """One --dashed-option per RunConfig field, typed and with the default in the help."""
    for name, info in config_cls.model_fields.items():
        flag = "--" + name.replace("_", "-")
        ann = info.annotation
        if typing.get_origin(ann) is typing.Union:  # Optional[X]: None means "per optimizer"
            ann = next(a for a in typing.get_args(ann) if a is not type(None))
        kwargs = dict(dest=name, default=None, help=f"{info.description} (default: {info.default})")
        if typing.get_origin(ann) is typing.Literal:
            kwargs["choices"] = list(typing.get_args(ann))
        elif ann in (int, float):
            kwargs["type"] = ann
            kwargs["metavar"] = ann.__name__.upper()
        parser.add_argument(flag, **kwargs)


def build_parser():
    from .config import RunConfig

    parser = _Parser(prog="rnnbench", description="Fast character-level RNN experiments.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("train", help="train one model (min-char-rnn recipe by default)",
                       description="Train one model. Every RunConfig field is an option.")
    _field_options(p, RunConfig)
    p.add_argument("--out", type=Path, help="run folder (default: a new folder under results/)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or samples")

    p = sub.add_parser("sample", help="sample text from a trained run",
                       description="Sample from a run folder or checkpoint. Sampling starts "
                       "from the hidden state training ended in (as min-char-rnn does), "
                       "warmed by the prime text.")
    p.add_argument("run", type=Path, help="run folder or checkpoint.npz")
    p.add_argument("--prime", default=None, help="text that warms the hidden state "
                   "(default: a newline, or the first character of the vocabulary)")
    p.add_argument("--temperature", type=float, default=1.0, help="> 0; lower is more "
                   "conservative (default: 1.0)")
    p.add_argument("--greedy", action="store_true", help="always take the likeliest character")
    p.add_argument("--length", type=int, default=500, help="characters to draw (default: 500)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--from-zero", action="store_true", help="start from a zero hidden state")

    p = sub.add_parser("gradcheck", help="check analytic gradients against numerical ones",
                       description="Compare analytic gradients with centred finite "
                       "differences for every parameter; exit status 1 when a check fails. "
                       "--all checks every cell x activation x layers (1-3) x dropout "
                       "(off/on) x batch (1, 3) and prints one table.")
    p.add_argument("--cell", default="rnn", choices=["rnn", "lstm", "gru"],
                   help="recurrent cell (default: rnn)")
    p.add_argument("--activation", default="tanh", choices=["tanh", "relu", "sigmoid"],
                   help="activation (default: tanh)")
    p.add_argument("--hidden-size", type=int, default=5, help="hidden units (default: 5)")
    p.add_argument("--num-layers", type=int, default=1, help="layers (default: 1)")
    p.add_argument("--dropout", type=float, default=0.0, help="dropout rate, with one fixed "
                   "mask for every evaluation (default: 0)")
    p.add_argument("--batch-size", type=int, default=1, help="streams (default: 1)")
    p.add_argument("--seq-length", type=int, default=25, help="chunk length (default: 25)")
    p.add_argument("--data", default="pydoc", help="text file or built-in corpus; the check "
                   "reads its first characters (default: pydoc)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights (default: 0)")
    p.add_argument("--init-scale", type=float, default=None, help="weights randn * this "
                   "(default: 0.01, the recipe; 0.1 with --all, to exercise the nonlinearities)")
    p.add_argument("--step", type=float, default=1e-2, help="finite-difference step")
    p.add_argument("--threshold", type=float, default=None, help="largest relative error "
                   "that passes (default: 1e-7; 1e-6 with --all)")
    p.add_argument("--all", action="store_true", help="the whole matrix, one table")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("bench", help="updates/s of the compiled loop against NumPy",
                       description="Benchmark the compiled training loop against plain NumPy "
                       "(min-char-rnn for the vanilla row, rnnbench.reference_cells for LSTM and "
                       "GRU), interleaved, medians of repeats.")
    p.add_argument("--suite", choices=["vanilla", "cells", "all", "quick"], default="all",
                   help="vanilla: hidden 100 RNN; cells: LSTM and GRU at hidden 128/256, 1-2 "
                   "layers, float64/float32, batch 1/32; all: both (default)")
    p.add_argument("--seq-length", type=int, default=25)
    p.add_argument("--repeats", type=int, default=3, help="interleaved repeats (median)")
    p.add_argument("--seconds", type=float, default=1.0, help="seconds per measurement")
    p.add_argument("--quick", action="store_true", help="a few rows, 3 repeats of 0.5 s")

    p = sub.add_parser("run", help="run a grid of experiments in parallel (a YAML file)",
                       description="Run every run of a grid file, in parallel, skipping those "
                       "already finished in the results folder; then write the tables, plots "
                       "and report. Exit status: 0 when every run finished (ok or diverged), "
                       "1 when a run failed, 2 for invalid input, 130 when interrupted.")
    p.add_argument("grid", type=Path, help="grid file, e.g. grids/task4.yaml")
    p.add_argument("--jobs", type=int, default=None, help="runs at once, one process and one "
                   "core each (default: every core)")
    p.add_argument("--backend", choices=["loky", "dask"], default="loky",
                   help="loky processes on this machine (default) or a dask cluster")
    p.add_argument("--scheduler", default=None, help="dask scheduler address, e.g. "
                   "tcp://host:8786 (default: a local cluster of --jobs workers)")
    p.add_argument("--out", type=Path, default=None, help="results folder (default: "
                   "results/<grid name>/)")
    p.add_argument("--dry-run", action="store_true", help="list the runs and which are done; "
                   "run nothing, write nothing")
    p.add_argument("--force", action="store_true", help="redo runs that are already finished")
    p.add_argument("--quiet", action="store_true", help="no progress bar or per-run lines")
    p.add_argument("--no-report", action="store_true", help="write the tables only (draw the "
                   "plots and report later with 'rnnbench report DIR')")

    for name, what in (("plot", "the plots (plots/*.png)"),
                       ("report", "report.md and report.html (and the plots)")):
        p = sub.add_parser(name, help=f"draw {what} of a grid's results folder again",
                           description=f"Write {what} from the tables of a results folder.")
        p.add_argument("results", type=Path, help="results folder, e.g. results/task4")
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print("rnnbench: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 -- user-facing errors become one line
        from .config import ConfigError
        from .data import CorpusError
        if isinstance(exc, (ConfigError, CorpusError, ValueError, FileNotFoundError)):
            print(f"rnnbench: error: {exc}", file=sys.stderr)
            return EXIT_INVALID
        raise


def cmd_train(args):
    from .config import RunConfig
    from .data import Corpus
    from .records import prepare_corpus
    from .store import save_run
    from .training import train

    values = {k: v for k, v in vars(args).items() if k in RunConfig.model_fields and v is not None}
    config = RunConfig.build(values)
    corpus = prepare_corpus(Corpus.load(config.data, config.val_fraction), config)
    corpus.check_length(config.seq_length)
    out = args.out or _new_run_folder(config)
    if out.exists() and any(out.iterdir()) and not (out / "summary.json").exists():
        raise UsageError(f"rnnbench: {out} exists and is not a run folder; choose another --out")
    print(f"run folder: {out}")
    print(f"corpus: {corpus.name}, {len(corpus.text):,} characters, vocabulary "
          f"{corpus.vocab_size}, {len(corpus.train_ids):,} train / {len(corpus.val_ids):,} val"
          + (f" ({corpus.n_train:,} / {corpus.n_val:,} records, end symbol "
             f"{corpus.end_symbol!r})" if config.records else ""))
    result = train(config, corpus=corpus, progress=not args.quiet,
                   on_sample=None if args.quiet else _print_sample)
    save_run(result, out)
    s = result.summary
    print(f"{s['updates']:,} updates in {s['wall_s']:.1f} s ({s['updates_per_s']:,.0f} "
          f"updates/s); smooth loss {s['final_smooth_loss']:.2f} per chunk = "
          f"{s['final_smooth_loss_per_char']:.3f} nats/char; validation "
          f"{s['final_val_loss_per_char']:.3f} nats/char = "
          f"{s['final_val_bits_per_char']:.3f} bits/char")
    print(f"saved: {out}")
    if s["status"] != "ok":
        print(f"rnnbench: run diverged: {s['error']} (tables kept in {out})", file=sys.stderr)
        return 1
    return 0


def _print_sample(row):
    from tqdm import tqdm
    tqdm.write(f"----- update {row['update']} -----\n{row['prime']}{row['text']}\n-----")


def _new_run_folder(config):
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path("results") / f"train-{config.cell}-h{config.hidden_size}-{stamp}"
    out, k = base, 1
    while out.exists():
        k += 1
        out = base.with_name(f"{base.name}-{k}")
    return out


def cmd_sample(args):
    from .model import load_checkpoint
    from .store import checkpoint_path

    path = checkpoint_path(args.run)
    if not path.exists():
        raise UsageError(f"rnnbench: {args.run}: no checkpoint found (expected a run folder or "
                         f"a checkpoint.npz)")
    if not args.temperature > 0:
        raise UsageError(f"rnnbench: --temperature must be > 0, got {args.temperature}")
    if args.length < 0:
        raise UsageError(f"rnnbench: --length must be >= 0, got {args.length}")
    model, arrays, _ = load_checkpoint(path)
    prime = args.prime
    if prime is None:
        prime = "\n" if "\n" in model.chars else model.chars[0]
    if prime == "":
        raise UsageError("rnnbench: --prime must hold at least one character")
    missing = sorted({c for c in prime if c not in model.chars})
    if missing:
        raise UsageError(f"rnnbench: --prime holds characters not in the model's vocabulary: "
                         f"{''.join(missing)!r}")
    h = None if args.from_zero or "h" not in arrays else arrays["h"]
    if h is not None and h.ndim == 3:  # (state rows, streams, H): continue stream 0
        h = h[:, 0]
    text = model.sample(prime, args.length, args.temperature, args.greedy, args.seed, h)
    print(prime + text)
    return 0


def cmd_gradcheck(args):
    from .data import Corpus
    from .gradient_check import chunk_pair, format_table, gradcheck
    from .model import Model

    for name in ("hidden_size", "num_layers", "batch_size", "seq_length"):
        if getattr(args, name) < 1:
            raise UsageError(f"rnnbench: --{name.replace('_', '-')} must be >= 1")
    if not 0 <= args.dropout < 1:
        raise UsageError(f"rnnbench: --dropout must be in [0, 1), got {args.dropout}")
    corpus = Corpus.load(args.data, 0.0)
    streams = 3 if args.all else args.batch_size
    need = streams * (args.seq_length + 1)
    if len(corpus.train_ids) < need:
        raise UsageError(f"rnnbench: {corpus.name} has {len(corpus.train_ids)} characters; "
                         f"the check needs {need}")
    if args.all:
        return _gradcheck_all(args, corpus)
    threshold = 1e-7 if args.threshold is None else args.threshold
    init_scale = 0.01 if args.init_scale is None else args.init_scale
    model = Model.create(args.cell, corpus.vocab_size, args.hidden_size, args.num_layers,
                         args.activation, "float64", args.seed, init_scale)
    B, T = args.batch_size, args.seq_length
    xs, ys = chunk_pair(corpus.train_ids, B, T)
    result = gradcheck(model, xs, ys, step=args.step, threshold=threshold,
                       dropout=args.dropout, mask_seed=args.seed + 1)
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        print(f"gradient check: cell {args.cell}, activation {args.activation}, hidden "
              f"{args.hidden_size}, layers {args.num_layers}, dropout {args.dropout:g}, batch "
              f"{B}, seq_length {T}, vocabulary {corpus.vocab_size}, float64")
        print(format_table(result))
    return 0 if result.passed else 1


def _gradcheck_all(args, corpus):
    from .gradient_check import FORMULA, gradcheck_matrix

    threshold = 1e-6 if args.threshold is None else args.threshold
    init_scale = 0.1 if args.init_scale is None else args.init_scale
    rows = []
    if not args.json:
        print(f"gradient check matrix: hidden {args.hidden_size}, seq_length {args.seq_length}, "
              f"vocabulary {corpus.vocab_size}, init_scale {init_scale:g}, float64, "
              f"threshold {threshold:g}")
        print(f"{'cell':<6}{'activation':<11}{'layers':>7}{'dropout':>8}{'batch':>6}"
              f"{'params':>8}{'max rel err':>13}{'skipped':>9}  verdict", flush=True)
    for row in gradcheck_matrix(corpus.train_ids, corpus.vocab_size, args.hidden_size,
                                args.seq_length, args.seed, init_scale, args.step, threshold):
        rows.append(row)
        if not args.json:
            print(f"{row['cell']:<6}{row['activation']:<11}{row['num_layers']:>7}"
                  f"{row['dropout']:>8g}{row['batch_size']:>6}{row['params']:>8}"
                  f"{row['max_rel_error']:>13.2e}{row['skipped']:>9}  "
                  f"{'passed' if row['passed'] else 'FAILED'}", flush=True)
    failed = [r for r in rows if not r["passed"]]
    worst = max(r["max_rel_error"] for r in rows)
    if args.json:
        print(json.dumps({"max_rel_error": worst, "passed": not failed, "threshold": threshold,
                          "combinations": rows, "formula": FORMULA}))
    else:
        print(f"{len(rows)} combinations, {len(failed)} failed; worst relative error "
              f"{worst:.2e} (threshold {threshold:g}). {FORMULA}. 'skipped': ReLU elements "
              f"with a kink within 3 steps of their value, left out (see rnnbench.gradient_check).")
    return 1 if failed else 0


def cmd_bench(args):
    from .bench import HEADER, format_row, run_bench

    if args.quick:
        args.suite, args.repeats, args.seconds = "quick", 3, 0.5
    if args.repeats < 1 or not args.seconds > 0 or args.seq_length < 1:
        raise UsageError("rnnbench: --repeats, --seconds and --seq-length must be positive")
    print(HEADER, flush=True)
    rows = run_bench(args.suite, args.seq_length, args.repeats, args.seconds,
                     progress=lambda row: print(format_row(row), flush=True))
    print(f"seq_length {args.seq_length}, vocabulary {rows[0]['vocab_size']}; medians of "
          f"{args.repeats} interleaved repeats of {args.seconds:g} s")
    return 0



def cmd_run(args):
    from .grid import load_grid
    from .results import ResultsDir

    grid = load_grid(args.grid)
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"rnnbench: --jobs must be >= 1, got {args.jobs}")
    if args.scheduler and args.backend != "dask":
        raise UsageError("rnnbench: --scheduler needs --backend dask")
    out = args.out or Path("results") / grid.name
    if out.exists() and not out.is_dir():
        raise UsageError(f"rnnbench: {out} is a file, not a results folder; choose another --out")
    results = ResultsDir(out)
    finished = sum(results.is_finished(r.run_id) for r in grid.runs)
    if args.dry_run:
        _print_dry_run(grid, results, out, finished, args.force)
        return 0
    if args.backend == "dask":
        import importlib.util
        if importlib.util.find_spec("distributed") is None:
            raise UsageError("rnnbench: --backend dask needs dask.distributed: pip install "
                             "'rnnbench[dask]'")
    from .runner import default_jobs, run_grid

    jobs = args.jobs or default_jobs()
    todo = len(grid.runs) if args.force else len(grid.runs) - finished
    print(f"grid {grid.name}: {len(grid.runs)} runs, {len(grid.runs) - todo} already finished, "
          f"{todo} to run on {jobs} {'dask' if args.backend == 'dask' else 'local'} "
          f"worker{'s' if jobs > 1 else ''}; results in {out}")
    done = run_grid(grid, results, jobs, args.backend, args.scheduler, args.force,
                    progress=not args.quiet)
    if done.interrupted:
        print(f"rnnbench: interrupted; {len(done.statuses)} runs finished now are kept in "
              f"{out}; run the same command again to do the rest", file=sys.stderr)
        return 130
    if not args.no_report:
        _draw(out, report=True)
    counts = ", ".join(f"{done.count(s)} {s}" for s in ("ok", "diverged", "failed"))
    wrote = "tables" if args.no_report else "tables, plots and report"
    print(f"done: {counts} (and {done.skipped} finished before); {wrote} in {out}")
    for label, seed, error in done.failed:
        print(f"rnnbench: failed: {label}, seed={seed}: {error}", file=sys.stderr)
    return 1 if done.failed else 0


def _print_dry_run(grid, results, out, finished, force):
    print(f"grid {grid.name} ({grid.path}): {len(grid.runs)} runs; swept: "
          f"{', '.join(grid.swept) or 'nothing'}; results folder {out}")
    for i, spec in enumerate(grid.runs, 1):
        status = results.status(spec.run_id)
        state = "to run" if status is None or status == "failed" or force else "done"
        note = f" ({status})" if status else ""
        print(f"{i:4d}  {spec.run_id}  {state + note:<18s} {spec.label}, seed={spec.config.seed}")
    todo = len(grid.runs) if force else len(grid.runs) - finished
    print(f"{finished} of {len(grid.runs)} finished; {todo} would run")


def _draw(out, report):
    from .plots import make_plots
    paths = make_plots(out)
    if report:
        from .report import write_report
        paths += write_report(out)
    return paths


def cmd_plot(args):
    for path in _draw(args.results, report=False):
        print(path)
    return 0


def cmd_report(args):
    for path in _draw(args.results, report=True):
        print(path)
    return 0


COMMANDS = {"train": cmd_train, "sample": cmd_sample, "gradcheck": cmd_gradcheck,
            "bench": cmd_bench, "run": cmd_run, "plot": cmd_plot, "report": cmd_report}

if __name__ == "__main__":
    sys.exit(main())
