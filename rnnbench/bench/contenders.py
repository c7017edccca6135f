"""The contenders of a benchmark row, each a step function that trains one update (or a
compiled call of several): min-char-rnn in NumPy for the vanilla rows at batch 1, the same
cells in NumPy for the others, PyTorch when installed, and rnnbench's compiled loop."""
import numpy as np

from ..reference.cells import ReferenceNetwork
from ..reference.min_char_rnn import ReferenceRNN
from ..reference.torch import TorchNetwork, available
from ..training.state import TrainState
from .configs import CONTENDERS


def contenders(corpus, cfg, names=CONTENDERS):
    """{name: step function returning updates done} for one configuration, each warmed up."""
    model = cfg.model(corpus)
    T, B, data = cfg.seq_length, cfg.batch_size, corpus.train_ids
    steps = {}
    if "numpy" in names:
        ref = (ReferenceRNN(model.params, data, T) if cfg.cell == "rnn" and B == 1
               else ReferenceNetwork(model.copy(), data, T, batch_size=B))
        steps["numpy"] = lambda: (ref.step(), 1)[1]
    if "torch" in names and available():
        net = TorchNetwork(model.copy(), data, T, batch_size=B)
        steps["torch"] = lambda: (net.step(), 1)[1]
    if "rnnbench" in names:
        fast = TrainState(model.copy(), data, T, batch_size=B)
        scratch = np.zeros(cfg.updates_per_call)
        steps["rnnbench"] = lambda: fast.run(scratch, scratch)
    for step in steps.values():
        step()  # compile, load or warm up before timing
    return steps
