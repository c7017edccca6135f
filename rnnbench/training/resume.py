"""Exact resume: what a run's checkpoint holds beyond the weights, so that a run stopped at the
end of a chunk (Ctrl-C, a kill after a checkpoint, a smaller budget) and continued gives the
same trace, samples and arrays, bit for bit, as the run done in one go.

Beside the weights and the training state (optimizer slots, recurrent state, counters: data
pointer, updates, epoch; smooth loss; records mode's cursors and target counts), a checkpoint
keeps the per-update losses a trace row or the divergence rule still reads (``recent``) and,
in its info, the loop's own numbers (``LOOP_KEYS``). The trace and samples so far are the run
folder's tables; the best model so far is best.npz. Dropout masks and sample seeds come from
(seed, update), so nothing random is carried. No I/O here: experiments/run_folder.py reads.
"""
from dataclasses import dataclass

import numpy as np
import pandas as pd

# the loop's numbers in a checkpoint's info["loop"]: seconds so far (training only, all of
# the run's wall time, the trace's elapsed clock, before the first update, in validation),
# the divergence rule's first loss, the best validation loss so far and its update
LOOP_KEYS = ("train_s", "wall_s", "elapsed_s", "startup_s", "initial_loss", "best_val",
             "best_update", "val_s")


@dataclass
class Resume:
    """A run to continue, as read from its folder (run_folder.read_resume)."""

    config: object          # the run's RunConfig
    model: object           # the last weights (a Model)
    arrays: dict            # the training state's arrays and ``recent``
    loop: dict              # LOOP_KEYS
    trace: pd.DataFrame
    samples: pd.DataFrame
    best: object = None     # the best model so far (a Model), if any
    best_arrays: dict = None  # its recurrent state then ("h")
    status: str = "stopped"
    corpus_checksum: str = None  # of the text it trained on (the summary's)

    @property
    def updates(self):
        return int(self.arrays["counters"][1])


def loop_info(clock, rule, best):
    """The info["loop"] entry of a checkpoint (see LOOP_KEYS)."""
    return dict(train_s=clock.train_s, wall_s=clock.wall_s(), elapsed_s=clock.elapsed(),
                startup_s=clock.startup_s, initial_loss=rule.initial, best_val=best.value,
                best_update=best.update)


def continued_rows(trace, samples, config, done):
    """The trace and sample rows a run continues with after ``done`` updates: a run that ended
    there (its budget) also wrote rows that a longer run does not (the end's trace row,
    validation off their schedules) and rows of its final model (the passage): those go, so
    that the continued run's tables are those of one run."""
    trace = trace.copy()
    at_end = trace["update"] == done
    off_trace = done % config.trace_every != 0
    if done % config.eval_every != 0:
        trace.loc[at_end, [c for c in trace.columns if c.startswith("val_")]] = np.nan
    trace.loc[at_end, "val_full_loss_per_char"] = np.nan  # the whole tail: at the end only
    if off_trace and done % config.eval_every != 0:
        trace = trace[~at_end]
    # the continued loop draws the training sample of update ``done`` first (if due)
    keep = (samples["kind"] == "training") & (samples["update"] != done)
    return trace.reset_index(drop=True), samples[keep].reset_index(drop=True)


@dataclass
class Best:
    """The lowest validation loss so far (at the scheduled evaluations), its update, and
    copies of the weights and the recurrent state then (a passage of the best model continues
    from that state: a model early in its first pass has never seen a zero state)."""

    value: float = float("nan")
    update: int = -1
    theta: np.ndarray = None
    h: np.ndarray = None

    def offer(self, value, update, theta, h):
        if np.isfinite(value) and not value >= self.value:  # NaN best: the first finite one
            self.value, self.update = float(value), int(update)
            self.theta, self.h = theta.copy(), h.copy()
