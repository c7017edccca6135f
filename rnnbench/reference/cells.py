"""Plain NumPy versions of every cell (rnn, lstm, gru; any activation, layers and batch), trained
with min-char-rnn's clipped AdaGrad: the yardstick of the benchmarks, and a second opinion on
the compiled kernels in the tests. Written the way a course's NumPy code is, a loop over time
steps with matrix products per step, and with the model's own parameter names and layout.
"""
import numpy as np

from ..text.corpus import stream_length
from ..model.layout import layer_suffix


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


ACT = {"tanh": (np.tanh, lambda a: 1.0 - a * a),
       "relu": (lambda x: np.maximum(x, 0.0), lambda a: (a > 0).astype(a.dtype)),
       "sigmoid": (sigmoid, lambda a: a * (1.0 - a))}


def loss_fun(model, params, X, Y, state):
    """Loss (summed over time, averaged over the B rows of X), gradients by name, next state.

    X, Y: (B, T) ids; state: (state_rows, B, H) as the compiled kernels keep it.
    """
    f, df = ACT[model.activation]
    cell, L, H = model.cell, model.num_layers, model.hidden_size
    B, T = X.shape
    sfx = [layer_suffix(l) for l in range(L)]
    inputs = [None] * L
    cache = []
    for l in range(L):
        W, U = params["Wxh" + sfx[l]], params["Whh" + sfx[l]]
        b = params["bxh" + sfx[l]] if cell == "gru" else params["bh" + sfx[l]]
        h, c = state[l].copy(), state[L + l].copy() if cell == "lstm" else None
        xin = [W[:, X[:, t]].T + b for t in range(T)] if l == 0 else \
            [inputs[l][t] @ W.T + b for t in range(T)]
        steps, outs = [], []
        for t in range(T):
            gh = h @ U.T
            if cell == "rnn":
                hn = f(xin[t] + gh)
                steps.append((h, hn))
            elif cell == "lstm":
                a = xin[t] + gh
                i, fg, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), sigmoid(a[:, 3 * H:])
                g = f(a[:, 2 * H:3 * H])
                cn = fg * c + i * g
                tc = f(cn)
                hn = o * tc
                steps.append((h, c, i, fg, g, o, tc))
                c = cn
            elif cell == "gru":
                gh = gh + params["bhh" + sfx[l]]
                r = sigmoid(xin[t][:, :H] + gh[:, :H])
                z = sigmoid(xin[t][:, H:2 * H] + gh[:, H:2 * H])
                n = f(xin[t][:, 2 * H:] + r * gh[:, 2 * H:])
                hn = (1 - z) * n + z * h
                steps.append((h, r, z, n, gh[:, 2 * H:]))
            else:
                raise ValueError(f"unknown cell {cell!r}")
            h = hn
            outs.append(h)
        cache.append((steps, h, c))
        if l + 1 < L:
            inputs[l + 1] = outs
        top = outs
    Why, by = params["Why"], params["by"]
    loss, dtop = 0.0, []
    for t in range(T):
        y = top[t] @ Why.T + by
        y = y - y.max(axis=1, keepdims=True)
        e = np.exp(y)
        s = e.sum(axis=1, keepdims=True)
        p = e / s
        loss += (np.log(s[:, 0]) - y[np.arange(B), Y[:, t]]).sum() / B  # -log softmax
        p[np.arange(B), Y[:, t]] -= 1.0
        dtop.append(p / B)
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    grads["Why"] = sum(dtop[t].T @ top[t] for t in range(T))
    grads["by"] = sum(d.sum(axis=0) for d in dtop)
    dout = [d @ Why for d in dtop]
    for l in range(L - 1, -1, -1):
        W, U = params["Wxh" + sfx[l]], params["Whh" + sfx[l]]
        s = sfx[l]
        bname = "bxh" + s if cell == "gru" else "bh" + s
        steps = cache[l][0]
        dh_next = np.zeros((B, H), state.dtype)
        dc_next = np.zeros((B, H), state.dtype)
        dx_all = [None] * T
        for t in range(T - 1, -1, -1):
            dh = dout[t] + dh_next
            if cell == "rnn":
                h_prev, hn = steps[t]
                da = dh * df(hn)
                dpre_h = da
            elif cell == "lstm":
                h_prev, c_prev, i, fg, g, o, tc = steps[t]
                dc = dc_next + dh * o * df(tc)
                da = np.concatenate([dc * g * i * (1 - i), dc * c_prev * fg * (1 - fg),
                                     dc * i * df(g), dh * tc * o * (1 - o)], axis=1)
                dc_next = dc * fg
                dpre_h = da
            elif cell == "gru":
                h_prev, r, z, n, hn_lin = steps[t]
                dn = dh * (1 - z) * df(n)
                dr = dn * hn_lin * r * (1 - r)
                dz = dh * (h_prev - n) * z * (1 - z)
                da = np.concatenate([dr, dz, dn], axis=1)
                dpre_h = np.concatenate([dr, dz, dn * r], axis=1)
                grads["bhh" + s] += dpre_h.sum(axis=0)
            else:
                raise ValueError(f"unknown cell {cell!r}")
            grads["Whh" + s] += dpre_h.T @ h_prev
            grads[bname] += da.sum(axis=0)
            dh_next = dpre_h @ U + (dh * z if cell == "gru" else 0.0)
            dx_all[t] = da
        if l == 0:
            for t in range(T):
                np.add.at(grads["Wxh"].T, X[:, t], dx_all[t])
        else:
            for t in range(T):
                grads["Wxh" + s] += dx_all[t].T @ inputs[l][t]
            dout = [dx_all[t] @ W for t in range(T)]
    new_state = np.zeros_like(state)
    for l in range(L):
        new_state[l] = cache[l][1]
        if cell == "lstm":
            new_state[L + l] = cache[l][2]
    return loss, grads, new_state


class ReferenceNetwork:
    """Training with the recipe's data pointer, clip and AdaGrad, batch rows side by side."""

    def __init__(self, model, data, seq_length=25, learning_rate=0.1, clip=5.0, batch_size=1):
        self.model = model
        self.params = {k: v.copy() for k, v in model.params.items()}
        part = stream_length(len(data), seq_length, batch_size)
        self.data = np.asarray(data[:part * batch_size]).reshape(batch_size, part)
        self.T, self.lr, self.clip = seq_length, learning_rate, clip
        self.mem = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.state = np.zeros((model.state_rows, batch_size, model.hidden_size), model.dtype)
        self.p = self.n = 0

    def step(self):
        """One update; returns (loss, raw gradients)."""
        T = self.T
        if self.p + T + 1 >= self.data.shape[1] or self.n == 0:
            self.p = 0
            self.state[:] = 0.0
        X = self.data[:, self.p:self.p + T]
        Y = self.data[:, self.p + 1:self.p + T + 1]
        loss, grads, self.state = loss_fun(self.model, self.params, X, Y, self.state)
        for k, g in grads.items():
            g = np.clip(g, -self.clip, self.clip)
            self.mem[k] += g * g
            self.params[k] -= self.lr * g / np.sqrt(self.mem[k] + 1e-8)
        self.p += T
        self.n += 1
        return loss, grads
