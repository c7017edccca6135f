"""Updates per second of the compiled loop against the NumPy reference, measured in one process.

The contenders alternate (reference, compiled, reference, ...) so that machine noise hits both
alike; each figure is the median over repeats, and so is the ratio.
"""
import time

import numpy as np


def _timed(step_fn, seconds):
    """Call ``step_fn()`` (which returns updates done) until ``seconds`` pass: updates/s."""
    done, t0 = 0, time.perf_counter()
    while True:
        done += step_fn()
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds:
            return done / elapsed


def run_bench(hidden_size=100, seq_length=25, repeats=5, seconds=2.0, corpus="pydoc"):
    """A table (list of dicts) of updates/s and chars/s for each contender, and the ratio."""
    from .data import Corpus
    from .model import Model
    from .reference import ReferenceRNN
    from .training import TrainState, train

    data = Corpus.load(corpus, 0.1)
    model = Model.create("rnn", data.vocab_size, hidden_size, seed=0, chars=data.chars)
    ref = ReferenceRNN(model.params, data.train_ids, seq_length)
    fast = TrainState(model.copy(), data.train_ids, seq_length)
    scratch = np.zeros(200)
    train(corpus=data, updates=1, hidden_size=hidden_size, seq_length=seq_length,
          sample_every=0)  # compile (or load) every kernel before timing
    rates = {"numpy reference": [], "rnnbench compiled": []}
    for _ in range(repeats):
        rates["numpy reference"].append(_timed(lambda: (ref.step(), 1)[1], seconds))
        rates["rnnbench compiled"].append(_timed(lambda: fast.run(scratch, scratch), seconds))
    ratios = np.array(rates["rnnbench compiled"]) / np.array(rates["numpy reference"])
    rows = []
    for name, r in rates.items():
        med = float(np.median(r))
        rows.append(dict(contender=name, hidden_size=hidden_size, seq_length=seq_length,
                         vocab_size=data.vocab_size, updates_per_s=med,
                         chars_per_s=med * seq_length, min=float(np.min(r)),
                         max=float(np.max(r)), repeats=repeats,
                         ratio=float(np.median(ratios)) if name != "numpy reference" else 1.0))
    return rows


def format_bench(rows):
    head = f"{'contender':<20}{'updates/s':>12}{'chars/s':>12}{'min':>10}{'max':>10}{'ratio':>8}"
    lines = [head]
    for r in rows:
        lines.append(f"{r['contender']:<20}{r['updates_per_s']:>12,.0f}{r['chars_per_s']:>12,.0f}"
                     f"{r['min']:>10,.0f}{r['max']:>10,.0f}{r['ratio']:>7.1f}x")
    r = rows[0]
    lines.append(f"hidden {r['hidden_size']}, seq_length {r['seq_length']}, vocabulary "
                 f"{r['vocab_size']}, float64, batch 1; medians of {r['repeats']} interleaved "
                 f"repeats")
    return "\n".join(lines)
