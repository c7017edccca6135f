"""What a grid's report says, as a list of (kind, payload) blocks built from its tables and
their analysis: first which settings are best, by how much and whether that is more than seed
noise (findings.py); then what was run, the baselines, the plots, the runs that diverged or
failed, and the text (samples.py). render.py writes the blocks as report.md and report.html,
so both say the same thing."""
import math
from pathlib import Path

import numpy as np
import pandas as pd

from ...analysis.tables import analyse_tables
from ...divergence import FACTOR, WINDOW
from ...experiments.results import load_tables
from ..plots.base import validation_read
from ..plots.draw import PLOTS
from .findings import first_screen
from .render import plot_blocks, write_blocks
from .samples import passage, temperature, training_samples

PLOT_CAPTIONS = {
    "effects.png": "What each swept field does: its mean over the other fields and seeds, "
                   "with 95% intervals",
    "interactions.png": "Pairs of swept fields: the mean of each combination (95% interval "
                        "below it)",
    "final_val_loss.png": "Final validation loss of each configuration",
    "loss_vs_updates.png": "Loss per character against updates",
    "loss_vs_chars.png": "Loss per character against characters seen (fair across seq_length)",
    "loss_vs_seconds.png": "Loss per character against seconds of training (fair across "
                           "speeds)",
    "speed.png": "Training speed",
}


def write_report(root, tables=None, analysis=None):
    """Write report.md and report.html into the results folder ``root`` (``tables``: its
    load_tables, ``analysis``: their analyse_tables, if made already); returns their paths."""
    root = Path(root)
    tables = tables or load_tables(root)
    info, runs, trace, samples, baselines = tables
    analysis = analysis or analyse_tables(info, runs, trace)
    return write_blocks(root, report_blocks(root, info, runs, samples, baselines, analysis),
                        info["name"])


def report_blocks(root, info, runs, samples, baselines, analysis):
    """The report as a list of (kind, payload) blocks; ``analysis``: analysis.analyse of the
    runs (and trace) tables."""
    b = [("h1", f"{info.get('kind', 'Grid')} {info['name']}")]
    if info.get("description"):
        b.append(("p", info["description"].strip()))
    b += first_screen(analysis, runs)
    b += _what_was_run(info, runs)
    b += _baselines(baselines)
    b += plot_blocks(root, PLOTS, PLOT_CAPTIONS)
    b += _failures(runs)
    b += passage(info, runs, samples, analysis)
    b += training_samples(runs, samples, analysis)
    b += temperature(info, runs, samples, analysis)
    return b


def _what_was_run(info, runs):
    counts = runs["status"].value_counts()
    statuses = ", ".join(f"{counts[s]} {s}" for s in ("ok", "diverged", "failed") if s in counts)
    done = len(runs)
    b = [("h2", "What was run"),
         ("p", f"{done} of {info['n_runs']} runs finished ({statuses or 'none yet'}), from "
               f"`{info['path']}`. Swept: {', '.join(info['swept']) or 'nothing'}; seeds: "
               f"{', '.join(map(str, info['seeds']))}.")]
    if len(runs):
        r0 = runs.iloc[0]
        corpora = runs.drop_duplicates("corpus")
        b.append(("p", "Texts: " + "; ".join(
            f"{c.corpus} (vocabulary {c.vocab_size}, {c.train_chars:,} training and "
            f"{c.val_chars:,} validation characters{_records(c)})"
            for c in corpora.itertuples()) + ". Validation every eval_every updates: on "
            + validation_read(runs) + "."))
        b.append(("p", f"rnnbench {r0['rnnbench_version']}, Numba {r0['numba_version']}. "
                  "Losses are in nats per character (bits = nats / ln 2). Same machine, same "
                  "tables; across CPUs only statistically the same."))
    b.append(("details", ("The grid file", info["source"])))
    return b


def _baselines(baselines):
    if baselines.empty:
        return []
    table = baselines.pivot_table(index="corpus", columns="baseline", values="loss_per_char",
                                  sort=False)
    rows = [[c] + [f"{table.loc[c, k]:.3f} ({table.loc[c, k] / math.log(2):.2f})"
                   for k in table.columns] for c in table.index]
    return [("h2", "Baselines"),
            ("p", "Validation loss per character in nats (bits) of count-based models fitted "
                  "on the same training text: what a model gets without learning much. Unigram "
                  "and bigram use add-one smoothing; the 5-gram reads four characters of context "
                  "with interpolated Kneser-Ney smoothing."),
            ("table", (["text", *table.columns], rows))]


def _failures(runs):
    """Every run that diverged (the update and the rule that stopped it) or failed."""
    bad = runs[runs["status"] != "ok"]
    if bad.empty:
        return []
    at = bad["diverged_at"] if "diverged_at" in bad else pd.Series(np.nan, index=bad.index)
    rule = bad["diverged_rule"] if "diverged_rule" in bad else pd.Series(None, index=bad.index)
    rows = [[r.label, str(r.seed), r.status, f"{int(u):,}" if pd.notna(u) else "",
             k if isinstance(k, str) else "", r.error or "", r.run_id]
            for r, u, k in zip(bad.itertuples(), at, rule)]
    b = [("h2", "Diverged and failed runs")]
    if (bad["status"] == "diverged").any():
        b.append(("p", "A run diverges when its loss becomes NaN or infinite (rule non_finite), "
                       f"or when the median of its last {WINDOW} updates' training losses per "
                       f"character is above {FACTOR:g} x ln V, {FACTOR:g} times what uniform "
                       "guessing gives, or above that many times its first update's loss if "
                       "that is higher (rule above_guessing). It stops at that update; its "
                       "losses are left out of the tables' rankings and of every plot's scale."))
    if (bad["status"] == "failed").any():
        b.append(("p", "A failed run raised an error (its error.txt holds the traceback); the "
                       "next `rnnbench run` of the grid tries it again."))
    b.append(("table", (["run", "seed", "status", "update", "rule", "error", "run id"], rows)))
    return b


def _records(c):
    """', in 275 and 30 records' for a run in records mode, else ''."""
    n = getattr(c, "train_records", None)
    if n is None or pd.isna(n):
        return ""
    return f", in {int(n):,} and {int(c.val_records):,} records, each from a zero state"


