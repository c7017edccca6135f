"""Stacked recurrent layers (rnn, lstm or gru) under a softmax output layer: forward pass, BPTT
and validation loss, for any activation, layer count, dropout and batch size (sampling.py draws
text from it).

``dims`` = int64 [cell, activation, V, H, L, B]. Parameters live in one flat vector ``theta``;
per layer l (input size In = V for l = 0, else H; G gate blocks in PyTorch's order: rnn 1,
lstm 4 = i, f, g, o, gru 3 = r, z, n): W_ih (G*H, In), W_hh (G*H, H), b_ih (G*H) and, for the
GRU only, b_hh (G*H); then Why (V, H), by (V). Activation buffers are 2-D with row r = t*B + b
(time-major), so the B streams of one step are adjacent rows and every product that does not
depend on the recurrence (input terms, output layer, weight gradients) is one matrix product
over the whole chunk. Recurrent state: ``state`` (NS, B, H) with the h of layer l in row l and,
for the LSTM, its c in row L + l.
"""
import numpy as np

from ..variants import CELLS
from .activations import SIGMOID, act_grad, act_inplace, act_sum
from .jit import inline_kernel, kernel
from .linalg import matvec
from .mathfn import ONE
from .softmax import softmax_xent_rows

RNN, LSTM, GRU = CELLS["rnn"].code, CELLS["lstm"].code, CELLS["gru"].code


@inline_kernel
def n_gates(cell):
    return 1 if cell == RNN else (4 if cell == LSTM else 3)


@kernel
def layer_offset(dims, l):
    """Start of layer l's block in theta (l = L: start of the output layer)."""
    cell, V, H = dims[0], dims[2], dims[3]
    GH = n_gates(cell) * H
    n_bias = 2 if cell == GRU else 1
    o = 0
    for k in range(l):
        n_in = V if k == 0 else H
        o += GH * n_in + GH * H + n_bias * GH
    return o


@kernel
def layer_views(theta, dims, l):
    """(W_ih, W_hh, b_ih, b_hh) of layer l; b_hh is empty except for the GRU."""
    cell, V, H = dims[0], dims[2], dims[3]
    GH = n_gates(cell) * H
    n_in = V if l == 0 else H
    o = layer_offset(dims, l)
    Wih = theta[o:o + GH * n_in].reshape((GH, n_in))
    o += GH * n_in
    Whh = theta[o:o + GH * H].reshape((GH, H))
    o += GH * H
    bih = theta[o:o + GH]
    o += GH
    bhh = theta[o:o + GH] if cell == GRU else theta[o:o]
    return Wih, Whh, bih, bhh


@kernel
def output_views(theta, dims):
    V, H, L = dims[2], dims[3], dims[4]
    o = layer_offset(dims, L)
    return theta[o:o + V * H].reshape((V, H)), theta[o + V * H:o + V * H + V]


@kernel
def workspace(dims, T, like, dropout):
    """Scratch arrays for one chunk of T steps, allocated once per kernel call."""
    cell, V, H, L, B = dims[0], dims[2], dims[3], dims[4], dims[5]
    GH = n_gates(cell) * H
    TB = T * B
    dt = like.dtype
    hs = np.zeros((L, (T + 1) * B, H), dtype=dt)      # h of each layer, rows 0..B-1 = h0
    cs = np.zeros((L if cell == LSTM else 0, (T + 1) * B, H), dtype=dt)  # LSTM cell state
    acts = np.zeros((L if cell != RNN else 0, TB, GH), dtype=dt)  # gate activations
    aux = np.zeros((L if cell != RNN else 0, TB, H), dtype=dt)  # LSTM act(c); GRU W_hn h + b_hn
    n_drop = L if dropout > 0 else 0
    ys = np.zeros((n_drop, TB, H), dtype=dt)          # layer outputs after dropout
    masks = np.zeros((n_drop, TB, H), dtype=dt)
    xi = np.zeros((TB, GH), dtype=dt)                 # input terms; in BPTT d(pre-activation)
    dhh = np.zeros((TB if cell == GRU else 0, GH), dtype=dt)  # GRU: d(W_hh h + b_hh)
    hh = np.zeros((B, GH), dtype=dt)
    logits = np.zeros((TB, V), dtype=dt)
    dcur = np.zeros((TB, H), dtype=dt)
    dbelow = np.zeros((TB, H), dtype=dt)
    dnext = np.zeros((B, H), dtype=dt)
    dcnext = np.zeros((B, H), dtype=dt)
    tmp = np.zeros((2, H), dtype=dt)
    return (hs, cs, acts, aux, ys, masks, xi, dhh, hh, logits, dcur, dbelow, dnext, dcnext, tmp)


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
def layer_output(hs, ys, l, B, TB, dropout):
    """What layer l hands up: its h rows, or their dropped-out copy during training."""
    return ys[l][:TB] if dropout > 0 else hs[l][B:B + TB]


