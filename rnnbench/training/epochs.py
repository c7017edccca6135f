"""Epochs as the recipe counts them: one epoch is one pass of the data pointer over the training
text (each of the B streams over its part; in records mode, every stream over its block of
records). ``epochs`` in a config is turned into the number of updates those passes take, from
the text, before a run starts."""
import math

import numpy as np

from ..text.corpus import stream_length
from .records import stream_blocks


def updates_per_epoch(config, corpus):
    """Updates one pass takes. Plain text: the pointer reads chunks at 0, T, 2T, ... while a
    chunk and its next character fit (min-char-rnn's wrap rule, kernels/loops.py), so a
    stream of N characters takes 1 + (N - T - 2) // T updates (at least 1). Records mode: each
    record takes ceil(length / T) chunks; an epoch ends when the slowest stream has read its
    block."""
    T, B = config.seq_length, config.batch_size
    if getattr(corpus, "end_symbol", None):
        chunks = -(-np.diff(corpus.train_bounds) // T)
        blocks = stream_blocks(corpus.n_train, B)
        return int(max(chunks[lo:hi].sum() for lo, hi in blocks))
    N = stream_length(len(corpus.train_ids), T, B)
    return 1 + max(0, (N - T - 2) // T)


def with_epochs(config, corpus):
    """``config`` with ``updates`` set from ``epochs`` (unchanged when epochs is not set)."""
    if config.epochs is None:
        return config
    return config.replace(updates=max(1, math.ceil(config.epochs
                                                   * updates_per_epoch(config, corpus))))
