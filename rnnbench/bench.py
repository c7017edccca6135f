"""Updates per second of the compiled loop against plain NumPy, measured in one process.

For each configuration the contenders alternate (reference, compiled, reference, ...) so that
machine noise hits both alike; each figure is the median over repeats, and so is the ratio.
The vanilla row's reference is min-char-rnn itself (rnnbench.reference); the other cells'
is rnnbench.reference_cells, the same clipped AdaGrad written in NumPy a step at a time.
"""
import time

import numpy as np

VANILLA = [dict(cell="rnn", hidden_size=100, num_layers=1, dtype="float64", batch_size=1)]
CELLS = [dict(cell=c, hidden_size=h, num_layers=n, dtype=d, batch_size=b)
         for c in ("lstm", "gru") for h in (128, 256) for n in (1, 2)
         for d in ("float64", "float32") for b in (1, 32)]
QUICK_CELLS = [dict(cell=c, hidden_size=128, num_layers=1, dtype="float64", batch_size=b)
               for c in ("lstm", "gru") for b in (1, 32)]
SUITES = {"vanilla": VANILLA, "cells": CELLS, "all": VANILLA + CELLS,
          "quick": VANILLA + QUICK_CELLS}


def _timed(step_fn, seconds):
    """Call ``step_fn()`` (which returns updates done) until ``seconds`` pass: updates/s."""
    done, t0 = 0, time.perf_counter()
    while True:
        done += step_fn()
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds:
            return done / elapsed


def _contenders(corpus, cfg, seq_length):
    """(reference step function, compiled step function) for one configuration."""
    from .model import Model
    from .reference import ReferenceRNN
    from .reference_cells import ReferenceNetwork
    from .training import TrainState

    model = Model.create(cfg["cell"], corpus.vocab_size, cfg["hidden_size"], cfg["num_layers"],
                         "tanh", cfg["dtype"], seed=0, chars=corpus.chars)
    B = cfg["batch_size"]
    if cfg == VANILLA[0]:
        ref = ReferenceRNN(model.params, corpus.train_ids, seq_length)
    else:
        ref = ReferenceNetwork(model.copy(), corpus.train_ids, seq_length, batch_size=B)
    fast = TrainState(model.copy(), corpus.train_ids, seq_length, batch_size=B)
    chunk = max(1, min(200, int(20000 / (seq_length * B * cfg["hidden_size"] / 25))))
    scratch = np.zeros(chunk)
    fast.run(scratch[:1], scratch[:1])  # compile (or load) before timing
    return (lambda: (ref.step(), 1)[1]), (lambda: fast.run(scratch, scratch))


def run_bench(suite="vanilla", seq_length=25, repeats=5, seconds=2.0, corpus="pydoc",
              progress=None):
    """A table (list of dicts), one row per configuration of ``suite``: updates/s and chars/s
    of the NumPy reference and of the compiled loop, and the median ratio."""
    from .data import Corpus

    data = Corpus.load(corpus, 0.1)
    rows = []
    for cfg in SUITES[suite]:
        ref_step, fast_step = _contenders(data, cfg, seq_length)
        ref_rates, fast_rates = [], []
        for _ in range(repeats):
            ref_rates.append(_timed(ref_step, seconds))
            fast_rates.append(_timed(fast_step, seconds))
        ratios = np.array(fast_rates) / np.array(ref_rates)
        chars = seq_length * cfg["batch_size"]
        row = dict(cfg, seq_length=seq_length, vocab_size=data.vocab_size, repeats=repeats,
                   reference_updates_per_s=float(np.median(ref_rates)),
                   updates_per_s=float(np.median(fast_rates)),
                   chars_per_s=float(np.median(fast_rates)) * chars,
                   min=float(np.min(fast_rates)), max=float(np.max(fast_rates)),
                   ratio=float(np.median(ratios)))
        rows.append(row)
        if progress is not None:
            progress(row)
    return rows


HEADER = (f"{'cell':<5}{'hidden':>7}{'layers':>7}{'dtype':>8}{'batch':>6}{'numpy upd/s':>13}"
          f"{'rnnbench upd/s':>16}{'chars/s':>12}{'ratio':>8}")


def format_row(r):
    return (f"{r['cell']:<5}{r['hidden_size']:>7}{r['num_layers']:>7}{r['dtype']:>8}"
            f"{r['batch_size']:>6}{r['reference_updates_per_s']:>13,.0f}"
            f"{r['updates_per_s']:>16,.0f}"
            f"{r['chars_per_s']:>12,.0f}{r['ratio']:>7.1f}x")


def format_bench(rows):
    r = rows[0]
    return "\n".join([HEADER, *map(format_row, rows),
                      f"seq_length {r['seq_length']}, vocabulary {r['vocab_size']}; medians of "
                      f"{r['repeats']} interleaved repeats"])
