"""The vanilla RNN cell: h = act(W_hh h_prev + W_ih x + b), min-char-rnn's with tanh.

Its steps are compiled into the network's loop over time (inline): at hidden 100 a call per
step would cost more than the arithmetic.
"""
from ..activations import act_grad, act_sum
from ..jit import inline_kernel
from ..workspace import HS


@inline_kernel
def forward_step(act, B, xi, hh, h_out):
    """h_out = act(hh + xi) for the B streams' rows, a stream at a time (row views: a reshape
    calls a C helper, which at batch 1 costs more than the arithmetic)."""
    for b in range(B):
        act_sum(act, hh[b], xi[b], h_out[b])


@inline_kernel
def backward_step(act, H, B, dy, dnext, h_out, dx):
    """d(pre-activation) = act'(h) * (dL/dh from above + from the step after) into dx."""
    for b in range(B):
        d, dd, up = dx[b], dnext[b], dy[b]
        act_grad(act, h_out[b], d)
        for k in range(H):
            d[k] *= up[k] + dd[k]


@inline_kernel
def relu_state(ws, l, r, i, B, H):
    """Which of unit i's activations are positive at row r of layer l (a ReLU's active set)."""
    return 1 if ws[HS][l][B + r, i] > 0 else 0
