"""Per-update values (losses, target counts) kept only as far back as the driver looks.

The training driver needs each update's loss for two things: a trace row's mean over the last
``trace_every`` updates and the divergence rule's mean over the last 100. So it keeps that many,
not one per update of the run: ``--updates 1000000000`` must not allocate 8 GB up front.
"""
import numpy as np

from ..divergence import WINDOW

MAX_WINDOW = 1_000_000  # a trace row averages at most this many updates (trace_every above it)
MAX_CHUNK = 250  # updates per call of the compiled loop (the driver's progress refreshes between)


def kept_updates(config):
    """How many past updates' losses the driver keeps for ``config``: its trace window (at most
    MAX_WINDOW) or the divergence rule's window, whichever is longer, and no more than the run
    has."""
    return max(1, min(config.updates, max(min(config.trace_every, MAX_WINDOW), WINDOW)))


def buffer_bytes(config, chunk=MAX_CHUNK):
    """What the driver allocates per run for per-update values: losses (float64) of the kept
    updates with room for a chunk of ``chunk`` (MAX_CHUNK), the chunk's smooth losses, and in
    records mode the target counts (int64) likewise; for an estimate made before training."""
    losses = 8 * (2 * kept_updates(config) + chunk)
    return losses + 8 * chunk + (losses if config.records else 0)


class RecentValues:
    """The last ``keep`` values of a per-update series and those of the chunk being written,
    in one contiguous array, so that any window ending at the newest update is a view: a mean
    over it is computed as it would be over an array of the whole run, bit for bit.

    ``space(k)`` gives the view for the next k updates to be written into, ``commit(done)``
    says how many were, ``view(lo, hi)`` reads updates lo .. hi - 1 (all of them still kept).
    """

    def __init__(self, keep, chunk, dtype=np.float64, fill=np.nan):
        self.keep, self.fill = int(keep), fill
        self.buf = np.full(2 * self.keep + int(chunk), fill, dtype=dtype)
        self.base = 0  # the update number of buf[0]
        self.end = 0   # updates recorded so far: buf holds updates base .. end - 1

    def space(self, k):
        """A view for updates end .. end + k - 1, made by dropping all but the last ``keep``."""
        if self.end - self.base + k > len(self.buf):
            start = max(self.base, self.end - self.keep)
            n = self.end - start
            self.buf[:n] = self.buf[start - self.base:self.end - self.base]
            self.buf[n:] = self.fill
            self.base = start
            if n + k > len(self.buf):  # a caller writing a longer chunk than announced
                grown = np.full(n + k, self.fill, dtype=self.buf.dtype)
                grown[:n] = self.buf[:n]
                self.buf = grown
        lo = self.end - self.base
        return self.buf[lo:lo + k]

    def commit(self, done):
        self.end += int(done)

    def view(self, lo, hi):
        """Updates lo .. hi - 1; lo must not be older than what is kept."""
        if lo < self.base or hi > self.end:
            raise IndexError(f"updates {lo}..{hi} not kept (kept: {self.base}..{self.end})")
        return self.buf[lo - self.base:hi - self.base]

    def kept(self):
        """(the last ``keep`` values, the update after the newest): what a checkpoint saves so
        that a resumed run reads the same windows (``restore``)."""
        lo = max(self.base, self.end - self.keep)
        return self.buf[lo - self.base:self.end - self.base].copy(), self.end

    def restore(self, values, end):
        """Hold ``values`` as updates end - len(values) .. end - 1 (what ``kept`` gave)."""
        values = np.asarray(values, dtype=self.buf.dtype)
        if len(values) > self.keep:
            values = values[-self.keep:]
        self.buf[:] = self.fill
        self.buf[:len(values)] = values
        self.base, self.end = int(end) - len(values), int(end)

    @property
    def nbytes(self):
        return self.buf.nbytes
