"""A model's arrays under PyTorch's names: nn.RNN / nn.LSTM / nn.GRU (registered as ``rnn``,
batch_first) and nn.Linear (``fc``). NumPy in and out; PyTorch is never imported.

PyTorch keeps two bias vectors per layer, bias_ih and bias_hh. A cell with two (the GRU) maps
them one to one; a cell with one (RNN, LSTM) gives it to bias_ih and zeros to bias_hh (only
their sum matters), and takes their sum back.
"""
import numpy as np

from ..variants import CELLS
from .layout import layer_suffix

TORCH_BIASES = ("bias_ih", "bias_hh")


def to_torch(cell, num_layers, values):
    """{PyTorch name: array} of ``values`` (our names, every array of the layout)."""
    v = {k: np.array(a) for k, a in values.items()}
    out = {}
    for layer in range(num_layers):
        s, t = layer_suffix(layer), f"_l{layer}"
        out["rnn.weight_ih" + t] = v["Wxh" + s]
        out["rnn.weight_hh" + t] = v["Whh" + s]
        ours = [v[b + s] for b in CELLS[cell].biases]
        ours += [np.zeros_like(ours[0])] * (len(TORCH_BIASES) - len(ours))
        for name, array in zip(TORCH_BIASES, ours):
            out[f"rnn.{name}{t}"] = array
    out["fc.weight"] = v["Why"]
    out["fc.bias"] = v["by"]
    return out


def torch_shape(state_dict, cell):
    """(vocabulary, hidden size, layers) of a PyTorch state dict of ``cell``."""
    if cell not in CELLS:
        raise ValueError(f"unknown cell {cell!r} (cells: {', '.join(CELLS)})")
    wih = np.asarray(state_dict["rnn.weight_ih_l0"])
    layers = sum(1 for k in state_dict if k.startswith("rnn.weight_ih_l"))
    return wih.shape[1], wih.shape[0] // CELLS[cell].n_gates, layers


def from_torch(state_dict, cell, params):
    """Copy a PyTorch state dict of ``cell`` into ``params`` (our named views)."""
    sd = {k: np.asarray(v) for k, v in state_dict.items()}
    biases = CELLS[cell].biases
    layers = sum(1 for k in sd if k.startswith("rnn.weight_ih_l"))
    for layer in range(layers):
        s, t = layer_suffix(layer), f"_l{layer}"
        params["Wxh" + s][...] = sd["rnn.weight_ih" + t]
        params["Whh" + s][...] = sd["rnn.weight_hh" + t]
        theirs = [sd[f"rnn.{name}{t}"] for name in TORCH_BIASES]
        if len(biases) == len(theirs):
            for ours, array in zip(biases, theirs):
                params[ours + s][...] = array
        else:  # one bias of ours: theirs added
            params[biases[0] + s][...] = theirs[0] + theirs[1]
    params["Why"][...] = sd["fc.weight"]
    params["by"][...] = sd["fc.bias"]
