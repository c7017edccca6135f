"""Model: one flat parameter vector with named views, and the Python face of the kernels."""
import io
import json
from pathlib import Path

import numpy as np

from .. import compiled
from ..disk.writing import atomic_write_bytes
from ..text.charids import as_ids
from ..text.corpus import missing_chars
from ..variants import ACTIVATIONS, CELLS, DIMS
from .checkpoint import check_extras, read_checkpoint
from .layout import (forget_gate_rows, is_bias, layer_suffix, on_cache_line, param_layout,
                     state_rows)
from .torch_layout import from_torch, to_torch, torch_shape

class Model:
    """A character-level recurrent network. ``params`` are views into the flat array ``theta``.

    ``chars`` (the vocabulary, when known) lets ``sample`` take and return text. The recurrent
    state of one stream is ``state_rows`` x H (h of each layer, then the LSTM's c of each
    layer); for a one-layer RNN or GRU it is simply a vector of H values. ``end_symbol``: the
    end-of-record character of a model trained in records mode (None otherwise), saved with it.
    """

    end_symbol = None

    def __init__(self, cell, vocab_size, hidden_size, num_layers=1, activation="tanh",
                 dtype="float64", theta=None, chars=None):
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r} (activations: "
                             f"{', '.join(ACTIVATIONS)})")
        self.cell, self.activation = cell, activation
        self.vocab_size, self.hidden_size, self.num_layers = vocab_size, hidden_size, num_layers
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {dtype}")
        self.layout = param_layout(cell, vocab_size, hidden_size, num_layers)
        size = sum(int(np.prod(shape)) for _, shape in self.layout)
        if theta is None:  # its own weights start on a cache line (layout.on_cache_line)
            theta = on_cache_line(np.zeros(size, dtype=self.dtype))
        theta = np.ascontiguousarray(theta, dtype=self.dtype)
        if theta.shape != (size,):
            raise ValueError(f"theta has shape {theta.shape}, the layout needs ({size},)")
        self.theta = theta
        self.params = self.views(theta)
        self.chars = list(chars) if chars is not None else None
        if self.chars is not None and len(self.chars) != vocab_size:
            raise ValueError(f"{len(self.chars)} chars for a vocabulary of {vocab_size}")
        self.state_rows = state_rows(cell, num_layers)

    @classmethod
    def create(cls, cell="rnn", vocab_size=None, hidden_size=100, num_layers=1,
               activation="tanh", dtype="float64", seed=0, init_scale=0.01, chars=None,
               forget_bias=0.0):
        """Weights randn * init_scale (drawn in layout order from ``seed``), biases zero except
        the LSTM's forget-gate bias, set to ``forget_bias`` (1.0 is a common choice)."""
        if vocab_size is None:
            if chars is None:
                raise ValueError("give vocab_size (or chars)")
            vocab_size = len(chars)
        model = cls(cell, vocab_size, hidden_size, num_layers, activation, dtype, chars=chars)
        rng = np.random.default_rng(seed)
        for name, view in model.params.items():
            if not is_bias(name):
                view[...] = rng.standard_normal(view.shape) * init_scale
        if forget_bias:
            rows, bias = forget_gate_rows(cell, hidden_size), CELLS[cell].biases[0]
            for layer in range(num_layers):
                model.params[bias + layer_suffix(layer)][rows] = forget_bias
        return model

    def views(self, flat):
        """Named, shaped views into any flat vector with this model's layout."""
        out, offset = {}, 0
        for name, shape in self.layout:
            n = int(np.prod(shape))
            out[name] = flat[offset:offset + n].reshape(shape)
            offset += n
        return out

    @property
    def state_shape(self):
        """Shape of one stream's recurrent state as the API takes and returns it."""
        H = self.hidden_size
        return (H,) if self.state_rows == 1 else (self.state_rows, H)

    def zero_state(self):
        return np.zeros(self.state_shape, dtype=self.dtype)

    def dims(self, batch_size=1, streams=None, first=0):
        """The int64 shape descriptor the kernels take, in variants.DIMS' order: chunks of
        ``batch_size`` streams, streams first .. first + batch_size - 1 of a batch of
        ``streams`` (default: the whole batch) over which the loss is averaged."""
        cell = CELLS[self.cell]
        values = dict(cell=cell.code, activation=ACTIVATIONS[self.activation],
                      vocab=self.vocab_size, hidden=self.hidden_size, layers=self.num_layers,
                      batch=batch_size, gates=cell.n_gates, biases=len(cell.biases),
                      state_rows=cell.state_rows,
                      streams=batch_size if streams is None else streams, first=first)
        return np.array([values[name] for name in DIMS], dtype=np.int64)

    def to_cache_line(self):
        """Move theta, and the params that view it, onto a cache line if it is not on one
        (layout.on_cache_line): a theta given from outside, before the compiled loop trains
        it."""
        theta = on_cache_line(self.theta)
        if theta is not self.theta:
            self.theta, self.params = theta, self.views(theta)

    def copy(self):
        out = Model(self.cell, self.vocab_size, self.hidden_size, self.num_layers,
                    self.activation, self.dtype, on_cache_line(self.theta.copy()), self.chars)
        out.end_symbol = self.end_symbol
        return out

    # -- loss, gradients, sampling ---------------------------------------------------------

    def _ids(self, seq, what, lowest=0):
        if isinstance(seq, str):
            seq = self.encode(seq)
        ids = np.ascontiguousarray(seq, dtype=np.int64)
        if ids.ndim not in (1, 2) or ids.size == 0:
            raise ValueError(f"{what} must be a non-empty sequence of character ids "
                             f"(1-D, or 2-D with one row per stream)")
        if ids.min() < lowest or ids.max() >= self.vocab_size:
            raise ValueError(f"{what} holds ids outside [0, {self.vocab_size})")
        return ids

    def _state(self, h0, batch_size=1):
        """``h0`` (None for zeros) as the kernels' (state_rows, B, H) array."""
        shape = (self.state_rows, batch_size, self.hidden_size)
        if h0 is None:
            return np.zeros(shape, dtype=self.dtype)
        h0 = np.asarray(h0, dtype=self.dtype)
        if h0.size != np.prod(shape):
            raise ValueError(f"h0 must hold {int(np.prod(shape))} values "
                             f"({' x '.join(map(str, shape))}), got shape {h0.shape}")
        if batch_size == 1:
            return np.ascontiguousarray(h0.reshape(shape))
        return np.ascontiguousarray(h0.reshape(batch_size, self.state_rows, -1)
                                    .transpose(1, 0, 2))

    def _chunk(self, inputs, targets, h0):
        """Time-major ids and targets, batch size and kernel state for one chunk."""
        xs, ys = self._ids(inputs, "inputs"), self._ids(targets, "targets", -1)  # -1: masked
        if xs.shape != ys.shape:
            raise ValueError("inputs and targets must have the same shape")
        batch = 1 if xs.ndim == 1 else xs.shape[0]
        # row r = t * B + b of the kernels' buffers holds stream b at time t
        return (np.ascontiguousarray(xs.T).reshape(-1), np.ascontiguousarray(ys.T).reshape(-1),
                batch, self._state(h0, batch))

    def _user_state(self, state):
        """Kernel state (state_rows, B, H) in the API's shape: state_shape, or B x state_shape."""
        if state.shape[1] == 1:
            return state[:, 0].reshape(self.state_shape)
        return np.ascontiguousarray(state.transpose(1, 0, 2)).reshape(
            (state.shape[1], *self.state_shape))

    def loss_and_grads(self, inputs, targets, h0=None, dropout=0.0, mask_seed=0):
        """(loss in nats, raw gradients by name, state after the chunk) of one chunk.

        ``inputs``/``targets``: T ids, or B x T for B streams (the loss is summed over time and
        averaged over streams; a target of -1 is masked: no loss). ``dropout`` > 0 applies
        inverted dropout with the masks that ``mask_seed`` fixes, so the same call gives the
        same loss (what a gradient check needs).
        """
        ids, tgt, batch, state = self._chunk(inputs, targets, h0)
        grad = np.zeros_like(self.theta)
        out = np.zeros_like(state)
        key = np.uint64(compiled.dropout_key(mask_seed, 0))
        loss = compiled.loss_and_grads(self.theta, grad, self.dims(batch), ids, tgt, state, out,
                                       float(dropout), key, True)
        return float(loss), self.views(grad), self._user_state(out)

    def loss(self, inputs, targets, h0=None, dropout=0.0, mask_seed=0):
        """The chunk's loss only (no backward pass): what a gradient check perturbs."""
        return self.loss_function(inputs, targets, h0, dropout, mask_seed)()[0]

    def loss_and_pattern(self, inputs, targets, h0=None, dropout=0.0, mask_seed=0):
        """(loss, fingerprint of the ReLU active set): tells a gradient check whether a
        finite-difference step crossed a kink."""
        return self.loss_function(inputs, targets, h0, dropout, mask_seed, pattern=True)()

    def loss_function(self, inputs, targets, h0=None, dropout=0.0, mask_seed=0, pattern=False):
        """A function of no arguments giving (loss, ReLU fingerprint if ``pattern`` else 0) of
        the chunk at the weights theta holds when it is called: the chunk is checked and laid
        out once, not at each of a gradient check's evaluations (six per parameter; the checks
        were most of its time)."""
        ids, tgt, batch, state = self._chunk(inputs, targets, h0)
        dims, dropout = self.dims(batch), float(dropout)
        key = np.uint64(compiled.dropout_key(mask_seed, 0))
        if pattern:
            def loss_at():
                loss, fingerprint = compiled.loss_and_pattern(self.theta, dims, ids, tgt, state,
                                                              dropout, key)
                return float(loss), int(fingerprint)
            return loss_at
        after = np.zeros_like(state)  # the state after the chunk, which a loss does not return

        def loss_at():
            return float(compiled.loss_and_grads(self.theta, self.theta, dims, ids, tgt, state,
                                                 after, dropout, key, False)), 0
        return loss_at

    def eval_loss(self, ids, h0=None):
        """(summed loss, predicted characters) of reading ``ids`` from state ``h0`` (zero if None)."""
        ids = as_ids(ids, self.vocab_size)
        if ids.ndim != 1:
            raise ValueError("ids must be a 1-D sequence of character ids")
        if ids.size < 2:
            return 0.0, 0
        total, n = compiled.eval_loss(self.theta, self.dims(), ids, self._state(h0), 256)
        return float(total), int(n)

    def sample_ids(self, prime_ids, length, temperature=1.0, greedy=False, seed=0, h=None,
                   top_k=0, stop_id=-1):
        """Feed ``prime_ids`` from state ``h`` (zero if None), then draw up to ``length`` new ids.

        ``top_k`` > 0 draws among the k likeliest ids only (after temperature); drawing
        ``stop_id`` (an end-of-record id; -1: none) ends the sample, without it.
        """
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if length < 0:
            raise ValueError(f"length must be >= 0, got {length}")
        if top_k < 0:
            raise ValueError(f"top_k must be >= 0 (0: off), got {top_k}")
        if not 0 <= seed < 2**32:  # Numba's generator would take it modulo 2**32, or fail
            raise ValueError(f"seed must be >= 0 and < 2**32, got {seed}")
        if not -1 <= stop_id < self.vocab_size:
            raise ValueError(f"stop_id must be -1 (none) or an id below {self.vocab_size}, "
                             f"got {stop_id}")
        prime = self._ids(prime_ids, "prime").reshape(-1)
        return compiled.sample(self.theta, self.dims(), self._state(h), prime, int(length),
                               float(temperature), bool(greedy), int(top_k), int(stop_id),
                               int(seed))

    def sample(self, prime="\n", length=200, temperature=1.0, greedy=False, seed=0, h=None,
               top_k=0, stop=None):
        """Text continuing ``prime`` (not included): needs ``chars``. ``stop``: a character
        that ends the sample when drawn (not included); by default a records model's end
        symbol."""
        stop = self.end_symbol if stop is None else stop
        if not prime:
            raise ValueError("the prime text must hold at least one character")
        if stop is not None and len(stop) != 1:
            raise ValueError(f"stop must be one character, got {stop!r}")
        stop_id = -1 if stop is None else int(self.encode(stop)[0])
        return self.decode(self.sample_ids(self.encode(prime), length, temperature, greedy,
                                           seed, h, top_k, stop_id))

    def encode(self, text):
        if self.chars is None:
            raise ValueError("this model has no vocabulary (chars); pass character ids")
        index = {c: i for i, c in enumerate(self.chars)}
        missing = missing_chars(text, index)
        if missing:
            raise ValueError(f"characters not in the vocabulary: {missing!r}")
        return np.array([index[c] for c in text], dtype=np.int64)

    def decode(self, ids):
        if self.chars is None:
            raise ValueError("this model has no vocabulary (chars)")
        return "".join(self.chars[i] for i in ids)

    # -- files -----------------------------------------------------------------------------

    def meta(self):
        return dict(cell=self.cell, vocab_size=self.vocab_size, hidden_size=self.hidden_size,
                    num_layers=self.num_layers, activation=self.activation,
                    dtype=self.dtype.name, chars=self.chars,
                    **({"end_symbol": self.end_symbol} if self.end_symbol else {}))

    def save(self, path, arrays=None, info=None):
        """Write an .npz checkpoint atomically: theta, the model description, and extras.

        ``arrays`` (name -> array, e.g. optimizer state) and ``info`` (JSON-able dict) ride along
        and come back from ``load_checkpoint``.
        """
        atomic_write_bytes(Path(path), self.checkpoint_bytes(arrays, info))

    def checkpoint_bytes(self, arrays=None, info=None):
        """The .npz checkpoint that ``save`` writes, as bytes."""
        check_extras(self, arrays)  # what load_checkpoint would refuse is not written
        payload = {"theta": self.theta,
                   "meta": np.array(json.dumps(self.meta())),
                   "info": np.array(json.dumps(info or {}))}
        for name, arr in (arrays or {}).items():
            payload["x_" + name] = arr
        buffer = io.BytesIO()
        np.savez(buffer, **payload)
        return buffer.getvalue()

    @classmethod
    def load(cls, path):
        return load_checkpoint(path)[0]

    # -- PyTorch layout (NumPy in and out; PyTorch is never imported) ----------------------

    def to_torch_state_dict(self, values=None):
        """This model's arrays (or ``values`` with the same keys) under the names of nn.RNN /
        nn.LSTM / nn.GRU (registered as ``rnn``) and nn.Linear (``fc``); see torch_layout."""
        values = self.params if values is None else values
        return to_torch(self.cell, self.num_layers, {k: values[k] for k, _ in self.layout})

    @classmethod
    def from_torch_state_dict(cls, state_dict, cell="rnn", activation="tanh", dtype=None,
                              chars=None):
        """A Model from nn.RNN/LSTM/GRU + nn.Linear weights (tensors or arrays); where rnnbench
        keeps one bias, PyTorch's two are added."""
        V, H, layers = torch_shape(state_dict, cell)
        dtype = dtype or np.asarray(state_dict["rnn.weight_ih_l0"]).dtype.name
        model = cls(cell, V, H, layers, activation, dtype, chars=chars)
        from_torch(state_dict, cell, model.params)
        return model


def load_checkpoint(path):
    """(Model, extra arrays, info dict) from a file written by ``Model.save``; a file that is
    not one, or that does not match the model it describes, is a one-line CheckpointError
    (see rnnbench.model.checkpoint: members are checked before their data is read)."""
    meta, theta, arrays, info = read_checkpoint(path)
    model = Model(meta["cell"], meta["vocab_size"], meta["hidden_size"], meta["num_layers"],
                  meta["activation"], meta["dtype"], theta, meta.get("chars"))
    model.end_symbol = meta.get("end_symbol")
    return model, arrays, info
