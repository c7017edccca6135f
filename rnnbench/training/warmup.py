"""Compile (or load) every kernel once, so the first real run starts in under a second.

Numba's ``cache=True`` stores compiled kernels beside the sources (rnnbench/kernels/__pycache__)
when that folder is writable, else in a user-wide cache (NUMBA_CACHE_DIR chooses it). One set
of kernels serves every cell, activation, optimizer and batch size; float32 is a second set.
"""
import threading
import time

import numpy as np

from ..compiled import cache_dir
from ..config import RunConfig
from ..model.model import Model
from ..text.corpus import Corpus
from .driver import train
from .state import TrainState

__all__ = ["cache_dir", "warmup", "load_in_background"]
WARM_TEXT = "warm up every kernel once. " * 8


def warmup(dtypes=("float64", "float32")):
    """Train, evaluate, sample and differentiate a tiny model in each dtype; returns seconds
    per dtype (compile time on a cold cache, load time on a warm one)."""
    corpus = Corpus.from_text(WARM_TEXT, 0.25, "<warmup>")
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


def load_kernels(dtype):
    """Load (or compile) the kernels a plain-text run of ``dtype`` calls (the update loop,
    validation, sampling), on a tiny model, with nothing to do: the calls the driver makes
    before its clocks, made earlier. Leaves thread limits alone (safe on a thread)."""
    corpus = Corpus.from_text(WARM_TEXT, 0.25, "<warmup>")
    config = RunConfig.build(dict(hidden_size=4, seq_length=5, updates=1, dtype=dtype))
    model = Model.create("rnn", corpus.vocab_size, 4, dtype=dtype, seed=0, chars=corpus.chars)
    run = TrainState.from_config(model, corpus.train_ids, config)
    run.run(np.zeros(0), np.zeros(0))
    run.val_loss(corpus, 1)
    model.sample_ids(model.encode(model.chars[0]), 1, seed=0)


def load_in_background(config):
    """Start loading ``config``'s kernels on a thread of its own (plain text only: records mode
    calls other ones), so that ``rnnbench train`` reads its text and counts its baselines
    meanwhile; the run's own first calls wait for it (Numba's compiler lock). A failure
    here is silent: the run loads them itself, and reports its own errors."""
    if config.records:
        return None

    def load():
        try:
            load_kernels(config.dtype)
        except Exception:  # noqa: BLE001 -- the run's own calls raise it properly
            pass
    thread = threading.Thread(target=load, name="rnnbench-kernels", daemon=True)
    thread.start()
    return thread
