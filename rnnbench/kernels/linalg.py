"""The recurrence's products: one stream's W_hh h (a loop in float64, BLAS in float32), and
d(pre-activation) W_hh back through it (BLAS).

At these sizes the product streams W_hh from L2, and the cost of the BLAS call shows: a plain
loop whose row sums LLVM may reassociate, and so vectorise, measured 6-35% faster than
OpenBLAS's gemv in float64 (100 x 100 to 512 x 512), and slower in float32.
Only the order of each row's additions changes (flag "reassoc"; no assumption about NaN or
Inf, so a NaN still reaches the loss), which is the freedom BLAS takes as well.
"""
import numpy as np
from numba import types
from numba.core.extending import overload

from .jit import JIT_OPTIONS, inline_kernel


def matvec(W, x, out):
    """out = W x, for compiled code."""
    raise NotImplementedError("only callable from compiled code")


def _rows_dot(W, x, out):
    for i in range(W.shape[0]):
        w = W[i]
        acc = W.dtype.type(0)
        for j in range(W.shape[1]):
            acc += w[j] * x[j]
        out[i] = acc


def _blas(W, x, out):
    np.dot(W, x, out)


@overload(matvec, jit_options=dict(error_model=JIT_OPTIONS["error_model"],
                                   fastmath={"reassoc"}))
def _matvec(W, x, out):
    return _blas if W.dtype == types.float32 else _rows_dot


@inline_kernel
def rows_dot(rows, W, out, B):
    """out = rows W for B rows: at batch 1 a vector-matrix product (BLAS's gemv), else a matrix
    product. What BPTT sends back through W_hh: dL/dh_{t-1} = d(pre-activation) W_hh."""
    if B == 1:
        np.dot(rows[0], W, out[0])
    else:
        np.dot(rows, W, out)
