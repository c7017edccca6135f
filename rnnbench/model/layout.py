"""Where each parameter lives in a model's flat vector, and how big its recurrent state is: both
from the cell table (variants.CELLS); and where the vector itself starts in memory."""
import math

import numpy as np

from ..variants import CELLS, FORGET_GATE_CELLS


def layer_suffix(layer):
    """'' for the first layer (min-char-rnn's names), '_l1', '_l2', ... above it."""
    return f"_l{layer}" if layer else ""


def param_layout(cell, vocab_size, hidden_size, num_layers=1):
    """[(name, shape)] in the order the kernels expect them in the flat vector.

    Per layer: Wxh (G*H, inputs), Whh (G*H, H) and the cell's biases (G*H each): one, bh, or
    for the GRU PyTorch's two, bxh and bhh, because its reset gate multiplies W_hn h + b_hn
    only. Gate blocks in PyTorch's order (LSTM i, f, g, o; GRU r, z, n). Then Why (V, H) and
    by (V).
    """
    if cell not in CELLS:
        raise ValueError(f"unknown cell {cell!r} (cells: {', '.join(CELLS)})")
    if num_layers < 1:
        raise ValueError(f"num_layers must be >= 1, got {num_layers}")
    V, H = vocab_size, hidden_size
    spec = CELLS[cell]
    GH = spec.n_gates * H
    layout = []
    for layer in range(num_layers):
        s = layer_suffix(layer)
        n_in = V if layer == 0 else H
        layout += [("Wxh" + s, (GH, n_in)), ("Whh" + s, (GH, H))]
        layout += [(bias + s, (GH,)) for bias in spec.biases]
    return layout + [("Why", (V, H)), ("by", (V,))]


def parameter_count(cell, vocab_size, hidden_size, num_layers=1):
    """Entries of the flat parameter vector, in exact integers."""
    return sum(math.prod(shape) for _, shape in param_layout(cell, vocab_size, hidden_size,
                                                                 num_layers))


def state_rows(cell, num_layers):
    """Recurrent state vectors of one stream: each layer's h (and the LSTM's c)."""
    return CELLS[cell].state_rows * num_layers


def is_bias(name):
    return name.startswith("b")


def forget_gate_rows(cell, hidden_size):
    """The rows of the forget gate in a layer's input bias (what forget_bias sets)."""
    if cell not in FORGET_GATE_CELLS:
        raise ValueError("forget_bias applies to the "
                         + " and ".join(c.upper() for c in FORGET_GATE_CELLS) + " only")
    f = CELLS[cell].gates.index("f")
    return slice(f * hidden_size, (f + 1) * hidden_size)


CACHE_LINE = 64  # bytes


def on_cache_line(a):
    """``a`` if its data starts on a cache line (CACHE_LINE bytes), else a copy that does.
    NumPy's large arrays start 16 bytes past one, and a theta there made the float64 update 8%
    (rnn 100) to 16% (lstm 128) slower: every row of W_hh that the compiled loop reads splits
    cache lines."""
    if a.ctypes.data % CACHE_LINE == 0:
        return a
    buf = np.empty(a.nbytes + CACHE_LINE, dtype=np.uint8)
    start = -buf.ctypes.data % CACHE_LINE
    out = buf[start:start + a.nbytes].view(a.dtype).reshape(a.shape)
    out[...] = a
    return out
