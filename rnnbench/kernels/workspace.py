"""The scratch arrays of one chunk of T steps, allocated once per kernel call and passed around
as one tuple read by the names below (``ws[LOGITS]``: a plain tuple with named indices
compiles several seconds faster than a named tuple). Activation buffers are 2-D with row
r = t*B + b (time-major), so the B streams of one step are adjacent rows; ``hs`` and ``cs``
have B more rows in front: the state the chunk starts from. Keep
training/resources.workspace_bytes, which estimates their size before a run, in step with
this."""
import numpy as np

from .jit import kernel
from .shapes import BATCH, BIASES, GATES, HIDDEN, LAYERS, STATE_ROWS, VOCAB

WORKSPACE = (
    "hs",      # (L, (T+1)B, H) h of each layer, rows 0..B-1: the starting state
    "cs",      # (L, (T+1)B, H) the cell state of a cell that keeps one (else 0 layers)
    "acts",    # (L, TB, GH)    gate activations of a gated cell (else 0 layers)
    "aux",     # (L, TB, H)     a gated cell's per-step extra: LSTM act(c), GRU W_hn h + b_hn
    "ys",      # (L, TB, H)     layer outputs after dropout (0 layers without dropout)
    "masks",   # (L, TB, H)     dropout masks
    "xi",      # (TB, GH)       input terms; in BPTT d(pre-activation)
    "dhh",     # (TB, GH)       d(recurrent term) where it differs from xi's (two biases: GRU)
    "hh",      # (B, GH)        W_hh h of one step
    "logits",  # (TB, V)        the output layer; probabilities after the softmax
    "dcur",    # (TB, H)        dL/d(layer output)
    "dbelow",  # (TB, H)        dL/d(input of the layer): the next layer down's dcur
    "dnext",   # (B, H)         dL/dh from the step after
    "dcnext",  # (B, H)         LSTM dL/dc from the step after; GRU scratch
    "tmp",     # (2, H)         scratch of a cell's backward step
)
(HS, CS, ACTS, AUX, YS, MASKS, XI, DHH, HH, LOGITS, DCUR, DBELOW, DNEXT, DCNEXT,
 TMP) = range(len(WORKSPACE))


@kernel
def workspace(dims, T, like, dropout):
    """The workspace for chunks of up to T steps, in ``like``'s dtype (in WORKSPACE's order)."""
    V, H, L, B = dims[VOCAB], dims[HIDDEN], dims[LAYERS], dims[BATCH]
    GH = dims[GATES] * H
    TB = T * B
    dt = like.dtype
    gated = L if dims[GATES] > 1 else 0
    n_drop = L if dropout > 0 else 0
    return (
        np.zeros((L, (T + 1) * B, H), dtype=dt),
        np.zeros((L if dims[STATE_ROWS] == 2 else 0, (T + 1) * B, H), dtype=dt),
        np.zeros((gated, TB, GH), dtype=dt),
        np.zeros((gated, TB, H), dtype=dt),
        np.zeros((n_drop, TB, H), dtype=dt),
        np.zeros((n_drop, TB, H), dtype=dt),
        np.zeros((TB, GH), dtype=dt),
        np.zeros((TB if dims[BIASES] == 2 else 0, GH), dtype=dt),
        np.zeros((B, GH), dtype=dt),
        np.zeros((TB, V), dtype=dt),
        np.zeros((TB, H), dtype=dt),
        np.zeros((TB, H), dtype=dt),
        np.zeros((B, H), dtype=dt),
        np.zeros((B, H), dtype=dt),
        np.zeros((2, H), dtype=dt))
