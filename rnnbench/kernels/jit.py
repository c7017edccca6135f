"""The one place that decides how kernels are compiled.

cache=True: compiled code is stored next to the sources (``__pycache__``) so a second process
starts in well under a second. error_model="numpy": no zero check on every division, so hot
loops vectorise. fastmath stays off: it would let LLVM assume no NaN/Inf, which breaks the
divergence check and the float64 equivalence with the NumPy reference. The exceptions are
linalg.matvec's flag "reassoc" alone: a dot product may add in any order, as BLAS does; and
the bench's timing.repeat_sum, the same flag, to time reads rather than the adder.
"""
from numba import njit

JIT_OPTIONS = dict(cache=True, error_model="numpy", fastmath=False, nogil=True)


def kernel(fn):
    """Compile ``fn`` with the project's policy."""
    return njit(**JIT_OPTIONS)(fn)


def inline_kernel(fn):
    """A small helper compiled into its callers (so their loops can vectorise through it)."""
    return njit(inline="always", **JIT_OPTIONS)(fn)
