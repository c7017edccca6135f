"""Useful arithmetic per update, and the machine's measured peak: the yardsticks of GFLOP/s.

Only the matrix products count (2 flops per multiply-add): they are the work any implementation
must do. The one-hot input is a column gather (no flops); element-wise work (activations,
softmax, the optimizer: about a tenth more for the vanilla RNN at hidden 100) is left out, so
the figures err low.
"""
import time

import numpy as np

from ..training.threads import one_thread
from ..variants import CELLS


def matrix_products(cell, vocab_size, hidden_size, num_layers=1, seq_length=25, batch_size=1):
    """The matrix products of one update as kernels/network.py calls them, as tuples (what,
    form, m, n, k, count): ``count`` products out (m x n) = op(a) (m x k) op(b) (k x n), where
    form "ab" is a b, "abt" a b^T, "atb" a^T b, "mv" W x and "vm" x^T W (batch 1 recurrences).

    Per layer with G gates and TB = seq_length x batch_size rows: W_hh h per step forward, its
    transpose times d(pre-activation) per step backward but the first (truncated BPTT sends
    nothing past the chunk's start), dW_hh over the chunk; layers above the first also W_ih x,
    dW_ih and the gradient of their input. The output layer: logits, dW_hy and dL/dh.
    """
    G, H, V = CELLS[cell].n_gates, hidden_size, vocab_size
    T, B = seq_length, batch_size
    TB, GH = T * B, G * H
    step_fwd = ("mv", GH, 1, H) if B == 1 else ("abt", B, GH, H)
    step_bwd = ("vm", 1, H, GH) if B == 1 else ("ab", B, H, GH)
    out = [("logits", "abt", TB, V, H, 1), ("dW_hy", "atb", V, H, TB, 1),
           ("dL/dh", "ab", TB, H, V, 1)]
    for layer in range(num_layers):
        out += [(f"W_hh h (layer {layer})", *step_fwd, T),
                (f"W_hh^T d (layer {layer})", *step_bwd, T - 1),
                (f"dW_hh (layer {layer})", "atb", GH, H, TB, 1)]
        if layer > 0:
            out += [(f"W_ih x (layer {layer})", "abt", TB, GH, H, 1),
                    (f"dW_ih (layer {layer})", "atb", GH, H, TB, 1),
                    (f"dL/dx (layer {layer})", "ab", TB, H, GH, 1)]
    return out


def update_flops(cell, vocab_size, hidden_size, num_layers=1, seq_length=25, batch_size=1):
    """Matrix-product flops of one update: forward, BPTT and weight gradients (2 flops per
    multiply-add of each product in matrix_products)."""
    return sum(2 * m * n * k * count for _, _, m, n, k, count in
               matrix_products(cell, vocab_size, hidden_size, num_layers, seq_length, batch_size))


def peak_gflops(dtype="float64", n=1024, repeats=5):
    """One core's practical peak: the GFLOP/s of the fastest of ``repeats`` n x n matrix
    products in one thread (noise only slows one down; the floor must not err high)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    with one_thread():
        a @ b
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            a @ b
            times.append(time.perf_counter() - t0)
    return 2.0 * n ** 3 / min(times) / 1e9
