"""The whole min-char-rnn update loop, compiled: many updates per call, nothing in Python."""
import numpy as np

from .jit import kernel
from .optim import clip_adagrad
from .rnn import rnn_forward_backward, rnn_workspace


@kernel
def rnn_train_updates(theta, mem, grad, V, H, data, seq_length, lr, clip, eps,
                      h, state, smooth, n_updates, losses, smooths):
    """Run up to ``n_updates`` AdaGrad updates of the vanilla RNN on the encoded text ``data``.

    ``state`` = [data pointer p, updates done n, epoch] and ``h`` (the carried hidden state) are
    updated in place, so consecutive calls continue exactly where the last one stopped. Before
    each update, as in min-char-rnn: if p + seq_length + 1 >= len(data) or n == 0, then p = 0
    and h = 0. smooth <- 0.999 smooth + 0.001 loss after each update. Per-update losses and
    smooth losses go to ``losses[i]``, ``smooths[i]``.

    Returns (updates done in this call, smooth loss). Stops early, without applying the update,
    at the first non-finite loss (divergence); that loss is still recorded.
    """
    T = seq_length
    hs, probs, dhs, das = rnn_workspace(V, H, T, theta)
    N = data.shape[0]
    for i in range(n_updates):
        p = state[0]
        if p + T + 1 >= N or state[1] == 0:
            if state[1] != 0:
                state[2] += 1
            p = 0
            h[:] = 0.0
        xs = data[p:p + T]
        ys = data[p + 1:p + T + 1]
        loss = rnn_forward_backward(theta, grad, V, H, xs, ys, h, hs, probs, dhs, das, True)
        losses[i] = loss
        if not np.isfinite(loss):
            smooths[i] = loss
            return i + 1, loss
        h[:] = hs[T]
        clip_adagrad(theta, grad, mem, lr, clip, eps)
        smooth = 0.999 * smooth + 0.001 * loss
        smooths[i] = smooth
        state[0] = p + T
        state[1] += 1
    return n_updates, smooth
