"""The training loops, compiled: many updates per call, nothing in Python per update; the plain
loop over a text cut into B streams, and records mode's loop and validation loss. Also the two
halves of an update whose batch is split over threads (training/split.py, which loops in
Python): each part's gradient, then one step from their sum.

Records mode: each of the B streams walks its own block of records. A stream's chunk never crosses the END
that closes its current record; a chunk shorter than T is padded with input END and target -1,
which the softmax and backward pass mask (no loss, zero output gradient). The padding steps
come *after* the real ones, so BPTT, which runs backwards from the last step, carries exactly
zero into the real steps: the gradient equals that of the unpadded shorter chunk.
"""
from collections import namedtuple

import numpy as np

from .dropout import dropout_key
from .jit import inline_kernel, kernel
from .network import chunk_loss, copy_rows, eval_loss, final_state
from .optim import optimizer_step
from .shapes import BATCH, FIRST, HIDDEN, LAYERS, STATE_ROWS
from .workspace import workspace

# Records mode's stream: ``data`` (1-D ids), ``bounds`` (n + 1: the offsets of the ENDs, record
# i = data[bounds[i]:bounds[i + 1] + 1]), ``blocks`` (B, 2: stream b reads records
# blocks[b, 0] .. blocks[b, 1] - 1, then wraps) and the END's id
Records = namedtuple("Records", "data bounds blocks end_id")


@inline_kernel
def gather_chunk(data, p, T, first, B, ids, targets):
    """The chunk at pointer p of streams first .. first + B - 1 of ``data`` (streams, N),
    time-major: ids[t*B + b] = data[first + b, p + t], targets the ids one step on."""
    for t in range(T):
        for b in range(B):
            ids[t * B + b] = data[first + b, p + t]
            targets[t * B + b] = data[first + b, p + t + 1]


@inline_kernel
def update_step(theta, grad, dims, opt, ids, targets, state, ws, dropout, key, t, smooth,
                losses, smooths, k):
    """Update number t on the chunk ``ids``/``targets``: loss and gradient, the state after the
    chunk into ``state``, the optimizer step, losses[k] and smooths[k]; returns the new smooth
    loss. A non-finite loss (divergence) changes nothing else and is returned as the smooth."""
    loss = chunk_loss(theta, grad, dims, ids, targets, state, ws, dropout, key, True)
    losses[k] = loss
    if not np.isfinite(loss):
        smooths[k] = loss
        return loss
    final_state(dims, ws, ids.shape[0], state)
    optimizer_step(theta, grad, opt, t)
    smooth = 0.999 * smooth + 0.001 * loss
    smooths[k] = smooth
    return smooth


@kernel
def train_updates(theta, grad, dims, opt, data, seq_length, dropout, seed, state, counters,
                  smooth, losses, smooths):
    """Run up to len(losses) updates on ``data`` (B, N): B streams, each a contiguous part.

    ``counters`` = [data pointer p, updates done n, epoch] and ``state`` (the carried hidden
    state, NS x B x H) are updated in place, so consecutive calls continue exactly where the
    last one stopped. Before each update, as in min-char-rnn: if p + seq_length + 1 >= N or
    n == 0, then p = 0 and the state is zeroed. smooth <- 0.999 smooth + 0.001 loss after each
    update. Per-update losses and smooth losses go to ``losses[i]``, ``smooths[i]``.

    Returns (updates done in this call, smooth loss). Stops early, without applying the update,
    at the first non-finite loss (divergence); that loss is still recorded.
    """
    T, B, N = seq_length, dims[BATCH], data.shape[1]
    n_updates = losses.shape[0]
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
        gather_chunk(data, p, T, 0, B, ids, targets)
        smooth = update_step(theta, grad, dims, opt, ids, targets, state, ws, dropout,
                             dropout_key(seed, counters[1]), counters[1] + 1, smooth, losses,
                             smooths, k)
        if not np.isfinite(losses[k]):
            return k + 1, smooth
        counters[0] = p + T
        counters[1] += 1
    return n_updates, smooth


@kernel
def part_gradient(theta, own, grad, dims, data, p, seq_length, state, pending, ws, ids, targets,
                  dropout, key):
    """One part's share of an update on ``data`` (B, N) at pointer p: streams dims[FIRST] ..
    + dims[BATCH] - 1 of the batch, from their ``state``. Returns their share of the loss
    (summed over time, divided by the whole batch's streams); their gradient goes to ``grad``
    and the state after the chunk to ``pending``. ``own`` (theta's size, or empty): the part
    reads its own copy of the weights, made here, on its own thread."""
    T, B, b0 = seq_length, dims[BATCH], dims[FIRST]
    w = theta
    if own.shape[0] > 0:
        for i in range(theta.shape[0]):
            own[i] = theta[i]
        w = own
    gather_chunk(data, p, T, b0, B, ids, targets)
    loss = chunk_loss(w, grad, dims, ids, targets, state, ws, dropout, key, True)
    final_state(dims, ws, ids.shape[0], pending)
    return loss


