"""Compile (or load) every kernel once, so the first real run starts in under a second.

Numba's ``cache=True`` stores compiled kernels beside the sources (rnnbench/kernels/__pycache__)
when that folder is writable, else in a user-wide cache (NUMBA_CACHE_DIR chooses it). One set
of kernels serves every cell, activation, optimizer and batch size; float32 is a second set.
"""
import time

import numpy as np

from .. import compiled
from ..compiled import cache_dir
from ..config import RunConfig
from ..text.corpus import Corpus
from .driver import train
from .preload import load_in_background
from .split import SplitTrainState

__all__ = ["cache_dir", "kernels_cached", "load_in_background", "prepare_kernels", "warmup"]


def warmup(dtypes=("float64", "float32"), gradient_check=True, records=False, split=True):
    """Train, evaluate, sample and (``gradient_check``: the kernels of ``rnnbench
    gradcheck``, its ReLU-pattern kernel in float64 only) differentiate a tiny model in each
    dtype, (``records``) train one in records mode and (``split``) compile the kernels of a
    lone run's split batch; returns seconds per dtype (compile time on a cold cache, load
    time on a warm one)."""
    corpus = Corpus.from_text("warm up every kernel once.\n" * 8, 0.25, "<warmup>")
    seconds = {}
    for dtype in dtypes:
        t0 = time.perf_counter()
        config = RunConfig.build(dict(hidden_size=4, seq_length=5, updates=2, eval_every=1,
                                      sample_every=1, sample_length=3, dtype=dtype))
        model = train(config, corpus=corpus).model
        if gradient_check:
            ids = corpus.train_ids
            model.loss_and_grads(ids[:5], ids[1:6])
            if dtype == "float64":  # only rnnbench gradcheck's float64 check reads ReLU patterns
                model.loss_and_pattern(ids[:5], ids[1:6])
        if records:
            train(config.model_copy(update=dict(records="lines")), corpus=corpus)
        if split:
            SplitTrainState(model, corpus.train_ids, 5, batch_size=2, parts=2).run(
                np.zeros(0), np.zeros(0))  # compiles, trains nothing
        seconds[dtype] = time.perf_counter() - t0
    return seconds


KERNELS = {False: ("train_updates",), True: ("train_updates", "record_updates")}


def kernels_cached(dtypes=("float64",), records=False):
    """Whether Numba's cache holds the training loop (and ``records``: records mode's) compiled
    for each of ``dtypes`` (read from its index; False on a fresh install, after the kernels'
    sources changed, or when the index cannot be read)."""
    for name in KERNELS[bool(records)]:
        try:
            index = getattr(compiled, name)._cache._cache_file._load_index()
            weights = {str(key[0][0].dtype) for key in index}
        except Exception:  # noqa: BLE001 -- Numba's private API moved: assume a cold cache
            return False
        if not set(dtypes) <= weights:
            return False
    return True


def prepare_kernels(dtypes=("float64",), say=print, records=False):
    """Compile the kernels of ``dtypes`` (and ``records``: records mode's) here, once, before
    a grid's runs start, when Numba's cache lacks them, so that the grid's workers load them
    instead of each compiling them at the same time. ``say`` is told before (the wait is
    explained) and after (how long it took). Returns the seconds spent (0 when the cache was
    warm: nothing to do)."""
    dtypes = tuple(sorted(set(dtypes)))
    if kernels_cached(dtypes, records):
        return 0.0
    say("compiling kernels (first run after install), once, before the runs start ...")
    t0 = time.perf_counter()
    # a grid's runs do not check gradients, and its workers do not split their batches: those
    # kernels are left out (a fifth of the time, and more)
    warmup(dtypes, gradient_check=False, records=records, split=False)
    seconds = time.perf_counter() - t0
    say(f"compiling kernels (first run after install): {seconds:.0f} s")
    return seconds
