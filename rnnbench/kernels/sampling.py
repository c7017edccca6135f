"""Drawing text from a network one character at a time: temperature, greedy, top-k, a stop id.

The network itself (forward pass, state) is network.py's; this file only decides which
character comes next.
"""
import numpy as np

from .jit import kernel
from .mathfn import exp_neg
from .network import final_state, forward
from .workspace import LOGITS, workspace


@kernel
def draw(y, temperature, greedy, top_k):
    """The next id from logits ``y`` (overwritten): softmax(y / temperature) over the ``top_k``
    likeliest ids (all when top_k is 0 or >= V), or the argmax when ``greedy``."""
    V = y.shape[0]
    best = 0
    for j in range(V):
        y[j] = y[j] / temperature
        if y[j] > y[best]:
            best = j
    if greedy:
        return best
    m = y[best]
    for j in range(V):
        y[j] = exp_neg(y[j] - m)
    if 0 < top_k < V:
        # keep the top_k likeliest by repeated selection (k small; a sort would cost seconds
        # of compile time at every cold start); among equal values the lower id goes first
        keep = np.zeros(V, dtype=np.bool_)
        for _ in range(top_k):
            pick = -1
            for j in range(V):
                if not keep[j] and (pick < 0 or y[j] > y[pick]):
                    pick = j
            keep[pick] = True
        for j in range(V):
            if not keep[j]:
                y[j] = 0.0
    s = 0.0
    for j in range(V):
        s += y[j]
    u = np.random.random() * s
    acc = 0.0
    for j in range(V):
        acc += y[j]
        if u < acc:
            return j
    return best  # only reachable through rounding; the argmax is always allowed


@kernel
def sample(theta, dims, state, prime, length, temperature, greedy, top_k, stop_id, seed):
    """Feed ``prime`` (at least one id) from ``state`` (one stream), then draw up to ``length``
    ids; drawing ``stop_id`` (-1: none) ends the sample early and is not returned.

    Numba's generator is seeded here, so the same seed gives the same ids. ``state`` is not
    changed.
    """
    np.random.seed(seed)
    x = np.empty(1, dtype=np.int64)
    one = x.shape[0]  # 1 as an int64: a literal 1 would compile workspace and final_state again
    ws = workspace(dims, one, theta, 0.0)
    cur = state.copy()
    out = np.empty(length, dtype=np.int64)
    y = ws[LOGITS][0]
    x[0] = prime[0]
    for k in range(1, prime.shape[0]):
        forward(theta, dims, x, cur, ws, 0.0, np.uint64(0))
        final_state(dims, ws, one, cur)
        x[0] = prime[k]
    n = 0
    while n < length:
        forward(theta, dims, x, cur, ws, 0.0, np.uint64(0))
        final_state(dims, ws, one, cur)
        nxt = draw(y, temperature, greedy, top_k)
        if nxt == stop_id:
            break
        out[n] = nxt
        x[0] = nxt
        n += 1
    return out[:n]
