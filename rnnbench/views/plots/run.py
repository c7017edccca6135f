"""The plots of one run (a ``train`` folder), drawn from its tables alone: the smooth loss
against updates with epochs marked (the course's graph), and training and validation loss per
character against updates and against characters seen, with the count-based baselines.

A long run's trace can hold a million rows: the lines are drawn through at most MAX_POINTS of
them (evenly spaced, every validation point and the last row kept); the tables keep them all.
"""
import io
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.ticker import EngFormatter

from ...disk.writing import atomic_write_bytes
from .base import THEME, baseline_lines, baselines_for, baselines_note, note, plt
from .status import diverged_note, mark_diverged, y_range

PLOTS = "plots"
MAX_POINTS = 2000
DPI = 110
RUN_PLOTS = {
    "smooth_loss.png": "The smooth loss against updates, epochs marked",
    "loss_vs_updates.png": "Training and validation loss per character against updates",
    "loss_vs_chars.png": "Training and validation loss per character against characters seen",
}
VAL_COLUMNS = {"val_loss_per_char": "validation", "val_full_loss_per_char":
               "validation, whole held-out tail"}


def run_frame(config, summary, run_id="run"):
    """The run as the one-row runs table the shared plot helpers read."""
    row = {**config, **summary, "run_id": run_id, "label": Path(str(run_id)).name}
    return pd.DataFrame([{k: v for k, v in row.items() if not isinstance(v, (dict, list))}])


def thinned(trace, max_points=MAX_POINTS):
    """At most about ``max_points`` rows of ``trace`` for drawing: evenly spaced, with every
    row that holds a validation loss and the last row kept."""
    if len(trace) <= max_points:
        return trace
    step = int(np.ceil(len(trace) / max_points))
    keep = np.zeros(len(trace), dtype=bool)
    keep[::step] = True
    keep[-1] = True
    for col in VAL_COLUMNS:
        if col in trace:
            keep |= trace[col].notna().to_numpy()
    return trace[keep]


def make_run_plots(folder, tables):
    """Write the plots of the run folder ``folder`` (``tables``: run_folder.load_run_tables);
    returns their paths."""
    folder = Path(folder)
    out = folder / PLOTS
    out.mkdir(exist_ok=True)
    runs = run_frame(tables.config, tables.summary, folder.name)
    trace = thinned(tables.trace)
    figures = {"smooth_loss.png": lambda: smooth_loss(tables, trace),
               "loss_vs_updates.png": lambda: losses(tables, trace, runs, "update"),
               "loss_vs_chars.png": lambda: losses(tables, trace, runs, "chars_seen")}
    paths = []
    for name, draw in figures.items():
        buffer = io.BytesIO()
        with plt.rc_context(THEME):  # the grid's look, without seaborn
            fig = draw()
            # bbox_inches="tight", laid out once (matplotlib's lays the figure out twice more)
            box = fig.get_tightbbox(fig.canvas.get_renderer())
            fig.savefig(buffer, format="png", dpi=DPI,
                        bbox_inches=box.padded(plt.rcParams["savefig.pad_inches"]))
        plt.close(fig)
        atomic_write_bytes(out / name, buffer.getvalue())
        paths.append(out / name)
    return paths


def epoch_starts(trace):
    """(update, epoch) where each epoch after the first begins, as far as the trace tells: the
    first row of each new epoch (the pass began at most trace_every updates before)."""
    if "epoch" not in trace or trace.empty:
        return []
    changed = trace["epoch"].diff().fillna(0) > 0
    return list(zip(trace.loc[changed, "update"], trace.loc[changed, "epoch"]))


