"""The model's shape as the kernels read it (``dims``, by name), and where each layer's weights
sit in the flat parameter vector ``theta``.

``dims`` (int64, in variants.DIMS' order): the cell and activation codes, V, H, L, the batch
size B (the one source of it), and what the cell table says of the cell: its gate blocks G,
its bias vectors per layer (2 where the recurrent term is gated separately, the GRU) and its
state rows per layer (2 where a cell state c is kept, the LSTM); then the streams S a loss is
averaged over and the first of them this chunk holds (S = B and 0, unless the chunk is one part
of a batch split over threads).

Per layer l (input size In = V for l = 0, else H): W_ih (G*H, In), W_hh (G*H, H), b_ih (G*H)
and, with two biases, b_hh (G*H); then Why (V, H), by (V). See model/layout.py.
"""
from ..variants import DIMS_INDEX
from .jit import kernel

CELL, ACT, VOCAB, HIDDEN, LAYERS, BATCH = (DIMS_INDEX[name] for name in (
    "cell", "activation", "vocab", "hidden", "layers", "batch"))
GATES, BIASES, STATE_ROWS = DIMS_INDEX["gates"], DIMS_INDEX["biases"], DIMS_INDEX["state_rows"]
STREAMS, FIRST = DIMS_INDEX["streams"], DIMS_INDEX["first"]


@kernel
def layer_offset(dims, l):
    """Start of layer l's block in theta (l = L: start of the output layer)."""
    V, H = dims[VOCAB], dims[HIDDEN]
    GH = dims[GATES] * H
    n_bias = dims[BIASES]
    o = 0
    for k in range(l):
        n_in = V if k == 0 else H
        o += GH * n_in + GH * H + n_bias * GH
    return o


@kernel
def layer_views(theta, dims, l):
    """(W_ih, W_hh, b_ih, b_hh) of layer l; b_hh is empty for a cell with one bias."""
    V, H = dims[VOCAB], dims[HIDDEN]
    GH = dims[GATES] * H
    n_in = V if l == 0 else H
    o = layer_offset(dims, l)
    Wih = theta[o:o + GH * n_in].reshape((GH, n_in))
    o += GH * n_in
    Whh = theta[o:o + GH * H].reshape((GH, H))
    o += GH * H
    bih = theta[o:o + GH]
    o += GH
    bhh = theta[o:o + GH] if dims[BIASES] == 2 else theta[o:o]
    return Wih, Whh, bih, bhh


@kernel
def output_views(theta, dims):
    V, H, L = dims[VOCAB], dims[HIDDEN], dims[LAYERS]
    o = layer_offset(dims, L)
    return theta[o:o + V * H].reshape((V, H)), theta[o + V * H:o + V * H + V]
