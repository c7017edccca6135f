"""The training driver: calls the compiled update loop in chunks and keeps the record between them.

Between chunks (never per update) it writes trace rows, validation losses, samples, checks for
divergence and moves the progress bar. Chunk boundaries depend only on update counts, so a run
is the same whatever the machine's speed.
"""
import math
import time
from dataclasses import dataclass, field
from importlib.metadata import version

import numpy as np
import pandas as pd
from tqdm import tqdm

from .. import __version__
from ..config import ConfigError, RunConfig
from ..divergence import WINDOW, DivergenceCheck
from ..model.model import Model
from ..text.corpus import Corpus, CorpusError, prepare_corpus
from .epochs import with_epochs
from .recent import MAX_CHUNK, MAX_WINDOW, RecentValues, kept_updates
from .records import RecordTrainState
from .resources import check_run
from .samples import rows_frame
from .recorder import Clock, Recorder, validation_rows
from .resume import loop_info
from .state import TrainState
from .split import SplitTrainState
from .threads import held, run_threads, single_threaded, split_parts, usable_cores
from .validation import Validation, validates_beside

LN2 = math.log(2.0)
TRACE_COLUMNS = ["update", "chars_seen", "epoch", "loss", "smooth_loss", "loss_per_char",
                 "bits_per_char", "val_loss_per_char", "val_bits_per_char",
                 "val_full_loss_per_char", "elapsed_s", "train_s"]


@dataclass
class RunResult:
    """What one run produced: tables, a summary, the model and the optimizer state."""

    config: RunConfig
    trace: pd.DataFrame
    samples: pd.DataFrame
    summary: dict
    model: Model
    optimizer_state: dict = field(default_factory=dict)
    best: Model = None  # the weights at the lowest scheduled validation loss (best.npz)
    best_arrays: dict = field(default_factory=dict)  # the recurrent state then ("h")
    loop: dict = field(default_factory=dict)  # what exact resume needs beyond the state

    @property
    def checkpoint_arrays(self):
        """The arrays of checkpoint.npz: the training state and the kept losses."""
        return {**self.optimizer_state, **{k: v for k, v in self.loop.items()
                                           if isinstance(v, np.ndarray)}}

    @property
    def validation(self):
        """The trace rows where the validation loss was measured (the trace holds NaN
        between evaluations): plot these, e.g. ``result.validation.plot(x="update",
        y="val_loss_per_char")``."""
        return validation_rows(self.trace)

    @property
    def loop_info(self):
        return {k: v for k, v in self.loop.items() if not isinstance(v, np.ndarray)}


