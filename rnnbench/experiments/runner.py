"""Runs a grid's runs in parallel: in this process, on loky processes or on a dask cluster.

The worker function ``run_one`` is pure: a config, the run's corpus (prepared once, in the
parent) and the sampling settings in, an Outcome out; it writes nothing. The parent receives
outcomes as they finish and saves each. Kernels missing from Numba's cache are compiled once,
in the parent, before the runs start (not by every worker at once). Each worker keeps Numba and BLAS to one thread, so N
workers use N cores and do not fight over them. A run whose worker process died is a failed
run; Ctrl-C and SIGTERM keep the runs finished so far.
"""
import traceback
from dataclasses import dataclass, replace

from tqdm import tqdm

from ..text.baselines import baselines_table
from ..text.novelty import DEFAULT_N, training_index
from ..training.driver import corpus_fields, train
from ..training.samples import final_rows, passage_row, with_extra_rows
from ..training.threads import granted_cores, lone_cores, one_thread
from ..training.warmup import prepare_kernels
from .checkpoints import RunCheckpoints
from .dask_pool import DaskPool
from .interrupts import exit_status, held_back, signals_prevail
from .loky_pool import InProcess, LocalPool
from .pool import cost, default_jobs, plan_jobs
from .shared import worker_payloads

BACKENDS = ("loky", "dask")


@dataclass
class Outcome:
    """One finished run: the RunResult (None when the run failed) and its summary."""

    run_id: str
    config: object
    result: object
    summary: dict
    traceback: str = ""
    resumed_from: int = None  # the update its stopped run folder was continued from
    note: str = None          # what the parent tells of it (a checkpoint not continued)

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


def run_one(run_id, config, payload, samples=None, checkpoints=None, threads=1):
    """Train one run and draw its extra samples, on ``threads`` cores (more than one only for
    a grid's only run: its parts' threads or BLAS threads, threads.lone_cores); an exception
    becomes status "failed". ``checkpoints`` (a
    RunCheckpoints, or None): where the run keeps its checkpoints and continues a stopped run
    from (experiments/checkpoints.py)."""
    with one_thread() if threads == 1 else granted_cores(threads):
        corpus = _corpus(payload)
        try:
            resume, note = checkpoints.resume(config, corpus) if checkpoints else (None, None)
            result = train(config, corpus=corpus, resume=resume,
                           **({"checkpoint_every": checkpoints.every,
                               "on_checkpoint": checkpoints.save} if checkpoints else {}))
            result = replace(result, samples=_all_samples(result, samples, corpus))
            return Outcome(run_id, config, result, result.summary,
                           resumed_from=resume.updates if resume else None, note=note)
        except Exception as exc:  # noqa: BLE001 -- a failed run is a result, the grid goes on
            return Outcome(run_id, config, None, failed_summary(config, corpus, exc),
                           traceback.format_exc())


