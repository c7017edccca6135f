"""The same training written in PyTorch the way the course's example is: the benchmarks' second
yardstick. Imported only when PyTorch is installed; it is never a dependency of rnnbench.

nn.RNN / nn.LSTM / nn.GRU (batch_first) on one-hot inputs, then nn.Linear; cross-entropy summed
over the chunk (averaged over the B streams, as rnnbench does); loss.backward(); gradients
clipped by value; AdaGrad as min-char-rnn writes it (w -= lr g / sqrt(m + eps), in PyTorch's
multi-tensor ops: torch.optim.Adagrad adds eps after the square root, which trains a different
model wherever gradients are tiny); the hidden state detached between chunks. The data
pointer, wrap and state reset follow min-char-rnn, like training/state.py's TrainState.
"""
import importlib.util

import numpy as np

from ..text.corpus import stream_length
from ..variants import CELLS


def available():
    """True when PyTorch is installed (found without importing it)."""
    return importlib.util.find_spec("torch") is not None


class TorchNetwork:
    """One rnnbench model's weights in PyTorch modules, trained update by update on one thread."""

    def __init__(self, model, data, seq_length=25, learning_rate=0.1, clip=5.0, batch_size=1):
        import torch  # an optional dependency, and a slow import: only when this network is made

        torch.set_num_threads(1)  # the comparison is one core against one core
        self.torch = torch
        dtype = torch.float64 if model.dtype == np.float64 else torch.float32
        kind = getattr(torch.nn, CELLS[model.cell].torch_module)
        extra = {"nonlinearity": model.activation} if model.cell == "rnn" else {}
        self.rnn = kind(model.vocab_size, model.hidden_size, model.num_layers, batch_first=True,
                        **extra).to(dtype)
        self.fc = torch.nn.Linear(model.hidden_size, model.vocab_size).to(dtype)
        state = model.to_torch_state_dict()
        with torch.no_grad():
            for name, p in [*self.rnn.named_parameters(prefix="rnn"),
                            *self.fc.named_parameters(prefix="fc")]:
                p.copy_(torch.from_numpy(np.ascontiguousarray(state[name])))
        # a cell with one bias (RNN, LSTM) has it in bias_ih; bias_hh stays zero and is not
        # trained (trained, it would take the same step again: twice the bias's learning rate)
        if len(CELLS[model.cell].biases) == 1:
            for name, p in self.rnn.named_parameters():
                if name.startswith("bias_hh"):
                    p.requires_grad_(False)
        self.params = [p for p in (*self.rnn.parameters(), *self.fc.parameters())
                       if p.requires_grad]
        self.mem = [torch.zeros_like(p) for p in self.params]
        self.lr, self.eps = learning_rate, 1e-8
        self.loss_fn = torch.nn.CrossEntropyLoss(reduction="sum")
        part = stream_length(len(data), seq_length, batch_size)
        self.data = torch.from_numpy(np.asarray(data[:part * batch_size], dtype=np.int64)
                                     .reshape(batch_size, part))
        self.V, self.T, self.B, self.clip, self.dtype = (model.vocab_size, seq_length, batch_size,
                                                         clip, dtype)
        self.cell, self.L, self.H = model.cell, model.num_layers, model.hidden_size
        self.hidden = None
        self.p = self.n = 0

    def _zero_state(self):
        h = self.torch.zeros(self.L, self.B, self.H, dtype=self.dtype)
        return (h, h.clone()) if self.cell == "lstm" else h

    def step(self):
        """One update; returns the chunk's loss (summed over time, averaged over streams)."""
        torch = self.torch
        T = self.T
        if self.p + T + 1 >= self.data.shape[1] or self.n == 0:
            self.p = 0
            self.hidden = self._zero_state()
        x = torch.nn.functional.one_hot(self.data[:, self.p:self.p + T], self.V).to(self.dtype)
        y = self.data[:, self.p + 1:self.p + T + 1]
        out, hidden = self.rnn(x, self.hidden)
        logits = self.fc(out)
        loss = self.loss_fn(logits.reshape(-1, self.V), y.reshape(-1)) / self.B
        for p in self.params:
            p.grad = None
        loss.backward()
        grads = [p.grad for p in self.params]
        torch._foreach_clamp_min_(grads, -self.clip)
        torch._foreach_clamp_max_(grads, self.clip)
        with torch.no_grad():  # AdaGrad: m += g^2; w -= lr g / sqrt(m + eps)
            torch._foreach_addcmul_(self.mem, grads, grads)
            root = torch._foreach_sqrt(torch._foreach_add(self.mem, self.eps))
            torch._foreach_addcdiv_(self.params, grads, root, value=-self.lr)
        self.hidden = tuple(h.detach() for h in hidden) if self.cell == "lstm" else hidden.detach()
        self.p += T
        self.n += 1
        return loss.item()
