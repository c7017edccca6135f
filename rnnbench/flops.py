"""Useful arithmetic per update, and the machine's measured peak: the yardsticks of GFLOP/s.

Only the matrix products count (2 flops per multiply-add): they are the work any implementation
must do. The one-hot input is a column gather (no flops); element-wise work (activations,
softmax, the optimizer: about a tenth more for the vanilla RNN at hidden 100) is left out, so
the figures err low.
"""
import time

from .model import GATES


def update_flops(cell, vocab_size, hidden_size, num_layers=1, seq_length=25, batch_size=1):
    """Matrix-product flops of one update: forward, BPTT and weight gradients.

    Per layer and row (a time step of a stream) with G gates: W_hh h forward, W_hh^T d and the
    dW_hh outer product backward (3 x 2 G H^2); layers above the first the same again for W_ih.
    The output layer: logits, dL/dh and dW_hy (3 x 2 V H).
    """
    G, H, V = GATES[cell], hidden_size, vocab_size
    rows = seq_length * batch_size
    recurrent = 3 * 2 * G * H * H * num_layers
    inputs = 3 * 2 * G * H * H * (num_layers - 1)
    output = 3 * 2 * V * H
    return rows * (recurrent + inputs + output)


def peak_gflops(dtype="float64", n=1024, repeats=5):
    """One core's practical peak: the median GFLOP/s of an n x n matrix product in one thread."""
    import numpy as np

    from .threads import one_thread

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
    return 2.0 * n ** 3 / float(np.median(times)) / 1e9
