"""Where a grid's runs execute, and what happens when a worker process dies.

A pool runs tasks ``(run_id, config, payload, samples)`` and yields, for each, the Outcome of
``runner.run_one`` or a ``Lost`` (its worker died under it: the run is then recorded failed
with the cause, and the grid goes on). Three kinds: this process (``--jobs 1``), loky worker
processes on this machine (below), and a dask cluster (``dask_pool``).

Loky's executor breaks as a whole when one worker dies: it fails every future in flight and
kills the other workers. The pool then names the run the dead worker held (each worker notes
its run in a markers folder, and the pool looks, at the moment loky reports the break and
before it kills the others, which workers are already dead), records that run failed, and
runs the innocent ones again on a new executor.
"""
import os
import shutil
import tempfile
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from functools import partial

from .workers import ONE_THREAD_ENV, init_worker, read_markers, run_task, signals_held

UNEXPLAINED_BREAKS = 2  # a run in flight when the pool broke this often, no cause found, fails
WAIT_S = 0.5            # the longest the parent blocks before it looks around again
SHUTDOWN_S = 5.0        # the longest a pool's shutdown waits for loky's manager thread
BACKENDS = ("loky", "dask")
MARKERS_PREFIX = "rnnbench-workers-"  # + the parent's pid: folders of the workers' markers


@dataclass
class Lost:
    """A task whose worker died while running it; ``cause`` goes into the run's summary."""

    task: tuple
    cause: str


class GridPoolError(Exception):
    """The pool itself cannot go on (no scheduler, the cluster lost); ``status``: exit code."""

    def __init__(self, message, status=1):
        super().__init__(message)
        self.status = status


def death_cause(exitcode):
    """What a worker's exit code says: 'worker killed by signal 9; out of memory?' ..."""
    import signal
    if exitcode is None:
        return "worker died"
    if exitcode >= 0:
        return f"worker exited with status {exitcode}"
    if -exitcode == signal.SIGKILL:  # what the kernel's OOM killer sends
        return f"worker killed by signal {-exitcode}; out of memory?"
    try:
        name = f" ({signal.Signals(-exitcode).name})"
    except ValueError:
        name = ""
    return f"worker killed by signal {-exitcode}{name}"


def cost(config):
    """A rough relative cost of a run, to start the longest ones first (shorter wall time)."""
    per_step = config.hidden_size * (config.hidden_size + 2 * 100) * config.num_layers
    return config.updates * config.seq_length * config.batch_size * per_step


def longest_first(tasks):
    return deque(sorted(tasks, key=lambda t: -cost(t[1])))


