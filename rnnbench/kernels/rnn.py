"""The vanilla RNN cell of min-char-rnn: forward pass, BPTT, validation loss and sampling.

Parameters live in one flat array ``theta`` laid out as Wxh (H, V), Whh (H, H), bh (H),
Why (V, H), by (V) -- the order of rnnbench.model's layout. Every function here takes that flat
array and slices views out of it, so optimizers, clipping and checkpoints see one vector.
"""
import numpy as np

from .jit import inline_kernel, kernel
from .mathfn import exp_neg, tanh


@kernel
def rnn_views(theta, V, H):
    """Named views (Wxh, Whh, bh, Why, by) into the flat parameter vector."""
    o = 0
    Wxh = theta[o:o + H * V].reshape((H, V))
    o += H * V
    Whh = theta[o:o + H * H].reshape((H, H))
    o += H * H
    bh = theta[o:o + H]
    o += H
    Why = theta[o:o + V * H].reshape((V, H))
    o += V * H
    by = theta[o:o + V]
    return Wxh, Whh, bh, Why, by


@inline_kernel
def rnn_step(Wxh, Whh, bh, x, h_prev, h_out):
    """h_out = tanh(Whh h_prev + (Wxh[:, x] + bh)): one step, rounded exactly as the batched
    forward pass of rnn_forward_backward rounds it, so sampling and validation see the same
    numbers as training."""
    np.dot(Whh, h_prev, h_out)
    for i in range(h_out.shape[0]):
        h_out[i] = tanh(h_out[i] + (Wxh[i, x] + bh[i]))


@kernel
def softmax_xent_rows(logits, targets):
    """Turn each row of ``logits`` into probabilities in place; return the summed cross-entropy.

    -log softmax(y)[k] = log(sum_j exp(y_j - m)) + m - y_k with m = max(y): the shifted form
    never overflows (min-char-rnn's exp(y)/sum(exp(y)) does, in float32 at large hidden sizes).
    """
    T, V = logits.shape
    loss = 0.0
    comp = 0.0  # Neumaier-compensated sum: the loss stays exact to an ulp or two, which is what
    # lets a centred difference of two losses resolve gradients of 1e-5 (gradient check).
    for t in range(T):
        row = logits[t]
        m = row[0]
        for j in range(1, V):
            if row[j] > m:
                m = row[j]
        zk = row[targets[t]] - m
        # r = sum of exp(y_j - m) over all j but the maximum (whose term is 1), so that
        # log(s) = log1p(r) keeps every digit of the small terms.
        for j in range(V):
            row[j] = exp_neg(row[j] - m)
        r = -1.0
        for j in range(V):
            r += row[j]
        s = r + 1.0
        term = np.log1p(r) - zk
        total = loss + term
        if abs(loss) >= abs(term):
            comp += (loss - total) + term
        else:
            comp += (term - total) + loss
        loss = total
        inv = 1.0 / s
        for j in range(V):
            row[j] *= inv
    return loss + comp


@kernel
def rnn_forward_backward(theta, grad, V, H, xs, ys, h0, hs, probs, dhs, das, want_grad):
    """Loss of one chunk (summed over its characters, nats) and, if asked, its gradient.

    Forward (min-char-rnn): h_t = tanh(Wxh[:, x_t] + Whh h_{t-1} + bh), y_t = Why h_t + by,
    p_t = softmax(y_t), loss = -sum_t log p_t[target_t]. The one-hot product Wxh x_t is the
    column gather Wxh[:, x_t]. The output layer does not depend on the recurrence, so it runs
    as one (T, H) x (H, V) product for the whole chunk, and so do its gradients.

    Workspaces: hs (T + 1, H) with hs[0] = h0 and hs[t + 1] = h_t; probs (T, V); dhs, das (T, H)
    (das holds the input term Wxh[:, x_t] + bh during the forward pass).
    ``grad`` is overwritten (not accumulated). The last hidden state is left in hs[T].
    """
    Wxh, Whh, bh, Why, by = rnn_views(theta, V, H)
    T = xs.shape[0]
    # The input part of every step first, row by row of Wxh (cache-friendly), into das.
    for i in range(H):
        for t in range(T):
            das[t, i] = Wxh[i, xs[t]] + bh[i]
    hs[0, :] = h0
    for t in range(T):
        row = hs[t + 1]
        np.dot(Whh, hs[t], row)
        for i in range(H):
            row[i] = tanh(row[i] + das[t, i])
    h_out = hs[1:]
    np.dot(h_out, Why.T, probs)
    for t in range(T):
        for j in range(V):
            probs[t, j] += by[j]
    loss = softmax_xent_rows(probs, ys)
    if not want_grad:
        return loss

    dWxh, dWhh, dbh, dWhy, dby = rnn_views(grad, V, H)
    # dWhh, dWhy and dbh are written whole below; dWxh and dby accumulate from zero.
    dWxh[:, :] = 0.0
    dby[:] = 0.0
    # dL/dy_t = p_t - onehot(target_t), kept in probs.
    for t in range(T):
        probs[t, ys[t]] -= 1.0
    np.dot(probs.T, h_out, dWhy)
    for t in range(T):
        for j in range(V):
            dby[j] += probs[t, j]
    np.dot(probs, Why, dhs)
    # BPTT: da_t = (1 - h_t^2) * (dh_t + Whh^T da_{t+1}), the tanh derivative through the output.
    dnext = np.zeros(H, dtype=theta.dtype)
    for t in range(T - 1, -1, -1):
        h = hs[t + 1]
        da = das[t]
        for i in range(H):
            da[i] = (1.0 - h[i] * h[i]) * (dhs[t, i] + dnext[i])
        np.dot(da, Whh, dnext)
    np.dot(das.T, hs[:T], dWhh)
    for i in range(H):
        acc = 0.0
        for t in range(T):
            acc += das[t, i]
            dWxh[i, xs[t]] += das[t, i]
        dbh[i] = acc
    return loss


