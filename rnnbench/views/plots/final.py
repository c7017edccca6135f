"""The final validation loss of every configuration: a heat map when two fields are swept,
else points with the spread of seeds; ok runs only."""
import numpy as np
import pandas as pd

from ...analysis.effects import colour_range
from ...analysis.stats import t_interval
from ...config import short_value
from .common import (BASELINE_STYLE, baseline_lines, baselines_for, baselines_note,
                     category_colours, fit_ticks, note, ordered_colours, plt, sns, value_order)
from .status import diverged_note, failed_note, final_values, uniform_loss


def final_loss(info, roles, runs, baselines):
    """A heat map when exactly two fields are swept, else points with the spread of seeds."""
    swept = [f for f in info.get("swept", []) if f in runs.columns]
    if len(swept) == 2:
        return _heatmap(info, runs, swept, baselines)
    return _points(info, roles, runs, baselines)


def _heatmap(info, runs, swept, baselines):
    """Mean final validation loss of the ok runs per cell, its 95% interval below; the
    colours span the finite values within a robust range (analysis.effects.colour_range), so
    that a stray value cannot wash out the rest. A cell without a value says why (diverged,
    failed); one with some runs missing says how many."""
    rows_f, cols_f = swept
    table = runs.assign(v=final_values(runs))
    grid = table.pivot_table(index=rows_f, columns=cols_f, values="v", aggfunc="mean",
                             dropna=False)
    grid = grid.reindex(index=value_order(runs[rows_f]),
                        columns=value_order(runs[cols_f]))
    n_seeds = runs.groupby([rows_f, cols_f])["seed"].nunique().max()
    fig, ax = plt.subplots(figsize=(1.8 + 1.3 * grid.shape[1], 1.4 + 0.8 * grid.shape[0]))
    low, high = colour_range(grid.to_numpy())
    finite = np.isfinite(low)
    sns.heatmap(grid, annot=False, cmap="viridis", ax=ax, linewidths=0.5,
                vmin=low if finite else 0.0, vmax=high if finite else 1.0, cbar=bool(finite),
                cbar_kws=dict(label="nats per character (lower is better)"))
    clipped = 0
    for i, r in enumerate(grid.index):
        for j, c in enumerate(grid.columns):
            cell = table[(table[rows_f] == r) & (table[cols_f] == c)]
            missing = cell[cell["status"] != "ok"]
            value = grid.loc[r, c]
            if np.isnan(value):
                ax.add_patch(plt.Rectangle((j, i), 1, 1, color="0.85"))
                ax.text(j + 0.5, i + 0.5, "/".join(sorted(set(cell["status"]))) or "not run",
                        ha="center", va="center", fontsize=9, color="crimson")
                continue
            out = not low <= value <= high
            clipped += out
            half = t_interval(cell["v"])[3]
            text = f"{value:.3f}" + ("*" if out else "") + (
                f"\n± {half:.3f}" if np.isfinite(half) else "")
            ax.text(j + 0.5, i + 0.45, text, ha="center", va="center", fontsize=8,
                    color="white" if value < (low + high) / 2 else "black")
            if len(missing):  # the mean is of the ok seeds only: say how many are not
                statuses = "/".join(sorted(set(missing["status"])))
                ax.text(j + 0.5, i + 0.88, f"+{len(missing)} {statuses}", ha="center",
                        va="center", fontsize=7, color="crimson")
    ax.set_xticklabels([short_value(c) for c in grid.columns], rotation=0)
    ax.set_yticklabels([short_value(r) for r in grid.index], rotation=0)
    seeds = f"mean of {n_seeds} seeds" if n_seeds > 1 else "one seed"
    ax.set_title(f"{info['name']}: final validation loss ({seeds})", fontweight="bold")
    base = baselines_for(baselines, runs)
    note(fig, "Ok runs only (a diverged run has no final loss)."
          + (" Below each mean: its 95% interval over the seeds." if n_seeds > 1 else "")
          + (f" * marks {clipped} value{'s' if clipped > 1 else ''} beyond 3 robust standard "
             f"deviations of the rest, shown in the end colour." if clipped else "")
          + (" Baselines on the same split: " + ", ".join(f"{k} {v:.3f}" for k, v in base.items())
             + " nats/char." if base else "") + diverged_note(runs, False) + failed_note(runs))
    return fig


