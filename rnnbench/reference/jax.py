"""The same training written in JAX the way an expert would: the benchmarks' third yardstick.
Imported only when JAX is installed; it is never a dependency of rnnbench.

Two forms. ``JaxUpdate``: one ``jax.jit`` of the whole update (the chunk sliced from the text on
the device, ``lax.scan`` over its steps, ``jax.value_and_grad``, clip, AdaGrad), called once
per update from Python. ``JaxLoop``: many updates inside one jit (``lax.scan`` over updates,
carrying weights, AdaGrad memory, hidden state, data pointer and update count), one call per
``run(n)``. Both follow rnnbench's recipe: its model and initial weights, PyTorch's gate orders,
the loss summed over the chunk and averaged over the B streams, AdaGrad with the gradient
clipped element-wise, the hidden state carried between chunks (no gradient flows back past a
chunk's start) and min-char-rnn's wrap rule, the text cut into B contiguous streams.

Choices, measured on rnnbench's bench rows (2-core AMD EPYC, JAX 0.10.2): weights kept as
(inputs, outputs) matrices, as flax keeps them (10% faster at batch 32 than products with
transposed operands); the input terms of all steps computed before the recurrence's scan, the
output layer as one product over the chunk; the recurrence's scan unrolled 3 steps for LSTM
and GRU at batch 1 and not at all otherwise (see ``default_unroll``); the loss from
``take_along_axis`` (a dense one-hot product was no faster). JAX runs on one thread here: see ``hold_to_one_thread``;
``describe`` and ``product_kernels`` say which libraries compute its products.
"""
import importlib.util
import os
import re

import numpy as np

from ..model.layout import layer_suffix
from ..text.corpus import stream_length

_held = None  # whether hold_to_one_thread held JAX's backend to one thread (None: not asked)


def available():
    """True when JAX is installed (found without importing it)."""
    return importlib.util.find_spec("jax") is not None


def _thread_ids():
    try:
        return set(os.listdir("/proc/self/task"))
    except OSError:
        return set()


def hold_to_one_thread():
    """Create JAX's CPU backend so that it computes on one thread; True when it does.

    XLA:CPU runs its products (Eigen's and YNNPACK's) on a pool sized, when the backend is
    created, by the CPUs the creating thread may use: the affinity mask is the way to limit it
    (JAX's maintainers, jax-ml/jax#1539). XLA_FLAGS=--xla_cpu_multi_thread_eigen=false does not
    hold JAX 0.10 to one thread (measured: with it, two threads share an LSTM's work; with
    this, one). So the backend is created while this thread is pinned to one CPU, then the
    mask of this thread and of every thread born meanwhile is restored: the pool keeps one
    thread, free to run on any core. False when the backend had been started before (its pool
    size is then unknown) or the platform has no affinity call. Also turns on float64
    (``jax_enable_x64``) once, before anything is traced here, so that nothing is traced twice.
    """
    global _held
    if _held is not None:
        return _held
    import jax  # optional and slow: the JAX contender only
    from jax._src import xla_bridge

    jax.config.update("jax_enable_x64", True)
    started = getattr(xla_bridge, "backends_are_initialized", lambda: bool(xla_bridge._backends))
    if started() or not hasattr(os, "sched_setaffinity"):
        _held = False
        return _held
    allowed, before = os.sched_getaffinity(0), _thread_ids()
    os.sched_setaffinity(0, {min(allowed)})
    try:
        jax.devices("cpu")
    finally:
        os.sched_setaffinity(0, allowed)
        for tid in _thread_ids() - before:
            try:
                os.sched_setaffinity(int(tid), allowed)
            except OSError:  # a thread that has ended since
                pass
    _held = True
    return _held


def _jax():
    """(jax, jax.numpy, jax.lax), with the backend held to one thread when it can be."""
    import jax  # optional and slow: the JAX contender only
    hold_to_one_thread()
    return jax, jax.numpy, jax.lax


LIBRARIES = {"__ynn_fusion": "YNNPACK", "__xnn_fusion": "XNNPACK", "__onednn": "oneDNN"}


