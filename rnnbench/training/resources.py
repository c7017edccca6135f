"""Memory a run will need, estimated before anything is allocated, and the check against what
the machine has free (psutil's ``available``).

A run's peak is the largest of its phases, each a sum of parts (bytes):

- parameters: the weights, their gradient, the optimizer's state vectors (0 to 2) and the best
  weights so far (best.npz); a batch split into P parts (training/split.py) adds P - 1 copies
  of the weights and gradients and the parts' recurrent states twice;
- workspace: the compiled loop's scratch arrays for a chunk (seq_length x batch_size rows of
  every layer's activations, gates and logits), or the validation pass's (256 steps) if larger;
- text: the text as read (1, 2 or 4 bytes a character, as Python stores it) and its encoding
  (2 bytes a character);
- novelty index: 8 bytes per distinct 8-gram of the training text and the merge that builds
  it (counted on the first million positions, extrapolated beyond);
- trace: the recorded rows and samples, and the driver's per-update loss buffers;
- saving: writing the checkpoint (or sending the result to a grid's parent) holds the weights
  and optimizer state twice more, and the best weights in best.npz's bytes.

The check names the config field behind the largest part. Figures are checked against the
measured peak memory of real runs in tests/test_resources.py.
"""
import sys
from dataclasses import dataclass, field

import psutil

from ..config import ConfigError
from ..model.layout import parameter_count, state_rows
from ..text.novelty import NgramIndex
from ..variants import CELLS, OPTIMIZERS
from .recent import buffer_bytes

KB, MB, GB = 1 << 10, 1 << 20, 1 << 30
USABLE = 0.9             # of psutil's available memory: what a run may plan to take
PROCESS_BASE = 300 * MB   # a fresh worker that has trained once: Python, NumPy, pandas, Numba
EVAL_BLOCK = 256          # steps per forward call of the validation loss (model.eval_loss)
ROW_BYTES = 1 * KB        # one trace or sample row kept as a Python dict until the end
INDEX_FACTOR = 2          # the novelty index and its build, per 8 bytes of distinct 8-grams
HEAPS = 0.9               # distinct n-grams grow as (text length) ** HEAPS: 0.6-0.85 measured
FIELDS = {"parameters": "hidden_size", "saving": "hidden_size", "text": "data",
          "novelty index": "data", "trace": "updates"}


@dataclass
class Estimate:
    """Bytes a run needs at its peak, by part; ``resident``: parts already in memory when the
    check is made (the text, read to learn its vocabulary)."""

    parts: dict
    fields: dict
    resident: int = 0
    notes: dict = field(default_factory=dict)
    stored: int = 0  # bytes of the weights and optimizer state a result carries

    @property
    def total(self):
        return sum(self.parts.values())

    @property
    def needed(self):
        """What is still to be allocated."""
        return self.total - self.resident

    def largest(self):
        """The largest part still to be allocated (the text, once read, is not)."""
        return max((p for p in self.parts if not (p == "text" and self.resident)),
                   key=self.parts.get)

    def describe(self, n=3):
        """'parameters 9.6 GB (...), saving 3.2 GB, ...': the n largest parts."""
        parts = sorted(self.parts.items(), key=lambda kv: -kv[1])[:n]
        return ", ".join(f"{name} {size_text(size)}"
                         + (f" ({self.notes[name]})" if name in self.notes else "")
                         for name, size in parts if size)


def size_text(n):
    """Bytes as '13.2 GB', '512 MB', '40 kB'."""
    if n >= GB:
        return f"{n / GB:,.1f} GB"
    if n >= MB:
        return f"{n / MB:,.0f} MB"
    return f"{max(n, 0) / KB:,.0f} kB"


