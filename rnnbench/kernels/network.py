"""Stacked recurrent layers under a softmax output layer: forward pass, BPTT and validation loss,
for any cell, activation, layer count, dropout and batch size (sampling.py draws text from it).

Each time step of a layer is one cell's step (cells/<name>.py), chosen by the cell's code once
per layer in ``steps_forward`` and ``steps_backward`` (with relu_state, the only places that
name cells; a code without a cell is an error). Every product that does not depend on the
recurrence (input terms, output layer, weight gradients) is one matrix product over the whole
chunk: buffers are time-major (row r = t*B + b, see workspace.py). Recurrent state: ``state``
(NS, B, H) with the h of layer l in row l and, for a cell with a cell state (the LSTM), its c
in row L + l.
"""
import numpy as np

from ..variants import CELLS
from .cells import gru, lstm, rnn
from .dropout import fill_mask, mix64
from .jit import inline_kernel, kernel
from .linalg import matvec, rows_dot
from .shapes import (ACT, BATCH, BIASES, CELL, FIRST, GATES, HIDDEN, LAYERS, STATE_ROWS, STREAMS,
                     layer_views, output_views)
from .softmax import softmax_xent_rows
from .workspace import (ACTS, AUX, CS, DBELOW, DCNEXT, DCUR, DHH, DNEXT, HH, HS, LOGITS, MASKS,
                        TMP, XI, YS, workspace)

RNN, LSTM, GRU = CELLS["rnn"].code, CELLS["lstm"].code, CELLS["gru"].code


@kernel
def copy_rows(dst, src):
    """dst[:] = src for two (B, H) blocks. A loop, because each array-to-array slice assignment
    in a kernel compiles its own shape-mismatch error path: about 0.3 s of cold start apiece."""
    for b in range(dst.shape[0]):
        for i in range(dst.shape[1]):
            dst[b, i] = src[b, i]


@kernel
def column_sums(a, out):
    """out[j] = a[0, j] + a[1, j] + ... in that order, read row by row (the bias gradients)."""
    out[:] = 0.0
    for r in range(a.shape[0]):
        for j in range(a.shape[1]):
            out[j] += a[r, j]


@inline_kernel
def layer_output(ws, l, B, TB, dropout):
    """What layer l hands up: its h rows, or their dropped-out copy during training."""
    return ws[YS][l][:TB] if dropout > 0 else ws[HS][l][B:B + TB]


# -- the time steps of one layer: the cells --------------------------------------------------

@inline_kernel
def recurrent_product(Whh, hl, a, B, hh):
    """hh = W_hh h for the B streams whose h rows start at ``a``."""
    if B == 1:
        matvec(Whh, hl[a], hh[0])
    else:
        np.dot(hl[a:a + B], Whh.T, hh)


@kernel
def steps_forward(cell, act, H, B, T, Whh, bhh, x, hh, hl, cl, acts, aux):
    """Layer l's T steps: per step t (rows a = t*B on), hh = W_hh h, then the cell's step from
    the pre-activations x (input term with b_ih) + hh; h (and c) into the rows after the step's.
    ``hl``, ``cl``, ``acts``, ``aux``: the layer's rows of ws[HS], ws[CS], ws[ACTS], ws[AUX].

    The arrays come in once per layer, and the dispatch runs once per layer, not once per step:
    each array argument of a per-step call costs an atomic reference-count increment and
    decrement, which passing the workspace tuple (15 arrays) per step made 7% of the vanilla
    RNN's update."""
    if cell == RNN:
        for t in range(T):
            a = t * B
            recurrent_product(Whh, hl, a, B, hh)
            rnn.forward_step(act, B, x[a:a + B], hh, hl[a + B:a + 2 * B])
    elif cell == LSTM:
        for t in range(T):
            a, b = t * B, (t + 1) * B
            recurrent_product(Whh, hl, a, B, hh)
            lstm.forward_step(act, H, B, x[a:b], hh, cl[a:b], hl[b:b + B], cl[b:b + B],
                              acts[a:b], aux[a:b])
    elif cell == GRU:
        for t in range(T):
            a, b = t * B, (t + 1) * B
            recurrent_product(Whh, hl, a, B, hh)
            gru.forward_step(act, H, B, x[a:b], hh, bhh, hl[a:b], hl[b:b + B], acts[a:b],
                             aux[a:b])
    else:
        raise ValueError("unknown cell code (see variants.CELLS)")