@kernel
def finish_update(theta, grad, others, opt, counters, pointer, wrapped, states, pending, smooth,
                  loss):
    """The rest of an update of a split batch, in one call (so that no Ctrl-C can land half
    way): the parts' gradients summed into ``grad`` (part 0's; ``others``: the rest, in
    order, each row's first len(grad) values), the optimizer step, the parts' states after
    the chunk, the counters (the pointer after the chunk, one more update, one more epoch if
    the pointer ``wrapped`` to 0); returns the smooth loss."""
    for g in range(others.shape[0]):
        for i in range(grad.shape[0]):
            grad[i] += others[g, i]
    optimizer_step(theta, grad, opt, counters[1] + 1)
    for q in range(states.shape[0]):
        for r in range(states.shape[1]):
            copy_rows(states[q, r], pending[q, r])
    if wrapped and counters[1] != 0:
        counters[2] += 1
    counters[0] = pointer
    counters[1] += 1
    return 0.999 * smooth + 0.001 * loss


@kernel
def record_updates(theta, grad, dims, opt, records, seq_length, dropout, seed, state, counters,
                   cursors, smooth, losses, smooths, n_targets, log):
    """Run up to len(losses) updates over ``records`` (a Records stream).

    ``cursors`` (B, 3) = [record, offset in it, wraps] per stream and ``counters`` = [records
    finished, updates done, epoch = fewest wraps of any stream] continue across calls; a
    stream's state (state[:, b]) is zeroed when its chunk starts a record. Per update:
    ``losses`` (summed over real targets / B), ``smooths`` and ``n_targets`` (real targets of
    all streams); ``log`` (n_updates, 2, T*B), if not empty, receives the ids and targets.
    Returns (updates done, smooth loss); stops at the first non-finite loss, as train_updates.
    """
    T, B = seq_length, dims[BATCH]
    data, bounds, blocks, end_id = records
    n_updates = losses.shape[0]
    ws = workspace(dims, T, theta, dropout)
    ids = np.empty(T * B, dtype=np.int64)
    targets = np.empty(T * B, dtype=np.int64)
    for k in range(n_updates):
        count = 0
        for b in range(B):
            r, o = cursors[b, 0], cursors[b, 1]
            start = bounds[r] + o
            n = min(T, bounds[r + 1] - start)
            if o == 0:
                state[:, b, :] = 0.0
            for t in range(T):
                if t < n:
                    ids[t * B + b] = data[start + t]
                    targets[t * B + b] = data[start + t + 1]
                else:
                    ids[t * B + b] = end_id
                    targets[t * B + b] = -1
            count += n
        if log.shape[0] > 0:
            for r in range(T * B):
                log[k, 0, r] = ids[r]
                log[k, 1, r] = targets[r]
        n_targets[k] = count
        smooth = update_step(theta, grad, dims, opt, ids, targets, state, ws, dropout,
                             dropout_key(seed, counters[1]), counters[1] + 1, smooth, losses,
                             smooths, k)
        if not np.isfinite(losses[k]):
            return k + 1, smooth
        epoch = -1
        for b in range(B):
            r = cursors[b, 0]
            cursors[b, 1] += min(T, bounds[r + 1] - bounds[r] - cursors[b, 1])
            if bounds[r] + cursors[b, 1] == bounds[r + 1]:
                counters[0] += 1
                cursors[b, 0] += 1
                cursors[b, 1] = 0
                if cursors[b, 0] == blocks[b, 1]:
                    cursors[b, 0] = blocks[b, 0]
                    cursors[b, 2] += 1
            if epoch < 0 or cursors[b, 2] < epoch:
                epoch = cursors[b, 2]
        counters[2] = epoch
        counters[1] += 1
    return n_updates, smooth


@kernel
def record_eval_loss(theta, dims, data, bounds, block):
    """Summed loss over the records of ``data`` (one stream, no dropout), each read from a zero
    state, up to ``block`` steps per forward call. Returns (loss, predicted characters)."""
    zero = np.zeros((dims[STATE_ROWS] * dims[LAYERS], 1, dims[HIDDEN]), dtype=theta.dtype)
    total = 0.0
    for i in range(bounds.shape[0] - 1):
        start, end = bounds[i], bounds[i + 1]
        total += eval_loss(theta, dims, data[start:end + 1], zero, min(block, end - start))[0]
    return total, bounds[-1] - bounds[0]
