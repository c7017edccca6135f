"""The runs of a grid on this machine: one after another in this process (``--jobs 1``), or on
loky worker processes, one run and one core each (see pool.py for what every pool does).

Loky's executor breaks as a whole when one worker dies: it fails every future in flight and
kills the other workers. The pool then names the run the dead worker held (each worker notes
its run in a markers folder, and the pool looks, at the moment loky reports the break and
before it kills the others, which workers are already dead), records that run failed, and
runs the innocent ones again on a new executor.
"""
import os
import shutil
import threading
from collections import Counter
from functools import partial

from joblib.externals.loky import BrokenProcessPool, ProcessPoolExecutor, wait

from .pool import Lost, Pool, death_cause, kill_processes, longest_first, markers_folder
from .workers import ONE_THREAD_ENV, init_worker, read_markers, run_task, signals_held

UNEXPLAINED_BREAKS = 2  # a run in flight when the pool broke this often, no cause found, fails
WAIT_S = 0.5            # the longest the parent blocks before it looks around again
SHUTDOWN_S = 5.0        # the longest a pool's shutdown waits for loky's manager thread
RUNS_CODE = ("rnnbench.experiments.runner",)  # what a worker imports as it starts


class InProcess(Pool):
    """The runs one after another in this process (``--jobs 1``: no worker to die or
    outlive anything; what a debugger or a monkeypatching test needs)."""

    def describe(self):
        return "in this process (--jobs 1)"

    def run(self, fn, tasks):
        for task in longest_first(tasks):
            yield fn(*task)


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
            if self.markers is None:
                self.markers = markers_folder()
            self.executor = ProcessPoolExecutor(
                self.jobs, initializer=init_worker, initargs=(os.getpid(), RUNS_CODE),
                env=ONE_THREAD_ENV)
            # A task half-written into the pipe when its reader dies blocks the queue's feeder
            # thread, and loky's shutdown would join that thread: never wait for it
            self.executor._call_queue.cancel_join_thread()
        return self.executor

    def start(self):
        """Start the workers now (loky starts them all at its first task: a no-op one), so
        that their start and imports overlap what the parent does before the runs (the
        baselines, compiling missing kernels); their first runs then begin at once."""
        try:
            with signals_held():  # as in run: the workers start deaf to Ctrl-C
                self._executor().submit(os.getpid)
        except BrokenProcessPool:  # run starts a new executor
            self._drop(self.executor)
        return self

    def run(self, fn, tasks):
        self._consumer = threading.current_thread()
        queue, strikes = longest_first(tasks), Counter()
        inflight = {}  # future -> (task, the executor it runs on)
        while queue or inflight:
            while queue and len(inflight) < self.jobs:
                executor = self._executor()
                try:
                    with signals_held():  # the workers a submit starts start deaf to Ctrl-C
                        future = executor.submit(run_task, self.markers, fn, *queue[0])
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