@kernel
def steps_backward(cell, act, H, B, T, Whh, dy, dx, dh_pre, hl, cl, acts, aux, dnext, dcnext,
                   tmp):
    """BPTT through layer l's T steps, last first: at step t (rows a = t*B on) dL/dh from above
    (dy) plus from the step after (dnext) -> d(pre-activation) of the input side (dx) and of
    the recurrent side (dh_pre, the same array unless the cell has two biases), then dnext =
    dL/dh of the step before, d(pre-activation) W_hh (none from step 0: BPTT is truncated
    there). dcnext: the LSTM's dL/dc from the step after; the GRU's scratch. Arrays come in
    once per layer, as in steps_forward."""
    if cell == RNN:
        for t in range(T - 1, -1, -1):
            a = t * B
            rnn.backward_step(act, H, B, dy[a:a + B], dnext, hl[a + B:a + 2 * B], dx[a:a + B])
            if t > 0:
                rows_dot(dh_pre[a:a + B], Whh, dnext, B)
    elif cell == LSTM:
        for t in range(T - 1, -1, -1):
            a, b = t * B, (t + 1) * B
            lstm.backward_step(act, H, B, dy[a:b], dnext, dcnext, cl[a:b], acts[a:b], aux[a:b],
                               dx[a:b], tmp)
            if t > 0:
                rows_dot(dh_pre[a:b], Whh, dnext, B)
    elif cell == GRU:
        for t in range(T - 1, -1, -1):
            a, b = t * B, (t + 1) * B
            gru.backward_step(act, H, B, dy[a:b], dnext, hl[a:b], acts[a:b], aux[a:b], dx[a:b],
                              dh_pre[a:b], tmp)
            if t > 0:  # plus the direct part z dh that the step left in dnext
                gru.add_recurrent(dh_pre[a:b], Whh, dnext, dcnext, B, H)
    else:
        raise ValueError("unknown cell code (see variants.CELLS)")


@inline_kernel
def layer_rows(ws, dims, l):
    """Layer l's rows of ws[HS], ws[CS], ws[ACTS] and ws[AUX]. A buffer the cell does not keep
    has no layers: an array of the same kind that the cell never reads stands in for it, so
    that no view points outside its array."""
    hl = ws[HS][l]
    cl = ws[CS][l] if dims[STATE_ROWS] == 2 else hl
    if dims[GATES] > 1:
        return hl, cl, ws[ACTS][l], ws[AUX][l]
    return hl, cl, ws[XI], hl


@inline_kernel
def relu_state(cell, ws, l, r, i, B, H):
    """Which of unit i's activations (layer l, row r) are positive: a ReLU's active set."""
    if cell == RNN:
        return rnn.relu_state(ws, l, r, i, B, H)
    elif cell == LSTM:
        return lstm.relu_state(ws, l, r, i, B, H)
    elif cell == GRU:
        return gru.relu_state(ws, l, r, i, B, H)
    raise ValueError("unknown cell code (see variants.CELLS)")


# -- a whole chunk ------------------------------------------------------------------------------

