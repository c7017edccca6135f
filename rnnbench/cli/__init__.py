"""The rnnbench command line. Numba and pandas are imported only by the commands that need them."""
import argparse
import contextlib
import json
import math
import re
import sys
import time
import typing
from pathlib import Path

EXIT_INVALID = 2
# the RunConfig fields gradcheck takes, and its own default: a small model, as every
# weight is perturbed in turn
GRADCHECK_FIELDS = ("data", "cell", "activation", "hidden_size", "num_layers", "dropout",
                    "seq_length", "init_scale", "batch_size", "seed")
GRADCHECK_DEFAULTS = {"hidden_size": 5}
MAX_JOBS = 4096  # a sane ceiling; the runner lowers --jobs to the runs and cores it has


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # "argument --jobs: must be >= 1, got 0" reads better as "--jobs must be >= 1, got 0"
        message = re.sub(r"^argument (-[\w-]+)(?:/-[\w-]+)*: must be", r"\1 must be", message)
        raise UsageError(f"{self.prog}: {message}")


def _ranged(kind, low, high, low_open=False):
    """An argparse type: a ``kind`` (int or float, finite) from ``low`` to ``high`` (``low``
    itself excluded when ``low_open``); anything else is a one-line usage error, exit 2."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be {'an integer' if kind is int else 'a number'}, got {text!r}") from None
        if kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        if value < low or (low_open and value == low):
            raise argparse.ArgumentTypeError(f"must be {'>' if low_open else '>='} {low}, got "
                                             f"{text}")
        if value > high:
            raise argparse.ArgumentTypeError(f"must be <= {high}, got {text}")
        return value
    parse.__name__ = kind.__name__  # argparse names the type in its own messages
    return parse


def _field_options(parser, config_cls, names=None, defaults=None):
    """One --dashed-option per RunConfig field (or those ``names``), typed, default in the help
    (``defaults``: a command's own, in place of RunConfig's)."""
    defaults = defaults or {}
    for name, info in config_cls.model_fields.items():
        if names is not None and name not in names:
            continue
        flag = "--" + name.replace("_", "-")
        ann = info.annotation
        if typing.get_origin(ann) is typing.Union:  # Optional[X]: None means "per optimizer"
            ann = next(a for a in typing.get_args(ann) if a is not type(None))
        if typing.get_origin(ann) is typing.Annotated:  # config.Int, config.Float
            ann = typing.get_args(ann)[0]
        kwargs = dict(dest=name, default=defaults.get(name),
                      help=f"{info.description} (default: {defaults.get(name, info.default)})")
        if typing.get_origin(ann) is typing.Literal:
            kwargs["choices"] = list(typing.get_args(ann))
        elif ann in (int, float):
            kwargs["type"] = ann
            kwargs["metavar"] = ann.__name__.upper()
        parser.add_argument(flag, **kwargs)


def _config(args, **changes):
    """The RunConfig of the options given (RunConfig's checks and messages), with ``changes``."""
    from ..config import RunConfig

    values = {k: v for k, v in vars(args).items() if k in RunConfig.model_fields and v is not None}
    return RunConfig.build({**changes, **values})


def build_parser():
    from ..config import RunConfig

    parser = _Parser(prog="rnnbench", description="Fast character-level RNN experiments.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("train", help="train one model (min-char-rnn recipe by default)",
                       description="Train one model. Every RunConfig field is an option.")
    _field_options(p, RunConfig)
    p.add_argument("--out", type=Path, help="run folder (default: a new folder under results/)")
    p.add_argument("--force", action="store_true", help="replace the run already in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar or samples")

    p = sub.add_parser("sample", help="sample text from a trained run",
                       description="Sample from a run folder, a checkpoint, or the best run of "
                       "a grid's results folder (--best). Sampling starts from the hidden state "
                       "training ended in (as min-char-rnn does), warmed by the prime text. Each "
                       "sample's novelty is the share of its 8-grams that never occur in the "
                       "training text (0: copied; NaN: shorter than 8). One sample prints its "
                       "text alone (settings and novelty go to stderr); several print a header "
                       "line each.")
    p.add_argument("run", type=Path, help="run folder, checkpoint.npz, or grid results folder "
                   "(with --best)")
    p.add_argument("--best", action="store_true", help="sample the run of the grid results "
                   "folder with the lowest final validation loss")
    p.add_argument("--prime", default=None, help="text that warms the hidden state "
                   "(default: a newline, or the first character of the vocabulary)")
    p.add_argument("--temperature", type=float, nargs="+", default=[1.0], metavar="T",
                   help="one or several values > 0; lower is more conservative (default: 1.0)")
    p.add_argument("--greedy", action="store_true", help="always take the likeliest character")
    p.add_argument("--top-k", type=int, default=0, metavar="K", help="draw among the K "
                   "likeliest characters only, after temperature (default: 0, all)")
    p.add_argument("--stop", default=None, metavar="CHAR", help="end a sample when this "
                   "character is drawn (not printed), e.g. an end-of-record symbol")
    p.add_argument("--length", type=int, default=500, help="characters to draw, at most "
                   "(default: 500)")
    p.add_argument("--count", type=int, default=1, metavar="N", help="samples per temperature, "
                   "with seeds seed .. seed+N-1 (default: 1)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--from-zero", action="store_true", help="start from a zero hidden state")
    p.add_argument("--json", action="store_true", help="print one JSON document: run, "
                   "settings and samples (temperature, seed, text, novelty)")

    p = sub.add_parser("gradcheck", help="check analytic gradients against numerical ones",
                       description="Compare analytic gradients with centred finite "
                       "differences for every parameter, on the first characters of --data; "
                       "dropout keeps one fixed mask for every evaluation; exit status 1 when "
                       "a check fails. --all checks every cell x activation x layers (1-3) x "
                       "dropout (off/on) x batch (1, 3) and prints one table, with "
                       "--init-scale 0.1 unless given, to exercise the nonlinearities.")
    _field_options(p, RunConfig, GRADCHECK_FIELDS, GRADCHECK_DEFAULTS)
    p.add_argument("--step", type=_ranged(float, 0, 1, low_open=True), default=1e-2,
                   help="finite-difference step, > 0 and <= 1 (default: 0.01)")
    p.add_argument("--threshold", type=_ranged(float, 0, 1, low_open=True), default=None,
                   help="largest relative error that passes, > 0 and <= 1 (default: 1e-7; "
                   "1e-6 with --all)")
    p.add_argument("--all", action="store_true", help="the whole matrix, one table")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("bench", help="speed against NumPy and PyTorch, and the speed goals",
                       description="Train each configuration with rnnbench, plain NumPy "
                       "(min-char-rnn; rnnbench.reference.cells for LSTM and GRU) and PyTorch "
                       "(when installed), taking turns, one thread each; print updates/s, "
                       "chars/s, GFLOP/s against the measured peak and the ratios (medians), "
                       "then where each configuration's update time goes (each stage, and "
                       "its matrix products timed alone: the bound on this BLAS), each speed "
                       "goal, start-up times and --jobs scaling. Writes bench.parquet, "
                       "goals.parquet, info.json, profile.parquet and bench.png to --out.")
    p.add_argument("--suite", choices=["goals", "vanilla", "cells"], default="goals",
                   help="goals: the rows the speed goals name (default); vanilla: hidden 100 "
                   "RNN in float64 and float32; cells: LSTM and GRU at hidden 128/256, 1-2 "
                   "layers, float64/float32, batch 1/32")
    p.add_argument("--repeats", type=_ranged(int, 1, 100), default=3,
                   help="interleaved repeats (median), 1 to 100 (default: 3)")
    p.add_argument("--seconds", type=_ranged(float, 0, 600, low_open=True), default=1.0,
                   help="seconds per measurement, at most 600 (default: 1)")
    p.add_argument("--quick", action="store_true", help="about 20 s: four rows, 3 repeats "
                   "of 0.3 s, warm start, no profile, cold start or scaling")
    p.add_argument("--no-startup", action="store_true", help="skip start-up and scaling")
    p.add_argument("--no-profile", action="store_true", help="skip where the time goes")
    p.add_argument("--out", type=Path, default=Path("results/bench"),
                   help="folder for the tables and the plot (default: results/bench)")

    p = sub.add_parser("warmup", help="compile every kernel now (the first run is then fast)",
                       description="Compile (or load from the cache) every kernel in float64 "
                       "and float32 and print where the cache lives. Run once after installing.")

    p = sub.add_parser("run", help="run a grid of experiments in parallel (a YAML file)",
                       description="Run every run of a grid file, in parallel, skipping those "
                       "already finished in the results folder; then write the tables, plots "
                       "and report. Exit status: 0 when every run finished (ok or diverged), "
                       "1 when a run failed (its worker died, too) or the dask scheduler "
                       "cannot be reached, 2 for invalid input, 130 when interrupted "
                       "(Ctrl-C), 143 when terminated (SIGTERM).")
    p.add_argument("grid", type=Path, help="grid file, e.g. grids/task4.yaml")
    p.add_argument("--jobs", type=_ranged(int, 1, MAX_JOBS), default=None, help="runs at "
                   "once, one process and one core each (default: every core; never more than "
                   "the runs to do or the cores; 1 with loky: in this process)")
    p.add_argument("--backend", choices=["loky", "dask"], default="loky",
                   help="loky processes on this machine (default) or a dask cluster")
    p.add_argument("--scheduler", default=None, help="dask scheduler address, e.g. "
                   "tcp://host:8786 (default: a local cluster of --jobs workers)")
    p.add_argument("--connect-timeout", type=float, default=10.0, metavar="SECONDS",
                   help="how long to wait for the --scheduler to answer (default: 10)")
    p.add_argument("--out", type=Path, default=None, help="results folder (default: "
                   "results/<grid name>/)")
    p.add_argument("--dry-run", action="store_true", help="list the runs and which are done; "
                   "run nothing, write nothing")
    p.add_argument("--force", action="store_true", help="redo runs that are already finished")
    p.add_argument("--wait", action="store_true", help="if another rnnbench writes the results "
                   "folder, wait for it to finish (default: exit 2, naming it)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or per-run lines")
    p.add_argument("--no-report", action="store_true", help="write the tables only (draw the "
                   "plots and report later with 'rnnbench report DIR')")
    p.add_argument("--no-baselines", action="store_true", help="skip the count-based baselines "
                   "(as 'baselines: false' in the grid file; earlier ones are kept)")

    _data_parser(sub)

    for name, what in (("plot", "the plots (plots/*.png)"),
                       ("report", "report.md and report.html (and the plots)")):
        p = sub.add_parser(name, help=f"draw {what} of a grid's results folder again",
                           description=f"Write {what} from the tables of a results folder.")
        p.add_argument("results", type=Path, help="results folder, e.g. results/task4")
    return parser


def _data_parser(sub):
    from ..config import RunConfig

    where = ("data/ is the folder of that name in the current directory: run rnnbench from the "
             "project root to use the project's data/.")
    p = sub.add_parser("data", help="list, download and inspect texts",
                       description="The texts to train on: the built-in ones and those in "
                       "data/. " + where)
    data = p.add_subparsers(dest="data_command", required=True, parser_class=_Parser)
    data.add_parser("list", help="built-in texts and the texts in data/",
                    description="List the built-in texts and the text files in data/ (name, "
                    "size, characters, sha256 and whether it matches the one recorded at "
                    "download). " + where)
    p = data.add_parser("get", help="download gutenberg:<id> or tinyshakespeare into data/",
                        description="Download a Project Gutenberg book (gutenberg:<id>, the "
                        "licence header and footer stripped) or tinyshakespeare (its sha256 "
                        "checked) into data/, with a .sha256 file beside it; then use the "
                        "same name with --data or in a grid's data:. Source URLs: "
                        "RNNBENCH_GUTENBERG_URL (a template with {id}, or a mirror's base URL) "
                        "and RNNBENCH_TINYSHAKESPEARE_URL, or --url (for one NAME). " + where)
    p.add_argument("names", nargs="+", metavar="NAME", help="gutenberg:<id> (e.g. "
                   "gutenberg:1342) or tinyshakespeare")
    p.add_argument("--url", default=None, help="download from this URL instead (one NAME)")
    p.add_argument("--timeout", type=_ranged(float, 0, 3600, low_open=True), default=30.0,
                   help="seconds to wait for the server at any one time: to connect, or for "
                   "the next bytes (default: 30)")
    p.add_argument("--deadline", type=_ranged(float, 0, 86400, low_open=True), default=600.0,
                   help="seconds the whole download may take (default: 600)")
    p.add_argument("--force", action="store_true", help="download again even if present")
    p = data.add_parser("info", help="a text's length, vocabulary, rarest characters, checksum "
                        "and baselines", description="Read a text as training would and show "
                        "its length, vocabulary, rarest characters, checksum and count-based "
                        "baselines (nats and bits per character on the validation split).")
    p.add_argument("data", metavar="PATH|NAME", help="a text file, a built-in name, "
                   "python:<module>, gutenberg:<id> or tinyshakespeare")
    _field_options(p, RunConfig, ("encoding", "newline", "min_char_count", "val_fraction"))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = build_parser().parse_args(argv)
        with contextlib.ExitStack() as held:
            args.hold = held.enter_context  # what a command holds until it returns: locks
            return COMMANDS[args.command](args)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print("rnnbench: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 -- user-facing errors become one line
        from ..config import ConfigError
        from ..text.corpus import CorpusError
        from ..disk.lock import FolderBusy
        if isinstance(exc, (ConfigError, CorpusError, ValueError, FileNotFoundError, FolderBusy)):
            print(f"rnnbench: error: {exc}", file=sys.stderr)
            return EXIT_INVALID
        if isinstance(exc, OSError):  # I/O that failed; a WriteError names the path
            plain = exc.filename and exc.strerror and type(exc).__str__ is OSError.__str__
            print(f"rnnbench: error: {f'{exc.filename}: {exc.strerror}' if plain else exc}",
                  file=sys.stderr)
            return 1
        raise


def cmd_train(args):
    from ..text.corpus import Corpus
    from ..text.records import prepare_corpus
    from ..training.resources import check_run
    from ..experiments.run_folder import save_run
    from ..training.driver import train

    config = _config(args)
    corpus = prepare_corpus(Corpus.from_config(config), config)
    corpus.check_length(config.seq_length, config.batch_size)
    check_run(config, corpus)  # before any folder is made or weight allocated
    out = _claim_run_folder(args, config, corpus.vocab_size)
    print(f"run folder: {out}")
    print(f"corpus: {corpus.name}, {len(corpus):,} characters, vocabulary "
          f"{corpus.vocab_size}, {len(corpus.train_ids):,} train / {len(corpus.val_ids):,} val"
          + (f" ({corpus.n_train:,} / {corpus.n_val:,} records, end symbol "
             f"{corpus.end_symbol!r})" if config.records else ""))
    print(corpus.vocabulary_report())
    result = train(config, corpus=corpus, progress=not args.quiet,
                   on_sample=None if args.quiet else _print_sample)
    save_run(result, out)
    s = result.summary
    speed = (f"{s['updates']:,} updates in {s['wall_s']:.1f} s ({s['updates_per_s']:,.0f} "
             f"updates/s)")
    if s["status"] == "ok":
        print(f"{speed}; smooth loss {s['final_smooth_loss']:.2f} per chunk = "
              f"{s['final_smooth_loss_per_char']:.3f} nats/char; validation "
              f"{s['final_val_loss_per_char']:.3f} nats/char = "
              f"{s['final_val_bits_per_char']:.3f} bits/char")
    else:
        print(f"{speed}; diverged at update {s['diverged_at']:,} ({s['diverged_rule']})")
    print(f"saved: {out}")
    if s["status"] != "ok":
        print(f"rnnbench: run diverged at update {s['diverged_at']:,}: {s['error']} (tables "
              f"kept in {out})", file=sys.stderr)
        return 1
    return 0


def _print_sample(row):
    from tqdm import tqdm
    tqdm.write(f"----- update {row['update']}, novelty {row['novelty']:.2f} -----\n"
               f"{row['prime']}{row['text']}\n-----")


def _claim_run_folder(args, config, vocab_size):
    """The run folder of ``train``, locked by this command until it returns, checked before
    training: --out (a run already there is refused unless --force), or a new folder under
    results/; and room to write it (one line and exit 1 if not)."""
    from ..disk.lock import FolderBusy
    from ..experiments.run_folder import (check_replaceable, check_space, is_run_folder, run_folder_bytes,
                        run_folder_lock)

    if args.out is not None and args.out.name in ("", ".", ".."):
        raise UsageError(f"rnnbench: --out must name a run folder, got '{args.out}'")
    for out in [args.out] if args.out else _new_run_folders(config):
        lock = run_folder_lock(out)
        try:
            args.hold(lock)
        except FolderBusy:
            if args.out:
                raise
            continue  # another train took this name a moment ago
        if args.out or not out.exists():
            break
        lock.release()
    try:
        check_replaceable(out)
    except ValueError as exc:
        raise UsageError(f"rnnbench: {exc} (--out)") from None
    if is_run_folder(out) and not args.force:
        raise UsageError(f"rnnbench: {out} holds a run already; add --force to replace it, or "
                         f"choose another --out")
    check_space(out, run_folder_bytes(config, vocab_size))
    return out


def _new_run_folders(config):
    """results/train-<cell>-h<hidden>-<time>, then -2, -3, ...: the names not taken."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path("results") / f"train-{config.cell}-h{config.hidden_size}-{stamp}"
    for k in range(1, 10000):
        out = base if k == 1 else base.with_name(f"{base.name}-{k}")
        if not out.exists():
            yield out


def cmd_sample(args):
    from ..experiments import sources as sampling
    from ..text.novelty import DEFAULT_N

    sampling.check_settings(args.temperature, args.length, args.count, args.top_k, args.seed)
    run_id = label = None
    path = args.run
    if args.best:
        path, row = sampling.best_run(args.run)
        run_id, label = str(row["run_id"]), str(row.get("label", ""))
        print(f"best run: {run_id} ({label}, seed {row['seed']}; final validation loss "
              f"{row['final_val_loss_per_char']:.3f} nats/char)", file=sys.stderr)
    source = sampling.load_source(path, args.from_zero, run_id, label)
    prime = sampling.prime_of(source.model, args.prime)
    index, why_not = sampling.novelty_index(source, DEFAULT_N)
    samples = sampling.draw(source, prime, args.length, args.temperature, args.count, args.seed,
                            args.greedy, args.top_k, args.stop, index)
    if args.json:
        settings = dict(prime=prime, length=args.length, temperatures=args.temperature,
                        greedy=args.greedy, top_k=args.top_k, stop=args.stop, count=args.count,
                        seed=args.seed, from_zero=args.from_zero, novelty_n=DEFAULT_N,
                        novelty_note=why_not)
        print(sampling.to_json(source, settings, samples))
        return 0
    if why_not:
        print(f"novelty: not measured: {why_not}", file=sys.stderr)
    for s in samples:
        how = "greedy" if args.greedy else f"temperature {s['temperature']:g}"
        head = f"{how}, seed {s['seed']}, novelty {s['novelty']:.2f}"
        if len(samples) == 1:
            print(f"{head} (share of {DEFAULT_N}-grams not in the training text)",
                  file=sys.stderr)
            print(prime + s["text"])
        else:
            print(f"--- {head} ---\n{prime}{s['text']}\n")
    return 0


def cmd_gradcheck(args):
    from ..text.corpus import Corpus
    from ..model.gradcheck import chunk_pair, format_table, gradcheck
    from ..model.model import Model

    c = _config(args, **({"init_scale": 0.1} if args.all else {}))
    corpus = Corpus.load(c.data, 0.0)
    corpus.check_length(c.seq_length, 3 if args.all else c.batch_size)
    if args.all:
        return _gradcheck_all(args, c, corpus)
    threshold = 1e-7 if args.threshold is None else args.threshold
    model = Model.create(c.cell, corpus.vocab_size, c.hidden_size, c.num_layers, c.activation,
                         "float64", c.seed, c.init_scale)
    B, T = c.batch_size, c.seq_length
    xs, ys = chunk_pair(corpus.train_ids, B, T)
    result = gradcheck(model, xs, ys, step=args.step, threshold=threshold,
                       dropout=c.dropout, mask_seed=c.seed + 1)
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        print(f"gradient check: cell {c.cell}, activation {c.activation}, hidden "
              f"{c.hidden_size}, layers {c.num_layers}, dropout {c.dropout:g}, batch "
              f"{B}, seq_length {T}, vocabulary {corpus.vocab_size}, float64")
        print(format_table(result))
    return 0 if result.passed else 1


def _gradcheck_all(args, c, corpus):
    from ..model.gradcheck import FORMULA, gradcheck_matrix

    threshold = 1e-6 if args.threshold is None else args.threshold
    rows = []
    if not args.json:
        print(f"gradient check matrix: hidden {c.hidden_size}, seq_length {c.seq_length}, "
              f"vocabulary {corpus.vocab_size}, init_scale {c.init_scale:g}, float64, "
              f"threshold {threshold:g}")
        print(f"{'cell':<6}{'activation':<11}{'layers':>7}{'dropout':>8}{'batch':>6}"
              f"{'params':>8}{'max rel err':>13}{'skipped':>9}  verdict", flush=True)
    for row in gradcheck_matrix(corpus.train_ids, corpus.vocab_size, c.hidden_size,
                                c.seq_length, c.seed, c.init_scale, args.step, threshold):
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
              f"with a kink within 3 steps of their value, left out (see rnnbench.model.gradcheck).")
    return 1 if failed else 0


def cmd_bench(args):
    from ..bench.measure import (HEADER, PROFILE_HEADER, format_goal, format_info, format_profile,
                        format_row, run_bench, save_bench)

    suite, scaling_updates, profile = args.suite, 30000, not args.no_profile
    if args.quick:
        suite, args.repeats, args.seconds, scaling_updates, profile = "quick", 3, 0.3, 0, False

    def progress(kind, what):
        if kind == "row":
            print("\n".join(map(format_row, what)), flush=True)
        elif kind == "profile":
            print("\nwhere the time goes, us per update (products: the update's matrix "
                  "products timed alone)")
            print(PROFILE_HEADER)
            print("\n".join(map(format_profile, what)), flush=True)
        else:
            print("start-up and scaling measured", flush=True)

    from ..disk.writing import probe_writable
    args.out.mkdir(parents=True, exist_ok=True)  # a folder it cannot write fails now, not
    probe_writable(args.out / "bench.parquet")   # after the measurements
    print(HEADER, flush=True)
    rows, goal_rows, info = run_bench(suite, args.repeats, args.seconds,
                                      startup=not args.no_startup,
                                      scaling_updates=scaling_updates, profile=profile,
                                      progress=progress)
    print(format_info(info))
    if suite in ("goals", "quick"):
        print("\ngoals")
        print("\n".join(map(format_goal, goal_rows)))
    out = save_bench(rows, goal_rows, info, args.out)
    print(f"\nsaved: {out}/bench.parquet, goals.parquet, info.json, bench.png")
    return 0


def cmd_warmup(args):
    from ..training.warmup import cache_dir, warmup

    seconds = warmup()
    print(", ".join(f"{d}: {s:.1f} s" for d, s in seconds.items()))
    print(f"kernel cache: {cache_dir()}")
    return 0


def cmd_run(args):
    from ..experiments.interrupts import exit_status, sigterm_interrupts

    try:
        with sigterm_interrupts():  # SIGTERM stops a grid as Ctrl-C does
            return _run_command(args)
    except KeyboardInterrupt as exc:  # before the runs started (once started: run_grid's)
        print("rnnbench: interrupted; the runs finished so far are kept", file=sys.stderr)
        return exit_status(exc)


def _run_command(args):
    import contextlib

    from ..experiments.grid import load_grid
    from ..experiments.results import ResultsDir

    grid = load_grid(args.grid)
    if args.scheduler and args.backend != "dask":
        raise UsageError("rnnbench: --scheduler needs --backend dask")
    if not 0 < args.connect_timeout < float("inf"):
        raise UsageError(f"rnnbench: --connect-timeout must be > 0 seconds, got "
                         f"{args.connect_timeout}")
    out = args.out or Path("results") / grid.name
    if out.exists() and not out.is_dir():
        raise UsageError(f"rnnbench: {out} is a file, not a results folder; choose another --out")
    grid.baselines = grid.baselines and not args.no_baselines
    results = ResultsDir(out)
    if not args.dry_run:  # one writer per results folder until this command returns
        args.hold(results.lock(wait=args.wait))
    statuses, todo = results.plan(grid.runs, args.force)
    if args.dry_run:
        _print_dry_run(grid, out, statuses, todo)
        return 0
    if args.backend == "dask":
        import importlib.util
        if importlib.util.find_spec("distributed") is None:
            raise UsageError("rnnbench: --backend dask needs dask.distributed: pip install "
                             "'rnnbench[dask]'")
    from ..experiments.pools import GridPoolError, open_pool
    from ..experiments.runner import run_grid

    if todo and not args.scheduler:  # a remote cluster's memory is not ours to check
        from ..experiments.pools import default_jobs, plan_jobs
        from ..training.resources import check_grid_jobs
        check_grid_jobs(grid, todo, 1 if args.jobs == 1 else
                        plan_jobs(args.jobs, len(todo), default_jobs())[0])
    try:
        # a dask scheduler is reached (or refused) here, before anything is written
        pool, note = open_pool(args.backend, args.jobs, len(todo), args.scheduler,
                               args.connect_timeout)
        if note:
            print(f"rnnbench: note: {note}", file=sys.stderr)
        on = f" {pool.describe()}" if pool else ""
        print(f"grid {grid.name}: {len(grid.runs)} runs, {len(grid.runs) - len(todo)} "
              f"already finished, {len(todo)} to run{on}; results in {out}")
        with pool or contextlib.nullcontext():  # closed (workers killed) however it ends
            done = run_grid(grid, results, todo, pool, progress=not args.quiet)
    except GridPoolError as exc:
        print(exc, file=sys.stderr)
        return exc.status
    if not done.interrupted and not args.no_report:
        _draw(out, report=True)
    if done.interrupted:
        print(f"rnnbench: interrupted; {len(done.statuses)} runs finished now are kept in "
              f"{out}; run the same command again to do the rest", file=sys.stderr)
        return done.interrupted
    counts = ", ".join(f"{done.count(s)} {s}" for s in ("ok", "diverged", "failed"))
    wrote = "tables" if args.no_report else "tables, plots and report"
    print(f"done: {counts} (and {done.skipped} finished before); {wrote} in {out}")
    for label, seed, error in done.failed:
        print(f"rnnbench: failed: {label}, seed={seed}: {error}", file=sys.stderr)
    return 1 if done.failed else 0


def _print_dry_run(grid, out, statuses, todo):
    from ..experiments.results import FINISHED

    print(f"grid {grid.name} ({grid.path}): {len(grid.runs)} runs; swept: "
          f"{', '.join(grid.swept) or 'nothing'}; results folder {out}")
    to_run = {spec.run_id for spec in todo}
    for i, spec in enumerate(grid.runs, 1):
        status = statuses[spec.run_id]
        state = "to run" if spec.run_id in to_run else "done"
        note = f" ({status})" if status else ""
        print(f"{i:4d}  {spec.run_id}  {state + note:<18s} {spec.label}, seed={spec.config.seed}")
    finished = sum(status in FINISHED for status in statuses.values())
    print(f"{finished} of {len(grid.runs)} finished; {len(todo)} would run")


def _draw(out, report):
    from ..views.plots import make_plots
    from ..experiments.results import load_tables
    tables = load_tables(out)  # read once for the plots and the report
    paths = make_plots(out, tables)
    if report:
        from ..views.report import write_report
        paths += write_report(out, tables)
    return paths


def cmd_plot(args):
    for path in _draw(args.results, report=False):
        print(path)
    return 0


def cmd_report(args):
    for path in _draw(args.results, report=True):
        print(path)
    return 0


def cmd_data(args):
    return {"list": _data_list, "get": _data_get, "info": _data_info}[args.data_command](args)


def _data_list(args):
    from ..text.corpus import BUILTIN
    from ..text.names import DATA_DIR, data_texts

    print("built-in:")
    for name, (_, description) in BUILTIN.items():
        print(f"  {name:<18} {description}")
    print(f"  {'python:<module>':<18} the Python source of a standard-library module, e.g. "
          f"python:argparse")
    rows = data_texts(DATA_DIR)
    print(f"in {DATA_DIR}/ (relative to {Path.cwd()}):" if rows else
          f"in {DATA_DIR}/ (relative to {Path.cwd()}): no .txt files; 'rnnbench data get "
          f"gutenberg:<id>' or 'rnnbench data get tinyshakespeare' downloads one")
    for r in rows:
        if r["bytes"] is None:  # not read: not a regular file, or too big
            print(f"  {r['name']:<18} {r['state']}")
            continue
        chars = f"{r['chars']:,} characters" if r["chars"] is not None else "not UTF-8"
        print(f"  {r['name']:<18} {r['bytes']:>12,} bytes  {chars:>20}  sha256 {r['sha256']}  "
              f"{r['state']}")
    return 0


def _data_get(args):
    from ..text.fetch import get

    if args.url and len(args.names) > 1:
        raise UsageError("rnnbench: --url takes one NAME")
    for name in args.names:
        path, digest, downloaded = get(name, url=args.url, timeout=args.timeout,
                                       force=args.force, deadline=args.deadline)
        state = "downloaded" if downloaded else "already there (--force downloads it again)"
        print(f"{name}: {path}, {path.stat().st_size:,} bytes, sha256 {digest}; {state}")
    print(f"use it with --data {args.names[0]} (from this folder) or in a grid's data:")
    return 0


def _data_info(args):
    from ..text.baselines import corpus_baselines
    from ..text.corpus import Corpus

    corpus = Corpus.from_config(_config(args))
    print(f"{corpus.name}: {len(corpus):,} characters, {len(corpus.train_ids):,} train / "
          f"{len(corpus.val_ids):,} validation; sha256 of the text as read (UTF-8) "
          f"{corpus.checksum}")
    print(corpus.vocabulary_report())
    rows = corpus_baselines(corpus)
    if rows:
        print("baselines on the validation split: " + "; ".join(
            f"{r['baseline']} {r['loss_per_char']:.3f} nats ({r['bits_per_char']:.3f} bits)"
            for r in rows))
    return 0


COMMANDS = {"train": cmd_train, "sample": cmd_sample, "gradcheck": cmd_gradcheck,
            "bench": cmd_bench, "warmup": cmd_warmup, "run": cmd_run, "plot": cmd_plot,
            "report": cmd_report, "data": cmd_data}

if __name__ == "__main__":
    sys.exit(main())
