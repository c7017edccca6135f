"""What the compiled loop carries between calls, and the interface the driver uses.

A training state runs the compiled loop for a chunk of updates and answers the driver's
questions between chunks (where the next sample starts, the validation loss, characters seen,
losses per character). ``TrainingState`` writes that interface down; ``TrainState`` (plain text)
and ``records.RecordTrainState`` (records mode) provide it, each over a ``CarriedState``.
"""
import math
from typing import Protocol

import numpy as np

from ..config import RunConfig
from ..compiled import Optimizer, train_updates
from ..model.layout import on_cache_line
from ..text.charids import as_ids
from ..text.corpus import stream_length
from ..variants import CLIP_MODES, HYPER, MAX_SLOTS, OPTIMIZERS

# what TrainState takes for the hyperparameters not given: RunConfig's defaults
HYPER_DEFAULTS = {name: RunConfig.model_fields[name].default for name in HYPER[2:]}


class TrainingState(Protocol):
    """What the driver (driver.train) needs of a training state."""

    model: object   # the Model whose weights the loop changes in place
    smooth: float   # min-char-rnn's smooth loss after the last update

    @property
    def updates(self) -> int:
        """Updates done."""

    @property
    def epoch(self) -> int:
        """Passes over the training text completed."""

    def run(self, losses, smooths) -> int:
        """Up to len(losses) updates; each one's loss and smooth loss go into the two arrays.
        Returns how many were done (fewer only at a non-finite loss)."""

    def next_input(self) -> tuple:
        """(first input id, recurrent state) from which a training sample starts now."""

    def val_loss(self, corpus, limit=0) -> tuple:
        """(summed loss, characters) on ``corpus``'s validation part (about its first ``limit``
        characters; 0: all of it)."""

    def chars_in(self, lo, hi) -> int:
        """Target characters of updates lo .. hi - 1 (all streams)."""

    def loss_per_char(self, window, lo, hi) -> float:
        """The loss per character of updates lo .. hi - 1, whose chunk losses are ``window``."""

    def losses_per_char(self, window, lo, hi):
        """Each of those chunk losses per character (an array)."""

    def chars_per_stream_update(self) -> float:
        """Characters one stream reads per update (the smooth loss's divisor)."""

    def arrays(self) -> dict:
        """What a checkpoint needs to continue: optimizer state, recurrent state, counters."""


class CarriedState:
    """What every training state carries between calls of the compiled loop: the optimizer's
    state vectors (``slots``) and hyperparameters (``hyper``, in variants.HYPER's order), the
    raw gradient of the last update, the recurrent state ``h`` (state_rows x B x H),
    ``counters`` (the loop's position, updates done, epoch) and the smooth loss. The model's
    weights change in place.

    ``hyper``: hyperparameters by RunConfig name (momentum, eps, ...), RunConfig's defaults for
    those not given.
    """

    def __init__(self, model, seq_length, learning_rate=0.1, clip=5.0, *, optimizer="adagrad",
                 clip_mode="value", batch_size=1, dropout=0.0, seed=0, **hyper):
        unknown = sorted(set(hyper) - set(HYPER_DEFAULTS))
        if unknown:
            raise TypeError(f"unknown hyperparameter {unknown[0]!r} (known: "
                            f"{', '.join(HYPER_DEFAULTS)})")
        values = {**HYPER_DEFAULTS, **hyper, "learning_rate": learning_rate, "clip": clip}
        self.model = model
        self.seq_length, self.batch_size = seq_length, batch_size
        self.dropout, self.seed = float(dropout), int(seed)
        self.hyper = np.array([values[name] for name in HYPER], dtype=model.dtype)
        self.optimizer = optimizer
        slots = len(OPTIMIZERS[optimizer].slots)
        # the vectors the loop streams start on a cache line (see model.layout.on_cache_line)
        model.to_cache_line()
        self.slots = [on_cache_line(np.zeros_like(model.theta)) if k < slots
                      else model.theta[:0].copy() for k in range(MAX_SLOTS)]
        # what the compiled update takes of the optimizer, packed once (the arrays change in
        # place)
        self.opt = Optimizer(OPTIMIZERS[optimizer].code, CLIP_MODES[clip_mode], self.hyper,
                             *self.slots)
        self.grad = on_cache_line(np.zeros_like(model.theta))
        self.h = np.zeros((model.state_rows, batch_size, model.hidden_size), model.dtype)
        self.counters = np.zeros(3, dtype=np.int64)
        self.smooth = -math.log(1.0 / model.vocab_size) * seq_length
        self.dims = model.dims(batch_size)

    @staticmethod
    def settings(config):
        """The keyword arguments of a state for ``config``."""
        c = config
        return dict(optimizer=c.optimizer, clip_mode=c.clip_mode, batch_size=c.batch_size,
                    dropout=c.dropout, seed=c.seed,
                    **{name: getattr(c, name) for name in HYPER_DEFAULTS})

    @property
    def mem(self):
        """AdaGrad's (or RMSProp's) accumulated squares; momentum's velocity; Adam's mean."""
        return self.slots[0]

    @property
    def updates(self):
        return int(self.counters[1])

    @property
    def epoch(self):
        return int(self.counters[2])

    def stream_state(self, b=0):
        """Stream b's recurrent state in the model's API shape."""
        return self.h[:, b].reshape(self.model.state_shape).copy()

    def arrays(self):
        """What a checkpoint needs to continue: optimizer state under its usual names."""
        names = OPTIMIZERS[self.optimizer].slots
        out = {name: self.slots[k] for k, name in enumerate(names)}
        return dict(out, h=self.h, counters=self.counters, smooth=np.array(self.smooth))

    def restore(self, arrays):
        """Continue from ``arrays`` (what ``arrays()`` gave, read back from a checkpoint):
        the optimizer's slots, the recurrent state, the counters and the smooth loss, exactly."""
        for k, name in enumerate(OPTIMIZERS[self.optimizer].slots):
            self.slots[k][:] = saved_array(arrays, name, self.slots[k].shape)
        self.h[:] = saved_array(arrays, "h", self.h.shape)
        self.counters[:] = saved_array(arrays, "counters", self.counters.shape)
        self.smooth = float(saved_array(arrays, "smooth", ()))


