"""What each swept field does (its marginal means with 95% intervals, one panel per field on one
shared scale, so that the field that matters most stands out) and how pairs of fields act
together (heat maps of the mean of each combination, annotated with its interval, on a colour
scale that no outlier can stretch). Drawn from analysis.analyse, ok runs only."""
import math

import numpy as np

from ...analysis.effects import colour_range
from ...config import short_value
from .common import fit_ticks, note, plt, sns, tidy

PANELS_PER_ROW = 3
MAX_PAIRS = 6  # interaction maps drawn (the first pairs of the grid's swept fields)


def effects(info, analysis):
    """One panel per swept field: the mean final validation loss at each of its values over
    the other fields and seeds, with its 95% interval; None when nothing is swept."""
    fields = [f for f in analysis.swept if len(analysis.marginals[f])]
    if not fields:
        return None
    ncols = min(PANELS_PER_ROW, len(fields))
    nrows = math.ceil(len(fields) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 3.0 * nrows), sharey=True,
                             squeeze=False)
    colour = sns.color_palette("viridis", 3)[0]
    no_interval = False
    for ax, field in zip(axes.flat, fields):
        m = analysis.marginals[field]
        x = np.arange(len(m))
        mean, half = m["mean"].to_numpy(float), m["ci"].to_numpy(float)
        ax.errorbar(x, mean, yerr=np.where(np.isfinite(half), half, 0), fmt="o-", color=colour,
                    capsize=4, linewidth=1.2, markersize=5)
        missing = ~np.isfinite(half) & np.isfinite(mean)
        if missing.any():
            no_interval = True
            ax.plot(x[missing], mean[missing], "o", mfc="white", color=colour, markersize=6)
        for i in np.flatnonzero(~np.isfinite(mean)):
            ax.annotate("no ok run", xy=(i, 0.04), xycoords=("data", "axes fraction"),
                        ha="center", color="crimson", fontsize=8)
        ax.set_xticks(x, [short_value(v) for v in m[field]])
        fit_ticks(ax)
        ax.set_xlim(-0.5, len(m) - 0.5)
        ax.set_title(field, fontsize=10)
    for ax in axes.flat[len(fields):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("final validation loss\n(nats/char)")
    fig.suptitle(f"{info['name']}: what each swept field does", fontweight="bold")
    tidy(fig)
    note(fig, "Each point: the mean over every setting of the other swept fields (each weighs "
         "the same) and their ok seeds; bars: its 95% interval from the seeds' spread."
         + (" Hollow: a mean that includes a one-seed configuration (no interval)."
            if no_interval else "") + " One scale for every panel: the taller the "
         "swing, the more the field matters.")
    return fig


def interactions(info, analysis):
    """A heat map per pair of swept fields: the mean of each combination over the other
    fields and seeds, its 95% interval below; None below three swept fields (the heat map of
    two is final.py's, one cell per configuration)."""
    pairs = list(analysis.interactions.items())[:MAX_PAIRS]
    if len(analysis.swept) < 3:
        return None
    values = np.concatenate([t["mean"].to_numpy(float) for _, t in pairs])
    low, high = colour_range(values)
    if not np.isfinite(low):
        low, high = 0.0, 1.0
    ncols = min(PANELS_PER_ROW, len(pairs))
    nrows = math.ceil(len(pairs) / ncols)
    widths = [len(t[b].unique()) for (_, b), t in pairs]
    heights = [len(t[a].unique()) for (a, _), t in pairs]
    fig, axes = plt.subplots(nrows, ncols, squeeze=False,
                             figsize=(0.9 + 1.25 * max(widths) * ncols,
                                      0.9 + 0.85 * max(heights) * nrows))
    clipped = 0
    for ax, ((a, b), table) in zip(axes.flat, pairs):
        grid = table.pivot(index=a, columns=b, values="mean")
        half = table.pivot(index=a, columns=b, values="ci")
        rows, cols = list(dict.fromkeys(table[a])), list(dict.fromkeys(table[b]))
        grid, half = grid.reindex(index=rows, columns=cols), half.reindex(index=rows,
                                                                           columns=cols)
        sns.heatmap(grid.astype(float), ax=ax, cmap="viridis", vmin=low, vmax=high, cbar=False,
                    linewidths=0.5, annot=False)
        for i, r in enumerate(rows):
            for j, c in enumerate(cols):
                v, h = grid.loc[r, c], half.loc[r, c]
                if not np.isfinite(v):
                    ran = ((table[a] == r) & (table[b] == c)).any()
                    ax.add_patch(plt.Rectangle((j, i), 1, 1, color="0.88"))
                    ax.text(j + 0.5, i + 0.5, "no ok run" if ran else "not run", ha="center",
                            va="center", fontsize=7.5, color="crimson" if ran else "0.4")
                    continue
                out = v < low or v > high
                clipped += out
                text = f"{v:.3f}" + ("*" if out else "") + (f"\n± {h:.3f}" if np.isfinite(h)
                                                             else "\n(1 seed)")
                ax.text(j + 0.5, i + 0.5, text, ha="center", va="center", fontsize=7.5,
                        color="white" if v < (low + high) / 2 else "black")
        ax.set_xticklabels([short_value(c) for c in cols], rotation=0)
        ax.set_yticklabels([short_value(r) for r in rows], rotation=0)
        ax.set(xlabel=b, ylabel=a)
    for ax in axes.flat[len(pairs):]:
        ax.axis("off")
    fig.suptitle(f"{info['name']}: pairs of swept fields (final validation loss)",
                 fontweight="bold")
    tidy(fig)
    fig.colorbar(plt.cm.ScalarMappable(plt.Normalize(low, high), "viridis"),
                 ax=axes.ravel().tolist(), label="nats/char (lower is better)", fraction=0.03,
                 pad=0.02)
    more = len(analysis.interactions) - len(pairs)
    note(fig, "Each cell: the mean over the other swept fields and seeds, its 95% interval "
         "below. The colours span the values within 3 robust standard deviations of their "
         "median, so one stray value cannot wash out the rest"
         + (f"; * marks {clipped} beyond it, shown in the end colour" if clipped else "")
         + "." + (f" {more} more pairs are not drawn (every pair's numbers are in the "
                  f"analysis)." if more > 0 else ""))
    return fig
