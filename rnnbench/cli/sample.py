"""``rnnbench sample``: samples of a saved model (a run folder, a checkpoint, or a grid's best run).

The parts of rnnbench a command uses are imported inside it (as in every cli module), so
that ``rnnbench --help`` imports neither Numba nor pandas."""
import sys
from pathlib import Path


def add_parser(sub):
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
    p.add_argument("--checkpoint", choices=["last", "best"], default="last", help="a run "
                   "folder's last state (checkpoint.npz, default) or its best (best.npz: the "
                   "lowest validation loss, with the hidden state then)")
    p.add_argument("--json", action="store_true", help="print one JSON document: run, "
                   "settings and samples (temperature, seed, text, novelty)")


def cmd_sample(args):
    from ..experiments import sources
    from ..text.novelty import DEFAULT_N

    sources.check_settings(args.temperature, args.length, args.count, args.top_k, args.seed)
    run_id = label = None
    path = args.run
    if args.best:
        path, row = sources.best_run(args.run)
        run_id, label = str(row["run_id"]), str(row.get("label", ""))
        print(f"best run: {run_id} ({label}, seed {row['seed']}; final validation loss "
              f"{row['final_val_loss_per_char']:.3f} nats/char)", file=sys.stderr)
    source = sources.load_source(path, args.from_zero, run_id, label, args.checkpoint)
    prime = sources.prime_of(source.model, args.prime)
    index, why_not = sources.novelty_index(source, DEFAULT_N)
    samples = sources.draw(source, prime, args.length, args.temperature, args.count, args.seed,
                           args.greedy, args.top_k, args.stop, index)
    if args.json:
        settings = dict(prime=prime, length=args.length, temperatures=args.temperature,
                        greedy=args.greedy, top_k=args.top_k, stop=args.stop, count=args.count,
                        seed=args.seed, from_zero=args.from_zero, novelty_n=DEFAULT_N,
                        novelty_note=why_not)
        print(sources.to_json(source, settings, samples))
        return 0
    if why_not:
        print(f"novelty: not measured: {why_not}", file=sys.stderr)
    shown = prime[len(source.model.end_symbol or ""):] if source.model.end_symbol else prime
    for s in samples:
        how = "greedy" if args.greedy else f"temperature {s['temperature']:g}"
        head = f"{how}, seed {s['seed']}, novelty {s['novelty']:.2f}"
        if len(samples) == 1:
            print(f"{head} (share of {DEFAULT_N}-grams not in the training text)",
                  file=sys.stderr)
            print(shown + s["text"])
        else:
            print(f"--- {head} ---\n{shown}{s['text']}\n")
    return 0
