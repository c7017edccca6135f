"""The training state of records mode: B streams over blocks of records, each record from a
zero state, padded chunks that never cross a record (see kernels/record_loop.py)."""
import math

import numpy as np

from .training import TrainState


def stream_blocks(n_records, batch_size):
    """(B, 2) record ranges: stream b reads records [lo, hi), contiguous blocks of nearly equal
    counts (as the plain mode cuts the text into B contiguous parts)."""
    edges = [b * n_records // batch_size for b in range(batch_size + 1)]
    return np.array([[edges[b], edges[b + 1]] for b in range(batch_size)], dtype=np.int64)


class RecordTrainState(TrainState):
    """TrainState for a RecordCorpus: ``cursors`` (B x [record, offset, wraps]) say where each
    stream is; ``counters`` = [records finished, updates done, epoch]. Chunks hold a variable
    number of real targets, counted per update so that losses per character stay exact."""

    def __init__(self, model, corpus, *args, **kwargs):
        self.corpus = corpus
        super().__init__(model, corpus.train_ids, *args, **kwargs)
        self.blocks = stream_blocks(corpus.n_train, self.batch_size)
        self.cursors = np.zeros((self.batch_size, 3), dtype=np.int64)
        self.cursors[:, 0] = self.blocks[:, 0]
        self.target_counts = np.zeros(1024, dtype=np.int64)
        # The recipe starts the smooth loss at a chunk's uniform loss; here a chunk holds, on
        # average over an epoch, (targets) / (chunks) characters, not seq_length.
        lengths = np.diff(corpus.train_bounds)
        chunks = -(-lengths // self.seq_length)
        self.smooth = math.log(model.vocab_size) * lengths.sum() / chunks.sum()
        self._log = np.zeros((0, 2, 0), dtype=np.int64)

    def _layout(self, data, seq_length, batch_size):
        self.corpus.check_length(seq_length, batch_size)
        return data

    def run(self, losses, smooths, log=None):
        """As TrainState.run; ``log`` (len(losses), 2, T*B), if given, receives each update's
        input ids and targets (-1: padding), for tests of the chunk schedule."""
        from .kernels.record_loop import record_updates
        n0 = self.updates
        counts = np.zeros(len(losses), dtype=np.int64)
        done, self.smooth = record_updates(
            self.model.theta, self.grad, self.slots[0], self.slots[1], self.dims, self.data,
            self.corpus.train_bounds, self.blocks, self.seq_length, self.corpus.end_id,
            self.hyper, *self.codes, self.dropout, self.seed, self.h, self.counters,
            self.cursors, self.smooth, len(losses), losses, smooths, counts,
            self._log if log is None else log)
        if n0 + done > len(self.target_counts):
            grown = np.zeros(max(2 * len(self.target_counts), n0 + done), dtype=np.int64)
            grown[:len(self.target_counts)] = self.target_counts
            self.target_counts = grown
        self.target_counts[n0:n0 + done] = counts[:done]
        return done

    def next_input(self):
        """Samples in records mode start a new record: input END from a zero state."""
        return self.corpus.end_id, self.model.zero_state()

    def val_loss(self, corpus):
        """(summed loss, characters) over the validation records, each from a zero state."""
        from .kernels.record_loop import record_eval_loss
        if corpus.n_val == 0:
            return 0.0, 0
        total, n = record_eval_loss(self.model.theta, self.model.dims(), corpus.val_ids,
                                    corpus.val_bounds, 256)
        return float(total), int(n)

    def chars_in(self, lo, hi):
        return int(self.target_counts[lo:hi].sum())

    def loss_per_char(self, window, lo, hi):
        chars = self.chars_in(lo, hi)
        return float(np.sum(window)) * self.batch_size / chars if chars else float("nan")

    def chars_per_stream_update(self):
        n = self.updates
        return self.chars_in(0, n) / (n * self.batch_size) if n else float(self.seq_length)

    def arrays(self):
        return dict(super().arrays(), cursors=self.cursors)