def product_kernels(hlo_text):
    """{library: matrix products} of an optimized XLA:CPU program (``compiled.as_text()``):
    products fused into a YNNPACK, XNNPACK or oneDNN call, or left to XLA's own dot ('Eigen':
    its DotThunk runs Eigen's contraction; 'XLA codegen' when fused into generated code).
    Counted in the program's text: a product inside a loop counts once."""
    dots, calls, fusion_bodies, name = {}, [], set(), None
    for line in hlo_text.splitlines():
        if line and not line[0].isspace() and line.rstrip().endswith("{"):
            name = line.split()[1 if line.startswith("ENTRY") else 0].lstrip("%")
            dots[name] = 0
        elif name is not None and " dot(" in line:
            dots[name] += 1
        callee = re.search(r"calls=%([\w.\-]+)", line)
        if callee and " fusion(" in line:
            fusion_bodies.add(callee.group(1))
            lib = next((v for k, v in LIBRARIES.items() if k in line), None)
            if lib:
                calls.append((lib, callee.group(1)))
    out, library_bodies = {}, set()
    for lib, body in calls:
        library_bodies.add(body)
        if dots.get(body):
            out[lib] = out.get(lib, 0) + dots[body]
    for body, n in dots.items():
        if n and body not in library_bodies:
            kind = "XLA codegen" if body in fusion_bodies else "Eigen"
            out[kind] = out.get(kind, 0) + n
    return out


def describe():
    """One line for the bench: JAX's version, its threads, and which library computes a
    matrix-matrix and a matrix-vector product in float64 and float32."""
    jax, jnp, _ = _jax()
    kinds = []
    for dtype in ("float64", "float32"):
        a, w, v = (jnp.ones(s, dtype) for s in ((25, 128), (512, 128), (128,)))
        for what, fn, args in (("matrix", lambda a, w: a @ w.T, (a, w)),
                               ("matrix-vector", lambda w, v: w @ v, (w, v))):
            found = product_kernels(jax.jit(fn).lower(*args).compile().as_text())
            kinds.append(f"{what} {dtype.replace('float', 'f')}: {', '.join(sorted(found))}")
    if _held:
        threads = "one thread (its pool created under a one-CPU affinity mask)"
    elif hasattr(os, "sched_setaffinity"):
        threads = "threads NOT held to one (its backend was started before)"
    else:
        threads = "threads NOT held to one (no CPU affinity call on this platform)"
    return f"JAX {jax.__version__} (XLA:CPU, {threads}; products: {'; '.join(kinds)})"


# -- the model, as pure functions -------------------------------------------------------------

def _activation(jax, name):
    return {"tanh": jax.numpy.tanh, "relu": jax.nn.relu, "sigmoid": jax.nn.sigmoid}[name]


def _layer_names(cell, num_layers):
    names = []
    for l in range(num_layers):
        s = layer_suffix(l)
        names.append(("Wxh" + s, "Whh" + s, ("bxh" + s, "bhh" + s) if cell == "gru"
                      else ("bh" + s, None)))
    return names


