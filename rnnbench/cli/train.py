"""``rnnbench train``: one run into a run folder (every RunConfig field an option).

The parts of rnnbench a command uses are imported inside it (as in every cli module), so
that ``rnnbench --help`` imports neither Numba nor pandas."""
import importlib
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from ..config import RunConfig
from .options import UsageError, config_of, field_options, ranged

DEFAULT_CHECKPOINT_EVERY = 10_000
# characters of the held-out tail a train run reads every eval_every (the whole tail at the
# end): reading all 111,539 of tinyshakespeare's 20 times took twice the training time; 5,000
# keep validation under a fifth of it (README, "Loss you can compare")
TRAIN_VAL_SLICE = 5_000
# imported beside the training loop: what writing the tables and drawing the report need
LATER_IMPORTS = ("pyarrow.parquet", "pyarrow.dataset", "rnnbench.views.report.run")


def add_parser(sub):
    p = sub.add_parser("train", help="train one model (min-char-rnn recipe by default)",
                       description="Train one model. Every RunConfig field is an option.")
    field_options(p, RunConfig, [f for f in RunConfig.model_fields if f != "val_slice"])
    p.add_argument("--val-slice", type=int, default=None, metavar="INT", help=(
        f"{RunConfig.model_fields['val_slice'].description} (default: {TRAIN_VAL_SLICE:,} "
        f"here; 0 in grids and the Python API)"))
    p.add_argument("--out", type=Path, help="run folder (default: a new folder under results/)")
    p.add_argument("--force", action="store_true", help="replace the run already in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar or samples")
    p.add_argument("--no-report", action="store_true", help="write the run's files only (draw "
                   "its plots and report later with 'rnnbench report RUN')")
    p.add_argument("--resume", type=Path, metavar="RUN", help="continue the run in this folder "
                   "exactly where it stopped (its last checkpoint), to --updates; other options "
                   "must match the run's")
    p.add_argument("--checkpoint-every", type=ranged(int, 0, 2**62), default=None, metavar="N",
                   help=f"write the run folder (checkpoint.npz, best.npz, tables) every N "
                   f"updates while training, so that a kill loses at most N (0: only at the "
                   f"end; default: {DEFAULT_CHECKPOINT_EVERY:,})")


def cmd_train(args):
    # the kernels start loading before anything else is imported (preload.py imports neither
    # pandas nor the driver): their loading overlaps those imports and the reading of the text
    from ..training.preload import load_in_background

    resume = _read_resume(args) if args.resume is not None else None
    if args.updates is not None and args.epochs is not None:
        raise UsageError("rnnbench: give --updates or --epochs, not both")
    config = resume.config.replace(**_budget(args, resume)) if resume else \
        config_of(args, val_slice=TRAIN_VAL_SLICE)
    loading = load_in_background(config)

    from ..experiments.interrupts import exit_status
    from ..experiments.run_folder import save_run
    from ..text.baselines import baselines_table
    from ..text.corpus import Corpus, prepare_corpus
    from ..text.novelty import training_index
    from ..text.records import records_hint
    from ..training.driver import train
    from ..training.epochs import with_epochs
    from ..training.resources import check_run
    from ..training.samples import passage_row, with_extra_rows

    hint = records_hint(config.data, config.records)
    if hint:
        print(hint, file=sys.stderr)
    corpus = prepare_corpus(Corpus.from_config(config), config)
    corpus.check_length(config.seq_length, config.batch_size)
    config = with_epochs(config, corpus)
    if resume is not None and corpus.checksum != resume.corpus_checksum:
        raise UsageError(f"rnnbench: --resume: the text {config.data} has changed since the run "
                         f"was trained (checksum {corpus.checksum[:12]}, the run's "
                         f"{str(resume.corpus_checksum)[:12]})")
    check_run(config, corpus)  # before any folder is made or weight allocated
    out = _claim_run_folder(args, config, corpus.vocab_size)
    print(f"run folder: {out}" + (f" (continuing from update {resume.updates:,} to "
                                  f"{config.updates:,})" if resume else ""))
    print(f"corpus: {corpus.name}, {len(corpus):,} characters, vocabulary "
          f"{corpus.vocab_size}, {len(corpus.train_ids):,} train / {len(corpus.val_ids):,} val"
          + (f" ({corpus.n_train:,} / {corpus.n_val:,} records, end symbol "
             f"{corpus.end_symbol!r})" if config.records else ""))
    print(corpus.vocabulary_report())
    every = DEFAULT_CHECKPOINT_EVERY if args.checkpoint_every is None else args.checkpoint_every
    # while the compiled loop trains (without the GIL), once the kernels are loaded (all of
    # it holds the GIL), one after the other: the baselines are counted, and what the saving
    # (pyarrow) and the report (matplotlib) need is imported
    later = ThreadPoolExecutor(1, thread_name_prefix="rnnbench-later")
    if loading is not None:
        later.submit(loading.join)
    baselines = later.submit(_baselines, baselines_table, corpus)
    for module in LATER_IMPORTS[:None if not args.no_report else -1]:
        later.submit(importlib.import_module, module)
    later.shutdown(wait=False)
    with _stop_on_signal() as signals:
        result = train(config, corpus=corpus, progress=not args.quiet,
                       on_sample=None if args.quiet else _print_sample, resume=resume,
                       checkpoint_every=every, should_stop=lambda: bool(signals),
                       on_checkpoint=lambda r: save_run(r, out, baselines=baselines.result()),
                       passage=True)
        if result.summary["status"] == "ok":  # the passage a grid's report shows, too
            result = replace(result, samples=with_extra_rows(
                result, [passage_row(result, training_index(corpus))]))
        save_run(result, out, baselines=baselines.result())
    s = result.summary
    print(_speed_line(s, result.loop.get("parts", 1)))
    if not args.no_report:
        _report(out)  # after the run is saved: a failed plot costs nothing of it
    if s["status"] == "stopped":
        print(f"stopped at update {s['updates']:,}; saved: {out}\ncontinue with: rnnbench train "
              f"--resume {out}" + (f" --updates {config.updates}"
                                   if config.updates != resume_budget(resume, config) else ""))
        return exit_status(signals[0])
    if s["status"] == "ok":
        print(f"smooth loss {s['final_smooth_loss']:.2f} per chunk = "
              f"{s['final_smooth_loss_per_char']:.3f} nats/char; validation "
              f"{s['final_val_loss_per_char']:.3f} nats/char = "
              f"{s['final_val_bits_per_char']:.3f} bits/char")
    else:
        print(f"diverged at update {s['diverged_at']:,} ({s['diverged_rule']})")
    print(f"saved: {out}")
    if s["status"] != "ok":
        print(f"rnnbench: run diverged at update {s['diverged_at']:,}: {s['error']} (tables "
              f"kept in {out})", file=sys.stderr)
        return 1
    return 0


