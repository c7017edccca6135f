"""Loss curves: training and validation loss per character of every run, against updates,
characters seen or seconds of training; diverged runs marked where they stopped, baselines as
reference lines.

Drawn with matplotlib alone on a grid of axes placed from sizes in inches, with nothing to
measure (seaborn's FacetGrid drew each figure twice and laid it out twice before it was saved:
a second and a half of each of a grid's three curve figures)."""
from itertools import product

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.offsetbox import VPacker
from matplotlib.ticker import EngFormatter

from ...config import short_value
from .base import validation_read
from .common import HUE, baseline_lines, baselines_for, baselines_note, cut_note, note, plt
from .status import diverged_note, failed_note, mark_diverged, status_text, uniform_loss, y_range

# validation (dashed) in front, the noisier training lines thin and pale behind
SPLIT_STYLE = {"training": dict(linestyle="-", linewidth=0.9, alpha=0.6, zorder=2.0),
               "validation": dict(dashes=(4, 2), linewidth=1.8, alpha=1.0, zorder=2.1)}
SECONDS = "train_seconds"  # the trace column draw.py adds: seconds of training at each row
XLABELS = {"update": "updates", "chars_seen": "characters seen",
           SECONDS: "seconds of training"}
# the layout, in inches: one axis' size (in a grid of facets, or alone), the room around the
# grid for tick labels, axis labels, titles and the suptitle, and the gaps between axes
PANEL = {True: (3.5, 2.45), False: (5.2, 3.4)}
LEFT, BOTTOM, TOP, COL_TITLES, RIGHT, ROW_TITLES = 0.85, 0.58, 0.4, 0.3, 0.1, 0.35
GAP_COLS, GAP_ROWS, GAP_ROWS_TICKS = 0.3, 0.25, 0.55  # ..._TICKS: each axis its own x labels
LEGEND_GAP = 0.15


def loss_curves(info, roles, runs, trace, baselines, x):
    """Training and validation loss per character of every run against ``x``; the y range is
    set by the runs that finished, and each diverged run is an x where it stopped."""
    keep = ["run_id", HUE, "seed", *roles.facets]
    drawn = runs[runs["status"] != "failed"][keep]
    long = _long_losses(trace, x).merge(drawn, on="run_id")
    long = long[long["loss"].notna() & long[x].notna()]
    uniform = baselines_for(baselines, runs).get("uniform") or uniform_loss(runs)
    bottom, top = y_range(long, runs, uniform)
    xlabel = XLABELS[x]
    if long.empty:
        return _no_curves(info, runs, trace, x, xlabel, (bottom, top))
    order = roles.facet_kwargs(runs)
    rows, cols = order.get("row_order", [None]), order.get("col_order", [None])
    # characters seen per update differ with seq_length: each facet its own x
    fig, axes, frame = _grid(len(rows), len(cols), roles, sharex=x != "chars_seen")
    palette = roles.palette()
    legend_bottom = _legend(fig, frame, roles, palette)
    long = long.sort_values(["run_id", "split", x], kind="stable")
    for (i, row_val), (j, col_val) in product(enumerate(rows), enumerate(cols)):
        ax = axes[i, j]
        _lines(ax, _facet_runs(long, roles, row_val, col_val), x, palette)
        ax.set_ylim(bottom, top)
        facet_runs = _facet_runs(runs, roles, row_val, col_val)
        mark_diverged(ax, trace, facet_runs, x, top)
        baseline_lines(ax, baselines, facet_runs)
        _per_text_baselines(ax, baselines, facet_runs, roles)
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))
        ax.spines[["top", "right"]].set_visible(False)
    _titles(axes, roles, rows, cols)
    for ax in axes[-1, :]:
        ax.set_xlabel(xlabel)
    for ax in axes[:, 0]:
        ax.set_ylabel("loss (nats per character)")
    fig.suptitle(f"{info['name']}: loss per character against {xlabel}", fontweight="bold",
                 y=1 - 0.08 / fig.get_figheight(), va="top")
    note(fig, "solid: training (mean of the last trace_every updates); dashed: "
         f"validation on {validation_read(runs)}; dotted: count-based baselines on the same "
         "split (grey; when the texts differ, each text's bigram baseline in its colour). "
         "The y range follows the runs that finished."
         + _cut(long, runs, top)
         + (" Seconds of training: each row's update over its run's mean training speed "
            "(validation and sampling left out)." if x == SECONDS and "train_s" not in trace
            else "")
         + baselines_note(baselines, runs, (bottom, top))
         + diverged_note(runs) + failed_note(runs),
         bottom=min(0.0, legend_bottom))  # the x labels fit in BOTTOM; a tall legend may not
    return fig


