"""Comparison plots of a grid, drawn from its tables alone (seaborn on matplotlib's Agg).

Runs are compared by loss per character (nats), which does not depend on seq_length, against
updates and against characters seen. The first swept field colours the curves, the next two
split the figure into columns and rows (the grid's ``plot:`` section can choose), and any
further ones join the colour's label. Grey lines are count-based baselines on the same split.
"""
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 -- after choosing the backend
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.ticker import EngFormatter  # noqa: E402

from .status import (diverged_note, failed_note, final_values,  # noqa: E402
                          mark_diverged, status_text, uniform_loss, y_range)
from ..experiments.results import load_tables, short_value  # noqa: E402
from ..experiments.run_folder import atomic_write_bytes  # noqa: E402

PLOTS = "plots"
HUE = "_hue"  # the colour column: one field, or several folded into one label
BASELINE_STYLE = dict(color="0.45", linewidth=0.9, linestyle=":", zorder=0)
SPLIT_DASHES = {"training": "", "validation": (4, 2)}


def make_plots(root, tables=None):
    """Write every plot of the results folder ``root`` (``tables``: its load_tables, if read
    already); returns their paths."""
    root = Path(root)
    info, runs, trace, _, baselines = tables or load_tables(root)
    out = root / PLOTS
    out.mkdir(exist_ok=True)
    sns.set_theme(style="whitegrid", context="notebook")
    figures = {
        "loss_vs_updates.png": lambda r, rs: loss_curves(info, r, rs, trace, baselines, "update"),
        "loss_vs_chars.png": lambda r, rs: loss_curves(info, r, rs, trace, baselines,
                                                       "chars_seen"),
        "final_val_loss.png": lambda r, rs: final_loss(info, r, rs, baselines),
        "speed.png": lambda r, rs: speed(info, r, rs)}
    paths = []
    for name, draw in figures.items():
        if runs.empty or "seed" not in runs:  # no run finished yet
            fig = _empty_figure(info, name[:-4].replace("_", " "), "no run has finished")
        else:
            fig = _drawn(info, name, draw, runs)
        paths.append(_save(fig, out / name))
    return paths


def _drawn(info, name, draw, runs):
    """The figure ``draw`` makes; should it fail, a figure that says so (the other plots and
    the report are still made, and the error is printed)."""
    import sys
    try:
        roles = Roles(info, runs)
        return draw(roles, roles.add_hue(runs))
    except Exception as exc:  # noqa: BLE001 -- one plot must not cost the grid its report
        plt.close("all")
        why = " ".join(f"{type(exc).__name__}: {exc}".split())
        print(f"rnnbench: warning: {name} could not be drawn: {why}", file=sys.stderr)
        return _empty_figure(info, name[:-4].replace("_", " "), f"could not be drawn: {why}")


def _save(fig, path):
    buffer = io.BytesIO()  # written whole, through a temp file: never through a planted link
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
    return path


class Roles:
    """Which swept field colours the lines, and which split the figure into columns and rows."""

    def __init__(self, info, runs):
        swept = [f for f in info.get("swept", []) if f in runs.columns]
        chosen = {k: v for k, v in (info.get("plot") or {}).items() if v in swept}
        rest = [f for f in swept if f not in chosen.values()]
        self.hue_fields = [chosen["hue"]] if "hue" in chosen else rest[:1]
        rest = [f for f in rest if f not in self.hue_fields]
        self.col = chosen.get("col") or (rest.pop(0) if rest else None)
        self.row = chosen.get("row") or (rest.pop(0) if rest else None)
        self.hue_fields += rest  # more than three swept fields: the extras join the colour
        self.facets = [f for f in (self.col, self.row) if f]

    @property
    def hue_title(self):
        return ", ".join(self.hue_fields) if self.hue_fields else "run"

    def add_hue(self, runs):
        """runs with a string colour column, ordered as the fields' values sort."""
        runs = runs.copy()
        if not self.hue_fields:
            runs[HUE] = "seed " + runs["seed"].astype(str)
            self.hue_order = list(dict.fromkeys(runs[HUE]))
            self.numeric_hue = False
            return runs
        runs[HUE] = _labels(runs, self.hue_fields)
        self.hue_order = list(dict.fromkeys(_labels(_sorted_runs(runs, self.hue_fields),
                                                    self.hue_fields)))
        self.numeric_hue = all(pd.api.types.is_numeric_dtype(runs[f]) for f in self.hue_fields)
        return runs

    def palette(self):
        n = len(self.hue_order)
        colours = (sns.color_palette("viridis", n) if self.numeric_hue and n > 1
                   else sns.color_palette("tab10" if n <= 10 else "husl", n))
        return dict(zip(self.hue_order, colours))

    def facet_kwargs(self, runs):
        kw = {}
        if self.col:
            kw.update(col=self.col, col_order=_order(runs[self.col]))
        if self.row:
            kw.update(row=self.row, row_order=_order(runs[self.row]))
        return kw


