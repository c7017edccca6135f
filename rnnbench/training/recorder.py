"""What the training driver keeps between calls of the compiled loop: the run's clocks and
the record (trace rows, samples, validation losses, the best weights so far)."""
import time

from ..text.novelty import training_index
from .resume import Best, continued_rows
from .samples import PASSAGE_LENGTH, PASSAGE_TEMPERATURE, sample_row, start_text
from .seeds import PASSAGE_SEED, TRAINING_SAMPLE, derived_seed
from .threads import in_background


def validation_rows(trace):
    """The rows of ``trace`` where the validation loss was measured (the trace holds NaN
    between evaluations): what to plot, e.g. ``validation_rows(t).plot(x="update",
    y="val_loss_per_char")``."""
    return trace[trace["val_loss_per_char"].notna()].reset_index(drop=True)


class Clock:
    """Seconds of a run, continued across resumes: training only (the compiled loop's calls),
    the whole run's wall time, and the trace's elapsed clock."""

    def __init__(self, loop=None):
        loop = loop or {}
        self.train_s = float(loop.get("train_s", 0.0))
        self._wall0 = float(loop.get("wall_s", 0.0))
        self._elapsed0 = float(loop.get("elapsed_s", 0.0))
        # before the first update: reading the text, loading (or compiling) the kernels
        self.startup_s = float(loop.get("startup_s", 0.0))
        self.start = self.loop_start = time.perf_counter()

    def wall_s(self):
        return self._wall0 + time.perf_counter() - self.start

    def elapsed(self):
        return self._elapsed0 + time.perf_counter() - self.loop_start


class Recorder:
    """Accumulates trace and sample rows; knows which update needs what."""

    def __init__(self, config, corpus, model, on_sample, resume=None):
        self.config, self.corpus, self.model = config, corpus, model
        self.on_sample = on_sample
        self.trace_rows, self.sample_rows = [], []
        self.val_losses = []
        self.best = Best()
        # the novelty index of a long text is built (NumPy, mostly without the GIL) while the
        # kernels load, not before the first update (measured: 0.14 s of tinyshakespeare's
        # 20,000-update run)
        self._index = in_background(training_index, corpus) if config.sample_every else None
        self.val_s = float(resume.loop.get("val_s", 0.0)) if resume is not None else 0.0
        if resume is not None:
            trace, samples = continued_rows(resume.trace, resume.samples, config,
                                            resume.updates)
            self.trace_rows = trace.to_dict("records")
            self.sample_rows = samples.to_dict("records")
            self.val_losses = trace["val_loss_per_char"].dropna().tolist()
            if resume.best is not None and resume.loop.get("best_update", -1) >= 0:
                self.best = Best(resume.loop["best_val"], resume.loop["best_update"],
                                 resume.best.theta.copy(),
                                 (resume.best_arrays or {}).get("h"))

    def best_passage(self, n):
        """The report's passage: PASSAGE_LENGTH characters of the best weights (the last when
        no validation loss was measured), continuing from stream 0's state then (a records
        model: a new record from a zero state), a row of kind "best_passage"."""
        if self.best.theta is None:
            return
        model, update = self.model.copy(), self.best.update
        model.theta[:] = self.best.theta
        model.end_symbol = self.model.end_symbol
        h = None if model.end_symbol or self.best.h is None else self.best.h[:, 0]
        prime = start_text(None, model.chars, model.end_symbol)
        self.sample_rows.append(sample_row(
            model, prime, PASSAGE_LENGTH, PASSAGE_TEMPERATURE, PASSAGE_SEED, h, update=update,
            kind="best_passage", index=training_index(self.corpus), stop=model.end_symbol,
            shown_prime=prime.lstrip(model.end_symbol or "")))

    def sample(self, n, h, first_id):
        """The training sample of update ``n``: from state ``h``, fed the next input."""
        cfg = self.config
        # a records model's sample is one record: fed its end symbol (a record starts), it
        # stops at the next one; neither is shown
        end = self.model.end_symbol
        row = sample_row(self.model, self.corpus.chars[first_id], cfg.sample_length,
                         cfg.temperature, derived_seed(cfg.seed, TRAINING_SAMPLE, n), h,
                         update=n, kind="training", index=self._index.result(),
                         stop=end, shown_prime="" if end else None)
        self.sample_rows.append(row)
        if self.on_sample is not None:
            self.on_sample(row)
