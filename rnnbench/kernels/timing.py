"""Compiled loops that repeat one stage of an update, for the bench's profile of where the time
goes: timing a stage from Python would measure the call overhead instead."""
import numpy as np

from .jit import kernel
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
