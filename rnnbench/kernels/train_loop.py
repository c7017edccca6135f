"""The whole training loop, compiled: many updates per call, nothing in Python per update."""
import numpy as np

from .jit import inline_kernel, kernel
from .network import chunk_loss, dropout_key, final_state, workspace
from .optim import optimizer_step


@inline_kernel
def update_step(theta, grad, s1, s2, dims, ids, targets, state, ws, hyper, opt, clip_mode,
                dropout, key, t, smooth, losses, smooths, k):
    """Update number t on the chunk ``ids``/``targets``: loss and gradient, the state after the
    chunk into ``state``, the optimizer step, losses[k] and smooths[k]; returns the new smooth
    loss. A non-finite loss (divergence) changes nothing else and is returned as the smooth."""
    loss = chunk_loss(theta, grad, dims, ids, targets, state, ws, dropout, key, True)
    losses[k] = loss
    if not np.isfinite(loss):
        smooths[k] = loss
        return loss
    final_state(dims, ws, ids.shape[0], state)
    optimizer_step(theta, grad, s1, s2, opt, clip_mode, hyper, t)
    smooth = 0.999 * smooth + 0.001 * loss
    smooths[k] = smooth
    return smooth


@kernel
def train_updates(theta, grad, s1, s2, dims, data, seq_length, hyper, opt, clip_mode, dropout,
                  seed, state, counters, smooth, n_updates, losses, smooths):
    """Run up to ``n_updates`` updates on ``data`` (B, N): B streams, each a contiguous part.

    ``counters`` = [data pointer p, updates done n, epoch] and ``state`` (the carried hidden
    state, NS x B x H) are updated in place, so consecutive calls continue exactly where the
    last one stopped. Before each update, as in min-char-rnn: if p + seq_length + 1 >= N or
    n == 0, then p = 0 and the state is zeroed. smooth <- 0.999 smooth + 0.001 loss after each
    update. Per-update losses and smooth losses go to ``losses[i]``, ``smooths[i]``.

    Returns (updates done in this call, smooth loss). Stops early, without applying the update,
    at the first non-finite loss (divergence); that loss is still recorded.
    """
    T = seq_length
    B, N = data.shape
    ws = workspace(dims, T, theta, dropout)
    ids = np.empty(T * B, dtype=np.int64)
    targets = np.empty(T * B, dtype=np.int64)
    for k in range(n_updates):
        p = counters[0]
        if p + T + 1 >= N or counters[1] == 0:
            if counters[1] != 0:
                counters[2] += 1
            p = 0
            state[:] = 0.0
        for t in range(T):
            for b in range(B):
                ids[t * B + b] = data[b, p + t]
                targets[t * B + b] = data[b, p + t + 1]
        smooth = update_step(theta, grad, s1, s2, dims, ids, targets, state, ws, hyper, opt,
                             clip_mode, dropout, dropout_key(seed, counters[1]), counters[1] + 1,
                             smooth, losses, smooths, k)
        if not np.isfinite(losses[k]):
            return k + 1, smooth
        counters[0] = p + T
        counters[1] += 1
    return n_updates, smooth
