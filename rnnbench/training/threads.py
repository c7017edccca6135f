"""Threads: one core per process where processes share the machine (a grid's workers, the
benchmarks), and every core for a run that is the only work where that pays: a batch of at
least 16 streams at hidden <= 128 is split into parts run on threads of their own
(split_parts, training/split.py); other runs whose matrix products are large enough (batch >=
8, hidden >= 512) use BLAS threads.

Numba and every BLAS (NumPy's, and SciPy's, which compiled kernels call for np.dot) are held to
one thread inside ``one_thread``; ``train`` runs under ``single_threaded`` (its validation's
small products are many times slower on several threads), and ``run_threads`` gives the
training loop of a lone run the machine's cores.
OpenBLAS on several threads adds some products' terms in another order (measured: weights
differ in the last bits after two updates at batch 8 and 50), so a lone run is reproducible
on the same machine (the same cores, the same threads), and a grid's runs, which must not
depend on how many of them run at once, stay at one thread each.
"""
import functools
import importlib
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext

import numba
from threadpoolctl import threadpool_limits


# Where BLAS threads pay (measured on 2 cores; see the README's Speed section): products of
# batch >= 8 rows, or of hidden >= 512. Below that, a step's matrix-vector products are a few
# microseconds, and waking a second thread for each costs more than it saves.
THREADED_BATCH, THREADED_HIDDEN = 8, 512
# A split batch's parts hold at least this many streams each: a part runs a whole update (not
# only its products) on its own thread, so it pays where BLAS threads pay. Above hidden 128 the
# products dominate the update, and OpenBLAS runs them faster on a whole batch over two threads
# than on half batches on one each (it packs the whole weight matrix for every product, half
# the work per pack): measured on 2 cores, lstm 256 f32 batch 32 1.49x one thread on BLAS
# threads and 1.29x split, lstm 192 1.46x and 1.28x; at hidden <= 128 the split wins or ties
# (lstm 128 f64 batch 32 1.38x against 1.10x; gru 128 f32 1.69x and 1.62x; rnn 100 f64 batch 16
# 1.11x and 0.94x). See the README's Speed section.
MIN_PART, SPLIT_MAX_HIDDEN = THREADED_BATCH, 128

_held = 0  # one_thread blocks in force in this process
_granted = None  # the cores a granted_cores block gives, while one is in force


class one_thread:
    """Numba and the BLAS libraries at one thread for the duration of a ``with`` block.
    ``own``: a run's own hold (``single_threaded``), which its training loop's run_threads
    may lift; a grid worker's or a benchmark's hold (the default) it may not."""

    def __init__(self, own=False):
        self.own = own

    def __enter__(self):
        global _held
        importlib.import_module("scipy.linalg")  # loads the BLAS Numba calls: the limit reaches it
        self._numba = numba.get_num_threads()
        numba.set_num_threads(1)
        self._limits = threadpool_limits(limits=1)
        _held += 0 if self.own else 1
        return self

    def __exit__(self, *exc):
        global _held
        _held -= 0 if self.own else 1
        self._limits.restore_original_limits()
        numba.set_num_threads(self._numba)
        return False


def split_parts(config, cores=None):
    """The parts a run of ``config`` that has the machine to itself splits its batch into
    (training/split.py): one per core (``cores``, default: those this process may use, at most
    what OPENBLAS_NUM_THREADS or OMP_NUM_THREADS ask, when set), each of at least MIN_PART
    streams, all of one size; 1 (no split) above hidden SPLIT_MAX_HIDDEN (BLAS threads are
    faster there), and in records mode, whose streams read records of their own lengths."""
    if cores is None:
        cores = usable_cores()
    if getattr(config, "records", None) or config.hidden_size > SPLIT_MAX_HIDDEN:
        return 1
    B = config.batch_size
    parts = max(1, min(cores, B // MIN_PART))
    while B % parts:
        parts -= 1
    return parts


def blas_threads(config, cores=None):
    """BLAS threads for a run of ``config`` that has the machine to itself: every core
    (``cores``, default: usable_cores()) at batch >= 8 or hidden >= 512, else 1; 1 where the
    run splits its batch instead (split_parts)."""
    if cores is None:
        cores = usable_cores()
    if split_parts(config, cores) > 1:
        return 1
    big = config.batch_size >= THREADED_BATCH or config.hidden_size >= THREADED_HIDDEN
    return max(1, cores) if big else 1


def lone_cores(config, cores=None):
    """The cores a run of ``config`` that has the machine to itself keeps busy: its parts'
    threads, or its BLAS threads."""
    return max(split_parts(config, cores), blas_threads(config, cores))


class granted_cores:
    """For a ``with`` block: the run in it may use ``n`` cores (usable_cores), whatever this
    process's environment says: a grid's only run, in a worker started with one thread per
    library (experiments/workers.py), gets the cores its parent counted."""

    def __init__(self, n):
        self.n = int(n)

    def __enter__(self):
        global _granted
        self._before, _granted = _granted, self.n
        return self

    def __exit__(self, *exc):
        global _granted
        _granted = self._before
        return False


def usable_cores():
    """The cores this process may use, at most what OPENBLAS_NUM_THREADS or OMP_NUM_THREADS
    ask, when set (within granted_cores: what it grants)."""
    if _granted is not None:
        return _granted
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
        (os.cpu_count() or 1)
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        if os.environ.get(name, "").strip().isdigit():
            return min(cores, int(os.environ[name]))
    return cores


def held():
    """Whether a one_thread hold other than a run's own is in force (a grid's worker, a
    benchmark): the run shares the machine."""
    return _held > 0


def run_threads(config, threads=None):
    """The BLAS threads of one run, for a ``with`` block: ``threads`` (default:
    blas_threads(config)), unless a one_thread block is in force (a grid's worker, a
    benchmark): then it stays at one."""
    if _held:
        return nullcontext()
    importlib.import_module("scipy.linalg")
    return threadpool_limits(limits=blas_threads(config) if threads is None else threads,
                             user_api="blas")


def single_threaded(fn):
    """``fn`` run under the run's own one_thread hold: a BLAS that spreads the small products
    of a char-RNN over several threads is slower on them, many times so on a busy machine
    (measured: the validation reads of a default tinyshakespeare run, 6.4 s on OpenBLAS's
    threads, 0.4 s on one); only the training loop of a lone big run takes more
    (run_threads)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with one_thread(own=True):
            return fn(*args, **kwargs)
    return wrapper


def in_background(fn, *args):
    """A Future of ``fn(*args)`` on a thread of its own, for work that overlaps the compiled
    loop (which runs without the GIL) or NumPy: its ``result()`` waits for it, or raises what
    it raised."""
    pool = ThreadPoolExecutor(1, thread_name_prefix=f"rnnbench-{getattr(fn, '__name__', 'work')}")
    try:
        return pool.submit(fn, *args)
    finally:
        pool.shutdown(wait=False)
