"""One core per process: Numba and every BLAS (NumPy's, and SciPy's, which compiled kernels
call for np.dot) held to one thread, so parallel runs and benchmarks do not oversubscribe."""
import functools
import importlib

import numba
from threadpoolctl import threadpool_limits


class one_thread:
    """Numba and the BLAS libraries at one thread for the duration of a ``with`` block."""

    def __enter__(self):
        importlib.import_module("scipy.linalg")  # loads the BLAS Numba calls: the limit reaches it
        self._numba = numba.get_num_threads()
        numba.set_num_threads(1)
        self._limits = threadpool_limits(limits=1)
        return self

    def __exit__(self, *exc):
        self._limits.restore_original_limits()
        numba.set_num_threads(self._numba)
        return False


def single_threaded(fn):
    """``fn`` run under one_thread: a run is one core's work, and a BLAS that spreads the small
    products of a char-RNN over several threads is slower on them, many times so on a busy
    machine (measured: the validation reads of a default tinyshakespeare run, 6.4 s on
    OpenBLAS's threads, 0.4 s on one)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with one_thread():
            return fn(*args, **kwargs)
    return wrapper