def default_jobs():
    """The cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def plan_jobs(requested, todo, cores, where="cores"):
    """(workers to use, a note or None): ``requested`` (None: one per core) lowered to the
    runs to do and to ``cores`` (this machine's, or a dask cluster's: ``where``)."""
    want = requested or cores
    jobs = max(1, min(want, todo, cores))
    if requested is None or jobs >= requested:
        return jobs, None
    why = [f"{todo} run{'s' if todo != 1 else ''} to do"] if todo < requested else []
    why += [f"{cores} {where}"] if cores < requested else []
    return jobs, f"--jobs {requested} reduced to {jobs} ({', '.join(why)})"


class Pool:
    """What every pool offers: ``run(tasks)``, ``describe()`` (where: "on 2 local workers"),
    and ``close()``, which kills its workers (a shutdown never waits on one); as a context
    manager, it is closed on exit."""

    jobs = 1

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class InProcess(Pool):
    """The runs one after another in this process (``--jobs 1``: no worker to die or
    outlive anything; what a debugger or a monkeypatching test needs)."""

    def describe(self):
        return "in this process (--jobs 1)"

    def run(self, tasks):
        from .runner import run_one
        for task in longest_first(tasks):
            yield run_one(*task)


class LocalPool(Pool):
    """``jobs`` loky worker processes on this machine, one run and one core each."""

    def __init__(self, jobs):
        self.jobs = jobs
        self.executor = None
        self.markers = None
        self._dead = {}  # executor -> {pid: exit code} of the workers dead when it broke

    def describe(self):
        return f"on {self.jobs} local worker{'s' if self.jobs > 1 else ''}"

    def _executor(self):
        if self.executor is None:
            from joblib.externals.loky import ProcessPoolExecutor
            if self.markers is None:
                self.markers = markers_folder()
            self.executor = ProcessPoolExecutor(
                self.jobs, initializer=init_worker, initargs=(os.getpid(),),
                env=ONE_THREAD_ENV)
            # A task half-written into the pipe when its reader dies blocks the queue's feeder
            # thread, and loky's shutdown would join that thread: never wait for it
            self.executor._call_queue.cancel_join_thread()
        return self.executor

    def run(self, tasks):
        from joblib.externals.loky import BrokenProcessPool, wait

        self._consumer = threading.current_thread()
        queue, strikes = longest_first(tasks), Counter()
        inflight = {}  # future -> (task, the executor it runs on)
        while queue or inflight:
            while queue and len(inflight) < self.jobs:
                executor = self._executor()
                try:
                    with signals_held():  # the workers a submit starts start deaf to Ctrl-C
                        future = executor.submit(run_task, self.markers, *queue[0])
                except BrokenProcessPool:  # it broke since the last look: start a new one
                    self._drop(executor)
                    continue
                inflight[future] = (queue.popleft(), executor)
                future.add_done_callback(partial(self._note_dead, executor))
            done, _ = wait(list(inflight), timeout=WAIT_S, return_when="FIRST_COMPLETED")
            broken = {}  # executor -> tasks lost with it
            for future in done:
                task, executor = inflight.pop(future)
                error = future.exception()
                if error is None:
                    yield future.result()
                elif isinstance(error, BrokenProcessPool):
                    broken.setdefault(executor, []).append(task)
                else:  # run_one returns its errors: this is loky's (an argument not picklable)
                    yield Lost(task, " ".join(f"{type(error).__name__}: {error}".split()))
            for executor, lost in broken.items():
                # the rest of that executor's futures fail with it: collect them too
                others = [f for f, (_, owner) in inflight.items() if owner is executor]
                for future in wait(others, timeout=10).done:
                    lost.append(inflight.pop(future)[0])
                yield from self._after_break(executor, lost, queue, strikes)

    def _note_dead(self, executor, future):
        """Done-callback. When loky reports a break it fails the pending futures (calling
        this) *before* it kills the surviving workers: the workers dead now are the cause."""
        if (executor in self._dead or future.cancelled()
                or threading.current_thread() is self._consumer):
            return  # already noted, or called late (the future was done when submitted)
        from joblib.externals.loky import BrokenProcessPool
        if isinstance(future.exception(), BrokenProcessPool):
            procs = dict(getattr(executor, "_processes", {}))
            self._dead[executor] = {pid: p.exitcode for pid, p in procs.items()
                                    if p.exitcode is not None}

    def _after_break(self, executor, lost, queue, strikes):
        """Yield a Lost for each run whose worker died; queue the others again."""
        dead = self._dead.pop(executor, {})
        self._drop(executor)
        held = read_markers(self.markers)
        culprits = {held[pid]: code for pid, code in dead.items() if pid in held}
        explained = any(task[0] in culprits for task in lost)
        for task in reversed(lost):  # reversed + appendleft: they go first, in their order
            run_id = task[0]
            if run_id in culprits:
                yield Lost(task, death_cause(culprits[run_id]))
                continue
            if not explained:  # a worker died idle, or before it noted its run
                strikes[run_id] += 1
                if strikes[run_id] >= UNEXPLAINED_BREAKS:
                    why = death_cause(next(iter(dead.values()))) if dead else "worker died"
                    yield Lost(task, f"the worker pool broke {strikes[run_id]} times while "
                                     f"it ran, no run was found to blame (last: {why})")
                    continue
            queue.appendleft(task)  # an innocent run, killed with the pool: run it again

    def _drop(self, executor):
        if executor is self.executor:
            self.executor = None
        _shut(executor)

    def close(self):
        """Kill the workers (a shutdown never waits on a busy or dead one) and clean up."""
        if self.executor is not None:
            _shut(self.executor)
            self.executor = None
        if self.markers:
            shutil.rmtree(self.markers, ignore_errors=True)
            self.markers = None


def _shut(executor):
    """Kill an executor's workers and shut it down, waiting for none of them."""
    kill_processes([p.pid for p in list(getattr(executor, "_processes", {}).values())])
    manager = getattr(executor, "_executor_manager_thread", None)
    executor.shutdown(wait=False, kill_workers=True)
    if manager is not None:
        manager.join(SHUTDOWN_S)


def markers_folder():
    """A new temp folder for the workers' markers ("" when none can be made: deaths then go
    unattributed, runs still run). Folders left by an rnnbench that was SIGKILLed (its pid,
    in the name, is gone) are removed first."""
    import psutil
    root = tempfile.gettempdir()
    try:
        for name in os.listdir(root):
            pid = name.split("-")[2] if name.startswith(MARKERS_PREFIX) else ""
            if pid.isdigit() and not psutil.pid_exists(int(pid)):
                shutil.rmtree(os.path.join(root, name), ignore_errors=True)
        return tempfile.mkdtemp(prefix=f"{MARKERS_PREFIX}{os.getpid()}-")
    except OSError:
        return ""


def kill_processes(pids, timeout=5.0):
    """SIGKILL those of ``pids`` that are this process's children, and their descendants
    (a pid that is no longer our child was reused: left alone); wait until they are gone."""
    import psutil
    procs = []
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            if proc.ppid() == os.getpid():
                procs += proc.children(recursive=True) + [proc]
        except psutil.Error:
            pass
    for proc in procs:
        try:
            proc.kill()
        except psutil.Error:
            pass
    # wait until each is a zombie or gone; reaping it is its owner's job (loky's, a nanny's),
    # which reads its exit status
    deadline = time.monotonic() + timeout
    while procs and time.monotonic() < deadline:
        procs = [p for p in procs if _alive(p)]
        time.sleep(0.02 if procs else 0)


def _alive(proc):
    import psutil
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def open_pool(backend, requested, todo, scheduler=None, connect_timeout=10.0):
    """(the pool to run ``todo`` runs on, started, or None when there is nothing to run;
    a note when --jobs was lowered). A dask scheduler is reached here, before anything is
    written: unreachable, it is a GridPoolError."""
    if todo == 0:
        return None, None
    if backend == "dask":
        from .dask_pool import DaskPool
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
    return LocalPool(jobs), note