def _sorted_runs(runs, fields):
    """runs ordered by ``fields``, each in its _order."""
    keys = {f: {v: i for i, v in enumerate(_order(runs[f]))} for f in fields}
    return runs.sort_values(fields, key=lambda col: col.map(keys[col.name]), kind="stable")


def _labels(frame, fields):
    if len(fields) == 1:
        return frame[fields[0]].map(short_value)
    return frame[fields].apply(lambda r: ", ".join(f"{f}={short_value(r[f])}" for f in fields),
                               axis=1)


def _order(values):
    """Distinct values: numbers sorted, anything else (cases, texts, optimizers) in the order
    the grid lists them (the runs table keeps that order)."""
    values = pd.Series(values)
    unique = list(dict.fromkeys(values.dropna()))
    return sorted(unique) if pd.api.types.is_numeric_dtype(values) else unique


# -- loss curves -------------------------------------------------------------------------------

def loss_curves(info, roles, runs, trace, baselines, x):
    """Training and validation loss per character of every run against ``x``; the y range is
    set by the runs that finished, and each diverged run is an x where it stopped."""
    keep = ["run_id", HUE, "seed", *roles.facets]
    drawn = runs[runs["status"] != "failed"][keep]
    long = _long_losses(trace).merge(drawn, on="run_id")
    long = long[long["loss"].notna()]
    uniform = _baselines_for(baselines, runs).get("uniform") or uniform_loss(runs)
    bottom, top = y_range(long, runs, uniform)
    xlabel = "updates" if x == "update" else "characters seen"
    if long.empty:
        return _no_curves(info, runs, trace, x, xlabel, (bottom, top))
    g = sns.relplot(data=long, kind="line", x=x, y="loss", hue=HUE, hue_order=roles.hue_order,
                    palette=roles.palette(), style="split", dashes=SPLIT_DASHES,
                    style_order=["training", "validation"], units="run_id", estimator=None,
                    linewidth=1.3, height=3.2 if roles.facets else 4.2,
                    aspect=1.35 if roles.facets else 1.5,
                    # characters seen per update differ with seq_length: each facet its own x
                    facet_kws=dict(margin_titles=True, sharex=x == "update"),
                    **roles.facet_kwargs(runs))
    for ax in g.axes.flat:  # validation (dashed) in front, the noisier training lines behind
        for line in ax.lines:
            dashed = line.get_linestyle() not in ("-", "solid")
            line.set(linewidth=1.8 if dashed else 0.9, alpha=1.0 if dashed else 0.6)
    g.set(ylim=(bottom, top))
    for (row_val, col_val), ax in zip(_facet_keys(g), g.axes.flat):
        facet_runs = _facet_runs(runs, roles, row_val, col_val)
        mark_diverged(ax, trace, facet_runs, x, top)
        _baseline_lines(ax, baselines, facet_runs)
        _per_text_baselines(ax, baselines, facet_runs, roles)
        ax.set_ylim(bottom, top)
    g.set_axis_labels(xlabel, "loss (nats per character)")
    for ax in g.axes.flat:
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))
    _legend(g, roles)
    g.figure.suptitle(f"{info['name']}: loss per character against {xlabel}", y=1.02,
                      fontweight="bold")
    _note(g.figure, "solid: training (mean of the last trace_every updates); dashed: "
          "validation on the held-out tail; dotted: count-based baselines on the same "
          "split (grey; when the texts differ, each text's bigram baseline in its colour). "
          "The y range follows the runs that finished; higher values are cut off."
          + _baselines_note(baselines, runs, (bottom, top))
          + diverged_note(runs) + failed_note(runs))
    return g.figure


