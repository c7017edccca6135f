"""Runs a grid's runs in parallel, on loky processes or a dask cluster (see pools.py).

The worker function ``run_one`` is pure: a config, the corpus text and the sampling settings
in, an Outcome out; it writes nothing. The parent receives outcomes as they finish and saves
each. Each worker keeps Numba and BLAS to one thread, so N workers use N cores and do not
fight over them. A run whose worker process died is a failed run; Ctrl-C and SIGTERM keep
the runs finished so far.
"""
import traceback
from dataclasses import dataclass, replace

import pandas as pd

from .pools import cost, default_jobs  # noqa: F401 -- their old home: bench imports them here
from ..training.threads import one_thread

FINAL_SAMPLE_SEED = 2  # derived_seed purpose id of the samples drawn after training


@dataclass(frozen=True)
class CorpusText:
    """What a worker needs to rebuild a Corpus from its text: its class and ``source()``.
    Pickled with every task, so used only where workers cannot reach this machine's memory (a
    remote dask scheduler) and by the benchmarks' small texts."""

    kind: type
    args: tuple

    @classmethod
    def of(cls, corpus):
        return cls(type(corpus), corpus.source())

    def build(self):
        return self.kind(*self.args)


@dataclass
class Outcome:
    """One finished run: the RunResult (None when the run failed) and its summary."""

    run_id: str
    config: object
    result: object
    summary: dict
    traceback: str = ""

    @property
    def status(self):
        return self.summary.get("status")


_CORPORA = {}  # per worker process: payload -> Corpus, so a worker builds each corpus once


def _corpus(payload):
    if payload not in _CORPORA:
        if len(_CORPORA) >= 4:  # a long-lived worker lets older grids' corpora go
            _CORPORA.pop(next(iter(_CORPORA)))
        _CORPORA[payload] = payload.build()
    return _CORPORA[payload]


def run_one(run_id, config, payload, samples=None):
    """Train one run and draw its extra samples; an exception becomes status "failed"."""
    with one_thread():
        corpus = _corpus(payload)
        try:
            from ..training.driver import train
            result = train(config, corpus=corpus)
            from ..text.records import prepare_corpus
            result = replace(result, samples=_all_samples(result, samples,
                                                          prepare_corpus(corpus, config)))
            return Outcome(run_id, config, result, result.summary)
        except Exception as exc:  # noqa: BLE001 -- a failed run is a result, the grid goes on
            return Outcome(run_id, config, None, failed_summary(config, corpus, exc),
                           traceback.format_exc())