@kernel
def rnn_workspace(V, H, T, dtype_like):
    """Scratch arrays for rnn_forward_backward, allocated once per call of a training loop."""
    hs = np.zeros((T + 1, H), dtype=dtype_like.dtype)
    probs = np.zeros((T, V), dtype=dtype_like.dtype)
    dhs = np.zeros((T, H), dtype=dtype_like.dtype)
    das = np.zeros((T, H), dtype=dtype_like.dtype)
    return hs, probs, dhs, das


@kernel
def rnn_loss_and_grads(theta, grad, V, H, xs, ys, h0, h_last, want_grad):
    """One chunk: loss (and gradient into ``grad``); the final hidden state goes to ``h_last``."""
    hs, probs, dhs, das = rnn_workspace(V, H, xs.shape[0], theta)
    loss = rnn_forward_backward(theta, grad, V, H, xs, ys, h0, hs, probs, dhs, das, want_grad)
    h_last[:] = hs[xs.shape[0]]
    return loss


@kernel
def rnn_eval_loss(theta, V, H, data, h0, block):
    """Summed loss of predicting data[t + 1] from data[:t + 1] over the whole text, from h0.

    The hidden state runs on through the text; the output layer is evaluated ``block`` steps at a
    time as one matrix product. Returns (summed loss in nats, number of predicted characters).
    """
    Wxh, Whh, bh, Why, by = rnn_views(theta, V, H)
    n = data.shape[0] - 1
    hs = np.zeros((block + 1, H), dtype=theta.dtype)
    hs[0, :] = h0
    logits = np.zeros((block, V), dtype=theta.dtype)
    total = 0.0
    start = 0
    while start < n:
        T = min(block, n - start)
        for t in range(T):
            rnn_step(Wxh, Whh, bh, data[start + t], hs[t], hs[t + 1])
        lg = logits[:T]
        np.dot(hs[1:T + 1], Why.T, lg)
        for t in range(T):
            for j in range(V):
                lg[t, j] += by[j]
        total += softmax_xent_rows(lg, data[start + 1:start + T + 1])
        hs[0, :] = hs[T]
        start += T
    return total, n


@kernel
def rnn_sample(theta, V, H, h, prime, length, temperature, greedy, seed):
    """Feed ``prime`` (at least one id) from hidden state ``h``, then draw ``length`` ids.

    Each draw comes from softmax(y / temperature) (or its argmax when ``greedy``), with Numba's
    generator seeded here from ``seed`` so the same seed gives the same text. ``h`` is not changed.
    """
    np.random.seed(seed)
    Wxh, Whh, bh, Why, by = rnn_views(theta, V, H)
    hcur = h.copy()
    hnew = np.empty(H, dtype=theta.dtype)
    y = np.empty(V, dtype=theta.dtype)
    out = np.empty(length, dtype=np.int64)
    x = prime[0]
    pos = 0
    for step in range(prime.shape[0] - 1 + length):
        rnn_step(Wxh, Whh, bh, x, hcur, hnew)
        hcur, hnew = hnew, hcur
        if step < prime.shape[0] - 1:
            x = prime[step + 1]
            continue
        np.dot(Why, hcur, y)
        best = 0
        for j in range(V):
            y[j] = (y[j] + by[j]) / temperature
            if y[j] > y[best]:
                best = j
        if greedy:
            x = best
        else:
            m = y[best]
            s = 0.0
            for j in range(V):
                y[j] = exp_neg(y[j] - m)
            for j in range(V):
                s += y[j]
            u = np.random.random() * s
            acc = 0.0
            x = V - 1
            for j in range(V):
                acc += y[j]
                if u < acc:
                    x = j
                    break
        out[pos] = x
        pos += 1
    return out