@kernel
def forward(theta, dims, ids, state, ws, dropout, key):
    """Run the chunk ``ids`` (T*B ids, time-major) from ``state``; leaves every layer's
    activations in ``ws`` and the output logits (T*B, V) in ws[LOGITS]. ``state`` is not
    changed."""
    cell, act, H, L, B = dims[CELL], dims[ACT], dims[HIDDEN], dims[LAYERS], dims[BATCH]
    TB = ids.shape[0]
    T = TB // B
    x = ws[XI][:TB]
    GH = x.shape[1]
    for l in range(L):
        Wih, Whh, bih, bhh = layer_views(theta, dims, l)
        hl, cl, acts, aux = layer_rows(ws, dims, l)
        copy_rows(hl[0:B], state[l])
        if dims[STATE_ROWS] == 2:
            copy_rows(cl[0:B], state[L + l])
        if l == 0:
            # W_ih times a one-hot column is a column gather, written row by row of x (writing
            # x column by column was 4x slower at GH = 512).
            for r in range(TB):
                c = ids[r]
                for j in range(GH):
                    x[r, j] = Wih[j, c] + bih[j]
        else:
            np.dot(layer_output(ws, l - 1, B, TB, dropout), Wih.T, x)
            for r in range(TB):
                for j in range(GH):
                    x[r, j] += bih[j]
        steps_forward(cell, act, H, B, T, Whh, bhh, x, ws[HH], hl, cl, acts, aux)
        if dropout > 0:
            mask, ys = ws[MASKS][l], ws[YS][l]
            fill_mask(mask[:TB], key, l, dropout, B, dims[STREAMS], dims[FIRST])
            for r in range(TB):
                for i in range(H):
                    ys[r, i] = hl[B + r, i] * mask[r, i]
    Why, by = output_views(theta, dims)
    out = ws[LOGITS][:TB]
    np.dot(layer_output(ws, L - 1, B, TB, dropout), Why.T, out)
    V = out.shape[1]
    for r in range(TB):
        for j in range(V):
            out[r, j] += by[j]


@kernel
def final_state(dims, ws, TB, state_out):
    """Copy the hidden (and cell) state after the chunk into ``state_out``."""
    L, B = dims[LAYERS], dims[BATCH]
    for l in range(L):
        copy_rows(state_out[l], ws[HS][l][TB:TB + B])
        if dims[STATE_ROWS] == 2:
            copy_rows(state_out[L + l], ws[CS][l][TB:TB + B])


@kernel
def backward(theta, grad, dims, ids, targets, ws, dropout):
    """Gradient of the chunk's loss (averaged over the batch's streams) into ``grad``
    (overwritten).

    Needs ws after ``forward`` and softmax_xent_rows (probabilities in ws[LOGITS]).
    dL/dy = (p - onehot(target)) / S (0 for a masked target of -1); then, from the top layer
    down, BPTT through time, the weight gradients as whole-chunk products, and the gradient of
    the layer's input.
    """
    cell, act, H, L, B = dims[CELL], dims[ACT], dims[HIDDEN], dims[LAYERS], dims[BATCH]
    TB = ids.shape[0]
    T = TB // B
    probs = ws[LOGITS][:TB]
    V = probs.shape[1]
    for r in range(TB):
        if targets[r] < 0:  # masked (padding): no loss, so a zero output gradient
            probs[r] = 0.0
        else:
            probs[r, targets[r]] -= 1.0
    S = dims[STREAMS]  # the loss averages over the whole batch, of which this chunk may be a part
    if S > 1:
        inv_b = probs.dtype.type(1.0 / S)
        for r in range(TB):
            for j in range(V):
                probs[r, j] *= inv_b
    Why, by = output_views(theta, dims)
    dWhy, dby = output_views(grad, dims)
    np.dot(probs.T, layer_output(ws, L - 1, B, TB, dropout), dWhy)
    column_sums(probs, dby)
    dy = ws[DCUR][:TB]
    np.dot(probs, Why, dy)
    two_biases = dims[BIASES] == 2  # the recurrent term gated apart: its own d(pre-activation)
    for l in range(L - 1, -1, -1):
        if dropout > 0:
            mask = ws[MASKS][l]
            for r in range(TB):
                for i in range(H):
                    dy[r, i] *= mask[r, i]
        Wih, Whh, bih, bhh = layer_views(theta, dims, l)
        dWih, dWhh, dbih, dbhh = layer_views(grad, dims, l)
        dx = ws[XI][:TB]
        dh_pre = ws[DHH][:TB] if two_biases else dx
        hl, cl, acts, aux = layer_rows(ws, dims, l)
        dnext, dcnext = ws[DNEXT], ws[DCNEXT]
        dnext[:] = 0.0
        dcnext[:] = 0.0
        steps_backward(cell, act, H, B, T, Whh, dy, dx, dh_pre, hl, cl, acts, aux, dnext, dcnext,
                       ws[TMP])
        np.dot(dh_pre.T, hl[:TB], dWhh)
        if two_biases:
            column_sums(dh_pre, dbhh)
        column_sums(dx, dbih)
        if l == 0:
            # The one-hot input's weight gradient is a scatter-add into the columns seen.
            dWih[:, :] = 0.0
            for r in range(TB):
                c = ids[r]
                for j in range(dx.shape[1]):
                    dWih[j, c] += dx[r, j]
        else:
            np.dot(dx.T, layer_output(ws, l - 1, B, TB, dropout), dWih)
            below = ws[DBELOW][:TB]  # dy is spent: the layer below may reuse its buffer
            np.dot(dx, Wih, below)
            dy = below