def _no_curves(info, runs, trace, x, xlabel, ylim):
    """No run has a finite loss to draw (all diverged at once, or failed): the diverged runs'
    x marks on an empty axis, and the note saying what happened to each run."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.set(ylim=ylim, xlabel=xlabel, ylabel="loss (nats per character)")
    mark_diverged(ax, trace, runs, x, ylim[1])
    extent = float(trace[x].max()) if len(trace) and trace[x].notna().any() else 0.0
    if {"updates", "seq_length", "batch_size"} <= set(runs):  # the runs' budget
        per = 1 if x == "update" else runs["seq_length"] * runs["batch_size"]
        extent = max(extent, float((runs["updates"] * per).max()))
    ax.set_xlim(0, max(extent, 1.0) * 1.05)
    ax.xaxis.set_major_formatter(EngFormatter(sep=""))
    ax.set_title(f"{info['name']}: loss per character against {xlabel}", fontweight="bold")
    ax.text(0.5, 0.5, f"no finite loss to draw ({status_text(runs) or 'no runs'})",
            transform=ax.transAxes, ha="center", va="center", color="crimson")
    _note(fig, "The y range is that of guessing." + diverged_note(runs) + failed_note(runs))
    return fig


def _long_losses(trace):
    if trace.empty:
        return pd.DataFrame(columns=["run_id", "update", "chars_seen", "split", "loss"])
    cols = ["run_id", "update", "chars_seen"]
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


def _baselines_for(baselines, runs):
    """{baseline: loss} when every run in ``runs`` reads the same text, split and vocabulary
    (min_char_count can change the vocabulary alone), else {}."""
    fields = ["corpus_checksum", "val_fraction"]
    if "vocab_size" in baselines and "vocab_size" in runs:  # tables written before it lack it
        fields.append("vocab_size")
    keys = runs[fields].dropna().drop_duplicates()
    if len(keys) != 1 or baselines.empty:
        return {}
    key = keys.iloc[0]
    rows = baselines[(baselines["corpus_checksum"] == key["corpus_checksum"])
                     & np.isclose(baselines["val_fraction"], key["val_fraction"])]
    if "vocab_size" in fields:
        rows = rows[rows["vocab_size"] == key["vocab_size"]]
    return dict(zip(rows["baseline"], rows["loss_per_char"]))


def _baseline_lines(ax, baselines, runs):
    """Grey dotted lines at the baselines that fall inside the axis' current y range."""
    low, high = ax.get_ylim()
    for name, value in _baselines_for(baselines, runs).items():
        if not low < value < high:
            continue
        ax.axhline(value, **BASELINE_STYLE)
        ax.annotate(f"{name} {value:.2f}", xy=(1.0, value), xycoords=("axes fraction", "data"),
                    xytext=(-3, 2), textcoords="offset points", fontsize=7.5, color="0.3",
                    va="bottom", ha="right",
                    bbox=dict(boxstyle="square,pad=0.1", fc="white", ec="none", alpha=0.75))


def _per_text_baselines(ax, baselines, runs, roles):
    """When the colour is the text, each text's bigram baseline as a line in its colour."""
    if roles.hue_fields != ["data"] or runs["data"].nunique() < 2:
        return
    palette = roles.palette()
    for data, sub in runs.groupby("data", sort=False):
        bigram = _baselines_for(baselines, sub).get("bigram")
        if bigram is not None:
            ax.axhline(bigram, color=palette[short_value(data)], linewidth=1.0, linestyle=":",
                       zorder=0)


def _baselines_note(baselines, runs, ylim):
    """'uniform 4.63 (above)' for the baselines outside the plotted range, so none is lost."""
    low, high = ylim
    out = [f"{k} {v:.2f} ({'above' if v >= high else 'below'} the plot)"
           for k, v in _baselines_for(baselines, runs).items() if not low < v < high]
    return f" Off the scale: {', '.join(out)}." if out else ""


