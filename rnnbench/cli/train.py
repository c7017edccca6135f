"""``rnnbench train``: one run into a run folder (every RunConfig field an option).

The parts of rnnbench a command uses are imported inside it (as in every cli module), so
that ``rnnbench --help`` imports neither Numba nor pandas."""
import sys
import time
from dataclasses import replace
from pathlib import Path

from ..config import RunConfig
from .options import UsageError, config_of, field_options


def add_parser(sub):
    p = sub.add_parser("train", help="train one model (min-char-rnn recipe by default)",
                       description="Train one model. Every RunConfig field is an option.")
    field_options(p, RunConfig)
    p.add_argument("--out", type=Path, help="run folder (default: a new folder under results/)")
    p.add_argument("--force", action="store_true", help="replace the run already in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar or samples")


def cmd_train(args):
    from ..experiments.run_folder import save_run
    from ..text.corpus import Corpus, prepare_corpus
    from ..text.novelty import training_index
    from ..training.driver import train
    from ..training.resources import check_run
    from ..training.samples import passage_row, with_extra_rows

    config = config_of(args)
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
    if result.summary["status"] == "ok":  # the passage a report shows, as in a grid's runs
        result = replace(result, samples=with_extra_rows(
            result, [passage_row(result, training_index(corpus))]))
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
    from ..experiments.run_folder import (check_replaceable, check_space, is_run_folder,
                                          run_folder_bytes, run_folder_lock)

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
