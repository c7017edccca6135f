"""The contenders of a benchmark row, each a step function that trains one update (or a
compiled call of several): min-char-rnn in NumPy for the vanilla rows at batch 1, the same
cells in NumPy for the others, PyTorch and JAX (both forms) when installed, and rnnbench's
compiled loop. Before timing, each peer's first losses are checked against rnnbench's: a peer
that trains something else is an error, not a row."""
import numpy as np

from ..reference import jax as jax_reference
from ..reference import torch as torch_reference
from ..reference.cells import ReferenceNetwork
from ..reference.min_char_rnn import ReferenceRNN
from ..training.state import TrainState
from .configs import CONTENDERS

CHECKED = 3  # first losses compared with rnnbench's
# relative difference allowed between a peer's first losses and rnnbench's: float64 agrees to
# rounding; float32 sums in another order (and min-char-rnn computes in float64 regardless)
AGREE_RTOL = {"float64": 1e-9, "float32": 1e-4}


class ContenderMismatch(RuntimeError):
    """A peer's first losses differ from rnnbench's: it does not train the same thing."""


def available(name):
    """Whether contender ``name`` can run here (PyTorch and JAX are optional)."""
    if name == "torch":
        return torch_reference.available()
    if name.startswith("jax"):
        return jax_reference.available()
    return name in CONTENDERS


def _peer(name, model, data, T, B, k, cell):
    """(step function, first losses) of peer ``name``, warmed up (compiled) on the way."""
    if name == "numpy":
        ref = (ReferenceRNN(model.params, data, T) if cell == "rnn" and B == 1
               else ReferenceNetwork(model, data, T, batch_size=B))
        first = [ref.step()[0] for _ in range(CHECKED)]
        return (lambda: (ref.step(), 1)[1]), first
    if name == "torch":
        net = torch_reference.TorchNetwork(model, data, T, batch_size=B)
        first = [net.step() for _ in range(CHECKED)]
        return (lambda: (net.step(), 1)[1]), first
    if name in ("jax update", "jax loop"):
        kind = jax_reference.JaxUpdate if name == "jax update" else jax_reference.JaxLoop
        net = kind(model, data, T, batch_size=B)
        net.run(k)  # compiles; both forms timed as k updates a call, as rnnbench is
        return (lambda: net.run(k)), list(net.losses()[:CHECKED])
    raise ValueError(f"unknown contender {name!r} (known: {', '.join(CONTENDERS)})")


def contenders(corpus, cfg, names=CONTENDERS):
    """{name: step function returning updates done} for one configuration, each warmed up, and
    {peer: largest relative difference of its first losses from rnnbench's}."""
    model = cfg.model(corpus)
    T, B, data, k = cfg.seq_length, cfg.batch_size, corpus.train_ids, cfg.updates_per_call
    first = np.zeros(CHECKED)
    TrainState(model.copy(), data, T, batch_size=B).run(first, np.zeros(CHECKED))
    steps, agreement = {}, {}
    for name in names:
        if name == "rnnbench" or not available(name):
            continue
        steps[name], losses = _peer(name, model.copy(), data, T, B, k, cfg.cell)
        n = len(losses)
        diff = float(np.max(np.abs(np.asarray(losses, float) - first[:n]) / np.abs(first[:n])))
        if not diff <= AGREE_RTOL[cfg.dtype]:
            raise ContenderMismatch(
                f"{cfg.label}: the {name} contender's first {n} losses "
                f"{np.round(losses, 6).tolist()} differ from rnnbench's "
                f"{np.round(first[:n], 6).tolist()} (relative {diff:.1e})")
        agreement[name] = diff
    if "rnnbench" in names:
        fast = TrainState(model.copy(), data, T, batch_size=B)
        scratch = np.zeros(k)
        steps["rnnbench"] = lambda: fast.run(scratch, scratch)
        steps["rnnbench"]()  # compile or load before timing
    return steps, agreement
