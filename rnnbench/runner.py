"""Runs a grid's runs in parallel: joblib over loky processes, or over a dask cluster.

The worker function ``run_one`` is pure: a config, the corpus text and the sampling settings
in, an Outcome out; it writes nothing. The parent receives outcomes as they finish and hands
each to a callback (which saves it). Each worker keeps Numba and BLAS to one thread, so N
workers use N cores and do not fight over them.
"""
import os
import traceback
from dataclasses import dataclass, replace

import pandas as pd

from .threads import one_thread

BACKENDS = ("loky", "dask")
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
            from .training import train
            result = train(config, corpus=corpus)
            from .records import prepare_corpus
            result = replace(result, samples=_all_samples(result, samples,
                                                          prepare_corpus(corpus, config)))
            return Outcome(run_id, config, result, result.summary)
        except Exception as exc:  # noqa: BLE001 -- a failed run is a result, the grid goes on
            return Outcome(run_id, config, None, failed_summary(config, corpus, exc),
                           traceback.format_exc())


def failed_summary(config, corpus, exc):
    """What is known of a run that raised: the error in one line, the corpus, the versions."""
    from .records import prepare_corpus
    from .training import corpus_fields
    try:
        head = prepare_corpus(corpus, config)
    except ValueError:
        head = corpus
    message = " ".join(f"{type(exc).__name__}: {exc}".split())
    return dict(status="failed", error=message, **corpus_fields(head))


def _all_samples(result, samples, corpus):
    """Training samples (kind "training") and, when the grid asks, samples of the final model
    at several temperatures (kind "final"), all from the same seed so that only the temperature
    differs, starting from the hidden state training ended in. Each with its novelty
    against ``corpus``'s training text."""
    from .novelty import DEFAULT_N, training_index
    from .training import derived_seed
    frames = [result.samples.assign(kind="training")]
    if samples is not None and result.summary["status"] == "ok":
        seed = derived_seed(samples["seed"], FINAL_SAMPLE_SEED)
        from .sampling import start_text
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


def cost(config):
    """A rough relative cost of a run, to start the longest ones first (shorter wall time)."""
    per_step = config.hidden_size * (config.hidden_size + 2 * 100) * config.num_layers
    return config.updates * config.seq_length * config.batch_size * per_step


def run_all(tasks, jobs, backend="loky", scheduler=None):
    """Yield an Outcome per task (run_id, config, CorpusText, samples) as each finishes.

    ``jobs`` workers (one process each; with 1 and loky the runs happen in this process).
    """
    from joblib import Parallel, delayed, parallel_config

    tasks = sorted(tasks, key=lambda t: -cost(t[1]))
    calls = (delayed(run_one)(*task) for task in tasks)
    if backend == "loky":
        with parallel_config(backend="loky", inner_max_num_threads=1):
            parallel = Parallel(n_jobs=jobs, return_as="generator_unordered",
                                max_nbytes=None, pre_dispatch="n_jobs")
        yield from parallel(calls)
    elif backend == "dask":
        with dask_client(scheduler, jobs):
            with parallel_config(backend="dask"):
                parallel = Parallel(return_as="generator_unordered", pre_dispatch="n_jobs")
                yield from parallel(calls)
    else:
        raise ValueError(f"unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")


class dask_client:
    """A dask.distributed Client on ``scheduler``, or on a local cluster of ``jobs``
    single-threaded worker processes when no address is given."""

    def __init__(self, scheduler, jobs):
        self.scheduler, self.jobs = scheduler, jobs

    def __enter__(self):
        import logging

        from dask.distributed import Client, LocalCluster
        self.cluster = None
        if self.scheduler:
            self.client = Client(self.scheduler, timeout="20s")
        else:
            self.cluster = LocalCluster(n_workers=self.jobs, threads_per_worker=1,
                                        processes=True, dashboard_address=None,
                                        silence_logs=logging.ERROR)
            self.client = Client(self.cluster)
        return self.client

    def __exit__(self, *exc):
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        return False


def default_jobs():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


@dataclass
class GridRun:
    """What one invocation of a grid did."""

    total: int
    skipped: int
    statuses: dict        # run_id -> status, for the runs done now
    failed: list          # (label, seed, error) of the runs that failed now
    interrupted: bool = False

    def count(self, status):
        return sum(1 for s in self.statuses.values() if s == status)


def run_grid(grid, results, todo, jobs, backend="loky", scheduler=None, progress=True):
    """Run the runs ``todo`` of ``grid`` (see ResultsDir.plan), saving each as it finishes,
    then rebuild the tables. Ctrl-C keeps every finished run."""
    from tqdm import tqdm

    from .baselines import baselines_table
    from .records import prepare_corpus

    # what each run trains on: runs with the same text and settings share one corpus (heads
    # are built once), which is what their workers rebuild
    heads = {s.run_id: prepare_corpus(grid.corpora[s.corpus_key], s.config) for s in grid.runs}
    results.prepare(grid, baselines_table(heads.values(), results.cached_baselines(),
                                          compute=grid.baselines))
    from .shared import worker_payloads
    payloads, shared = worker_payloads([heads[s.run_id] for s in todo], backend, scheduler)
    tasks = [(s.run_id, s.config, payloads[id(heads[s.run_id])], grid.samples) for s in todo]
    by_id = {s.run_id: s for s in todo}
    done = GridRun(len(grid.runs), len(grid.runs) - len(todo), {}, [])
    bar = tqdm(total=len(todo), unit="run", dynamic_ncols=True, disable=not progress or None)
    try:
        for outcome in run_all(tasks, jobs, backend, scheduler):
            results.save(outcome)
            spec = by_id[outcome.run_id]
            done.statuses[outcome.run_id] = outcome.status
            if outcome.status == "failed":
                done.failed.append((spec.label, spec.config.seed, outcome.summary["error"]))
            bar.update(1)
            if progress:
                bar.write(finished_line(spec, outcome.summary))
    except KeyboardInterrupt:
        done.interrupted = True
    finally:
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
    return (f"{head}, val {summary['final_val_loss_per_char']:.3f} nats/char, train "
            f"{summary['final_loss_per_char']:.3f}, {summary['updates_per_s']:,.0f} updates/s, "
            f"{summary['wall_s']:.1f} s")