@single_threaded
def train(config=None, corpus=None, model=None, progress=False, on_sample=None, *,
          resume=None, checkpoint_every=0, on_checkpoint=None, should_stop=None, passage=False,
          validate_beside=None, **overrides):
    """Train one run of ``config`` (a RunConfig, a dict, or keyword overrides of the defaults).

    ``corpus`` defaults to ``config.data``; ``model`` (same vocabulary and hidden size) to a
    fresh one from ``config.seed``. ``progress`` shows a progress bar; ``on_sample(row)`` sees
    each sample. Returns a RunResult; a run that diverges (``divergence``: a non-finite loss,
    or a loss per character that stays far above guessing) stops there with status "diverged"
    instead of raising.

    ``resume`` (a resume.Resume, from run_folder.read_resume) continues that run to
    ``config.updates``, exactly as if it had not stopped. ``on_checkpoint(result)`` receives
    the run so far (a RunResult of status "stopped") at the first chunk end at or past every
    multiple of ``checkpoint_every`` updates (0: never); ``should_stop()``, asked at every
    chunk end, stops the run there when true (status "stopped", resumable). ``passage``: a
    run that finishes adds a 1,000-character passage of its best weights to its samples (kind
    "best_passage"), as ``rnnbench train`` does for its report. ``validate_beside``: measure
    the validation losses on a second thread, beside the training loop (the same numbers;
    default: when the run has the machine to itself, validation.validates_beside).
    """
    config = _as_config(config, overrides)
    clock = Clock(resume.loop if resume is not None else None)
    if corpus is None:
        corpus = Corpus.from_config(config)
    corpus = prepare_corpus(corpus, config)
    corpus.check_length(config.seq_length, config.batch_size)
    config = with_epochs(config, corpus)
    parts = 1 if corpus.end_symbol else _parts(config, resume)
    check_run(config, corpus, saving=False, parts=parts)  # before anything is allocated
    if resume is not None:
        if config.updates <= resume.updates:
            raise ConfigError(f"updates: the run has {resume.updates:,} already; give more "
                              f"to continue it (got {config.updates:,})")
        model = resume.model
    if model is None:
        model = Model.create(config.cell, corpus.vocab_size, config.hidden_size,
                             config.num_layers, config.activation, config.dtype, config.seed,
                             config.init_scale, chars=corpus.chars,
                             forget_bias=config.forget_bias)
    else:
        _check_model(model, config, corpus)
        model = model.copy()
        model.chars = list(corpus.chars)
    model.end_symbol = corpus.end_symbol

    run = _train_state(config, corpus, model, parts)
    if resume is not None:
        run.restore(resume.arrays)
    rec = Recorder(config, corpus, model, on_sample, resume)
    validation = Validation(rec, validates_beside(config) if validate_beside is None
                            else validate_beside)
    loop = _Loop(config, corpus, run, rec, clock, validation, resume)

    def snapshot(verdict, status):
        validation.settle()  # the losses in flight, into the trace and the best weights
        trace = pd.DataFrame(rec.trace_rows, columns=TRACE_COLUMNS)
        samples = rows_frame(rec.sample_rows)
        summary = _summary(config, corpus, verdict, run, trace, rec.val_losses, rec.best,
                           clock, rec.val_s, status)
        best = None
        if rec.best.theta is not None:
            best = model.copy()
            best.theta[:] = rec.best.theta
            best.end_symbol = model.end_symbol
        return RunResult(config, trace, samples, summary, model, run.arrays(), best=best,
                         best_arrays={} if rec.best.h is None else {"h": rec.best.h},
                         loop=dict(loop_info(clock, loop.rule, rec.best), val_s=rec.val_s,
                                   parts=getattr(run, "parts", 1), **loop.kept()))

    try:
        with run_threads(config):  # every core where it pays, unless held to one (grids)
            verdict, stopped = loop.run(progress, snapshot, checkpoint_every, on_checkpoint,
                                        should_stop)
    finally:
        validation.close()
    if passage and not stopped and verdict is None:
        rec.best_passage(config.updates)
    return snapshot(verdict, "stopped" if stopped else None)


def _parts(config, resume):
    """How many parts a plain-text run splits its batch into (split.SplitTrainState): as many
    as threads.split_parts gives where the run has the machine to itself (a batch large
    enough), else 1; a resumed run keeps its checkpoint's parts, since a split run's numbers
    depend on them (on one thread when the run shares the machine now: the same numbers)."""
    if resume is not None:
        return int(resume.loop.get("parts", 1))
    return 1 if held() else split_parts(config)


def _train_state(config, corpus, model, parts):
    """The training state of a run: records mode's, or plain text's over ``parts`` parts."""
    if corpus.end_symbol:  # records mode
        return RecordTrainState.from_config(model, corpus, config)
    if parts == 1:
        return TrainState.from_config(model, corpus.train_ids, config)
    return SplitTrainState.from_config(model, corpus.train_ids, config, parts,
                                       threads=1 if held() else usable_cores())