def failed_summary(config, corpus, exc):
    """What is known of a run that raised (``exc``) or whose worker died (``exc``: the cause
    in words) on its ``corpus``: the error in one line, the corpus, the versions."""
    message = " ".join((exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}").split())
    return dict(status="failed", error=message, **corpus_fields(corpus))


def _all_samples(result, samples, corpus):
    """Training samples, then, for an ok run, samples of the final model at several
    temperatures when the grid asks (``samples``: training.samples.final_rows) and its
    passage (passage_row), each with its novelty against ``corpus``'s training text."""
    if result.summary["status"] != "ok":
        return result.samples
    index = training_index(corpus, DEFAULT_N)
    rows = final_rows(result, samples, index) if samples is not None else []
    return with_extra_rows(result, rows + [passage_row(result, index)])


def open_pool(backend, requested, todo, scheduler=None, connect_timeout=10.0):
    """(the pool to run ``todo`` runs on, started, or None when there is nothing to run;
    a note when --jobs was lowered). A dask scheduler is reached here, before anything is
    written: unreachable, it is a GridPoolError."""
    if todo == 0:
        return None, None
    if backend == "dask":
        pool = DaskPool(scheduler, connect_timeout)
        try:
            cores, where = (pool.connect(), "cores in the cluster") if scheduler else \
                (default_jobs(), "cores")
            jobs, note = plan_jobs(requested, todo, cores, where)
            if cores == 0:  # a cluster without workers yet: the runs wait for some
                jobs = min(requested or todo, todo)
                note = f"the dask cluster at {scheduler} has no workers yet; the runs wait"
            pool.start(jobs)
        except BaseException:
            pool.close()
            raise
        return pool, note
    if backend != "loky":
        raise ValueError(f"unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")
    if requested == 1:
        return InProcess(), None
    jobs, note = plan_jobs(requested, todo, default_jobs())
    return LocalPool(jobs).start(), note


def run_all(tasks, jobs, backend="loky", scheduler=None):
    """Yield an Outcome per task (run_id, config, CorpusText, samples) as each finishes, on
    ``jobs`` workers (with 1 and loky, in this process); a run whose worker died is failed."""
    pool, _ = open_pool(backend, jobs, len(tasks), scheduler)
    if pool is None:
        return
    with pool:
        for item in pool.run(run_one, tasks):
            yield item if isinstance(item, Outcome) else lost_outcome(item, _corpus(item.task[2]))


def lost_outcome(lost, corpus):
    """The failed Outcome of a run whose worker died (``lost``: a pool.Lost) on ``corpus``."""
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
    # what each run trains on (prepared once by load_grid; runs with the same text and settings
    # share one corpus), which is what their workers rebuild
    heads = {s.run_id: grid.corpus(s) for s in grid.runs}
    results.prepare(grid, baselines_table(heads.values(), results.cached_baselines(),
                                          compute=grid.baselines))
    remote = getattr(pool, "scheduler", None)  # a remote cluster's workers get the text itself
    payloads, shared = worker_payloads([heads[s.run_id] for s in todo], remote=bool(remote))
    # a grid of one run is the only work: it may use every core where that pays. Not the
    # last run left of a larger grid: BLAS threads change the order of some sums, and a run's
    # numbers must not depend on how many runs of its grid were left to do
    alone = len(grid.runs) == 1 and not remote
    threads = {s.run_id: lone_cores(s.config) if alone else 1 for s in todo}
    tasks = [(s.run_id, s.config, payloads[id(heads[s.run_id])], grid.samples,
              None if remote else RunCheckpoints(str(results.run_folder(s.run_id)),
                                                 grid.checkpoint_every),
              threads[s.run_id])
             for s in todo]  # a remote cluster's workers do not see our disk: no checkpoints
    if todo and not remote:  # compile here, once: the workers then load the kernels
        with signals_prevail():  # a Ctrl-C during the compile stops the grid, as elsewhere
            prepare_kernels({s.config.dtype for s in todo},
                            say=(lambda line: print(line, flush=True)) if progress else
                            (lambda line: None), records=any(s.config.records for s in todo))
    by_id = {s.run_id: s for s in todo}
    done = GridRun(len(grid.runs), len(grid.runs) - len(todo), {}, [])
    bar = SizedBar({s.run_id: cost(s.config, getattr(heads[s.run_id], "vocab_size", 100))
                    for s in todo}, getattr(pool, "jobs", 1), disable=not progress or None)
    try:
        for outcome in pool.run(run_one, tasks) if todo else ():
            keep = False
            if not isinstance(outcome, Outcome):  # a pools.Lost: its worker died
                outcome = lost_outcome(outcome, heads[outcome.task[0]])
                keep = results.status(outcome.run_id) == "stopped"  # its checkpoint stays
            spec = by_id[outcome.run_id]
            if keep:
                outcome.note = "its worker died; its last checkpoint is kept, and the next " \
                               "rnnbench run continues from it"
            if outcome.note:
                results.note(f"run {outcome.run_id}: {outcome.note}")
            with held_back():  # a run saved is a run counted: a signal waits for both
                if not keep:
                    results.save(outcome)
                done.statuses[outcome.run_id] = outcome.status
                if outcome.status == "failed":
                    done.failed.append((spec.label, spec.config.seed,
                                        outcome.summary["error"]))
            bar.finished(outcome.run_id)
            if progress:
                bar.write(finished_line(spec, outcome.summary, outcome.resumed_from))
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


class SizedBar(tqdm):
    """A grid's progress bar that counts runs but moves by their sizes (pool.cost: a run's
    seconds on one core, roughly), so that the time left it shows is the remaining runs' share
    of the work at the speed seen so far, not a count of runs. Before the first run finishes,
    the estimate is the cost model's own: the work spread over ``jobs`` workers."""

    FORMAT = "{percentage:3.0f}%|{bar}| {postfix} [{elapsed}<{remaining}]"

    def __init__(self, costs, jobs=1, **kwargs):
        self.costs, self.runs, self.jobs = costs, 0, max(1, jobs)
        total = sum(costs.values()) or 1.0
        super().__init__(total=total, bar_format=self.FORMAT, dynamic_ncols=True, smoothing=0,
                         **kwargs)
        self.set_postfix_str(f"0/{len(costs)} runs", refresh=False)

    @property
    def format_dict(self):
        d = super().format_dict
        if self.n == 0:  # no run done yet: the model's rate (cost-seconds per second)
            d["rate"] = float(self.jobs)
        return d

    def finished(self, run_id):
        """Run ``run_id`` is done: one more run, its share of the work."""
        self.runs += 1
        self.set_postfix_str(f"{self.runs}/{len(self.costs)} runs", refresh=False)
        self.update(self.costs.get(run_id, 0.0))


def finished_line(spec, summary, resumed_from=None):
    """One line per finished run: what it was, how it ended, how fast it went."""
    head = f"{spec.run_id}  {spec.label}, seed={spec.config.seed}: {summary['status']}"
    if resumed_from:
        head += f" (continued from its checkpoint at update {resumed_from:,})"
    if summary["status"] == "failed":
        return f"{head}: {summary['error']}"
    if summary["status"] == "diverged":
        at, rule = summary.get("diverged_at"), summary.get("diverged_rule")
        where = f" at update {at:,} ({rule})" if at is not None else ""
        return f"{head}{where}, {summary['wall_s']:.1f} s: {summary['error']}"
    return (f"{head}, val {summary['final_val_loss_per_char']:.3f} nats/char, train "
            f"{summary['final_loss_per_char']:.3f}, {summary['updates_per_s']:,.0f} updates/s, "
            f"{summary['wall_s']:.1f} s")
