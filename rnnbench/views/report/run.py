"""The report of one run (a ``train`` folder): what was trained and how it ended, its speed,
its plots, a 1,000-character passage from its best checkpoint and every training sample in
order, as report.md and a self-contained report.html (render.py writes both, as a grid's).
Drawn from the run's tables alone: no model is loaded, nothing is sampled here."""
import math
from pathlib import Path

from ...experiments.run_folder import BEST, load_run_tables
from ..plots.run import PLOTS, RUN_PLOTS, make_run_plots
from .render import plot_blocks, write_blocks

PASSAGE_KIND = "best_passage"


def write_run_report(folder, tables=None, plots=True):
    """Write plots/ (with ``plots``), report.md and report.html into the run folder
    ``folder``; returns their paths."""
    folder = Path(folder)
    tables = tables or load_run_tables(folder)
    paths = make_run_plots(folder, tables) if plots else []
    return paths + write_blocks(folder, run_blocks(folder, tables), f"run {folder.name}")


def num(value, digits=3):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return f"{value:.{digits}f}" if ok else "n/a"


def run_blocks(folder, tables):
    """The report as (kind, payload) blocks (see render.py)."""
    s, c = tables.summary, tables.config
    b = [("h1", f"Run {folder.name}"), ("p", _status(s, c))]
    b += _results(folder, tables)
    b += _speed(s)
    b += plot_blocks(folder, PLOTS, RUN_PLOTS)
    b += _passage(tables)
    b += _training_samples(tables)
    b.append(("h2", "Config"))
    b.append(("table", (["field", "value"], [[k, str(v)] for k, v in c.items()])))
    return b


def _status(s, c):
    what = (f"A {c.get('cell')} of {c.get('num_layers')} x {c.get('hidden_size')} units on "
            f"{s.get('corpus')} (vocabulary {s.get('vocab_size')}, {s.get('train_chars', 0):,} "
            f"training and {s.get('val_chars', 0):,} validation characters), "
            f"{c.get('optimizer')} at learning rate {c.get('learning_rate')}, seq_length "
            f"{c.get('seq_length')}, batch {c.get('batch_size')}, seed {c.get('seed')}.")
    done = f"{s['updates']:,} of {c.get('updates', s['updates']):,} updates"
    ended = {"ok": f"Finished: {done}",
             "stopped": f"Stopped part-way (continue it with `rnnbench train --resume`): {done}",
             "diverged": f"Diverged at update {s.get('diverged_at')}: {s.get('error')}"}
    return (f"{what} {ended.get(s['status'], s['status'])}; epochs completed (full passes "
            f"over the training text): {s.get('epochs', 0)}.")


def _results(folder, tables):
    s = tables.summary
    rows = [["smooth loss (per chunk, the recipe's)", num(s.get("final_smooth_loss"), 2)],
            ["smooth loss per character", num(s.get("final_smooth_loss_per_char"))],
            ["training loss per character (last trace window)",
             num(s.get("final_loss_per_char"))],
            ["validation loss per character (last)", num(s.get("final_val_loss_per_char"))],
            ["best validation loss per character", num(s.get("best_val_loss_per_char"))]]
    if isinstance(s.get("best_checkpoint_update"), int):
        rows.append([f"{BEST}: validation loss per character at update "
                     f"{s['best_checkpoint_update']:,}",
                     num(s.get("best_checkpoint_val_loss_per_char"))])
    for r in tables.baselines.itertuples() if len(tables.baselines) else ():
        rows.append([f"baseline: {r.baseline}", num(r.loss_per_char)])
    return [("h2", "Results (nats per character)"), ("table", (["", "value"], rows)),
            ("p", "Validation: the loss per character on the held-out tail ("
                  + tables.val_note + ").")]


def _speed(s):
    wall, train_s, n = s.get("wall_s", 0.0), s.get("train_s", 0.0), s.get("updates", 0)
    chars = s.get("chars_seen", 0)
    rows = [["wall clock", f"{wall:,.1f} s", f"{n / wall:,.0f}" if wall else "n/a",
             f"{chars / wall:,.0f}" if wall else "n/a"],
            ["training alone (the compiled loop)", f"{train_s:,.1f} s",
             f"{n / train_s:,.0f}" if train_s else "n/a",
             f"{chars / train_s:,.0f}" if train_s else "n/a"]]
    for what, key in (("of which before the first update (kernels loaded or compiled)",
                       "startup_s"), ("validation (its own time: on a second thread beside "
                                      "training when the run had the machine)", "val_s")):
        if isinstance(s.get(key), (int, float)):
            rows.append([what, f"{s[key]:,.1f} s", "", ""])
    return [("h2", "Speed"),
            ("table", (["clock", "seconds", "updates/s", "characters/s"], rows)),
            ("p", f"rnnbench {s.get('rnnbench_version')}, Numba {s.get('numba_version')}. "
                  "Wall time is the run's, from the text in hand to its last checkpoint: "
                  "loading the kernels (when not loaded yet), training, validation, samples "
                  "and checkpoints; not the process's start or the drawing of this report.")]


def _passage(tables):
    rows = tables.samples[tables.samples["kind"] == PASSAGE_KIND] if "kind" in tables.samples \
        else tables.samples.iloc[:0]
    if rows.empty:
        return [("h2", "A passage from the best checkpoint"),
                ("p", "None: the run has no passage yet (it stopped part-way or diverged).")]
    r = rows.iloc[-1]
    start = ("a new record from a zero state" if (tables.config or {}).get("records") else
             "continuing from the hidden state training had then")
    return [("h2", "A passage from the best checkpoint"),
            ("p", f"{len(r['text']):,} characters sampled at temperature {r['temperature']:g} "
                  f"from the weights of update {int(r['update']):,} ({BEST}: the lowest "
                  f"validation loss), {start}, after the prime "
                  f"{r['prime']!r}; "
                  f"novelty {num(r['novelty'], 2)}."),
            ("pre", str(r["prime"]) + str(r["text"]))]


def _training_samples(tables):
    samples = tables.samples
    if "kind" in samples:
        samples = samples[samples["kind"] == "training"]
    if samples.empty:
        return []
    # the smooth loss where a trace row has it (samples usually fall on trace rows)
    smooth = samples["update"].map(dict(zip(tables.trace["update"], tables.trace["smooth_loss"])))
    rows = [[f"{int(r.update):,}", num(sm, 2), str(r.prime) + str(r.text), num(r.novelty, 2)]
            for r, sm in zip(samples.itertuples(), smooth)]
    return [("h2", "Training samples"),
            ("p", f"Every sample drawn during training, in order ({len(rows)}): "
                  "sample_length characters from the hidden state training had reached, "
                  "before the update that follows. Smooth loss: at that update (per chunk). "
                  "Novelty: the share of the sample's 8-grams not in the training text."),
            ("table", (["update", "smooth loss", "sample", "novelty"], rows, 2))]