def make_functions(cell, activation, num_layers, hidden_size, seq_length, batch_size,
                   learning_rate=0.1, clip=5.0, eps=1e-8, unroll=1):
    """(loss, update, loop): the chunk's loss, one training update, and ``n`` updates in a scan.

    ``params``: the model's weights by name, the 2-D ones transposed (inputs x outputs).
    loss(params, state, x, y) -> (loss, state after the chunk); x, y: (T, B) ids; state:
    (state_rows, B, H), h of each layer then the LSTM's c of each layer (rnnbench's layout).
    update(params, mem, state, data, p, reset) -> (params, mem, state, loss): the update on
    data[:, p:p + T + 1], from a zero state when ``reset``. loop(carry, data, n) -> (carry,
    losses) with carry = (params, mem, state, p, k): n updates, min-char-rnn's wrap rule inside.
    """
    jax, jnp, lax = _jax()
    f = _activation(jax, activation)
    sig = jax.nn.sigmoid
    L, H, T, B = num_layers, hidden_size, seq_length, batch_size
    names = _layer_names(cell, L)

    def run_layer(params, l, inputs, h, c):
        """One layer over the chunk: the input terms of all T steps at once (for the one-hot
        input a gather of W_ih's columns, which are W_ih^T's rows; above it one matrix
        product), then a scan of the recurrence."""
        wx, wh, (bx, bh) = names[l]
        if l == 0:   # W_ih^T's rows of the input ids: an embedding lookup
            xw = jnp.take(params[wx], inputs, axis=0) + params[bx]      # (T, B, GH)
        else:
            xw = inputs @ params[wx] + params[bx]
        Whh = params[wh]
        bhh = params[bh] if bh else None

        def step(carry, xt):
            h, c = carry
            a = h @ Whh
            if cell == "rnn":
                h = f(xt + a)
            elif cell == "lstm":
                i, fg, g, o = jnp.split(xt + a, 4, axis=-1)
                c = sig(fg) * c + sig(i) * f(g)
                h = sig(o) * f(c)
            else:   # PyTorch's GRU: r multiplies W_hn h + b_hn only
                a = a + bhh
                r, z = jnp.split(sig(xt[..., :2 * H] + a[..., :2 * H]), 2, axis=-1)
                n = f(xt[..., 2 * H:] + r * a[..., 2 * H:])
                h = (1.0 - z) * n + z * h
            return (h, c), h

        (h, c), outs = lax.scan(step, (h, c), xw, unroll=unroll)
        return outs, h, c

    def loss(params, state, x, y):
        inputs, hs, cs = x, [], []
        for l in range(L):
            c0 = state[L + l] if cell == "lstm" else None
            inputs, h, c = run_layer(params, l, inputs, state[l], c0)
            hs.append(h)
            cs.append(c)
        logits = inputs.reshape(T * B, H) @ params["Why"] + params["by"]
        picked = jnp.take_along_axis(logits, y.reshape(T * B, 1), axis=1)[:, 0]
        total = jnp.sum(jax.nn.logsumexp(logits, axis=1) - picked) / B
        new_state = jnp.stack(hs + (cs if cell == "lstm" else []))
        return total, new_state

    grad_fn = jax.value_and_grad(loss, has_aux=True)

    def update(params, mem, state, data, p, reset):
        state = jnp.where(reset, jnp.zeros_like(state), state)
        chunk = lax.dynamic_slice_in_dim(data, p, T + 1, axis=1)     # (B, T + 1)
        x, y = chunk[:, :T].T, chunk[:, 1:].T
        (value, state), grads = grad_fn(params, state, x, y)
        # AdaGrad on the clipped gradient, as min-char-rnn: m += g^2, w -= lr g / sqrt(m + eps)
        g = jax.tree.map(lambda d: jnp.clip(d, -clip, clip), grads)
        mem = jax.tree.map(lambda m, d: m + d * d, mem, g)
        params = jax.tree.map(lambda w, d, m: w - learning_rate * d / jnp.sqrt(m + eps),
                              params, g, mem)
        return params, mem, lax.stop_gradient(state), value

    def loop(carry, data, n):
        N = data.shape[1]

        def body(carry, _):
            params, mem, state, p, k = carry
            reset = (p + T + 1 >= N) | (k == 0)   # min-char-rnn's wrap rule
            p = jnp.where(reset, 0, p)
            params, mem, state, value = update(params, mem, state, data, p, reset)
            return (params, mem, state, p + T, k + 1), value

        return lax.scan(body, carry, None, length=n)

    return loss, update, loop


def default_unroll(cell, batch_size):
    """Time steps per iteration of the recurrence's scan (``lax.scan``'s ``unroll``), as
    measured per update and CPU second at the bench's sizes: 3 for LSTM and GRU at batch 1
    (7-8% faster than 1 at hidden 128), 1 otherwise (unrolling 3 made rnn 100 1.8x slower and
    lstm 256 batch 32 1.3x slower; unrolling all 25 steps, lstm 128 1.7x slower)."""
    return 3 if cell != "rnn" and batch_size == 1 else 1


# -- the two contenders -----------------------------------------------------------------------

