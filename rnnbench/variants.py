"""The variants rnnbench offers, one table each: cells, activations, optimizers, clip modes.

Everything else is derived from these tables: RunConfig's choices and default learning rates,
the model's parameter layout and state rows, the PyTorch names, the checkpoint's optimizer
slots, and the codes the compiled kernels dispatch on (each kernel's dispatch ends in an
error, so a code without its kernel is a clear failure, never another variant's arithmetic).
Also the names of the kernels' packed arrays: ``hyper`` (the optimizer's hyperparameters) and
``dims`` (the model's shape), defined here once.

Plain Python: no NumPy, no Numba, nothing else of rnnbench, so that anything may read it.
See README, "Adding a cell / an optimizer".
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Cell:
    """A recurrent cell. Per layer it has ``len(gates)`` blocks of H rows in W_ih and W_hh (in
    PyTorch's order), the bias vectors ``biases`` (one, or two where the recurrent term is gated
    separately, as the GRU's reset gate does), and ``state_rows`` vectors of recurrent state (h,
    and the LSTM's c)."""

    code: int            # what the kernels dispatch on (dims[CELL])
    gates: tuple         # gate blocks, in PyTorch's order
    biases: tuple        # bias vectors per layer: their names in Model.params
    state_rows: int      # recurrent state vectors per layer
    torch_module: str    # the torch.nn class with these equations and this gate order

    @property
    def n_gates(self):
        return len(self.gates)


CELLS = {
    "rnn": Cell(0, ("h",), ("bh",), 1, "RNN"),
    "lstm": Cell(1, ("i", "f", "g", "o"), ("bh",), 2, "LSTM"),
    "gru": Cell(2, ("r", "z", "n"), ("bxh", "bhh"), 1, "GRU"),
}
# the cells whose forget gate forget_bias initialises
FORGET_GATE_CELLS = tuple(name for name, c in CELLS.items() if "f" in c.gates)

# hidden activation -> kernel code
ACTIVATIONS = {"tanh": 0, "relu": 1, "sigmoid": 2}


@dataclass(frozen=True)
class Optimizer:
    """An update rule: its kernel code, the state vectors it keeps (by their names in a
    checkpoint), the RunConfig hyperparameters it reads besides learning_rate and clip, and its
    default learning rate."""

    code: int
    slots: tuple
    reads: tuple
    learning_rate: float


# Learning rate when none is given: the recipe's 0.1 for AdaGrad, the DD2424 notes' 1e-3 for
# RMSProp, Kingma & Ba's 1e-3 for Adam; plain and momentum SGD on summed chunk losses need less.
OPTIMIZERS = {
    "sgd": Optimizer(0, (), (), 0.003),
    "momentum": Optimizer(1, ("velocity",), ("momentum",), 0.0003),
    "adagrad": Optimizer(2, ("mem",), ("eps",), 0.1),
    "rmsprop": Optimizer(3, ("mean_square",), ("decay", "eps"), 1e-3),
    "adam": Optimizer(4, ("m", "v"), ("beta1", "beta2", "eps"), 1e-3),
}
MAX_SLOTS = 2  # the kernels pass two slot arrays (empty ones where an optimizer keeps fewer)

# every optimizer slot name, each once: the arrays a checkpoint may hold for them
SLOT_NAMES = tuple(dict.fromkeys(s for o in OPTIMIZERS.values() for s in o.slots))

CLIP_MODES = {"value": 0, "norm": 1, "none": 2}


def _index(names):
    return {name: i for i, name in enumerate(names)}


# hyper: the optimizer's hyperparameters in one array of theta's dtype, in this order (RunConfig
# field names); the kernels read them by these indices.
HYPER = ("learning_rate", "clip") + tuple(dict.fromkeys(
    r for o in OPTIMIZERS.values() for r in o.reads))
HYPER_INDEX = _index(HYPER)

# dims: the model's shape as the kernels take it (int64), in this order. "streams" and "first":
# the batch a chunk's loss is averaged over and where this chunk's streams start in it (a part
# of a split batch, training/split.py); a whole batch: streams = batch, first = 0.
DIMS = ("cell", "activation", "vocab", "hidden", "layers", "batch", "gates", "biases",
        "state_rows", "streams", "first")
DIMS_INDEX = _index(DIMS)