def _baselines(baselines_table, corpus):
    """The text's baselines table, or None (and a warning) if it cannot be counted: counted
    beside the training, it must not cost the run (its folder is then written without)."""
    try:
        return baselines_table([corpus])
    except Exception as exc:  # noqa: BLE001 -- the run matters more than its reference lines
        print(f"rnnbench: warning: the baselines of {corpus.name} could not be counted "
              f"({' '.join(f'{type(exc).__name__}: {exc}'.split())}); the run's plots go "
              f"without them", file=sys.stderr)
        return None


def _report(out):
    """The run's plots and report; should they fail, a warning (the run itself is saved)."""
    from ..views.report.run import write_run_report
    try:
        paths = write_run_report(out)
    except Exception as exc:  # noqa: BLE001 -- a plot must not cost the run its exit status
        print(f"rnnbench: warning: the report of {out} could not be drawn: "
              f"{' '.join(f'{type(exc).__name__}: {exc}'.split())}", file=sys.stderr)
        return
    print(f"report: {[p for p in paths if p.name == 'report.html'][0]}")


def resume_budget(resume, config):
    """The budget a plain ``--resume`` continues to: the run's own."""
    return resume.config.updates if resume is not None else config.updates


def _speed_line(s, parts=1):
    """One speed a person reads: updates and characters per second of the wall clock, the
    training-only rate beside it, and the threads a split batch ran on."""
    wall, train_s = s["wall_s"], s["train_s"]
    split = f"; the batch split over {parts} threads" if parts > 1 else ""
    return (f"{s['updates']:,} updates in {wall:.1f} s: {s['updates'] / max(wall, 1e-9):,.0f} "
            f"updates/s, {s['chars_seen'] / max(wall, 1e-9):,.0f} chars/s (training alone "
            f"{train_s:.1f} s: {s['updates_per_s']:,.0f} updates/s{split})")


def _read_resume(args):
    """The run ``--resume`` names, and the options given with it checked against its config:
    only the budget (--updates) may change; anything else is refused, naming the field."""
    from ..experiments.sources import read_resume

    if args.out is not None and args.out.resolve() != args.resume.resolve():
        raise UsageError("rnnbench: --resume continues the run in its own folder; drop --out")
    resume = read_resume(args.resume)
    saved = resume.config.model_dump()
    for name, value in vars(args).items():
        if name in saved and name not in ("updates", "epochs") and value is not None:
            if RunConfig.build({**saved, name: value}).model_dump()[name] != saved[name]:
                raise UsageError(f"rnnbench: --resume: {name} is {saved[name]!r} in the run, "
                                 f"{value!r} given; only --updates or --epochs can change")
    args.out, args.force = args.resume, True
    return resume


def _budget(args, resume):
    """The budget a resumed run continues to: --updates, --epochs, or (a stopped run) its own."""
    if args.updates is not None:
        return {"updates": args.updates, "epochs": None}
    if args.epochs is not None:
        return {"epochs": args.epochs}
    if resume.status == "stopped":
        return {}
    raise UsageError(f"rnnbench: --resume: the run finished its {resume.updates:,} updates; "
                     f"give --updates N or --epochs E (more) to continue it")


class _stop_on_signal:
    """Within the block, the first Ctrl-C (or SIGTERM) is noted in the list it yields, and
    training stops at its next chunk end and saves; a second one interrupts at once (the last
    checkpoint stays, whole)."""

    def __enter__(self):
        import signal
        self.caught, self.old = [], {}

        def note(signum, frame):
            self.caught.append(KeyboardInterrupt() if signum == signal.SIGINT else _terminated())
            for s, handler in self.old.items():  # the next signal acts at once
                signal.signal(s, handler)
        for s in (signal.SIGINT, signal.SIGTERM):
            if signal.getsignal(s) != signal.SIG_IGN:
                self.old[s] = signal.signal(s, note)
        return self.caught

    def __exit__(self, *exc):
        import signal
        for s, handler in self.old.items():
            signal.signal(s, handler)
        return False


def _terminated():
    from ..experiments.interrupts import Terminated
    return Terminated()


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
