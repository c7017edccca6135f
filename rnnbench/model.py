"""Model: one flat parameter vector with named views, and the Python face of the kernels."""
import json
import os
from pathlib import Path

import numpy as np

CELLS = ("rnn",)
ACTIVATIONS = ("tanh",)


def param_layout(cell, vocab_size, hidden_size, num_layers=1):
    """[(name, shape)] in the order the kernels expect them in the flat vector."""
    if cell != "rnn" or num_layers != 1:
        raise ValueError(f"cell={cell!r} with num_layers={num_layers} is not implemented yet")
    V, H = vocab_size, hidden_size
    return [("Wxh", (H, V)), ("Whh", (H, H)), ("bh", (H,)), ("Why", (V, H)), ("by", (V,))]


def is_bias(name):
    return name.startswith("b")


class Model:
    """A character-level recurrent network. ``params`` are views into the flat array ``theta``.

    ``chars`` (the vocabulary, when known) lets ``sample`` take and return text.
    """

    def __init__(self, cell, vocab_size, hidden_size, num_layers=1, activation="tanh",
                 dtype="float64", theta=None, chars=None):
        if cell not in CELLS:
            raise ValueError(f"cell {cell!r} is not implemented yet (cells so far: {CELLS})")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation {activation!r} is not implemented yet")
        self.cell, self.activation = cell, activation
        self.vocab_size, self.hidden_size, self.num_layers = vocab_size, hidden_size, num_layers
        self.dtype = np.dtype(dtype)
        self.layout = param_layout(cell, vocab_size, hidden_size, num_layers)
        size = sum(int(np.prod(shape)) for _, shape in self.layout)
        if theta is None:
            theta = np.zeros(size, dtype=self.dtype)
        theta = np.ascontiguousarray(theta, dtype=self.dtype)
        if theta.shape != (size,):
            raise ValueError(f"theta has shape {theta.shape}, the layout needs ({size},)")
        self.theta = theta
        self.params = self.views(theta)
        self.chars = list(chars) if chars is not None else None
        if self.chars is not None and len(self.chars) != vocab_size:
            raise ValueError(f"{len(self.chars)} chars for a vocabulary of {vocab_size}")

    @classmethod
    def create(cls, cell="rnn", vocab_size=None, hidden_size=100, num_layers=1,
               activation="tanh", dtype="float64", seed=0, init_scale=0.01, chars=None):
        """Weights randn * init_scale (drawn in layout order from ``seed``), biases zero."""
        if vocab_size is None:
            if chars is None:
                raise ValueError("give vocab_size (or chars)")
            vocab_size = len(chars)
        model = cls(cell, vocab_size, hidden_size, num_layers, activation, dtype, chars=chars)
        rng = np.random.default_rng(seed)
        for name, view in model.params.items():
            if not is_bias(name):
                view[...] = rng.standard_normal(view.shape) * init_scale
        return model

    def views(self, flat):
        """Named, shaped views into any flat vector with this model's layout."""
        out, offset = {}, 0
        for name, shape in self.layout:
            n = int(np.prod(shape))
            out[name] = flat[offset:offset + n].reshape(shape)
            offset += n
        return out

    def zero_state(self):
        return np.zeros(self.hidden_size, dtype=self.dtype)

    def copy(self):
        return Model(self.cell, self.vocab_size, self.hidden_size, self.num_layers,
                     self.activation, self.dtype, self.theta.copy(), self.chars)

    # -- loss, gradients, sampling ---------------------------------------------------------

    def _ids(self, seq, what):
        if isinstance(seq, str):
            seq = self.encode(seq)
        ids = np.ascontiguousarray(seq, dtype=np.int64)
        if ids.ndim != 1 or ids.size == 0:
            raise ValueError(f"{what} must be a non-empty 1-D sequence of character ids")
        if ids.min() < 0 or ids.max() >= self.vocab_size:
            raise ValueError(f"{what} holds ids outside [0, {self.vocab_size})")
        return ids

    def _state(self, h0):
        if h0 is None:
            return self.zero_state()
        h0 = np.ascontiguousarray(h0, dtype=self.dtype).reshape(-1)
        if h0.shape != (self.hidden_size,):
            raise ValueError(f"h0 must have {self.hidden_size} values, got {h0.shape}")
        return h0

    def loss_and_grads(self, inputs, targets, h0=None):
        """(loss summed over the chunk in nats, raw gradients by name, last hidden state)."""
        from .kernels.rnn import rnn_loss_and_grads
        xs, ys = self._ids(inputs, "inputs"), self._ids(targets, "targets")
        if xs.shape != ys.shape:
            raise ValueError("inputs and targets must have the same length")
        grad = np.zeros_like(self.theta)
        h_last = self.zero_state()
        loss = rnn_loss_and_grads(self.theta, grad, self.vocab_size, self.hidden_size, xs, ys,
                                  self._state(h0), h_last, True)
        return float(loss), self.views(grad), h_last

    def loss(self, inputs, targets, h0=None):
        """The chunk's summed loss only (no backward pass): what a gradient check perturbs."""
        from .kernels.rnn import rnn_loss_and_grads
        xs, ys = self._ids(inputs, "inputs"), self._ids(targets, "targets")
        h_last = self.zero_state()
        no_grad = np.empty(0, dtype=self.dtype)
        return float(rnn_loss_and_grads(self.theta, no_grad, self.vocab_size,
                                        self.hidden_size, xs, ys, self._state(h0), h_last, False))

    def eval_loss(self, ids, h0=None):
        """(summed loss, predicted characters) of reading ``ids`` from state ``h0`` (zero if None)."""
        from .kernels.rnn import rnn_eval_loss
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if ids.size < 2:
            return 0.0, 0
        total, n = rnn_eval_loss(self.theta, self.vocab_size, self.hidden_size, ids,
                                 self._state(h0), 256)
        return float(total), int(n)

    def sample_ids(self, prime_ids, length, temperature=1.0, greedy=False, seed=0, h=None):
        """Feed ``prime_ids`` from state ``h`` (zero if None), then draw ``length`` new ids."""
        from .kernels.rnn import rnn_sample
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if length < 0:
            raise ValueError(f"length must be >= 0, got {length}")
        prime = self._ids(prime_ids, "prime")
        return rnn_sample(self.theta, self.vocab_size, self.hidden_size, self._state(h), prime,
                          int(length), self.dtype.type(temperature), bool(greedy), int(seed))

    def sample(self, prime="\n", length=200, temperature=1.0, greedy=False, seed=0, h=None):
        """Text continuing ``prime`` (not included): needs ``chars``."""
        if not prime:
            raise ValueError("the prime text must hold at least one character")
        return self.decode(self.sample_ids(self.encode(prime), length, temperature, greedy,
                                           seed, h))

    def encode(self, text):
        if self.chars is None:
            raise ValueError("this model has no vocabulary (chars); pass character ids")
        index = {c: i for i, c in enumerate(self.chars)}
        missing = sorted({c for c in text if c not in index})
        if missing:
            raise ValueError(f"characters not in the vocabulary: {''.join(missing)!r}")
        return np.array([index[c] for c in text], dtype=np.int64)

    def decode(self, ids):
        if self.chars is None:
            raise ValueError("this model has no vocabulary (chars)")
        return "".join(self.chars[i] for i in ids)

    # -- files -----------------------------------------------------------------------------

    def meta(self):
        return dict(cell=self.cell, vocab_size=self.vocab_size, hidden_size=self.hidden_size,
                    num_layers=self.num_layers, activation=self.activation,
                    dtype=self.dtype.name, chars=self.chars)

    def save(self, path, arrays=None, info=None):
        """Write an .npz checkpoint atomically: theta, the model description, and extras.

        ``arrays`` (name -> array, e.g. optimizer state) and ``info`` (JSON-able dict) ride along
        and come back from ``load_checkpoint``.
        """
        path = Path(path)
        payload = {"theta": self.theta,
                   "meta": np.array(json.dumps(self.meta())),
                   "info": np.array(json.dumps(info or {}))}
        for name, arr in (arrays or {}).items():
            payload["x_" + name] = arr
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.savez(f, **payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path):
        return load_checkpoint(path)[0]

    # -- PyTorch layout (NumPy in and out; PyTorch is never imported) ----------------------

    def to_torch_state_dict(self, values=None):
        """This model's arrays (or ``values`` with the same keys) under nn.RNN + nn.Linear names.

        PyTorch has two hidden biases where rnnbench has one: ours goes to bias_ih, zeros to
        bias_hh (the sum is what matters).
        """
        values = self.params if values is None else values
        v = {k: np.array(values[k]) for k, _ in self.layout}
        return {"rnn.weight_ih_l0": v["Wxh"], "rnn.weight_hh_l0": v["Whh"],
                "rnn.bias_ih_l0": v["bh"], "rnn.bias_hh_l0": np.zeros_like(v["bh"]),
                "fc.weight": v["Why"], "fc.bias": v["by"]}

    @classmethod
    def from_torch_state_dict(cls, state_dict, cell="rnn", activation="tanh", dtype=None,
                              chars=None):
        """A Model from nn.RNN + nn.Linear weights (tensors or arrays); the two biases add."""
        sd = {k: np.asarray(v) for k, v in state_dict.items()}
        wih = sd["rnn.weight_ih_l0"]
        dtype = dtype or wih.dtype.name
        H, V = wih.shape
        model = cls(cell, V, H, 1, activation, dtype, chars=chars)
        p = model.params
        p["Wxh"][...] = wih
        p["Whh"][...] = sd["rnn.weight_hh_l0"]
        p["bh"][...] = sd["rnn.bias_ih_l0"] + sd["rnn.bias_hh_l0"]
        p["Why"][...] = sd["fc.weight"]
        p["by"][...] = sd["fc.bias"]
        return model


def load_checkpoint(path):
    """(Model, extra arrays, info dict) from a file written by ``Model.save``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        info = json.loads(str(z["info"]))
        arrays = {k[2:]: z[k] for k in z.files if k.startswith("x_")}
        model = Model(meta["cell"], meta["vocab_size"], meta["hidden_size"], meta["num_layers"],
                      meta["activation"], meta["dtype"], z["theta"], meta.get("chars"))
    return model, arrays, info
