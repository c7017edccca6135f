"""Compiled loops that repeat one stage of an update, for the bench's profile of where the time
goes: timing a stage from Python would measure the call overhead instead."""
import numpy as np
from numba import njit

from .jit import JIT_OPTIONS, kernel
from .linalg import matvec
from .network import backward, forward
from .optim import optimizer_step
from .softmax import softmax_xent_rows
from .workspace import LOGITS


@kernel
def repeat_forward(n, theta, dims, ids, state, ws):
    for _ in range(n):
        forward(theta, dims, ids, state, ws, 0.0, np.uint64(0))


@kernel
def repeat_softmax(n, logits, targets):
    """The softmax of the same rows n times: after the first call they hold probabilities, and
    the work (max, branch-free exp, sums) does not depend on the values."""
    loss = 0.0
    for _ in range(n):
        loss += softmax_xent_rows(logits, targets)
    return loss


@kernel
def repeat_gradient(n, theta, grad, dims, ids, targets, state, ws):
    """Forward, softmax and BPTT."""
    for _ in range(n):
        forward(theta, dims, ids, state, ws, 0.0, np.uint64(0))
        softmax_xent_rows(ws[LOGITS][:ids.shape[0]], targets)
        backward(theta, grad, dims, ids, targets, ws, 0.0)


@kernel
def repeat_optimizer(n, theta, grad, opt):
    for t in range(n):
        optimizer_step(theta, grad, opt, t + 1)


@kernel
def repeat_dot(n, a, b, out):
    """np.dot(a, b, out) n times: one of the update's matrix products, alone."""
    for _ in range(n):
        np.dot(a, b, out)


@kernel
def repeat_matvec(n, a, b, out):
    """The recurrence's matvec (W h, batch 1) n times, as the forward pass computes it."""
    for _ in range(n):
        matvec(a, b, out)


@njit(**dict(JIT_OPTIONS, fastmath={"reassoc"}))
def repeat_sum(n, x):
    """Sum x n times: its read bandwidth at its size. Flag "reassoc" alone (as linalg.matvec):
    an in-order sum waits on each addition's latency and reads at a quarter of the cache's
    rate, so it would time the adder, not the reads."""
    total = 0.0
    for _ in range(n):
        acc = 0.0
        for i in range(x.shape[0]):
            acc += x[i]
        total += acc
    return total


@kernel
def repeat_adagrad(n, theta, grad, mem, lr, eps):
    """AdaGrad's unavoidable arithmetic n times, in theta's dtype: per parameter m += g^2 and
    theta -= lr g / sqrt(m + eps), one square root and one division (no clipping)."""
    for _ in range(n):
        for i in range(theta.shape[0]):
            g = grad[i]
            m = mem[i] + g * g
            mem[i] = m
            theta[i] -= lr * g / np.sqrt(m + eps)