def failed_summary(config, corpus, exc):
    """What is known of a run that raised (``exc``) or whose worker died (``exc``: the cause
    in words): the error in one line, the corpus, the versions."""
    from ..text.records import prepare_corpus
    from ..training.driver import corpus_fields
    try:
        head = prepare_corpus(corpus, config)
    except ValueError:
        head = corpus
    message = " ".join((exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}").split())
    return dict(status="failed", error=message, **corpus_fields(head))


def _all_samples(result, samples, corpus):
    """Training samples (kind "training") and, when the grid asks, samples of the final model
    at several temperatures (kind "final"), all from the same seed so that only the temperature
    differs, starting from the hidden state training ended in. Each with its novelty
    against ``corpus``'s training text."""
    from ..text.novelty import DEFAULT_N, training_index
    from ..training.driver import derived_seed
    frames = [result.samples.assign(kind="training")]
    if samples is not None and result.summary["status"] == "ok":
        seed = derived_seed(samples["seed"], FINAL_SAMPLE_SEED)
        from .sources import start_text
        model = result.model
        # stream 0 of (state rows, streams, H); records mode: a new record, from a zero state
        h = None if model.end_symbol else result.optimizer_state["h"][:, 0]
        prime = start_text(samples["prime"], model.chars, model.end_symbol)
        index = training_index(corpus, DEFAULT_N)
        rows = []
        for t in samples["temperatures"]:
            text = model.sample(prime, samples["length"], t, seed=seed, h=h)
            rows.append(dict(update=result.summary["updates"], temperature=t,
                             prime=samples["prime"], text=text, novelty=index.novelty(text),
                             novelty_n=DEFAULT_N, kind="final"))
        frames.append(pd.DataFrame(rows))
    return pd.concat(frames, ignore_index=True)


def run_all(tasks, jobs, backend="loky", scheduler=None):
    """Yield an Outcome per task (run_id, config, CorpusText, samples) as each finishes, on
    ``jobs`` workers (with 1 and loky, in this process); a run whose worker died is failed."""
    from .pools import open_pool

    pool, _ = open_pool(backend, jobs, len(tasks), scheduler)
    if pool is None:
        return
    with pool:
        for item in pool.run(tasks):
            yield item if isinstance(item, Outcome) else lost_outcome(item, _corpus(item.task[2]))


def lost_outcome(lost, corpus):
    """The failed Outcome of a run whose worker died (``lost``: a pools.Lost) on ``corpus``."""
    run_id, config = lost.task[:2]
    return Outcome(run_id, config, None, failed_summary(config, corpus, lost.cause),
                   f"The worker process that ran this run died: {lost.cause}\n")


@dataclass
class GridRun:
    """What one invocation of a grid did."""

    total: int
    skipped: int
    statuses: dict        # run_id -> status, for the runs done now
    failed: list          # (label, seed, error) of the runs that failed now
    interrupted: int = 0  # the exit status when Ctrl-C (130) or SIGTERM (143) stopped it

    def count(self, status):
        return sum(1 for s in self.statuses.values() if s == status)


def run_grid(grid, results, todo, pool, progress=True):
    """Run the runs ``todo`` of ``grid`` (see ResultsDir.plan) on ``pool`` (pools.open_pool;
    None when ``todo`` is empty), saving each as it finishes, then rebuild the tables. Ctrl-C
    or SIGTERM keeps every finished run; the pool is closed (its workers killed) either way."""
    from tqdm import tqdm

    from ..text.baselines import baselines_table
    from .interrupts import exit_status, held_back
    from ..text.records import prepare_corpus

    # what each run trains on: runs with the same text and settings share one corpus (heads
    # are built once), which is what their workers rebuild
    heads = {s.run_id: prepare_corpus(grid.corpora[s.corpus_key], s.config) for s in grid.runs}
    results.prepare(grid, baselines_table(heads.values(), results.cached_baselines(),
                                          compute=grid.baselines))
    from .shared import worker_payloads
    remote = getattr(pool, "scheduler", None)  # a remote cluster's workers get the text itself
    payloads, shared = worker_payloads([heads[s.run_id] for s in todo], remote=bool(remote))
    tasks = [(s.run_id, s.config, payloads[id(heads[s.run_id])], grid.samples) for s in todo]
    by_id = {s.run_id: s for s in todo}
    done = GridRun(len(grid.runs), len(grid.runs) - len(todo), {}, [])
    bar = tqdm(total=len(todo), unit="run", dynamic_ncols=True, disable=not progress or None)
    try:
        for outcome in pool.run(tasks) if todo else ():
            if not isinstance(outcome, Outcome):  # a pools.Lost: its worker died
                outcome = lost_outcome(outcome, grid.corpora[by_id[outcome.task[0]].corpus_key])
            spec = by_id[outcome.run_id]
            with held_back():  # a run saved is a run counted: a signal waits for both
                results.save(outcome)
                done.statuses[outcome.run_id] = outcome.status
                if outcome.status == "failed":
                    done.failed.append((spec.label, spec.config.seed,
                                        outcome.summary["error"]))
            bar.update(1)
            if progress:
                bar.write(finished_line(spec, outcome.summary))
    except KeyboardInterrupt as exc:
        done.interrupted = exit_status(exc)
    finally:
        with held_back(done.interrupted):  # a second signal does not cut the cleanup short
            if pool is not None:
                pool.close()
            bar.close()
            if shared is not None:
                shared.close()
            results.write_tables(grid)
    return done


def finished_line(spec, summary):
    """One line per finished run: what it was, how it ended, how fast it went."""
    head = f"{spec.run_id}  {spec.label}, seed={spec.config.seed}: {summary['status']}"
    if summary["status"] == "failed":
        return f"{head}: {summary['error']}"
    if summary["status"] == "diverged":
        at, rule = summary.get("diverged_at"), summary.get("diverged_rule")
        where = f" at update {at:,} ({rule})" if at is not None else ""
        return f"{head}{where}, {summary['wall_s']:.1f} s: {summary['error']}"
    return (f"{head}, val {summary['final_val_loss_per_char']:.3f} nats/char, train "
            f"{summary['final_loss_per_char']:.3f}, {summary['updates_per_s']:,.0f} updates/s, "
            f"{summary['wall_s']:.1f} s")
