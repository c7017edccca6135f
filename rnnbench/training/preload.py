"""Load the kernels a plain-text run calls (the update loop, validation, sampling) on a thread
of its own, as ``rnnbench train`` starts: this module imports no more than they need (Numba,
the model; not pandas), so the loading begins before the command's other imports, and Numba's
LLVM work overlaps them."""
import threading

import numpy as np

from ..config import RunConfig
from ..model.model import Model
from ..text.corpus import Corpus
from .state import TrainState

WARM_TEXT = "warm up every kernel once. " * 8


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