def _legend(g, roles):
    if g.legend is None:
        return
    for text in g.legend.texts:
        if text.get_text() == HUE:
            text.set_text(roles.hue_title)
        elif text.get_text() == "split":
            text.set_text("loss")
    g.legend.set_title(None)


def _note(fig, text):
    """A caption under everything already drawn (tick labels and axis titles included)."""
    fig.canvas.draw()
    bottom = fig.get_tightbbox().y0 / fig.get_figheight()
    fig.text(0.01, bottom - 0.01, text, ha="left", va="top", fontsize=8.5, color="0.25",
             wrap=True)


def _empty_figure(info, what, why):
    fig, ax = plt.subplots(figsize=(6, 2))
    ax.axis("off")
    ax.text(0.5, 0.5, f"{info['name']}: {what}\n{why}", ha="center", va="center")
    return fig


# -- final validation loss ---------------------------------------------------------------------

def final_loss(info, roles, runs, baselines):
    """A heat map when exactly two fields are swept, else points with the spread of seeds."""
    swept = [f for f in info.get("swept", []) if f in runs.columns]
    if len(swept) == 2:
        return _heatmap(info, runs, swept, baselines)
    return _points(info, roles, runs, baselines)


def _heatmap(info, runs, swept, baselines):
    """Mean final validation loss of the ok runs per cell; the colours span their finite
    values only. A cell without one says why (diverged, failed); one with some runs missing
    says how many."""
    rows_f, cols_f = swept
    table = runs.assign(v=final_values(runs))
    grid = table.pivot_table(index=rows_f, columns=cols_f, values="v", aggfunc="mean",
                             dropna=False)
    grid = grid.reindex(index=_order(runs[rows_f]),
                        columns=_order(runs[cols_f]))
    n_seeds = runs.groupby([rows_f, cols_f])["seed"].nunique().max()
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * grid.shape[1], 1.4 + 0.75 * grid.shape[0]))
    finite = grid.to_numpy()[np.isfinite(grid.to_numpy())]
    sns.heatmap(grid, annot=True, fmt=".3f", cmap="viridis", ax=ax, linewidths=0.5,
                vmin=finite.min() if finite.size else 0.0,
                vmax=finite.max() if finite.size else 1.0, cbar=bool(finite.size),
                cbar_kws=dict(label="nats per character (lower is better)"))
    for i, r in enumerate(grid.index):
        for j, c in enumerate(grid.columns):
            cell = runs[(runs[rows_f] == r) & (runs[cols_f] == c)]
            missing = cell[cell["status"] != "ok"]
            if np.isnan(grid.loc[r, c]):
                ax.add_patch(plt.Rectangle((j, i), 1, 1, color="0.85"))
                ax.text(j + 0.5, i + 0.5, "/".join(sorted(set(cell["status"]))) or "not run",
                        ha="center", va="center", fontsize=9, color="crimson")
            elif len(missing):  # the mean is of the ok seeds only: say how many are not
                statuses = "/".join(sorted(set(missing["status"])))
                ax.text(j + 0.5, i + 0.85, f"+{len(missing)} {statuses}", ha="center",
                        va="center", fontsize=7, color="crimson")
    ax.set_yticklabels(ax.get_yticklabels(), rotation=0)
    seeds = f"mean of {n_seeds} seeds" if n_seeds > 1 else "one seed"
    ax.set_title(f"{info['name']}: final validation loss ({seeds})", fontweight="bold")
    base = _baselines_for(baselines, runs)
    _note(fig, "Ok runs only (a diverged run has no final loss)."
          + (" Baselines on the same split: " + ", ".join(f"{k} {v:.3f}" for k, v in base.items())
             + " nats/char." if base else "") + diverged_note(runs, False) + failed_note(runs))
    return fig