def smooth_loss(tables, trace):
    """min-char-rnn's smooth loss (summed over a chunk) against updates, a line at each new
    epoch; per character on the right-hand axis."""
    fig, ax = plt.subplots(figsize=(8, 4.2))
    name = tables.summary.get("corpus", "")
    if trace.empty:
        ax.axis("off")
        ax.text(0.5, 0.5, "no trace rows yet", ha="center")
        return fig
    ax.plot(trace["update"], trace["smooth_loss"], color="tab:blue", linewidth=1.4)
    finite = trace["smooth_loss"][np.isfinite(trace["smooth_loss"])]
    if len(finite):
        low, high = float(finite.min()), float(finite.quantile(0.995))
        ax.set_ylim(low - 0.05 * (high - low + 1e-9), high + 0.05 * (high - low + 1e-9))
    for update, epoch in epoch_starts(tables.trace):
        ax.axvline(update, color="0.5", linewidth=0.8, linestyle="--", zorder=0)
        ax.annotate(f"epoch {int(epoch) + 1}", xy=(update, 1.0), xycoords=("data", "axes fraction"),
                    xytext=(2, -10), textcoords="offset points", fontsize=7.5, color="0.35")
    seq = tables.config.get("seq_length")
    if seq and not tables.config.get("records"):
        right = ax.secondary_yaxis("right", functions=(lambda y: y / seq, lambda y: y * seq))
        right.set_ylabel("per character (nats)")
    ax.set_xlabel("updates")
    ax.set_ylabel(f"smooth loss (nats per {seq}-character chunk)")
    ax.xaxis.set_major_formatter(EngFormatter(sep=""))
    ax.set_title(f"{name}: smooth loss", fontweight="bold")
    note(fig, "min-char-rnn's smooth loss: 0.999 x smooth + 0.001 x the update's loss, summed "
              "over the chunk of seq_length characters (as the course plots it); dashed lines: "
              "where a new pass over the training text (epoch) began, as the trace rows tell."
              + ("" if len(trace) == len(tables.trace) else
                 f" Drawn through {len(trace):,} of the trace's {len(tables.trace):,} rows."))
    return fig


def losses(tables, trace, runs, x):
    """Training (mean over each trace row's window) and validation loss per character against
    ``x``, the baselines as grey dotted lines."""
    fig, ax = plt.subplots(figsize=(8, 4.2))
    xlabel = "updates" if x == "update" else "characters seen"
    long = pd.DataFrame({"run_id": runs["run_id"].iloc[0], "update": tables.trace["update"],
                         "loss": tables.trace["loss_per_char"]})
    uniform = baselines_for(tables.baselines, runs).get("uniform")
    bottom, top = y_range(long, runs, uniform)
    ax.plot(trace[x], trace["loss_per_char"], color="tab:blue", linewidth=1.0, alpha=0.8,
            label="training (mean of the last trace_every updates)")
    styles = {"val_loss_per_char": dict(color="tab:orange", marker="o", markersize=3,
                                        linewidth=1.6),
              "val_full_loss_per_char": dict(color="tab:red", marker="D", markersize=5,
                                             linestyle="none")}
    part, chars = tables.config.get("val_slice") or 0, tables.summary.get("val_chars") or 0
    labels = dict(VAL_COLUMNS)
    if part and part < chars - 1:
        labels["val_loss_per_char"] = f"validation, the tail's first {part:,} characters"
        labels["val_full_loss_per_char"] = f"validation, all {chars:,} (at the end)"
    for col, label in labels.items():
        if col in trace:
            vals = trace[[x, col]].dropna()
            if len(vals):
                ax.plot(vals[x], vals[col], label=label, **styles[col])
    ax.set_ylim(bottom, top)
    baseline_lines(ax, tables.baselines, runs)
    mark_diverged(ax, tables.trace.assign(run_id=runs["run_id"].iloc[0]), runs, x, top)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("loss (nats per character)")
    ax.xaxis.set_major_formatter(EngFormatter(sep=""))
    ax.legend(loc="best", fontsize=8, frameon=True)
    ax.set_title(f"{tables.summary.get('corpus', '')}: loss per character against {xlabel}",
                 fontweight="bold")
    note(fig, "Training: the mean loss per character of the updates since the previous trace "
              "row. Validation: on the held-out tail of the text (" + tables.val_note + "). "
              "Dotted: count-based baselines on the same split."
              + baselines_note(tables.baselines, runs, (bottom, top)) + diverged_note(runs))
    return fig
