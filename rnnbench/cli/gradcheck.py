"""``rnnbench gradcheck``: analytic gradients against numerical ones, for one model or the
whole matrix of cells, activations, layers, dropout and batch.

The parts of rnnbench a command uses are imported inside it (as in every cli module), so
that ``rnnbench --help`` imports neither Numba nor pandas."""
import json

from ..config import RunConfig
from .options import UsageError, config_of, field_options, ranged

# the RunConfig fields gradcheck takes, and its own default: a small model, as every
# weight is perturbed in turn
GRADCHECK_FIELDS = ("data", "cell", "activation", "hidden_size", "num_layers", "dropout",
                    "seq_length", "init_scale", "batch_size", "seed")
GRADCHECK_DEFAULTS = {"hidden_size": 5}


def add_parser(sub):
    p = sub.add_parser("gradcheck", help="check analytic gradients against numerical ones",
                       description="Compare analytic gradients with centred finite "
                       "differences for every parameter, on the first characters of --data; "
                       "dropout keeps one fixed mask for every evaluation; exit status 1 when "
                       "a check fails. --all checks every cell x activation x layers (1-3) x "
                       "dropout (off/on) x batch (1, 3) and prints one table, with "
                       "--init-scale 0.1 unless given, to exercise the nonlinearities.")
    field_options(p, RunConfig, GRADCHECK_FIELDS, GRADCHECK_DEFAULTS)
    p.add_argument("--method", choices=["sixth", "central"], default="sixth", help="sixth: "
                   "6th-order centred differences (default); central: the course's plain "
                   "centred difference [L(x+h) - L(x-h)] / 2h")
    p.add_argument("--step", type=ranged(float, 0, 1, low_open=True), default=None,
                   help="finite-difference step, > 0 and <= 1 (default: 0.01 for sixth, "
                   "1e-4 for central)")
    p.add_argument("--threshold", type=ranged(float, 0, 1, low_open=True), default=None,
                   help="largest relative error that passes, > 0 and <= 1 (default: 1e-7 for "
                   "sixth, 1e-6 with --all; for central 3 (9.3 h^2 + 1e-10 / h), 3.3e-6 at "
                   "h = 1e-4, from measured errors: README, 'Gradient check')")
    p.add_argument("--all", action="store_true", help="the whole matrix, one table")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def cmd_gradcheck(args):
    from ..text.corpus import Corpus
    from ..model.gradcheck import COURSE_NOTE, chunk_pair, format_table, gradcheck
    from ..model.model import Model

    c = config_of(args, **({"init_scale": 0.1} if args.all else {}))
    corpus = Corpus.load(c.data, 0.0)
    corpus.check_length(c.seq_length, 3 if args.all else c.batch_size)
    if args.all:
        return _gradcheck_all(args, c, corpus)
    model = Model.create(c.cell, corpus.vocab_size, c.hidden_size, c.num_layers, c.activation,
                         "float64", c.seed, c.init_scale)
    B, T = c.batch_size, c.seq_length
    xs, ys = chunk_pair(corpus.train_ids, B, T)
    result = gradcheck(model, xs, ys, step=args.step, threshold=args.threshold,
                       dropout=c.dropout, mask_seed=c.seed + 1, method=args.method)
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        print(f"gradient check: cell {c.cell}, activation {c.activation}, hidden "
              f"{c.hidden_size}, layers {c.num_layers}, dropout {c.dropout:g}, batch "
              f"{B}, seq_length {T}, vocabulary {corpus.vocab_size}, float64")
        print(format_table(result))
        print(COURSE_NOTE)
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
    if args.method != "sixth":
        raise UsageError("rnnbench: --all checks with the 6th-order method only")
    step = 1e-2 if args.step is None else args.step
    for row in gradcheck_matrix(corpus.train_ids, corpus.vocab_size, c.hidden_size,
                                c.seq_length, c.seed, c.init_scale, step, threshold):
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