def _points(info, roles, runs, baselines):
    x = roles.hue_fields[0] if roles.hue_fields else "seed"
    data = runs.assign(val=final_values(runs))
    hue = roles.col
    col = roles.row
    x_order = value_order(data[x])
    # a line between the points only along a numeric field (not between texts, cases, seeds)
    numeric_x = pd.api.types.is_numeric_dtype(data[x]) and x != "seed"
    kw = dict(data=data, x=x, y="val", order=x_order)
    if hue:
        order = value_order(data[hue])
        numeric = pd.api.types.is_numeric_dtype(data[hue])
        colours = ordered_colours(len(order)) if numeric else category_colours(len(order))
        kw.update(hue=hue, hue_order=order, palette=dict(zip(order, colours)))
    if col:
        kw.update(col=col, col_order=value_order(data[col]))
    g = sns.catplot(kind="point", errorbar=("pi", 100), dodge=0.3 if hue else False,
                    capsize=0.1, height=3.6,
                    aspect=2.0 if len(x_order) >= 6 else 1.3 if col else 1.7,
                    markers="o", linestyles="-" if numeric_x else "none", **kw)
    n_seeds = data.groupby([c for c in (x, hue, col) if c])["seed"].nunique().max()
    ylim = _padded(data["val"], baselines_for(baselines, runs).get("uniform")
                   or uniform_loss(runs))
    g.set(ylim=ylim)
    for ax, (col_val, sub) in zip(g.axes.flat, _by(data, col)):
        baseline_lines(ax, baselines, sub)
        _baseline_ticks(ax, baselines, sub, x, x_order)
        _mark_missing(ax, sub, x, x_order)
        fit_ticks(ax, 40)
    g.set_axis_labels(x, "final validation loss (nats/char)")
    if hue:  # seaborn draws this legend's handles as empty patches: make it here
        g.legend.remove()
        handles = [plt.Line2D([], [], color=kw["palette"][v], marker="o", label=short_value(v))
                   for v in kw["hue_order"]]
        g.figure.legend(handles=handles, title=hue, loc="center left",
                        bbox_to_anchor=(1.0, 0.5), frameon=False)
    spread = (f"points: mean of {n_seeds} seeds; bars: their range" if n_seeds > 1
              else "one seed per configuration")
    g.figure.suptitle(f"{info['name']}: final validation loss by {x}", y=1.02,
                      fontweight="bold")
    note(g.figure, f"{spread}; ok runs only. Grey: count-based baselines on the same split."
          + baselines_note(baselines, data, ylim) + diverged_note(runs, False)
          + failed_note(runs))
    return g.figure


def _padded(values, uniform=None):
    """Just around the finite values; without any, from 0 to a little above guessing."""
    finite = values[np.isfinite(values)] if len(values) else values
    if not len(finite):
        return (0.0, (uniform or 5.0) + 0.5)
    low, high = float(finite.min()), float(finite.max())
    pad = max(0.05, 0.15 * (high - low))
    return (low - pad, high + pad)


def _baseline_ticks(ax, baselines, sub, x, x_order):
    """Texts along x: each text's baselines as short grey marks above its name."""
    if x != "data" or len(baselines_for(baselines, sub)):
        return
    low, high = ax.get_ylim()
    for i, value in enumerate(x_order):
        for name, loss in baselines_for(baselines, sub[sub[x] == value]).items():
            if low < loss < high:
                ax.hlines(loss, i - 0.3, i + 0.3, **{**BASELINE_STYLE, "linestyle": "-"})
                ax.text(i + 0.32, loss, name, fontsize=7.5, color="0.35", va="center")


def _by(data, col):
    if not col:
        return [(None, data)]
    return [(v, data[data[col] == v]) for v in value_order(data[col])]


def _mark_missing(ax, sub, x, x_order):
    """A red label under each x whose runs all diverged or failed (they have no final loss)."""
    for i, value in enumerate(x_order):
        cell = sub[sub[x] == value]
        if len(cell) and cell["val"].isna().all():
            ax.annotate("/".join(sorted(set(cell["status"]))), xy=(i, 0.02),
                        xycoords=("data", "axes fraction"), ha="center", color="crimson",
                        fontsize=9)