class _JaxTraining:
    """Weights, AdaGrad memory, hidden state and the text (B contiguous streams, as rnnbench's
    TrainState cuts it) on JAX's CPU device."""

    def __init__(self, model, data, seq_length=25, learning_rate=0.1, clip=5.0, batch_size=1,
                 unroll=None):
        jax, jnp, _ = _jax()
        self.jax, self.jnp = jax, jnp
        self.model = model
        self.T, self.B = seq_length, batch_size
        data = np.asarray(data)
        if data.ndim != 1 or data.dtype.kind not in "iu":
            raise ValueError(f"data must be a 1-D array of character ids, got {data.dtype} "
                             f"with shape {data.shape}")
        part = stream_length(len(data), seq_length, batch_size)
        data = data[:part * batch_size]
        if data.min() < 0 or data.max() >= model.vocab_size:
            # JAX would clamp such an index silently and train on the wrong characters
            raise ValueError(f"data holds ids outside [0, {model.vocab_size}), the model's "
                             f"vocabulary")
        self.N = part
        self.data = jax.device_put(data.astype(np.int32).reshape(batch_size, part))
        # 2-D weights as (inputs, outputs), the layout the products read best (and flax's)
        self.params = {k: jnp.asarray(v.T) for k, v in model.params.items()}
        self.mem = {k: jnp.zeros_like(v) for k, v in self.params.items()}
        self.state = jnp.zeros((model.state_rows, batch_size, model.hidden_size), model.dtype)
        self.fns = make_functions(model.cell, model.activation, model.num_layers,
                                  model.hidden_size, seq_length, batch_size, learning_rate, clip,
                                  unroll=default_unroll(model.cell, batch_size)
                                  if unroll is None else unroll)
        self._losses = []

    def losses(self):
        """The per-update losses of the last ``step`` or ``run``, as a NumPy array."""
        return np.asarray(self.jax.device_get(self._losses), dtype=np.float64).reshape(-1)

    def parameters(self):
        """The current weights as a flat vector in the model's layout (rnnbench's theta)."""
        params = self.jax.device_get(self.params)
        return np.concatenate([np.asarray(params[name]).T.reshape(-1)
                               for name, _ in self.model.layout])

    def hidden_state(self):
        """The carried recurrent state, (state_rows, B, H) as rnnbench's TrainState.h."""
        return np.asarray(self.state)

    def product_kernels(self):
        """{library: matrix products} of the program ``run`` executes (see product_kernels);
        after a first ``run`` this reads the compiled program from JAX's cache."""
        return product_kernels(self._program().compile().as_text())


def _count(n):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"the number of updates must be an integer >= 0, got {n!r}")
    return int(n)


class JaxUpdate(_JaxTraining):
    """Form 1: one jit of the whole update, called once per update from Python. The pointer and
    min-char-rnn's wrap rule live in Python and go in as arguments (static shapes: nothing is
    traced twice); weights, memory and state are donated, so XLA updates them in place."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._update = self.jax.jit(self.fns[1], donate_argnums=(0, 1, 2))
        self.p = self.n = 0   # data pointer, updates done

    def _dispatch(self):
        reset = self.p + self.T + 1 >= self.N or self.n == 0
        if reset:
            self.p = 0
        self.params, self.mem, self.state, loss = self._update(
            self.params, self.mem, self.state, self.data, self.p, reset)
        self.p += self.T
        self.n += 1
        return loss

    def _program(self):
        return self._update.lower(self.params, self.mem, self.state, self.data, 0, False)

    def step(self):
        """One update; returns its loss (waiting for it, as PyTorch's loss.item() does)."""
        loss = self._dispatch()
        self._losses = [loss]
        return float(loss)

    def run(self, n):
        """n updates dispatched back to back (JAX runs them while Python dispatches the next),
        then waits for the last; returns n. The first call compiles."""
        self._losses = [self._dispatch() for _ in range(_count(n))]
        self.jax.block_until_ready(self.params)
        return n


class JaxLoop(_JaxTraining):
    """Form 2: ``run(n)`` does n updates inside one jit (a scan over updates carrying weights,
    memory, state, data pointer and update count, all donated); the first call of each n
    compiles, so a caller keeps n fixed."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._loop = self.jax.jit(self.fns[2], static_argnums=2, donate_argnums=0)
        self._pk = (self.jnp.asarray(0, np.int32), self.jnp.asarray(0, np.int32))
        self._n_last = 1

    @property
    def p(self):
        """The data pointer (read from the device)."""
        return int(self._pk[0])

    @property
    def n(self):
        """Updates done (read from the device)."""
        return int(self._pk[1])

    def _carry(self):
        return (self.params, self.mem, self.state, *self._pk)

    def _program(self):
        return self._loop.lower(self._carry(), self.data, self._n_last)

    def run(self, n):
        """n updates in one call; returns n once they are done."""
        n = _count(n)
        carry, losses = self._loop(self._carry(), self.data, n)
        self.params, self.mem, self.state, *pk = carry
        self._pk, self._losses, self._n_last = tuple(pk), losses, n
        losses.block_until_ready()
        return n

    def step(self):
        """One update (a loop of one, compiled on first use); returns its loss."""
        self.run(1)
        return float(self._losses[0])
