"""Where an update's time goes: each stage of rnnbench's update timed in a compiled loop, and
the update's matrix products timed alone, computed as the kernels compute them (BLAS, and the
float64 matrix-vector loop of kernels/linalg.py where it beats BLAS). Any implementation must
do those products, so on this machine's BLAS their time bounds what a speed goal can reach."""
import time

import numpy as np

from ..compiled import (LOGITS, Optimizer, repeat_dot, repeat_forward, repeat_gradient,
                        repeat_matvec, repeat_optimizer, repeat_softmax, workspace)
from ..training.state import TrainState
from ..variants import CLIP_MODES, OPTIMIZERS
from .flops import matrix_products

STAGES = ("forward", "softmax", "backward", "optimizer")


def _calibrate(fn, args, target_s):
    """How many calls make fn(n, *args) (a compiled loop of n calls) last about target_s."""
    fn(1, *args)
    n, elapsed = 1, 0.0
    while elapsed < target_s / 4:
        n *= 4
        t0 = time.perf_counter()
        fn(n, *args)
        elapsed = time.perf_counter() - t0
    return max(1, int(n * target_s / elapsed))


def interleaved_us(timed, target_s=0.02, repeats=7, stat=np.median):
    """Microseconds per call of each (fn, args) in ``timed``, the loops taking turns so that
    machine noise hits all alike: the median of ``repeats`` (``stat``: another summary; stages
    are differences of these medians)."""
    ns = [_calibrate(fn, args, target_s) for fn, args in timed]
    times = [[] for _ in timed]
    for _ in range(repeats):
        for (fn, args), n, out in zip(timed, ns, times):
            t0 = time.perf_counter()
            fn(n, *args)
            out.append((time.perf_counter() - t0) / n)
    return [float(stat(t)) * 1e6 for t in times]


def per_call_us(fn, *args):
    """Median microseconds of one call of fn(n, *args)."""
    return interleaved_us([(fn, args)])[0]


def product_operands(form, m, n, k, dtype, rng):
    """(a, b, out) for one product in the layout the kernels pass to np.dot (see
    flops.matrix_products for the forms)."""
    def r(*shape):
        return rng.standard_normal(shape).astype(dtype)
    if form == "mv":
        return r(m, k), r(k), np.zeros(m, dtype)
    if form == "vm":
        return r(k), r(k, n), np.zeros(n, dtype)
    a = r(k, m).T if form == "atb" else r(m, k)
    b = r(n, k).T if form == "abt" else r(k, n)
    return a, b, np.zeros((m, n), dtype)


def products_us(cell, vocab_size, hidden_size, num_layers, seq_length, batch_size, dtype):
    """Microseconds per update of the update's matrix products alone, each timed in a loop."""
    rng = np.random.default_rng(0)
    total, seen = 0.0, {}
    for _, form, m, n, k, count in matrix_products(cell, vocab_size, hidden_size, num_layers,
                                                   seq_length, batch_size):
        key = (form, m, n, k)
        if key not in seen:
            loop = repeat_matvec if form == "mv" else repeat_dot  # as the kernels compute it
            seen[key] = per_call_us(loop, *product_operands(form, m, n, k, dtype, rng))
        total += count * seen[key]
    return total


def stage_profile(corpus, cfg, optimizer="adagrad"):
    """Microseconds per update of each stage of rnnbench's update for a bench Config, of the
    whole update, and of its matrix products alone."""
    model = cfg.model(corpus)
    st = TrainState(model.copy(), corpus.train_ids, cfg.seq_length, batch_size=cfg.batch_size,
                    optimizer=optimizer)
    TB = cfg.seq_length * cfg.batch_size
    ids = np.ascontiguousarray(corpus.train_ids[:TB], dtype=np.int64)
    targets = np.ascontiguousarray(corpus.train_ids[1:TB + 1], dtype=np.int64)
    theta, grad, state = st.model.theta, st.grad, st.h.copy()  # as aligned as the loop's
    ws = workspace(st.dims, cfg.seq_length, theta, 0.0)
    repeat_forward(1, theta, st.dims, ids, state, ws)  # logits for the softmax loop
    s1, s2 = np.ones_like(theta), np.ones_like(theta)
    scratch = np.zeros(cfg.updates_per_call)

    def updates(n):  # n calls of the training loop, as the bench times it
        for _ in range(n):
            st.run(scratch, scratch)
    fwd, soft, grads, opt, update = interleaved_us([
        (repeat_forward, (theta, st.dims, ids, state, ws)),
        (repeat_softmax, (ws[LOGITS][:TB], targets)),
        (repeat_gradient, (theta, grad, st.dims, ids, targets, state, ws)),
        (repeat_optimizer, (theta.copy(), grad, Optimizer(OPTIMIZERS[optimizer].code,
                                                          CLIP_MODES["value"], st.hyper, s1,
                                                          s2))),
        (updates, ())])
    update /= len(scratch)
    products = products_us(cfg.cell, corpus.vocab_size, cfg.hidden_size, cfg.num_layers,
                           cfg.seq_length, cfg.batch_size, cfg.dtype)
    return dict(config=cfg.label, update_us=update, forward_us=fwd, softmax_us=soft,
                backward_us=grads - fwd - soft, optimizer_us=opt, products_us=products,
                products_share=products / update)
