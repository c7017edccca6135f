"""The training state of records mode: B streams over blocks of records, each record from a
zero state, padded chunks that never cross a record (see kernels/loops.py)."""
import math

import numpy as np

from ..compiled import Records, record_eval_loss, record_updates
from ..text.charids import as_ids
from .recent import MAX_CHUNK, RecentValues, kept_updates
from .state import CarriedState, saved_array


def stream_blocks(n_records, batch_size):
    """(B, 2) record ranges: stream b reads records [lo, hi), contiguous blocks of nearly equal
    counts (as the plain mode cuts the text into B contiguous parts)."""
    edges = [b * n_records // batch_size for b in range(batch_size + 1)]
    return np.array([[edges[b], edges[b + 1]] for b in range(batch_size)], dtype=np.int64)


class RecordTrainState(CarriedState):
    """The training state (state.TrainingState) of a RecordCorpus: ``cursors`` (B x [record, offset, wraps]) say where each
    stream is; ``counters`` = [records finished, updates done, epoch]. Chunks hold a variable
    number of real targets, counted per update so that losses per character stay exact: the
    counts of the last ``keep`` updates (what a trace window needs) and their running total."""

    def __init__(self, model, corpus, seq_length, learning_rate=0.1, clip=5.0, *,
                 keep=MAX_CHUNK, **settings):
        super().__init__(model, seq_length, learning_rate, clip, **settings)
        self.corpus = corpus
        self.data = as_ids(corpus.train_ids, model.vocab_size, "data")
        corpus.check_length(seq_length, self.batch_size)
        self.blocks = stream_blocks(corpus.n_train, self.batch_size)
        self.records = Records(self.data, corpus.train_bounds, self.blocks, corpus.end_id)
        self.cursors = np.zeros((self.batch_size, 3), dtype=np.int64)
        self.cursors[:, 0] = self.blocks[:, 0]
        self.counts = RecentValues(keep, MAX_CHUNK, np.int64, 0)
        self.total_targets = 0
        # The recipe starts the smooth loss at a chunk's uniform loss; here a chunk holds, on
        # average over an epoch, (targets) / (chunks) characters, not seq_length.
        lengths = np.diff(corpus.train_bounds)
        chunks = -(-lengths // self.seq_length)
        self.smooth = math.log(model.vocab_size) * lengths.sum() / chunks.sum()
        self._log = np.zeros((0, 2, 0), dtype=np.int64)

    @classmethod
    def from_config(cls, model, corpus, config):
        return cls(model, corpus, config.seq_length, config.learning_rate, config.clip,
                   keep=kept_updates(config), **cls.settings(config))

    @property
    def target_counts(self):
        """Real targets (all streams) of each update still kept, from update counts.base."""
        return self.counts.view(self.counts.base, self.counts.end)

    def run(self, losses, smooths, log=None):
        """As state.TrainState.run; ``log`` (len(losses), 2, T*B), if given, receives each update's
        input ids and targets (-1: padding), for tests of the chunk schedule."""
        counts = self.counts.space(len(losses))
        done, self.smooth = record_updates(
            self.model.theta, self.grad, self.dims, self.opt, self.records, self.seq_length,
            self.dropout, self.seed, self.h, self.counters, self.cursors, self.smooth, losses,
            smooths, counts, self._log if log is None else log)
        self.counts.commit(done)
        self.total_targets += int(counts[:done].sum())
        return done

    def next_input(self):
        """Samples in records mode start a new record: input END from a zero state."""
        return self.corpus.end_id, self.model.zero_state()

    def val_loss(self, corpus, limit=0):
        """(summed loss, characters) over the validation records, each from a zero state (the
        first records that hold ``limit`` characters, at least one; 0: all of them)."""
        if corpus.n_val == 0:
            return 0.0, 0
        ids, bounds = corpus.val_ids, corpus.val_bounds
        if limit:
            k = max(1, int(np.searchsorted(bounds, limit, side="right")) - 1)
            ids, bounds = ids[:bounds[k] + 1], bounds[:k + 1]
        total, n = record_eval_loss(self.model.theta, self.model.dims(), ids, bounds, 256)
        return float(total), int(n)

    def chars_in(self, lo, hi):
        """Real targets of updates lo .. hi - 1: from the running total when lo is 0, else
        from the kept counts."""
        if lo == 0:
            return self.total_targets - int(self.counts.view(hi, self.counts.end).sum())
        return int(self.counts.view(lo, hi).sum())

    def loss_per_char(self, window, lo, hi):
        chars = self.chars_in(lo, hi)
        return float(np.sum(window)) * self.batch_size / chars if chars else float("nan")

    def losses_per_char(self, window, lo, hi):
        return window * self.batch_size / self.counts.view(lo, hi)

    def chars_per_stream_update(self):
        n = self.updates
        return self.chars_in(0, n) / (n * self.batch_size) if n else float(self.seq_length)

    def arrays(self):
        counts, _ = self.counts.kept()
        return dict(super().arrays(), cursors=self.cursors, recent_counts=counts,
                    total_targets=np.array(self.total_targets, dtype=np.int64))

    def restore(self, arrays):
        """As CarriedState.restore, and the streams' cursors and the kept target counts."""
        super().restore(arrays)
        self.cursors[:] = saved_array(arrays, "cursors", self.cursors.shape)
        counts = saved_array(arrays, "recent_counts", None)
        self.counts.restore(counts, self.updates)
        self.total_targets = int(saved_array(arrays, "total_targets", ()))