def saved_array(arrays, name, shape):
    """The saved array ``name``, which must have ``shape`` (None: any; a ValueError names it
    if not)."""
    if name not in arrays:
        raise ValueError(f"the checkpoint has no {name!r} (written before exact resume, or by "
                         f"another optimizer)")
    value = np.asarray(arrays[name])
    if shape is not None and value.shape != tuple(shape):
        raise ValueError(f"the checkpoint's {name!r} has shape {value.shape}, the run "
                         f"{tuple(shape)}")
    return value


class TrainState(CarriedState):
    """The state of plain-text training. ``counters`` = [data pointer, updates done, epoch].

    With batch_size B the training text is cut into B contiguous parts of equal length (as
    char-rnn and torch-rnn do), read side by side; B = 1 is min-char-rnn exactly.
    """

    def __init__(self, model, data, seq_length, learning_rate=0.1, clip=5.0, **settings):
        super().__init__(model, seq_length, learning_rate, clip, **settings)
        data = as_ids(data, model.vocab_size, "data")
        part = stream_length(len(data), seq_length, self.batch_size)
        # the training ids as the loop reads them: B contiguous parts, one row each
        self.data = data[:self.batch_size * part].reshape(self.batch_size, part)

    @classmethod
    def from_config(cls, model, data, config):
        return cls(model, data, config.seq_length, config.learning_rate, config.clip,
                   **cls.settings(config))

    def run(self, losses, smooths):
        done, self.smooth = train_updates(
            self.model.theta, self.grad, self.dims, self.opt, self.data, self.seq_length,
            self.dropout, self.seed, self.h, self.counters, self.smooth, losses, smooths)
        return done

    def next_input(self):
        """Stream 0's next input and state, after min-char-rnn's wrap rule (pointer back to 0
        and a zero state at the end of the text or at update 0)."""
        p = int(self.counters[0])
        if p + self.seq_length + 1 >= self.data.shape[1] or self.updates == 0:
            return int(self.data[0, 0]), self.model.zero_state()
        return int(self.data[0, p]), self.stream_state(0)

    def val_loss(self, corpus, limit=0):
        """On the validation tail (its first ``limit`` predicted characters; 0: all), from
        stream 0's carried state."""
        ids = corpus.val_ids[:limit + 1] if limit else corpus.val_ids
        return self.model.eval_loss(ids, self.stream_state(0))

    @property
    def epoch(self):
        """Passes completed: the loop counts a pass when it wraps, before the next update;
        a pointer at the end of the text has completed one already."""
        p = int(self.counters[0])
        done = self.updates > 0 and p + self.seq_length + 1 >= self.data.shape[1]
        return int(self.counters[2]) + int(done)

    def chars_in(self, lo, hi):
        return (hi - lo) * self.seq_length * self.batch_size

    def loss_per_char(self, window, lo, hi):
        return float(np.mean(window)) / self.seq_length

    def losses_per_char(self, window, lo, hi):
        return window / self.seq_length

    def chars_per_stream_update(self):
        return self.seq_length
