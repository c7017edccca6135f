"""What a grid's local worker process does besides the run itself.

It watches its parent (a worker never outlives ``rnnbench run``, even after SIGKILL of it),
leaves Ctrl-C to the parent (which then kills the workers, so a shutdown never waits on one),
and notes which run it holds in a markers folder, one small file per worker named by its pid,
so that the parent can name the run a dead worker took with it.
"""
import importlib
import os
import signal
import threading
import time
from contextlib import contextmanager
from multiprocessing import resource_tracker

PARENT_POLL_S = 0.2  # how often a worker checks that its parent still lives
# Thread-count variables every BLAS / OpenMP / Numba reads at import (what joblib sets for
# loky workers): one core per worker, before any library starts its pool of threads.
ONE_THREAD_ENV = {name: "1" for name in (
    "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS", "NUMBA_NUM_THREADS", "NUMEXPR_NUM_THREADS")}

_markers = None  # the markers folder this worker last wrote to


HELD = {signal.SIGINT, signal.SIGTERM}  # what a start of workers holds back


@contextmanager
def signals_held():
    """Block SIGINT and SIGTERM in this thread (and in the threads and processes it starts)
    for the block, to start workers: the parent gets a signal of the block after it, not
    half-way through starting them.

    A terminal's Ctrl-C reaches the whole process group, workers included, and is the
    parent's to handle. A worker inherits the blocked signals through fork and exec, so it is
    deaf to Ctrl-C from its first instruction, until it ignores SIGINT itself and unblocks
    both (``ignore_ctrl_c``).
    """
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    # multiprocessing's resource tracker, as it starts, unblocks SIGINT and SIGTERM (Python
    # 3.11 unblocks them, it does not restore the mask); loky and dask start it with their
    # first worker: start it now
    resource_tracker.ensure_running()
    old = signal.pthread_sigmask(signal.SIG_BLOCK, HELD)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def ignore_ctrl_c():
    """In a worker: ignore SIGINT (a pending one is dropped), unblock SIGTERM again."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, HELD)


def init_worker(parent_pid, preload=()):
    """Loky's initializer: leave Ctrl-C to the parent, watch the parent, import ``preload``
    (module names: the runs' code, about 1.2 s of imports, done as the worker starts, while
    the parent prepares the grid or compiles the kernels, not when its first run arrives)."""
    ignore_ctrl_c()
    watch_parent(parent_pid)
    for name in preload:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 -- the run's own import raises it, as a failed run
            pass


def dask_setup(worker):
    """Dask's preload hook, run as a local cluster's worker starts: as in init_worker, Ctrl-C
    is the parent's to handle (a worker dies with its nanny, which lives in the parent)."""
    ignore_ctrl_c()


def watch_parent(parent_pid):
    """Exit at once when this process's parent is no longer ``parent_pid`` (it died, however,
    and this process was handed to another). A thread polls getppid: PR_SET_PDEATHSIG would
    fire when the *thread* that started the worker ends, which for loky may be a helper
    thread. The kernels release the GIL, so the poll runs while a run computes."""
    if os.getppid() != parent_pid:
        _exit_orphan()

    def poll():
        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_S)
        _exit_orphan()

    threading.Thread(target=poll, name="rnnbench-watch-parent", daemon=True).start()


def _exit_orphan():
    if _markers is not None:  # leave nothing behind: the parent cannot clean up any more
        for remove, path in ((os.unlink, os.path.join(_markers, str(os.getpid()))),
                             (os.rmdir, _markers)):  # the last worker out removes the folder
            try:
                remove(path)
            except OSError:
                pass
    os._exit(1)


def run_task(markers, fn, run_id, *args):
    """``fn(run_id, *args)`` (the runner's run_one) in a worker, after noting in ``markers`` (a
    folder, or None) that this process holds ``run_id``."""
    mark(markers, run_id)
    return fn(run_id, *args)


def mark(markers, run_id):
    """Write ``run_id`` to this process's marker (temp file + rename: never half-written).
    Best effort: a run goes on without it; a death it caused is then not attributed."""
    global _markers
    _markers = markers
    if not markers:
        return
    path = os.path.join(_markers, str(os.getpid()))
    try:
        with open(path + ".tmp", "w") as f:
            f.write(run_id)
        os.replace(path + ".tmp", path)
    except OSError:
        pass


def read_markers(markers):
    """{worker pid: the run_id it holds (or held last)} from a markers folder."""
    held = {}
    try:
        names = os.listdir(markers)
    except (OSError, TypeError):
        return held
    for name in names:
        if name.isdigit():
            try:
                with open(os.path.join(markers, name)) as f:
                    held[int(name)] = f.read()
            except OSError:
                pass
    return held