@inline_kernel
def chunk_loss(theta, grad, dims, ids, targets, state, ws, dropout, key, want_grad):
    """Loss of one chunk, summed over time and averaged over the batch's streams (nats; a part
    of a split batch gives its share), and if asked its
    gradient into ``grad``. The state after the chunk is left in ws (see final_state)."""
    forward(theta, dims, ids, state, ws, dropout, key)
    TB = ids.shape[0]
    loss = softmax_xent_rows(ws[LOGITS][:TB], targets) / dims[STREAMS]
    if want_grad:
        backward(theta, grad, dims, ids, targets, ws, dropout)
    return loss


@kernel
def loss_and_grads(theta, grad, dims, ids, targets, state, state_out, dropout, key, want_grad):
    """chunk_loss with its own workspace; the state after the chunk goes to ``state_out``."""
    T = ids.shape[0] // dims[BATCH]
    ws = workspace(dims, T, theta, dropout)
    loss = chunk_loss(theta, grad, dims, ids, targets, state, ws, dropout, key, want_grad)
    final_state(dims, ws, ids.shape[0], state_out)
    return loss


@kernel
def relu_pattern(dims, ws, TB):
    """A 64-bit fingerprint of which activation outputs are positive (ReLU's active set): the
    gradient check uses it to see whether a finite-difference step crossed a kink."""
    cell, L, B, H = dims[CELL], dims[LAYERS], dims[BATCH], dims[HIDDEN]
    z = np.uint64(0)
    for l in range(L):
        for r in range(TB):
            for i in range(H):
                on = relu_state(cell, ws, l, r, i, B, H)
                z = mix64(z + np.uint64(on + 1) * np.uint64((l * TB + r) * H + i + 1))
    return z


@kernel
def loss_and_pattern(theta, dims, ids, targets, state, dropout, key):
    """(loss, ReLU active-set fingerprint) of one chunk, no gradient."""
    ws = workspace(dims, ids.shape[0] // dims[BATCH], theta, dropout)
    loss = chunk_loss(theta, theta, dims, ids, targets, state, ws, dropout, key, False)
    return loss, relu_pattern(dims, ws, ids.shape[0])


@kernel
def eval_loss(theta, dims, data, state, block):
    """Summed loss of predicting data[t + 1] from data[:t + 1] over a whole text (one stream,
    no dropout) from ``state``, ``block`` steps per forward call. Returns (loss, characters).

    ``data`` is the encoded text (uint16); each block is copied into int64 ids, as the training
    loop does, so the forward pass and the softmax keep their one compiled version."""
    n = data.shape[0] - 1
    ws = workspace(dims, block, theta, 0.0)
    cur = state.copy()
    ids = np.empty(block + 1, dtype=np.int64)
    total = 0.0
    start = 0
    while start < n:
        T = min(block, n - start)
        for t in range(T + 1):
            ids[t] = data[start + t]
        forward(theta, dims, ids[:T], cur, ws, 0.0, np.uint64(0))
        total += softmax_xent_rows(ws[LOGITS][:T], ids[1:T + 1])
        final_state(dims, ws, T, cur)
        start += T
    return total, n
