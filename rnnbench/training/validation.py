"""A run's validation losses, measured in line or on a second thread beside the training loop.

A run that has the machine to itself (not a grid's worker), whose training loop holds one core
(no BLAS threads) while another is free, validates beside it: at each evaluation the weights and
the recurrent state are copied (a snapshot), and the loss is read from the copy on a second
thread while the compiled loop, which runs without the GIL, trains on. The numbers are the
in-line path's bit for bit (the same kernel on the same arrays, one BLAS thread), recorded in
the same trace row; the best weights (best.npz) are the snapshot's. Everything that reads the
record (a checkpoint, the end of the run) waits for the losses in flight first (``settle``).
"""
import copy
import math
import time
from concurrent.futures import ThreadPoolExecutor

from . import threads

LN2 = math.log(2.0)
MAX_IN_FLIGHT = 2  # snapshots waiting at most (each holds a copy of the weights)


def validates_beside(config):
    """Whether a run of ``config`` validates on a second thread: it is the only work (no
    one_thread hold of a grid's worker or a benchmark), the machine has a second core, and
    its training loop runs on one thread (threads.lone_cores: no BLAS threads, no split)."""
    return not threads.held() and threads.usable_cores() >= 2 and \
        threads.lone_cores(config) == 1


def snapshot(run):
    """A copy of the training state ``run`` that validation reads: its own weights and
    recurrent state, everything else shared (and not read)."""
    snap = copy.copy(run)
    snap.model = run.model.copy()
    snap.h = run.h.copy()
    return snap


def measure(run, corpus, limit, full):
    """(loss per character on the held-out tail's first ``limit`` characters (0: all), on all
    of it when ``full`` (else NaN), seconds taken), read from the carried hidden state of
    stream 0 (records mode: each validation record from a zero state).

    The recipe zeroes the state only once per pass over the text, so early in training a model
    has never seen a zero state, and its loss from one (10+ nats/char on the built-in corpus
    after 1,000 updates, against 3 from the carried state) says little. The whole tail at the
    end reuses the slice's loss when the slice is the whole tail."""
    t0 = time.perf_counter()
    sliced = _per_char(*run.val_loss(corpus, limit))
    whole = not limit or limit >= len(corpus.val_ids) - 1
    value = float("nan")
    if full:
        value = sliced if whole else _per_char(*run.val_loss(corpus, 0))
    return sliced, value, time.perf_counter() - t0


def _per_char(total, n):
    return total / n if n else float("nan")


class Validation:
    """The validation losses of one run, into its Recorder ``rec``: in line, or (``beside``)
    on a second thread from snapshots."""

    def __init__(self, rec, beside=False):
        self.rec = rec
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="rnnbench-val") if beside else None
        self.pending = []  # (trace row, update, offer as best?, snapshot, future), in order

    def at(self, run, n, row, offer, full):
        """Fill the trace row ``row`` of update ``n`` with the validation loss (``full``: and
        the whole tail's); ``offer``: a scheduled evaluation, a candidate for best.npz."""
        rec = self.rec
        if self.pool is None:
            losses = measure(run, rec.corpus, rec.config.val_slice, full)
            self._record(row, n, offer, run, *losses)
            return
        snap = snapshot(run)
        self.pending.append((row, n, offer, snap, self.pool.submit(
            measure, snap, rec.corpus, rec.config.val_slice, full)))
        self.settle(wait=len(self.pending) > MAX_IN_FLIGHT)

    def settle(self, wait=True):
        """Record the losses in flight, in order: all of them (``wait``), or those done."""
        while self.pending and (wait or self.pending[0][-1].done()):
            row, n, offer, snap, future = self.pending.pop(0)
            self._record(row, n, offer, snap, *future.result())

    def close(self):
        """Record what is in flight and let the thread go."""
        if self.pool is not None:
            try:
                self.settle()
            finally:
                self.pool.shutdown()

    def _record(self, row, n, offer, run, sliced, whole, seconds):
        rec = self.rec
        rec.val_s += seconds
        rec.val_losses.append(sliced)
        if offer:
            rec.best.offer(sliced, n, run.model.theta, run.h)
        row.update(val_loss_per_char=sliced, val_bits_per_char=sliced / LN2,
                   val_full_loss_per_char=whole)
