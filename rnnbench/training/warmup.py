"""Compile (or load) every kernel once, so the first real run starts in under a second.

Numba's ``cache=True`` stores compiled kernels beside the sources (rnnbench/kernels/__pycache__)
when that folder is writable, else in a user-wide cache (NUMBA_CACHE_DIR chooses it). One set
of kernels serves every cell, activation, optimizer and batch size; float32 is a second set.
"""
import time

from ..compiled import cache_dir
from ..config import RunConfig
from ..text.corpus import Corpus
from .driver import train

__all__ = ["cache_dir", "warmup"]


def warmup(dtypes=("float64", "float32")):
    """Train, evaluate, sample and differentiate a tiny model in each dtype; returns seconds
    per dtype (compile time on a cold cache, load time on a warm one)."""
    corpus = Corpus.from_text("warm up every kernel once. " * 8, 0.25, "<warmup>")
    seconds = {}
    for dtype in dtypes:
        t0 = time.perf_counter()
        config = RunConfig.build(dict(hidden_size=4, seq_length=5, updates=2, eval_every=1,
                                      sample_every=1, sample_length=3, dtype=dtype))
        model = train(config, corpus=corpus).model
        ids = corpus.train_ids
        model.loss_and_grads(ids[:5], ids[1:6])
        model.loss_and_pattern(ids[:5], ids[1:6])
        seconds[dtype] = time.perf_counter() - t0
    return seconds
