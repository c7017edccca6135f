"""The dask backend: a local cluster of single-threaded worker processes, or a given scheduler.

A dead worker fails the run it held and the grid goes on, as with loky. Dask retries a task
whose worker died on another worker, up to ``distributed.scheduler.allowed-failures`` times
(3 by default), then fails it with KilledWorker. On a local cluster rnnbench sets that to 0:
a local worker dies for what its run did (the OOM killer, a crash), so a retry would only
repeat the damage, three more times; the run is recorded failed at once and tried again by
the next ``rnnbench run``, as with loky. Dask then also fails the innocent tasks that were
queued on the dead worker; each worker notes the run it is executing (workers.mark), so only
the run the dead worker was executing is failed and the others are submitted again. A given
scheduler keeps its own policy: a remote worker may die for reasons of its own (a node
preempted), its operator chose the retries, and rnnbench does not change a shared scheduler's
settings; the run is failed when that scheduler gives up on it.

Local worker processes die with their parent: each nanny (in this process) holds a pipe to its
worker, and the worker exits as soon as the pipe closes.
"""
import asyncio
import logging
import os
import shutil
import threading
import time
import uuid
from concurrent.futures import CancelledError

from .pool import (GridPoolError, Lost, Pool, death_cause, kill_processes, longest_first,
                   markers_folder)
from .workers import read_markers, run_task, signals_held

# dask.distributed is an optional dependency (pip install 'rnnbench[dask]'): it is imported
# inside the functions that use it, only when the dask backend runs.

WAIT_S = 0.5
QUIET_LOGGERS = ("distributed", "distributed.client")  # dask's config gives the client its own
CLOSE_S = 5.0  # the longest the client or the cluster may take to close


