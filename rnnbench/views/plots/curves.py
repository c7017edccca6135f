"""Loss curves: training and validation loss per character of every run, against updates,
characters seen or seconds of training; diverged runs marked where they stopped, baselines as
reference lines."""
import numpy as np
import pandas as pd
from matplotlib.ticker import EngFormatter

from ...config import short_value
from .base import validation_read
from .common import (HUE, baseline_lines, baselines_for, baselines_note, cut_note, note, plt,
                     sns)
from .status import diverged_note, failed_note, mark_diverged, status_text, uniform_loss, y_range

SPLIT_DASHES = {"training": "", "validation": (4, 2)}
SECONDS = "train_seconds"  # the trace column draw.py adds: seconds of training at each row
XLABELS = {"update": "updates", "chars_seen": "characters seen",
           SECONDS: "seconds of training"}


def loss_curves(info, roles, runs, trace, baselines, x):
    """Training and validation loss per character of every run against ``x``; the y range is
    set by the runs that finished, and each diverged run is an x where it stopped."""
    keep = ["run_id", HUE, "seed", *roles.facets]
    drawn = runs[runs["status"] != "failed"][keep]
    long = _long_losses(trace, x).merge(drawn, on="run_id")
    long = long[long["loss"].notna()]
    uniform = baselines_for(baselines, runs).get("uniform") or uniform_loss(runs)
    bottom, top = y_range(long, runs, uniform)
    xlabel = XLABELS[x]
    if long.empty:
        return _no_curves(info, runs, trace, x, xlabel, (bottom, top))
    g = sns.relplot(data=long, kind="line", x=x, y="loss", hue=HUE, hue_order=roles.hue_order,
                    palette=roles.palette(), style="split", dashes=SPLIT_DASHES,
                    style_order=["training", "validation"], units="run_id", estimator=None,
                    linewidth=1.3, height=3.2 if roles.facets else 4.2,
                    aspect=1.35 if roles.facets else 1.5,
                    # characters seen per update differ with seq_length: each facet its own x
                    facet_kws=dict(margin_titles=True, sharex=x != "chars_seen"),
                    **roles.facet_kwargs(runs))
    for ax in g.axes.flat:  # validation (dashed) in front, the noisier training lines behind
        for line in ax.lines:
            dashed = line.get_linestyle() not in ("-", "solid")
            line.set(linewidth=1.8 if dashed else 0.9, alpha=1.0 if dashed else 0.6)
    g.set(ylim=(bottom, top))
    for (row_val, col_val), ax in zip(_facet_keys(g), g.axes.flat):
        facet_runs = _facet_runs(runs, roles, row_val, col_val)
        mark_diverged(ax, trace, facet_runs, x, top)
        baseline_lines(ax, baselines, facet_runs)
        _per_text_baselines(ax, baselines, facet_runs, roles)
        ax.set_ylim(bottom, top)
    g.set_axis_labels(xlabel, "loss (nats per character)")
    for ax in g.axes.flat:
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))
    _legend(g, roles)
    g.figure.suptitle(f"{info['name']}: loss per character against {xlabel}", y=1.02,
                      fontweight="bold")
    note(g.figure, "solid: training (mean of the last trace_every updates); dashed: "
          f"validation on {validation_read(runs)}; dotted: count-based baselines on the same "
          "split (grey; when the texts differ, each text's bigram baseline in its colour). "
          "The y range follows the runs that finished."
          + _cut(long, runs, top)
          + (" Seconds of training: each row's update over its run's mean training speed "
             "(validation and sampling left out)." if x == SECONDS and "train_s" not in trace
             else "")
          + baselines_note(baselines, runs, (bottom, top))
          + diverged_note(runs) + failed_note(runs))
    return g.figure


def _cut(long, runs, top):
    """The note on curves of ok runs cut off at the top (a diverged run has its x mark)."""
    ok = long["run_id"].isin(runs.loc[runs["status"] == "ok", "run_id"])
    return cut_note(long.loc[ok, "loss"], long.loc[ok, "run_id"], top)


def _no_curves(info, runs, trace, x, xlabel, ylim):
    """No run has a finite loss to draw (all diverged at once, or failed): the diverged runs'
    x marks on an empty axis, and the note saying what happened to each run."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.set(ylim=ylim, xlabel=xlabel, ylabel="loss (nats per character)")
    mark_diverged(ax, trace, runs, x, ylim[1])
    extent = float(trace[x].max()) if len(trace) and trace[x].notna().any() else 0.0
    if x != SECONDS and {"updates", "seq_length", "batch_size"} <= set(runs):  # the budget
        per = 1 if x == "update" else runs["seq_length"] * runs["batch_size"]
        extent = max(extent, float((runs["updates"] * per).max()))
    ax.set_xlim(0, max(extent, 1.0) * 1.05)
    ax.xaxis.set_major_formatter(EngFormatter(sep=""))
    ax.set_title(f"{info['name']}: loss per character against {xlabel}", fontweight="bold")
    ax.text(0.5, 0.5, f"no finite loss to draw ({status_text(runs) or 'no runs'})",
            transform=ax.transAxes, ha="center", va="center", color="crimson")
    note(fig, "The y range is that of guessing." + diverged_note(runs) + failed_note(runs))
    return fig


def _long_losses(trace, x="update"):
    cols = list(dict.fromkeys(["run_id", "update", "chars_seen", x]))
    if trace.empty:
        return pd.DataFrame(columns=[*cols, "split", "loss"])
    train = trace[cols + ["loss_per_char"]].rename(columns={"loss_per_char": "loss"})
    val = trace[cols + ["val_loss_per_char"]].rename(columns={"val_loss_per_char": "loss"})
    val = val[val["loss"].notna()]
    out = pd.concat([train.assign(split="training"), val.assign(split="validation")],
                    ignore_index=True)
    out["loss"] = out["loss"].astype(float).where(np.isfinite(out["loss"].astype(float)))
    return out


def _facet_keys(g):
    """(row value, column value) for each axis of a FacetGrid, in axes order."""
    rows = g.row_names or [None]
    cols = g.col_names or [None]
    return [(r, c) for r in rows for c in cols]


def _facet_runs(runs, roles, row_val, col_val):
    sel = runs
    if roles.row:
        sel = sel[sel[roles.row] == row_val]
    if roles.col:
        sel = sel[sel[roles.col] == col_val]
    return sel


def _per_text_baselines(ax, baselines, runs, roles):
    """When the colour is the text, each text's bigram baseline as a line in its colour."""
    if roles.hue_fields != ["data"] or runs["data"].nunique() < 2:
        return
    palette = roles.palette()
    for data, sub in runs.groupby("data", sort=False):
        bigram = baselines_for(baselines, sub).get("bigram")
        if bigram is not None:
            ax.axhline(bigram, color=palette[short_value(data)], linewidth=1.0, linestyle=":",
                       zorder=0)


def _legend(g, roles):
    if g.legend is None:
        return
    for text in g.legend.texts:
        if text.get_text() == HUE:
            text.set_text(roles.hue_title)
        elif text.get_text() == "split":
            text.set_text("loss")
    g.legend.set_title(None)