class _Loop:
    """Calls the compiled loop in chunks until ``config.updates`` are done, the run diverges
    or it is asked to stop. Per-update losses are kept only as far back as a trace row or the
    divergence rule looks (``recent.kept_updates``), smooth losses only for the chunk in hand.
    """

    def __init__(self, config, corpus, run, rec, clock, validation, resume=None):
        self.config, self.run_state, self.rec, self.clock = config, run, rec, clock
        self.validation = validation
        self.losses = RecentValues(kept_updates(config), MAX_CHUNK)
        self.smooths = np.full(MAX_CHUNK, np.nan)
        self.rule = DivergenceCheck(run.model.vocab_size)
        if resume is not None:
            if "recent" not in resume.arrays:
                raise ValueError("the checkpoint has no 'recent' losses (written before exact "
                                 "resume)")
            self.losses.restore(resume.arrays["recent"], run.updates)
            if resume.loop.get("initial_loss") is not None:
                self.rule.start(resume.loop["initial_loss"])

    def kept(self):
        """The kept losses, for a checkpoint."""
        return {"recent": self.losses.kept()[0]}

    def run(self, progress, snapshot, checkpoint_every, on_checkpoint, should_stop):
        """(the Divergence or None, whether it stopped before the budget)."""
        config, run, rec, clock = self.config, self.run_state, self.rec, self.clock
        losses, smooths, rule = self.losses, self.smooths, self.rule
        # compile or load from cache before the clocks: the loop, validation, sampling
        run.run(losses.space(0), smooths[:0])
        run.val_loss(rec.corpus, 1)
        if config.sample_every:
            run.model.sample_ids(run.model.encode(run.model.chars[0]), 1, seed=0)
        n = run.updates
        bar = _progress_bar(config.updates, n) if progress else None
        clock.loop_start = time.perf_counter()
        clock.startup_s += clock.loop_start - clock.start
        session_start, session_n = clock.loop_start, n
        next_checkpoint = _next_multiple(n, checkpoint_every) if checkpoint_every else None
        verdict, stopped = None, False
        while True:
            if config.sample_every and (n % config.sample_every == 0 or n == config.updates):
                first_id, h_next = run.next_input()
                rec.sample(n, h_next, first_id)
            if n >= config.updates:
                break
            stop = min(config.updates, n + MAX_CHUNK, _next_multiple(n, config.trace_every),
                       _next_multiple(n, config.eval_every),
                       _next_multiple(n, config.sample_every) if config.sample_every
                       else n + MAX_CHUNK)
            t1 = time.perf_counter()
            done = run.run(losses.space(stop - n), smooths[:stop - n])
            clock.train_s += time.perf_counter() - t1
            losses.commit(done)
            if n == 0 and done:
                rule.start(run.loss_per_char(losses.view(0, 1), 0, 1))
            last_smooth = smooths[done - 1] if done else np.nan
            if done < stop - n:  # the loop stopped at a non-finite loss, at update n + done
                n += done
                verdict = rule.non_finite(n, losses.view(n - 1, n)[0])
                rec.trace_rows.append(_trace_row(n, run, losses, last_smooth, config, clock))
                break
            n = stop
            if n >= min(WINDOW, config.updates):  # a full window (or the whole short run)
                first = max(0, n - WINDOW)
                with np.errstate(over="ignore", invalid="ignore"):
                    recent = np.median(run.losses_per_char(losses.view(first, n), first, n))
                verdict = rule.check(n, float(recent), first + 1)
            evaluate = verdict is None and (n % config.eval_every == 0 or n == config.updates)
            if evaluate or verdict is not None or n % config.trace_every == 0:
                rec.trace_rows.append(_trace_row(n, run, losses, last_smooth, config, clock))
                if evaluate:  # fills the row: now, or when the second thread has it
                    self.validation.at(run, n, rec.trace_rows[-1], n % config.eval_every == 0,
                                       n == config.updates)
            if verdict is not None:
                break
            if bar is not None:
                _show_speed(bar, stop, run, n - session_n, time.perf_counter() - session_start,
                            clock.train_s)
            if n < config.updates and should_stop is not None and should_stop():
                stopped = True
                break
            if next_checkpoint is not None and n >= next_checkpoint and n < config.updates:
                next_checkpoint = _next_multiple(n, checkpoint_every)
                on_checkpoint(snapshot(None, "stopped"))
        if bar is not None:
            bar.close()
        return verdict, stopped


def _show_speed(bar, stop, run, updates, wall, train_s):
    """The bar's rate is tqdm's own (wall clock); beside it the characters per wall second and
    the training-only rate (the compiled loop's calls alone)."""
    bar.update(stop - bar.n)
    chars = updates * run.chars_per_stream_update() * run.batch_size
    bar.set_postfix(smooth_loss=f"{run.smooth:.2f}",
                    loss_per_char=f"{run.smooth / run.chars_per_stream_update():.3f}",
                    chars_s=f"{chars / max(wall, 1e-9):,.0f}",
                    train_upd_s=f"{run.updates / max(train_s, 1e-9):,.0f}", refresh=False)


def _as_config(config, overrides):
    if config is None:
        config = {}
    if isinstance(config, dict):
        return RunConfig.build({**config, **overrides})
    return config.replace(**overrides) if overrides else config