def _points(info, roles, runs, baselines):
    x = roles.hue_fields[0] if roles.hue_fields else "seed"
    data = runs.assign(val=final_values(runs))
    hue = roles.col
    col = roles.row
    x_order = _order(data[x])
    # a line between the points only along a numeric field (not between texts, cases, seeds)
    numeric_x = pd.api.types.is_numeric_dtype(data[x]) and x != "seed"
    kw = dict(data=data, x=x, y="val", order=x_order)
    if hue:
        order = _order(data[hue])
        numeric = pd.api.types.is_numeric_dtype(data[hue])
        colours = sns.color_palette("viridis" if numeric else "tab10", len(order))
        kw.update(hue=hue, hue_order=order, palette=dict(zip(order, colours)))
    if col:
        kw.update(col=col, col_order=_order(data[col]))
    g = sns.catplot(kind="point", errorbar=("pi", 100), dodge=0.3 if hue else False,
                    capsize=0.1, height=3.6,
                    aspect=2.0 if len(x_order) >= 6 else 1.3 if col else 1.7,
                    markers="o", linestyles="-" if numeric_x else "none", **kw)
    n_seeds = data.groupby([c for c in (x, hue, col) if c])["seed"].nunique().max()
    ylim = _padded(data["val"], _baselines_for(baselines, runs).get("uniform")
                   or uniform_loss(runs))
    g.set(ylim=ylim)
    for ax, (col_val, sub) in zip(g.axes.flat, _by(data, col)):
        _baseline_lines(ax, baselines, sub)
        _baseline_ticks(ax, baselines, sub, x, x_order)
        _mark_missing(ax, sub, x, x_order)
        long_labels = sum(len(short_value(v)) for v in x_order) > 40
        ax.tick_params(axis="x", rotation=25 if long_labels else 0)
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
    _note(g.figure, f"{spread}; ok runs only. Grey: count-based baselines on the same split."
          + _baselines_note(baselines, data, ylim) + diverged_note(runs, False)
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
    if x != "data" or len(_baselines_for(baselines, sub)):
        return
    low, high = ax.get_ylim()
    for i, value in enumerate(x_order):
        for name, loss in _baselines_for(baselines, sub[sub[x] == value]).items():
            if low < loss < high:
                ax.hlines(loss, i - 0.3, i + 0.3, **{**BASELINE_STYLE, "linestyle": "-"})
                ax.text(i + 0.32, loss, name, fontsize=7.5, color="0.35", va="center")


def _by(data, col):
    if not col:
        return [(None, data)]
    return [(v, data[data[col] == v]) for v in _order(data[col])]


def _mark_missing(ax, sub, x, x_order):
    """A red label under each x whose runs all diverged or failed (they have no final loss)."""
    for i, value in enumerate(x_order):
        cell = sub[sub[x] == value]
        if len(cell) and cell["val"].isna().all():
            ax.annotate("/".join(sorted(set(cell["status"]))), xy=(i, 0.02),
                        xycoords=("data", "axes fraction"), ha="center", color="crimson",
                        fontsize=9)


# -- speed -------------------------------------------------------------------------------------

def speed(info, roles, runs):
    """Training speed (characters per second, one core) of each configuration."""
    data = runs[runs["status"] == "ok"].copy()  # a diverged run stopped early: no fair speed
    if data.empty:
        return _empty_figure(info, "speed", "no run finished without diverging")
    fields = [f for f in info.get("swept", []) if f in data.columns]
    data["configuration"] = _labels(data, fields) if fields else "base"
    order = (list(dict.fromkeys(_labels(_sorted_runs(data, fields), fields))) if fields
             else ["base"])
    fig, ax = plt.subplots(figsize=(7.5, 1.2 + 0.3 * len(order)))
    sns.barplot(data=data, y="configuration", x="chars_per_s", order=order, ax=ax,
                errorbar=("pi", 100), color=sns.color_palette("viridis", 3)[1], capsize=0.2)
    ax.xaxis.set_major_formatter(EngFormatter(sep=""))
    ax.set_xlabel("characters per second (training, one core per run)")
    ax.set_ylabel(", ".join(fields) if fields else "")
    n_seeds = data.groupby("configuration")["seed"].nunique().max()
    spread = f" (mean of {n_seeds} seeds, whiskers: their range)" if n_seeds > 1 else ""
    ax.set_title(f"{info['name']}: training speed{spread}", fontweight="bold")
    return fig