def connect(scheduler, timeout):
    """A Client of the scheduler at ``scheduler``, or a GridPoolError within ``timeout`` s.

    The scheduler is asked who it is first, under a deadline of our own: dask's timeout
    covers the TCP connection, not a peer that accepts it and then never answers (it waits
    for ever) or answers garbage (a failed Client then prints tracebacks as it is collected).
    """
    from distributed import Client  # optional and slow: the dask backend only

    box = {}

    def ask():  # in a thread of its own: asyncio.run cannot nest in a caller's event loop
        try:
            box["reply"] = asyncio.run(asyncio.wait_for(_identity(scheduler, timeout), timeout))
        except BaseException as exc:  # noqa: BLE001 -- reported below
            box["error"] = exc

    thread = threading.Thread(target=ask, name="rnnbench-dask-connect", daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    error, reply = box.get("error"), box.get("reply")
    if isinstance(error, ValueError):  # not an address: "unknown address scheme 'foo'"
        raise GridPoolError(f"rnnbench: --scheduler {scheduler}: {error}", status=2)
    if isinstance(error, OSError) or not box:  # refused, unreachable, silent (TimeoutError)
        raise GridPoolError(f"rnnbench: cannot reach the dask scheduler at {scheduler}: no "
                            f"answer within {timeout:g} s (--connect-timeout)")
    if error is not None or not isinstance(reply, dict) or reply.get("type") != "Scheduler":
        what = (f"{type(error).__name__}: {' '.join(str(error).split())[:160]}" if error
                else f"it says it is {str(reply)[:60]!r}")
        raise GridPoolError(f"rnnbench: {scheduler} did not answer as a dask scheduler "
                            f"({what})")
    try:
        return Client(scheduler, timeout=f"{timeout}s", set_as_default=False)
    except Exception as exc:  # noqa: BLE001 -- it answered, then refused us: say so in a line
        raise GridPoolError(f"rnnbench: cannot use the dask scheduler at {scheduler}: "
                            f"{type(exc).__name__}: {' '.join(str(exc).split())[:160]}")


async def _identity(address, timeout):
    from distributed.comm import connect as open_comm  # optional and slow: the dask backend only

    comm = await open_comm(address, timeout=timeout)
    try:
        await comm.write({"op": "identity", "reply": True})
        return await comm.read()
    finally:
        comm.abort()


class DaskPool(Pool):
    """Runs on a dask cluster: a LocalCluster of ``jobs`` workers, or ``scheduler``'s."""

    def __init__(self, scheduler=None, connect_timeout=10.0):
        self.scheduler, self.connect_timeout = scheduler, connect_timeout
        self.client = self.cluster = self.markers = None
        self._procs = {}  # worker address -> its process (local cluster): its pid, exit code
        self.cores, self._log_levels, self._environ = None, {}, {}

    def connect(self):
        """Reach the given scheduler; the cores (threads) of its workers."""
        # a lost scheduler is rnnbench's one line, not the client's logged tracebacks (after
        # the import: importing distributed sets its loggers' levels from dask's config)
        import distributed  # noqa: F401
        self._log_levels = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL)
        self.client = connect(self.scheduler, self.connect_timeout)
        self.cores = sum(self.client.nthreads().values())
        return self.cores

    def start(self, jobs):
        self.jobs = jobs
        if self.client is not None:
            return
        import dask  # optional and slow: the dask backend only
        from distributed import Client, LocalCluster

        self.markers = markers_folder()
        # the nannies write their workers' environment (OMP_NUM_THREADS=1, PYTHONHASHSEED,
        # ...) into ours as they spawn them and never take it back: ours is put back as it
        # was when the pool closes
        self._environ = dict(os.environ)
        # the cluster's event-loop thread, which starts every worker, inherits the blocked
        # signals: the workers start deaf to Ctrl-C (workers.signals_held); and a SIGTERM
        # waits until the cluster is up (half-built, it fails as it is collected)
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}), signals_held():
            # a dead worker is reported by rnnbench's own line: dask's log lines are noise
            # on 127.0.0.1 only; the scheduler's HTTP routes on a free port (the default, 8787,
            # may be taken: a warning); preload: workers.dask_setup
            self.cluster = LocalCluster(
                n_workers=jobs, threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address=None, silence_logs=logging.CRITICAL,
                scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
                preload=["rnnbench.experiments.workers"])
        self.client = Client(self.cluster, set_as_default=False)

    def describe(self):
        if self.cluster is not None:
            return f"on {self.jobs} dask worker{'s' if self.jobs > 1 else ''}"
        return (f"on the dask cluster at {self.scheduler} ({self.cores} cores), {self.jobs} "
                f"at a time")

    def _note_workers(self):
        """Note each local worker's process by its address (to name the run a dead one held);
        return every local worker process, started or starting (to kill them)."""
        procs = []
        for nanny in list(self.cluster.workers.values()) if self.cluster is not None else ():
            proc = getattr(getattr(nanny, "process", None), "process", None)
            if proc is not None:
                procs.append(proc)
                if nanny.worker_address:
                    self._procs[nanny.worker_address] = proc
        return procs

    def run(self, fn, tasks):
        from distributed import wait  # optional and slow: the dask backend only

        queue, inflight = longest_first(tasks), {}
        while queue or inflight:
            while queue and len(inflight) < self.jobs:
                task = queue.popleft()
                key = f"rnnbench-{task[0]}-{uuid.uuid4().hex[:8]}"
                inflight[self.client.submit(run_task, self.markers, fn, *task, key=key,
                                            pure=False)] = task
            self._note_workers()
            try:
                with self.client.as_current():  # wait() asks for the current client
                    done = wait(list(inflight), WAIT_S, return_when="FIRST_COMPLETED").done
            except TimeoutError:  # none finished yet: look at the workers again
                continue
            except CancelledError:  # FuturesCancelledError: the scheduler went away
                done = [f for f in inflight if f.status == "cancelled"]
            for future in done:
                task = inflight.pop(future)
                if future.status == "finished":
                    yield future.result()
                elif future.status == "cancelled":
                    raise GridPoolError(f"rnnbench: lost the dask scheduler"
                                        f"{' at ' + self.scheduler if self.scheduler else ''}"
                                        f" with {len(inflight) + 1} runs in flight; run the "
                                        f"same command again to do them")
                else:
                    lost = self._lost(task, future.exception())
                    if lost is None:
                        queue.appendleft(task)  # innocent: queued on a worker that died
                    else:
                        yield lost
                future.release()

    def _lost(self, task, error):
        """The Lost for a task that erred on the cluster, or None when it is to run again."""
        from distributed import KilledWorker  # optional and slow: the dask backend only
        if not isinstance(error, KilledWorker):
            return Lost(task, " ".join(f"{type(error).__name__}: {error}".split()))
        address = error.last_worker.address
        proc = self._procs.get(address)
        if proc is None:  # a remote worker: dask tried it on allowed_failures + 1 of them
            return Lost(task, f"dask worker killed ({error.allowed_failures + 1} workers died "
                              f"running it, the last {address}); out of memory?")
        if read_markers(self.markers).get(proc.pid, task[0]) != task[0]:
            return None  # that worker was running another run
        for _ in range(20):  # the process is gone; its exit status may take a moment
            if proc.exitcode is not None:
                break
            time.sleep(0.05)
        return Lost(task, death_cause(proc.exitcode))

    def close(self):
        """Close the client; kill the local workers (a busy one is not waited for: dask's own
        close would wait seconds for it), their nannies told first not to restart them."""
        if self.client is not None:
            self.client.close(timeout=CLOSE_S)
        if self.cluster is not None:
            for nanny in list(self.cluster.workers.values()):
                nanny.close_gracefully(reason="rnnbench-close")  # no restart when it dies
            kill_processes([p.pid for p in self._note_workers() if p.pid])
            try:
                self.cluster.close(timeout=CLOSE_S)
            except Exception:  # noqa: BLE001 -- its workers are dead; nothing more to do
                pass
            kill_processes([p.pid for p in self._note_workers() if p.pid])  # one starting
        self.client = self.cluster = None
        if self._environ:
            for name in set(os.environ) - set(self._environ):
                del os.environ[name]
            os.environ.update(self._environ)
            self._environ = {}
        for name, level in self._log_levels.items():
            logging.getLogger(name).setLevel(level)
        self._log_levels = {}
        if self.markers:
            shutil.rmtree(self.markers, ignore_errors=True)
            self.markers = None