def _check_model(model, config, corpus):
    for key in ("cell", "activation", "hidden_size", "num_layers"):
        if getattr(model, key) != getattr(config, key):
            raise ConfigError(f"{key}: the model has {getattr(model, key)!r}, the config "
                              f"{getattr(config, key)!r}")
    if model.dtype.name != config.dtype:
        raise ConfigError(f"dtype: the model has {model.dtype.name}, the config {config.dtype}")
    if model.vocab_size != corpus.vocab_size:
        raise CorpusError(f"the model's vocabulary has {model.vocab_size} characters, the corpus "
                          f"{corpus.name} has {corpus.vocab_size}")
    if model.chars is not None and list(model.chars) != list(corpus.chars):
        raise CorpusError(f"the model's vocabulary differs from that of {corpus.name}")


def _next_multiple(n, k):
    return (n // k + 1) * k


def _trace_row(n, run, losses, smooth, config, clock):
    """The trace row of update n: ``losses`` (RecentValues) holds the window's losses, ``smooth``
    is the smooth loss after update n; the validation columns NaN (validation.Validation fills
    them where it measures)."""
    lo = max(0, n - min(config.trace_every, MAX_WINDOW))
    window = losses.view(lo, n)
    with np.errstate(over="ignore", invalid="ignore"):
        per_char = run.loss_per_char(window, lo, n)
    return dict(update=n, chars_seen=run.chars_in(0, n), epoch=run.epoch,
                loss=float(window[-1]), smooth_loss=float(smooth),
                loss_per_char=per_char, bits_per_char=per_char / LN2,
                val_loss_per_char=np.nan, val_bits_per_char=np.nan,
                val_full_loss_per_char=np.nan, elapsed_s=clock.elapsed(),
                train_s=clock.train_s)


def corpus_fields(corpus):
    """The summary's description of the text a run saw, and the versions that ran it."""
    return dict(
        corpus=corpus.name, corpus_checksum=corpus.checksum, vocab_size=corpus.vocab_size,
        train_chars=len(corpus.train_ids), val_chars=len(corpus.val_ids),
        rarest_chars="".join(c for c, _ in corpus.rarest()),
        unknown_chars=corpus.unknown_chars,
        **({"train_records": corpus.n_train, "val_records": corpus.n_val}
           if hasattr(corpus, "n_train") else {}),
        rnnbench_version=__version__, numba_version=version("numba"))


def _summary(config, corpus, verdict, run, trace, val_losses, best, clock, val_s,
             status=None):
    """summary.json: how the run ended (a diverged run: the update and the rule that fired, and
    no final validation loss, since its model is not worth one; its best one before, if any)."""
    updates_done, smooth = run.updates, run.smooth
    chars = run.chars_in(0, updates_done)
    train_s = clock.train_s
    last = trace.iloc[-1] if len(trace) else None
    finite_val = [v for v in val_losses if np.isfinite(v)]
    # the whole tail at the end; a stopped run: the last value it has
    full = trace["val_full_loss_per_char"].dropna() if len(trace) else ()
    final_val = (float(full.iloc[-1]) if len(full) else val_losses[-1]) \
        if val_losses and verdict is None else float("nan")
    best_val = min(finite_val) if finite_val else float("nan")
    return dict(
        status=status or ("ok" if verdict is None else "diverged"),
        error=None if verdict is None else verdict.error, updates=updates_done,
        chars_seen=chars, epochs=run.epoch, final_smooth_loss=float(smooth),
        final_smooth_loss_per_char=float(smooth) / run.chars_per_stream_update(),
        final_loss_per_char=float(last["loss_per_char"]) if last is not None else float("nan"),
        final_val_loss_per_char=final_val, final_val_bits_per_char=final_val / LN2,
        best_val_loss_per_char=best_val, best_val_bits_per_char=best_val / LN2,
        wall_s=clock.wall_s(), startup_s=clock.startup_s, train_s=clock.train_s, val_s=val_s,
        updates_per_s=updates_done / train_s if train_s > 0 else float("nan"),
        chars_per_s=chars / train_s if train_s > 0 else float("nan"),
        best_checkpoint_update=best.update if best.update >= 0 else None,
        best_checkpoint_val_loss_per_char=best.value,
        diverged_at=None if verdict is None else verdict.update,
        diverged_rule=None if verdict is None else verdict.rule,
        **corpus_fields(corpus))


def _progress_bar(total, initial=0):
    return tqdm(total=total, initial=initial, unit="upd", dynamic_ncols=True, mininterval=0.2,
                disable=None)