# -- dropout masks: a counter-based generator, so a mask depends only on (key, position) -------

@inline_kernel
def _mix64(z):
    """splitmix64's finaliser (Steele et al. 2014): a bijection on 64 bits with full avalanche."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@kernel
def dropout_key(seed, update):
    """The mask key of one update of a run: masks are reproducible and independent of chunking."""
    return _mix64(np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(update))


@kernel
def fill_mask(mask, key, layer, p):
    """Inverted dropout: each element is 1/(1-p) with probability 1-p, else 0."""
    n_rows, H = mask.shape
    keep = 1.0 / (1.0 - p)
    base = np.uint64(layer) * np.uint64(n_rows * H)
    for r in range(n_rows):
        for i in range(H):
            z = _mix64(key + (base + np.uint64(r * H + i)) * np.uint64(0x9E3779B97F4A7C15))
            u = np.float64(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)  # 53 bits -> [0, 1)
            mask[r, i] = keep if u >= p else 0.0


# -- one time step of one layer ----------------------------------------------------------------

@kernel
def cell_forward(cell, act, H, B, xi, hh, bhh, h_prev, c_prev, h_out, c_out, acts, aux):
    """One LSTM or GRU step for B streams (forward() does the RNN's h = act(xi + hh) itself);
    pre-activations are xi (input term with b_ih) + hh (W_hh h).

    lstm: i, f, o = sigmoid(.), g = act(.); c = f c_prev + i g; h = o act(c)
    gru:  r, z = sigmoid(xi + hh + b_hh); n = act(xi_n + r (hh_n + b_hn)); h = (1-z) n + z h_prev
    (hh is modified for the GRU.)
    """
    for b in range(B):
        if cell == LSTM:
            ga, x, y = acts[b], xi[b], hh[b]
            act_sum(SIGMOID, x[:2 * H], y[:2 * H], ga[:2 * H])
            act_sum(act, x[2 * H:3 * H], y[2 * H:3 * H], ga[2 * H:3 * H])
            act_sum(SIGMOID, x[3 * H:], y[3 * H:], ga[3 * H:])
            for i in range(H):
                c_out[b, i] = ga[H + i] * c_prev[b, i] + ga[i] * ga[2 * H + i]
            for i in range(H):
                aux[b, i] = c_out[b, i]
            act_inplace(act, aux[b])
            for i in range(H):
                h_out[b, i] = ga[3 * H + i] * aux[b, i]
        else:
            ga, x, y = acts[b], xi[b], hh[b]
            for k in range(3 * H):
                y[k] += bhh[k]
            act_sum(SIGMOID, x[:2 * H], y[:2 * H], ga[:2 * H])
            for i in range(H):
                aux[b, i] = y[2 * H + i]
                ga[2 * H + i] = x[2 * H + i] + ga[i] * y[2 * H + i]
            act_inplace(act, ga[2 * H:])
            for i in range(H):
                z = ga[H + i]
                h_out[b, i] = (ONE - z) * ga[2 * H + i] + z * h_prev[b, i]


@kernel
def cell_backward(cell, act, H, B, dh_in, dnext, dcnext, h_prev, c_prev, acts, aux, dx, dh_pre,
                  tmp):
    """BPTT through one LSTM or GRU step (backward() does the RNN's). dh = dh_in + dnext is
    dL/dh_t; writes d(pre-activation) of the input side to dx and of the recurrent side to
    dh_pre (the same array except for the GRU, whose r multiplies W_hn h + b_hn only). Leaves
    in dnext the direct part of dL/dh_{t-1} (GRU: z dh; LSTM: 0) and, for the LSTM, dL/dc_{t-1}
    in dcnext. ``tmp``: 2 x H scratch.

    LSTM (c = f c' + i g, h = o act(c)): dc = dc_next + dh o act'(c); d(pre) of i, f, g, o =
    dc g i(1-i), dc c' f(1-f), dc i act'(g), dh act(c) o(1-o); dc' = dc f.
    GRU (h = (1-z) n + z h'): dn = dh (1-z) act'(n); dr = dn (W_hn h' + b_hn) r(1-r);
    dz = dh (h' - n) z(1-z); the recurrent side of n gets dn r; dh' gets dh z directly.
    """
    for b in range(B):
        if cell == LSTM:
            ga = acts[b]
            act_grad(act, aux[b], tmp[0])           # act'(c) through tc = act(c)
            act_grad(act, ga[2 * H:3 * H], tmp[1])  # act'(.) of the candidate g
            for i in range(H):
                dh = dh_in[b, i] + dnext[b, i]
                ig, fg, gg, og = ga[i], ga[H + i], ga[2 * H + i], ga[3 * H + i]
                tc = aux[b, i]
                dc = dcnext[b, i] + dh * og * tmp[0, i]
                dx[b, i] = dc * gg * ig * (ONE - ig)
                dx[b, H + i] = dc * c_prev[b, i] * fg * (ONE - fg)
                dx[b, 2 * H + i] = dc * ig * tmp[1, i]
                dx[b, 3 * H + i] = dh * tc * og * (ONE - og)
                dcnext[b, i] = dc * fg
        else:
            ga = acts[b]
            act_grad(act, ga[2 * H:], tmp[0])
            for i in range(H):
                dh = dh_in[b, i] + dnext[b, i]
                rg, zg, ng = ga[i], ga[H + i], ga[2 * H + i]
                dn = dh * (ONE - zg) * tmp[0, i]
                dr = dn * aux[b, i] * rg * (ONE - rg)
                dz = dh * (h_prev[b, i] - ng) * zg * (ONE - zg)
                dx[b, i] = dr
                dx[b, H + i] = dz
                dx[b, 2 * H + i] = dn
                dh_pre[b, i] = dr
                dh_pre[b, H + i] = dz
                dh_pre[b, 2 * H + i] = dn * rg
                dnext[b, i] = dh * zg


# -- a whole chunk ------------------------------------------------------------------------------

@kernel
def forward(theta, dims, ids, state, ws, dropout, key):
    """Run the chunk ``ids`` (T*B ids, time-major) from ``state``; leaves every layer's
    activations in ``ws`` and the output logits (T*B, V) in ws[9]. ``state`` is not changed."""
    cell, act, H, L, B = dims[0], dims[1], dims[3], dims[4], dims[5]
    hs, cs, acts, aux, ys, masks, xi, dhh, hh, logits, dcur, dbelow, dnext, dcnext, tmp = ws
    GH = n_gates(cell) * H
    TB = ids.shape[0]
    T = TB // B
    for l in range(L):
        Wih, Whh, bih, bhh = layer_views(theta, dims, l)
        hl = hs[l]
        copy_rows(hl[0:B], state[l])
        if cell == LSTM:
            copy_rows(cs[l][0:B], state[L + l])
        x = xi[:TB]
        if l == 0:
            # W_ih times a one-hot column is a column gather, written row by row of x (writing
            # x column by column was 4x slower at GH = 512).
            for r in range(TB):
                c = ids[r]
                for j in range(GH):
                    x[r, j] = Wih[j, c] + bih[j]
        else:
            np.dot(layer_output(hs, ys, l - 1, B, TB, dropout), Wih.T, x)
            for r in range(TB):
                for j in range(GH):
                    x[r, j] += bih[j]
        for t in range(T):
            a, b = t * B, (t + 1) * B
            if B == 1:
                matvec(Whh, hl[a], hh[0])
            else:
                np.dot(hl[a:b], Whh.T, hh)
            if cell == RNN:  # h = act(W_hh h + input term), a stream at a time (row views:
                # a reshape calls a C helper, which at batch 1 cost more than the arithmetic)
                for bb in range(B):
                    act_sum(act, hh[bb], x[a + bb], hl[b + bb])
            elif cell == LSTM:
                cell_forward(cell, act, H, B, x[a:b], hh, bhh, hl[a:b], cs[l][a:b], hl[b:b + B],
                             cs[l][b:b + B], acts[l][a:b], aux[l][a:b])
            else:
                cell_forward(cell, act, H, B, x[a:b], hh, bhh, hl[a:b], hl[a:b], hl[b:b + B],
                             hl[b:b + B], acts[l][a:b], aux[l][a:b])
        if dropout > 0:
            fill_mask(masks[l][:TB], key, l, dropout)
            for r in range(TB):
                for i in range(H):
                    ys[l][r, i] = hl[B + r, i] * masks[l][r, i]
    Why, by = output_views(theta, dims)
    out = logits[:TB]
    np.dot(layer_output(hs, ys, L - 1, B, TB, dropout), Why.T, out)
    V = out.shape[1]
    for r in range(TB):
        for j in range(V):
            out[r, j] += by[j]


@kernel
def final_state(dims, ws, TB, state_out):
    """Copy the hidden (and cell) state after the chunk into ``state_out``."""
    cell, L, B = dims[0], dims[4], dims[5]
    hs, cs = ws[0], ws[1]
    for l in range(L):
        copy_rows(state_out[l], hs[l][TB:TB + B])
        if cell == LSTM:
            copy_rows(state_out[L + l], cs[l][TB:TB + B])


@kernel
def backward(theta, grad, dims, ids, targets, ws, dropout):
    """Gradient of the chunk's loss (averaged over the B streams) into ``grad`` (overwritten).

    Needs ws after ``forward`` and softmax_xent_rows (probabilities in the logits buffer).
    dL/dy = (p - onehot(target)) / B (0 for a masked target of -1); then, from the top layer
    down, BPTT through time, the weight gradients as whole-chunk products, and the gradient of
    the layer's input.
    """
    cell, act, H, L, B = dims[0], dims[1], dims[3], dims[4], dims[5]
    hs, cs, acts, aux, ys, masks, xi, dhh, hh, logits, dcur, dbelow, dnext, dcnext, tmp = ws
    TB = ids.shape[0]
    T = TB // B
    probs = logits[:TB]
    V = probs.shape[1]
    for r in range(TB):
        if targets[r] < 0:  # masked (padding): no loss, so a zero output gradient
            probs[r] = 0.0
        else:
            probs[r, targets[r]] -= 1.0
    if B > 1:
        inv_b = probs.dtype.type(1.0 / B)
        for r in range(TB):
            for j in range(V):
                probs[r, j] *= inv_b
    Why, by = output_views(theta, dims)
    dWhy, dby = output_views(grad, dims)
    np.dot(probs.T, layer_output(hs, ys, L - 1, B, TB, dropout), dWhy)
    column_sums(probs, dby)
    dy = dcur[:TB]
    np.dot(probs, Why, dy)
    for l in range(L - 1, -1, -1):
        if dropout > 0:
            for r in range(TB):
                for i in range(H):
                    dy[r, i] *= masks[l][r, i]
        Wih, Whh, bih, bhh = layer_views(theta, dims, l)
        dWih, dWhh, dbih, dbhh = layer_views(grad, dims, l)
        hl = hs[l]
        dx = xi[:TB]
        dh_pre = dhh[:TB] if cell == GRU else dx
        dnext[:] = 0.0
        dcnext[:] = 0.0
        for t in range(T - 1, -1, -1):
            a, b = t * B, (t + 1) * B
            if cell == RNN:  # d(pre) = act'(h) * (dL/dh from above + from step t + 1)
                for bb in range(B):
                    d, dd, up = dx[a + bb], dnext[bb], dy[a + bb]
                    act_grad(act, hl[b + bb], d)
                    for k in range(H):
                        d[k] *= up[k] + dd[k]
            elif cell == LSTM:
                cell_backward(cell, act, H, B, dy[a:b], dnext, dcnext, hl[a:b], cs[l][a:b],
                              acts[l][a:b], aux[l][a:b], dx[a:b], dh_pre[a:b], tmp)
            else:
                cell_backward(cell, act, H, B, dy[a:b], dnext, dcnext, hl[a:b], hl[a:b],
                              acts[l][a:b], aux[l][a:b], dx[a:b], dh_pre[a:b], tmp)
            if t == 0:
                continue  # BPTT is truncated at the chunk's start: dL/dh_{-1} goes nowhere
            # dL/dh_{t-1} = W_hh^T d(pre-activation) (+ the GRU's direct z dh, left in dnext)
            if cell == GRU:
                if B == 1:
                    np.dot(dh_pre[a], Whh, dcnext[0])
                else:
                    np.dot(dh_pre[a:b], Whh, dcnext)
                for bb in range(B):
                    for i in range(H):
                        dnext[bb, i] += dcnext[bb, i]
            elif B == 1:
                np.dot(dh_pre[a], Whh, dnext[0])
            else:
                np.dot(dh_pre[a:b], Whh, dnext)
        np.dot(dh_pre.T, hl[:TB], dWhh)
        if cell == GRU:
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
            np.dot(dx.T, layer_output(hs, ys, l - 1, B, TB, dropout), dWih)
            below = dbelow[:TB]
            np.dot(dx, Wih, below)
            dy, below = below, dy


@inline_kernel
def chunk_loss(theta, grad, dims, ids, targets, state, ws, dropout, key, want_grad):
    """Loss of one chunk, summed over time and averaged over streams (nats), and if asked its
    gradient into ``grad``. The state after the chunk is left in ws (see final_state)."""
    forward(theta, dims, ids, state, ws, dropout, key)
    TB = ids.shape[0]
    loss = softmax_xent_rows(ws[9][:TB], targets) / dims[5]
    if want_grad:
        backward(theta, grad, dims, ids, targets, ws, dropout)
    return loss


@kernel
def loss_and_grads(theta, grad, dims, ids, targets, state, state_out, dropout, key, want_grad):
    """chunk_loss with its own workspace; the state after the chunk goes to ``state_out``."""
    T = ids.shape[0] // dims[5]
    ws = workspace(dims, T, theta, dropout)
    loss = chunk_loss(theta, grad, dims, ids, targets, state, ws, dropout, key, want_grad)
    final_state(dims, ws, ids.shape[0], state_out)
    return loss


@kernel
def relu_pattern(dims, ws, TB):
    """A 64-bit fingerprint of which activation outputs are positive (ReLU's active set): the
    gradient check uses it to see whether a finite-difference step crossed a kink."""
    cell, L, B, H = dims[0], dims[4], dims[5], dims[3]
    hs, acts, aux = ws[0], ws[2], ws[3]
    z = np.uint64(0)
    for l in range(L):
        for r in range(TB):
            for i in range(H):
                on = 0
                if cell == RNN:
                    on = 1 if hs[l][B + r, i] > 0 else 0
                elif cell == LSTM:
                    on = (2 if acts[l][r, 2 * H + i] > 0 else 0) + (1 if aux[l][r, i] > 0 else 0)
                else:
                    on = 1 if acts[l][r, 2 * H + i] > 0 else 0
                z = _mix64(z + np.uint64(on + 1) * np.uint64((l * TB + r) * H + i + 1))
    return z


@kernel
def loss_and_pattern(theta, dims, ids, targets, state, dropout, key):
    """(loss, ReLU active-set fingerprint) of one chunk, no gradient."""
    ws = workspace(dims, ids.shape[0] // dims[5], theta, dropout)
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
        total += softmax_xent_rows(ws[9][:T], ids[1:T + 1])
        final_state(dims, ws, T, cur)
        start += T
    return total, n

