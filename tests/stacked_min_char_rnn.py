"""min-char-rnn for several seeds at once (not a test module): the long statistical comparison's
reference, one batched NumPy update for all seeds instead of one Python loop per seed.

The same recipe as rnnbench.reference.min_char_rnn.ReferenceRNN (data pointer and its reset,
hidden-state reset, softmax without a shift, clipping, AdaGrad); only the order of floating-point
sums differs, so it equals ReferenceRNN to rounding over the first updates (a test checks 1e-8).
Arrays carry the seed first: Wxh (S, H, V), Whh (S, H, H), bh (S, H), Why (S, V, H), by (S, V),
views into one row of parameters per seed, so that AdaGrad is a few operations on one array.
"""
import numpy as np

from rnnbench.reference.min_char_rnn import PARAM_NAMES


def _views(flat, shapes):
    """{name: view of ``flat`` (S, P) with shape (S, *shape)} in PARAM_NAMES order."""
    out, at = {}, 0
    for name in PARAM_NAMES:
        size = int(np.prod(shapes[name]))
        out[name] = flat[:, at:at + size].reshape(len(flat), *shapes[name])
        at += size
    return out


class StackedMinCharRNN:
    """The min-char-rnn training loop for S weight sets that read the same text."""

    def __init__(self, params_list, data, seq_length=25, learning_rate=0.1, clip=5.0):
        shapes = {k: np.shape(params_list[0][k]) for k in PARAM_NAMES}
        self.theta = np.concatenate([np.concatenate([np.asarray(p[k], dtype=np.float64).ravel()
                                                     for k in PARAM_NAMES])[None]
                                     for p in params_list])
        self.mem, self.grad = np.zeros_like(self.theta), np.zeros_like(self.theta)
        self.scratch = np.empty_like(self.theta)
        self.params, self.grads = _views(self.theta, shapes), _views(self.grad, shapes)
        self.data = np.asarray(data)
        self.seq_length, self.learning_rate, self.clip = seq_length, learning_rate, clip
        seeds, hidden, self.vocab_size = self.params["Wxh"].shape
        self.h = np.zeros((seeds, hidden))
        self.p = self.n = 0

    def step(self):
        """One update of every weight set; returns the chunk losses, shape (S,)."""
        T = self.seq_length
        Wxh, Whh, bh, Why, by = (self.params[k] for k in PARAM_NAMES)
        if self.p + T + 1 >= len(self.data) or self.n == 0:
            self.h = np.zeros_like(self.h)
            self.p = 0
        inputs = self.data[self.p:self.p + T]
        targets = self.data[self.p + 1:self.p + T + 1]
        seeds, hidden = self.h.shape
        hs = np.empty((seeds, T + 1, hidden))  # hs[:, t + 1] is min-char-rnn's hs[t]
        hs[:, 0] = self.h
        # Wxh times a one-hot x is Wxh's column inputs[t]; a row times Whh.T is Whh h
        x_in = Wxh[:, :, inputs].transpose(0, 2, 1) + bh[:, None]  # (S, T, H)
        WhhT = Whh.transpose(0, 2, 1).copy()
        for t in range(T):
            hs[:, t + 1] = np.tanh(x_in[:, t] + (hs[:, t, None, :] @ WhhT)[:, 0])
        h = hs[:, 1:]                                              # (S, T, H)
        ys = h @ Why.transpose(0, 2, 1) + by[:, None]              # (S, T, V)
        ps = np.exp(ys)
        ps /= ps.sum(axis=2, keepdims=True)
        rows = np.arange(T)
        loss = -np.log(ps[:, rows, targets]).sum(axis=1)
        dy = ps
        dy[:, rows, targets] -= 1
        dh_out = dy @ Why                                          # (S, T, H): Why.T dy
        dhraw = np.empty_like(h)
        dhnext = np.zeros_like(self.h)
        for t in reversed(range(T)):
            dhraw[:, t] = (1 - h[:, t] * h[:, t]) * (dh_out[:, t] + dhnext)
            dhnext = (dhraw[:, t, None, :] @ Whh)[:, 0]            # Whh.T dhraw
        onehots = np.zeros((T, self.vocab_size))
        onehots[rows, inputs] = 1
        g = self.grads
        dhrawT = dhraw.transpose(0, 2, 1)
        np.matmul(dhrawT, onehots, out=g["Wxh"])
        np.matmul(dhrawT, hs[:, :-1], out=g["Whh"])
        np.sum(dhraw, axis=1, out=g["bh"])
        np.matmul(dy.transpose(0, 2, 1), h, out=g["Why"])
        np.sum(dy, axis=1, out=g["by"])
        # AdaGrad in place (fresh temporaries of this size cost more than the arithmetic)
        dparam, scratch = np.clip(self.grad, -self.clip, self.clip, out=self.grad), self.scratch
        self.mem += np.multiply(dparam, dparam, out=scratch)
        root = np.sqrt(np.add(self.mem, 1e-8, out=scratch), out=scratch)
        self.theta += np.divide(np.multiply(dparam, -self.learning_rate, out=dparam), root,
                                out=dparam)
        self.h = h[:, -1].copy()
        self.p += T
        self.n += 1
        return loss

    def train(self, n_updates):
        """``n_updates`` updates; the chunk losses, shape (n_updates, S)."""
        return np.array([self.step() for _ in range(n_updates)])