def workspace_bytes(cell, V, H, L, T, B, dropout, itemsize):
    """The compiled loop's scratch arrays for one chunk, as kernels/network.workspace allocates
    them (keep the two in step), and the int64 ids and targets it copies the chunk into."""
    spec, TB = CELLS[cell], T * B
    GH = spec.n_gates * H
    values = L * (T + 1) * B * H                                        # hs
    values += L * (T + 1) * B * H if spec.state_rows == 2 else 0         # cs
    values += L * TB * (GH + H) if spec.n_gates > 1 else 0               # acts, aux
    values += 2 * L * TB * H if dropout > 0 else 0                       # ys, masks
    values += TB * GH + (TB * GH if len(spec.biases) == 2 else 0) + B * GH   # xi, dhh, hh
    values += TB * V + 2 * TB * H + 2 * B * H + 2 * H           # logits, dcur, dbelow, ...
    return values * itemsize + 2 * 8 * TB


def run_memory(config, corpus, saving=True, parts=1):
    """The Estimate of one run of ``config`` on ``corpus`` (after records and data_limit), its
    batch split into ``parts``: the larger of its two phases, training and (``saving``) writing
    the checkpoint or sending the result to a grid's parent, which holds the weights and
    optimizer state three times once the gradient is gone (np.savez into a buffer, then a copy
    of that buffer)."""
    c = config
    V, H, L = corpus.vocab_size, c.hidden_size, c.num_layers
    itemsize = 4 if c.dtype == "float32" else 8
    P = parameter_count(c.cell, V, H, L)
    slots = len(OPTIMIZERS[c.optimizer].slots)
    state = state_rows(c.cell, L) * c.batch_size * H * itemsize
    common = {"text": text_bytes(corpus)}
    common["novelty index"] = INDEX_FACTOR * 8 * distinct_ngrams(corpus) if c.sample_every else 0
    rows = c.updates // c.trace_every + c.updates // c.eval_every + 2
    samples = c.updates // c.sample_every + 1 if c.sample_every else 0
    common["trace"] = (buffer_bytes(c) + rows * ROW_BYTES
                       + samples * (ROW_BYTES + 4 * c.sample_length))
    fields = dict(FIELDS, workspace="batch_size" if c.batch_size > c.seq_length / 25
                  else "seq_length")
    if samples * 4 * c.sample_length > rows * ROW_BYTES + buffer_bytes(c):
        fields["trace"] = "sample_length"
    train_ws = workspace_bytes(c.cell, V, H, L, c.seq_length, c.batch_size, c.dropout,
                               itemsize)
    eval_ws = workspace_bytes(c.cell, V, H, L, EVAL_BLOCK, 1, 0.0, itemsize)
    # the best weights so far (best.npz) are kept beside the weights
    copies = 3 + slots + 2 * (parts - 1)
    training = dict(common, parameters=copies * P * itemsize + state * (1 + 2 * (parts > 1)),
                    workspace=max(train_ws, eval_ws))
    notes = {"parameters": f"{P:,} {c.dtype} values x {copies}: weights, gradient, best"
                           + (f", {slots} optimizer slot{'s' * (slots > 1)}" if slots else "")
                           + (f", {parts - 1} more weights and gradient{'s' * (parts > 2)} "
                              f"for the split batch" if parts > 1 else "")}
    parts = training
    stored = (1 + slots) * P * itemsize + state
    if saving:
        best = P * itemsize  # the best weights, their model's copy, best.npz's bytes
        writing = dict(common, parameters=stored + 2 * best, saving=2 * stored + best)
        if sum(writing.values()) > sum(training.values()):
            parts = writing
            notes = {"parameters": f"{P:,} {c.dtype} values x {3 + slots}: weights"
                                   + (", optimizer state" if slots else "")
                                   + " and the best weights twice",
                     "saving": "the checkpoint, twice, while it is written"}
    return Estimate(parts, fields, resident=common["text"], notes=notes, stored=stored)


