"""Karpathy's min-char-rnn in plain NumPy, as people write it: the baseline for tests and benchmarks.

Never used for real training. It follows the original line by line (one-hot vectors, one
``np.dot`` per step, in-place clipping, AdaGrad), with two deliberate differences that do not
change the numbers: parameters come in as a dict so both implementations can start from the
same weights, and the clipped gradient is a copy so the raw one can be compared.
"""
import numpy as np

PARAM_NAMES = ("Wxh", "Whh", "bh", "Why", "by")


def loss_fun(inputs, targets, hprev, params):
    """min-char-rnn's lossFun: (loss summed over the chunk, raw grads dict, last hidden state)."""
    Wxh, Whh, bh, Why, by = (params[k] for k in PARAM_NAMES)
    vocab_size = Wxh.shape[1]
    xs, hs, ys, ps = {}, {}, {}, {}
    hs[-1] = np.copy(hprev)
    loss = 0.0
    for t in range(len(inputs)):
        xs[t] = np.zeros((vocab_size, 1))
        xs[t][inputs[t]] = 1
        hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh)
        ys[t] = np.dot(Why, hs[t]) + by
        ps[t] = np.exp(ys[t]) / np.sum(np.exp(ys[t]))
        loss += -np.log(ps[t][targets[t], 0])
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dhnext = np.zeros_like(hs[0])
    for t in reversed(range(len(inputs))):
        dy = np.copy(ps[t])
        dy[targets[t]] -= 1
        dWhy += np.dot(dy, hs[t].T)
        dby += dy
        dh = np.dot(Why.T, dy) + dhnext
        dhraw = (1 - hs[t] * hs[t]) * dh
        dbh += dhraw
        dWxh += np.dot(dhraw, xs[t].T)
        dWhh += np.dot(dhraw, hs[t - 1].T)
        dhnext = np.dot(Whh.T, dhraw)
    grads = dict(zip(PARAM_NAMES, (dWxh, dWhh, dbh, dWhy, dby)))
    return loss, grads, hs[len(inputs) - 1]


def column_params(params):
    """min-char-rnn keeps biases and hidden states as column vectors: (n,) -> (n, 1) copies."""
    return {k: np.array(v, dtype=np.float64).reshape(v.shape[0], -1) for k, v in params.items()}


class ReferenceRNN:
    """The min-char-rnn training loop: data pointer, hidden-state reset, clipping, AdaGrad."""

    def __init__(self, params, data, seq_length=25, learning_rate=0.1, clip=5.0):
        self.params = column_params(params)
        self.mem = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.data = list(np.asarray(data))
        self.seq_length = seq_length
        self.learning_rate = learning_rate
        self.clip = clip
        vocab_size = self.params["Wxh"].shape[1]
        self.smooth_loss = -np.log(1.0 / vocab_size) * seq_length
        self.hidden_size = self.params["Whh"].shape[0]
        self.hprev = np.zeros((self.hidden_size, 1))
        self.p = 0
        self.n = 0

    def step(self):
        """One update; returns (loss, raw grads)."""
        T = self.seq_length
        if self.p + T + 1 >= len(self.data) or self.n == 0:
            self.hprev = np.zeros((self.hidden_size, 1))
            self.p = 0
        inputs = self.data[self.p:self.p + T]
        targets = self.data[self.p + 1:self.p + T + 1]
        loss, grads, self.hprev = loss_fun(inputs, targets, self.hprev, self.params)
        self.smooth_loss = self.smooth_loss * 0.999 + loss * 0.001
        for k, param in self.params.items():
            dparam = np.clip(grads[k], -self.clip, self.clip)
            self.mem[k] += dparam * dparam
            param += -self.learning_rate * dparam / np.sqrt(self.mem[k] + 1e-8)
        self.p += T
        self.n += 1
        return loss, grads

    def train(self, n_updates):
        """Run ``n_updates`` updates; returns the array of per-chunk losses."""
        return np.array([self.step()[0] for _ in range(n_updates)])
