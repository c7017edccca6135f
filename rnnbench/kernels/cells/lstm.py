"""The LSTM cell, with PyTorch's equations and gate order (i, f, g, o):

    i, f, o = sigmoid(.), g = act(.); c = f c_prev + i g; h = o act(c)

pre-activations are xi (input term with b_ih) + hh (W_hh h). BPTT (dc' = dL/dc_prev):
dc = dc_next + dh o act'(c); d(pre) of i, f, g, o = dc g i(1-i), dc c' f(1-f), dc i act'(g),
dh act(c) o(1-o); dc' = dc f.

Its steps are kernels of their own, called once per time step: compiled into every layer loop
(inline) they made a cold ``rnnbench warmup`` take about 20% more CPU time, and called, the LSTM
trains as fast as when one kernel served both gated cells.
"""
import numpy as np

from ..activations import SIGMOID, act_grad, act_inplace, act_sum
from ..jit import inline_kernel, kernel
from ..mathfn import ONE
from ..workspace import ACTS, AUX


@kernel
def forward_step(act, H, B, xi, hh, c_prev, h_out, c_out, acts, aux):
    """One step for B streams; keeps the gate activations in acts and act(c) in aux."""
    sig = np.int64(SIGMOID)  # an int64: a literal 2 compiled act_sum a second time
    for b in range(B):
        ga, x, y = acts[b], xi[b], hh[b]
        act_sum(sig, x[:2 * H], y[:2 * H], ga[:2 * H])
        act_sum(act, x[2 * H:3 * H], y[2 * H:3 * H], ga[2 * H:3 * H])
        act_sum(sig, x[3 * H:], y[3 * H:], ga[3 * H:])
        for i in range(H):
            c_out[b, i] = ga[H + i] * c_prev[b, i] + ga[i] * ga[2 * H + i]
        for i in range(H):
            aux[b, i] = c_out[b, i]
        act_inplace(act, aux[b])
        for i in range(H):
            h_out[b, i] = ga[3 * H + i] * aux[b, i]


@kernel
def backward_step(act, H, B, dh_in, dnext, dcnext, c_prev, acts, aux, dx, tmp):
    """BPTT through one step: dh = dh_in + dnext is dL/dh_t; writes d(pre-activation) to dx and
    dL/dc_{t-1} to dcnext. ``tmp``: 2 x H scratch."""
    for b in range(B):
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


@inline_kernel
def relu_state(ws, l, r, i, B, H):
    """Which of unit i's activations (the candidate g, act(c)) are positive at row r."""
    return (2 if ws[ACTS][l][r, 2 * H + i] > 0 else 0) + (1 if ws[AUX][l][r, i] > 0 else 0)
