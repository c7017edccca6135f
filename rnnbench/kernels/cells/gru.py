"""The GRU cell, with PyTorch's equations and gate order (r, z, n), r applied to W_hn h + b_hn:

    r, z = sigmoid(xi + hh + b_hh); n = act(xi_n + r (hh_n + b_hn)); h = (1-z) n + z h_prev

BPTT (h = (1-z) n + z h'): dn = dh (1-z) act'(n); dr = dn (W_hn h' + b_hn) r(1-r);
dz = dh (h' - n) z(1-z); the recurrent side of n gets dn r (so its d(pre-activation) differs
from the input side's: the GRU's two biases); dh' gets dh z directly.

Its steps are kernels of their own, called once per time step: compiled into every layer loop
(inline) they made a cold ``rnnbench warmup`` take about 20% more CPU time, and called, the LSTM
trains as fast as when one kernel served both gated cells.
"""
import numpy as np

from ..activations import SIGMOID, act_grad, act_inplace, act_sum
from ..jit import inline_kernel, kernel
from ..linalg import rows_dot
from ..mathfn import ONE
from ..workspace import ACTS


@kernel
def forward_step(act, H, B, xi, hh, bhh, h_prev, h_out, acts, aux):
    """One step for B streams (hh is modified); keeps the gate activations in acts and
    W_hn h + b_hn in aux."""
    sig = np.int64(SIGMOID)  # an int64: a literal 2 compiled act_sum a second time
    for b in range(B):
        ga, x, y = acts[b], xi[b], hh[b]
        for k in range(3 * H):
            y[k] += bhh[k]
        act_sum(sig, x[:2 * H], y[:2 * H], ga[:2 * H])
        for i in range(H):
            aux[b, i] = y[2 * H + i]
            ga[2 * H + i] = x[2 * H + i] + ga[i] * y[2 * H + i]
        act_inplace(act, ga[2 * H:])
        for i in range(H):
            z = ga[H + i]
            h_out[b, i] = (ONE - z) * ga[2 * H + i] + z * h_prev[b, i]


@kernel
def backward_step(act, H, B, dh_in, dnext, h_prev, acts, aux, dx, dh_pre, tmp):
    """BPTT through one step: dh = dh_in + dnext is dL/dh_t; writes d(pre-activation) of the
    input side to dx and of the recurrent side to dh_pre, and the direct part of dL/dh_{t-1}
    (z dh) to dnext (see add_recurrent)."""
    for b in range(B):
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


@inline_kernel
def add_recurrent(dh_pre, Whh, dnext, scratch, B, H):
    """dL/dh_{t-1} = z dh (left in dnext by backward_step) + dh_pre W_hh."""
    rows_dot(dh_pre, Whh, scratch, B)
    for b in range(B):
        for i in range(H):
            dnext[b, i] += scratch[b, i]


@inline_kernel
def relu_state(ws, l, r, i, B, H):
    """Whether unit i's candidate n is positive at row r of layer l."""
    return 1 if ws[ACTS][l][r, 2 * H + i] > 0 else 0