def _grid(nrows, ncols, roles, sharex):
    """A figure of nrows x ncols axes (a shared y; x shared when ``sharex``) placed from
    sizes in inches, so no layout pass has to measure what is drawn."""
    width, height = PANEL[bool(roles.facets)]
    gap_rows = GAP_ROWS if sharex else GAP_ROWS_TICKS
    right = ROW_TITLES if roles.row else RIGHT
    top = TOP + (COL_TITLES if roles.col else 0.0)
    grid_w = ncols * width + (ncols - 1) * GAP_COLS
    grid_h = nrows * height + (nrows - 1) * gap_rows
    frame = (grid_w, grid_h, right)  # the grid's size, and the room right of it
    fig = plt.figure(figsize=(LEFT + grid_w + right, BOTTOM + grid_h + top))
    axes = fig.subplots(nrows, ncols, sharex=sharex, sharey=True, squeeze=False,
                        gridspec_kw=dict(wspace=GAP_COLS / width, hspace=gap_rows / height))
    _place(fig, frame)
    return fig, axes, frame


def _place(fig, frame, extra=0.0):
    """The grid (``frame``: _grid's) in inches from the figure's left and bottom edges, and
    ``extra`` inches right of it and its room (the legend's)."""
    grid_w, grid_h, right = frame
    fig_w, fig_h = LEFT + grid_w + right + extra, fig.get_figheight()
    fig.set_size_inches(fig_w, fig_h)
    fig.subplots_adjust(left=LEFT / fig_w, right=(LEFT + grid_w) / fig_w,
                        bottom=BOTTOM / fig_h, top=(BOTTOM + grid_h) / fig_h)


def _lines(ax, long, x, palette):
    """One line per run and split, in the run's colour."""
    for (_, split), rows in long.groupby(["run_id", "split"], sort=False):
        ax.plot(rows[x].to_numpy(), rows["loss"].to_numpy(), color=palette[rows[HUE].iloc[0]],
                **SPLIT_STYLE[split])


def _titles(axes, roles, rows, cols):
    """Margin titles as seaborn puts them: 'col = value' above the top row, 'row = value'
    turned on the right edge of the last column."""
    size = plt.rcParams["axes.labelsize"]
    if roles.col:
        for ax, value in zip(axes[0, :], cols):
            ax.set_title(f"{roles.col} = {value}", size=size)
    if roles.row:
        for ax, value in zip(axes[:, -1], rows):
            ax.annotate(f"{roles.row} = {value}", xy=(1.02, 0.5), xycoords="axes fraction",
                        rotation=270, ha="left", va="center", size=size)


def _legend(fig, frame, roles, palette):
    """The figure's legend right of the grid, the figure widened for it: the colour's title
    and values, then 'loss' and its two splits (headings as entries without a handle).
    Returns its lower edge (figure fraction: below 0 when it is taller than the figure)."""
    blank = Line2D([], [], visible=False)
    entries = [(blank, roles.hue_title)]
    entries += [(Line2D([], [], color=palette[h], linewidth=1.3), h) for h in roles.hue_order]
    entries += [(blank, "loss")]
    entries += [(Line2D([], [], color=".2", linewidth=1.3,
                        **{k: v for k, v in style.items() if k in ("linestyle", "dashes")}),
                 split) for split, style in SPLIT_STYLE.items()]
    handles, labels = zip(*entries)
    legend = fig.legend(handles, labels, loc="center left", frameon=False)
    for row in legend.findobj(VPacker)[0].get_children():  # headings: no handle's indent
        handle_box, text_box = row.get_children()
        if not all(artist.get_visible() for artist in handle_box.get_children()):
            handle_box.set_width(0)
            for text in text_box.get_children():
                text.set_size(plt.rcParams["legend.title_fontsize"])
    box = legend.get_window_extent(fig.canvas.get_renderer())
    _place(fig, frame, LEGEND_GAP + box.width / fig.dpi)
    grid_w, grid_h, right = frame
    fig_w, fig_h = fig.get_size_inches()
    # in transFigure, which a save with bbox_inches="tight" moves with the crop (a bare point
    # would stay where the uncropped figure had it)
    legend.set_bbox_to_anchor(((LEFT + grid_w + right + LEGEND_GAP) / fig_w,
                               (BOTTOM + grid_h / 2) / fig_h), transform=fig.transFigure)
    return (BOTTOM + grid_h / 2 - box.height / fig.dpi / 2) / fig_h


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


def _facet_runs(runs, roles, row_val, col_val):
    """The rows of ``runs`` (or of the long losses) in the facet of row_val and col_val."""
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
