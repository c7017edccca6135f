"""A batch split over threads: a lone run of a large batch uses every core by giving each of P
threads a part of the streams. BLAS threads speed up only the matrix products; the split runs
the whole update in parallel (the cells' element-wise steps, the softmax), which pays where the
products are a smaller share: at hidden <= 128 (threads.split_parts says where).

Per update, each part runs the forward pass and BPTT of its streams (kernels.loops
part_gradient, one BLAS thread each, part 0 on the calling thread), then one call adds the
parts' gradients in order and takes the optimizer step (finish_update). Dropout masks are drawn
by place in the whole batch and the loss is averaged over all its streams, so a split run is
the unsplit run up to the order of some sums; its numbers depend on P alone, not on threads or
load (P parts on one thread give the same bits), and P is kept in a checkpoint so that a resumed
run goes on with the same split.
"""
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from ..compiled import dropout_key, finish_update, part_gradient, workspace
from ..model.layout import CACHE_LINE, on_cache_line
from .state import TrainState


def part_bounds(batch_size, parts):
    """(first stream, streams) of each part: contiguous, of one size (a ValueError if
    ``parts`` does not divide the batch). How many parts: threads.split_parts."""
    if not 1 <= parts <= batch_size or batch_size % parts:
        raise ValueError(f"parts: {parts} parts must split the batch of {batch_size} streams "
                         f"evenly")
    size = batch_size // parts
    return [(q * size, size) for q in range(parts)]


def _aligned_rows(rows, n, dtype):
    """A C-contiguous (rows, m) array, m >= n, whose every row starts on a cache line: rows
    of n values are its [:, :n] (finish_update takes the whole array, so that it compiles
    once for any number of rows)."""
    item = np.dtype(dtype).itemsize
    padded = -(-n * item // CACHE_LINE) * CACHE_LINE // item
    return on_cache_line(np.zeros((rows, padded), dtype))


class SplitTrainState(TrainState):
    """Plain-text training with the batch split into ``parts`` parts (see the module's
    docstring), run on ``threads`` threads (default: one per part). The same interface and
    checkpoint arrays as TrainState."""

    def __init__(self, model, data, seq_length, learning_rate=0.1, clip=5.0, *, parts=2,
                 threads=None, **settings):
        super().__init__(model, data, seq_length, learning_rate, clip, **settings)
        B = self.batch_size
        self.bounds = part_bounds(B, int(parts))
        self.parts = len(self.bounds)
        self.threads = self.parts if threads is None else max(1, min(int(threads), self.parts))
        Bp, theta, T = B // self.parts, model.theta, seq_length
        shape = (self.parts, model.state_rows, Bp, model.hidden_size)
        self.states = np.zeros(shape, model.dtype)
        self.pending = np.zeros(shape, model.dtype)
        self.part_dims = [model.dims(Bp, B, first) for first, _ in self.bounds]
        self.others = _aligned_rows(self.parts - 1, theta.shape[0], model.dtype)
        self.grads = [self.grad] + [row[:theta.shape[0]] for row in self.others]
        # parts off the calling thread read their own copy of the weights
        self.owns = [theta[:0]] + [on_cache_line(np.zeros_like(theta))
                                   for _ in range(self.parts - 1)]
        self.ws = [workspace(d, T, theta, self.dropout) for d in self.part_dims]
        self.ids = [np.empty(T * Bp, np.int64) for _ in range(self.parts)]
        self.targets = [np.empty(T * Bp, np.int64) for _ in range(self.parts)]

    @classmethod
    def from_config(cls, model, data, config, parts=2, threads=None):
        return cls(model, data, config.seq_length, config.learning_rate, config.clip,
                   parts=parts, threads=threads, **cls.settings(config))

    def _part(self, q, p, key):
        return part_gradient(self.model.theta, self.owns[q], self.grads[q], self.part_dims[q],
                             self.data, p, self.seq_length, self.states[q], self.pending[q],
                             self.ws[q], self.ids[q], self.targets[q], self.dropout, key)

    def run(self, losses, smooths):
        if losses.shape[0] == 0:  # the driver's call before its clocks: compile (or load) only
            self._compile()
            return 0
        for q, (first, n) in enumerate(self.bounds):
            self.states[q] = self.h[:, first:first + n]
        try:
            if self.threads == 1:
                return self._updates(losses, smooths, None)
            with ThreadPoolExecutor(self.threads - 1,
                                    thread_name_prefix="rnnbench-part") as pool:
                return self._updates(losses, smooths, pool)
        finally:
            for q, (first, n) in enumerate(self.bounds):
                self.h[:, first:first + n] = self.states[q]

    def _compile(self):
        """Compile the two kernels for this state's argument types (or load them from the
        cache) without running them."""
        key, theta = np.uint64(0), self.model.theta
        for fn, args in (
                (part_gradient, (theta, self.owns[-1], self.grads[-1], self.part_dims[-1],
                                 self.data, 0, self.seq_length, self.states[-1],
                                 self.pending[-1], self.ws[-1], self.ids[-1], self.targets[-1],
                                 self.dropout, key)),
                (finish_update, (theta, self.grad, self.others, self.opt, self.counters, 0,
                                 True, self.states, self.pending, self.smooth, 0.0))):
            fn.compile(tuple(numba.typeof(a) for a in args))

    def _updates(self, losses, smooths, pool):
        """The updates of one call of ``run``, as train_updates does them (the same wrap rule,
        the same stop at a non-finite loss); parts 1.. on ``pool`` (None: this thread)."""
        T, N, counters = self.seq_length, self.data.shape[1], self.counters
        for k in range(losses.shape[0]):
            p = int(counters[0])
            wrapped = p + T + 1 >= N or counters[1] == 0
            if wrapped:
                p = 0
                self.states[:] = 0.0
            key = np.uint64(dropout_key(self.seed, counters[1]))
            # parts 1.. go to the pool's threads; part 0 (and every part without a pool)
            # runs here
            futures = [pool.submit(self._parts_of, w, p, key) for w in range(1, self.threads)]
            shares = self._parts_of(0, p, key)
            for f in futures:
                shares += f.result()
            loss = 0.0
            for _, share in sorted(shares):  # in part order, whichever thread ran them
                loss += share
            losses[k] = loss
            if not np.isfinite(loss):
                smooths[k] = loss
                self.smooth = loss
                return k + 1
            self.smooth = finish_update(self.model.theta, self.grad, self.others, self.opt,
                                        counters, p + T, wrapped, self.states, self.pending,
                                        self.smooth, loss)
            smooths[k] = self.smooth
        return losses.shape[0]

    def _parts_of(self, worker, p, key):
        """[(part, its loss share)] for the parts this thread runs: worker, worker + threads,
        ..."""
        return [(q, self._part(q, p, key)) for q in range(worker, self.parts, self.threads)]