def distinct_ngrams(corpus, n=8, sample=1 << 18):
    """The distinct n-grams of ``corpus``'s training text (what its novelty index keeps):
    counted when the text has up to ``sample`` of them, else extrapolated from its first
    ``sample`` by Heaps' law, D(N) = D(s) (N / s) ** HEAPS, at most one per position. Kept on
    the corpus: the runs of a grid share it."""
    cached = getattr(corpus, "_distinct_ngrams", None)
    if cached is not None:
        return cached
    windows = max(len(corpus.train_ids) - n + 1, 0)
    seen = len(NgramIndex.from_ids(corpus.train_ids[:sample + n - 1], corpus.chars, n).keys)
    count = seen if windows <= sample else min(windows, int(seen * (windows / sample) ** HEAPS))
    corpus._distinct_ngrams = count
    return count


def text_bytes(corpus):
    """The text as Python keeps it (1, 2 or 4 bytes a character; records mode: a string per
    record) and its ids; a corpus rebuilt in a worker from shared ids keeps no text."""
    raw = getattr(corpus, "_raw_text", None)
    records = getattr(corpus, "_records", None)
    size = corpus.ids.nbytes
    if raw is not None:
        size += sys.getsizeof(raw)
    elif records is not None:
        top = max(map(ord, corpus.chars))
        width = 1 if top < 256 else (2 if top < 65536 else 4)
        size += len(corpus) * width + (sys.getsizeof("") + 8) * len(records)
    return size


def available():
    """Bytes a run may count on: USABLE of what the machine can give without swapping
    (psutil's ``available``); the rest is left to the machine's other work and to what the
    estimate leaves out."""
    return int(USABLE * psutil.virtual_memory().available)


def check_run(config, corpus, saving=True, free=None, where="", parts=1):
    """Raise ConfigError naming the field behind the largest part when one run of ``config``
    (its batch split into ``parts``) cannot fit in the memory available now (``free``, default
    psutil's); return the Estimate."""
    estimate = run_memory(config, corpus, saving, parts)
    free = available() if free is None else free
    if estimate.needed > free:
        field_name = estimate.fields[estimate.largest()]
        raise ConfigError(f"{where}{field_name}: the run needs about "
                          f"{size_text(estimate.total)} of memory ({estimate.describe()}), "
                          f"more than the {size_text(free)} this machine can spare")
    return estimate


def grid_memory(estimates, shared_bytes, jobs):
    """Bytes ``jobs`` runs at once need: the largest ``jobs`` runs' peaks, each in its own worker
    process, the encoded texts they share once, and the parent's copies of one result while it
    receives and saves it."""
    peaks = sorted((e.needed + PROCESS_BASE for e in estimates), reverse=True)
    parent = 3 * max((e.stored for e in estimates), default=0)
    return sum(peaks[:jobs]) + shared_bytes + parent


def fitting_jobs(estimates, shared_bytes, jobs, free):
    """The most runs at once, up to ``jobs``, whose grid_memory fits in ``free`` (0: none)."""
    return max((j for j in range(1, jobs + 1)
                if grid_memory(estimates, shared_bytes, j) <= free), default=0)


def check_grid_jobs(grid, todo, jobs, free=None):
    """Raise ConfigError('--jobs: ...') when ``jobs`` of the runs ``todo`` at once cannot fit in
    the memory available, saying how many can."""
    heads, estimates = {}, []
    for spec in todo:
        head = grid.corpus(spec)
        heads[id(head)] = head
        estimates.append(run_memory(spec.config, head))
    shared = sum(h.ids.nbytes + getattr(h, "bounds", h.ids[:0]).nbytes for h in heads.values())
    free = available() if free is None else free
    need = grid_memory(estimates, shared, jobs)
    if need > free:
        fit = fitting_jobs(estimates, shared, jobs, free)
        hint = f"--jobs {fit} fits" if fit else "not even one run fits"
        raise ConfigError(f"--jobs: {jobs} runs at once need about {size_text(need)} of memory "
                          f"(each worker {size_text(PROCESS_BASE)} and its run), more than the "
                          f"{size_text(free)} this machine can spare; {hint}")
    return need
