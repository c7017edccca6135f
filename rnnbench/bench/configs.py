"""The configurations the bench measures: one Config per row, grouped into suites, and the
contenders that take turns on each."""
from dataclasses import dataclass

from ..model.model import Model

# the contenders, in the order they take turns; "jax update" is one jit of the update called
# per update, "jax loop" many updates in one jit (reference/jax.py)
CONTENDERS = ("numpy", "torch", "jax update", "jax loop", "rnnbench")
PEERS = CONTENDERS[:-1]


@dataclass(frozen=True)
class Config:
    """One benchmark row: a model and its batch shape."""

    cell: str
    hidden_size: int
    num_layers: int = 1
    dtype: str = "float64"
    batch_size: int = 1
    seq_length: int = 25

    @property
    def label(self):
        size = (f"{self.num_layers}x{self.hidden_size}" if self.num_layers > 1
                else str(self.hidden_size))
        shape = f" b{self.batch_size}" if self.batch_size > 1 else ""
        shape += f" s{self.seq_length}" if self.seq_length != 25 else ""
        return f"{self.cell} {size} {self.dtype.replace('float', 'f')}{shape}"

    def model(self, corpus):
        """The row's model on ``corpus``: tanh, seed 0, the same weights for every contender."""
        return Model.create(self.cell, corpus.vocab_size, self.hidden_size, self.num_layers,
                            "tanh", self.dtype, seed=0, chars=corpus.chars)

    @property
    def updates_per_call(self):
        """Updates per call of the compiled loop when timing: enough that the call's Python
        overhead vanishes, few enough that a call of a large model stays short."""
        size = self.seq_length * self.batch_size * self.hidden_size * self.num_layers / 25
        return max(1, min(200, int(20000 / size)))


RNN100, RNN100_F32, RNN512 = Config("rnn", 100), Config("rnn", 100, dtype="float32"), \
    Config("rnn", 512)
LSTM128, LSTM128_F32, GRU128, GRU128_F32 = Config("lstm", 128), \
    Config("lstm", 128, dtype="float32"), Config("gru", 128), Config("gru", 128, dtype="float32")
TORCH_RNN = Config("lstm", 128, 2, "float32", 50, 50)  # torch-rnn's benchmark setting
BIG = [Config("lstm", 256, 1, "float64", 32), Config("lstm", 256, 1, "float32", 32)]
LSTM256_B32_F32 = BIG[1]
GOAL_ROWS = [RNN100, RNN100_F32, RNN512, LSTM128, LSTM128_F32, GRU128, GRU128_F32, TORCH_RNN,
             *BIG]
QUICK_ROWS = [RNN100, RNN100_F32, LSTM128, GRU128]
CELL_ROWS = [Config(c, h, n, d, b) for c in ("lstm", "gru") for h in (128, 256)
             for n in (1, 2) for d in ("float64", "float32") for b in (1, 32)]
SUITES = {"goals": GOAL_ROWS, "quick": QUICK_ROWS, "cells": CELL_ROWS,
          "vanilla": [RNN100, RNN100_F32]}
