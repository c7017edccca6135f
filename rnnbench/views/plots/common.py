"""What the plots of a grid share: matplotlib on its Agg backend (every plot module takes
``plt`` from here, after the backend is chosen), which swept field colours the lines and which
split the figure (Roles), the order of values, baselines as reference lines, notes under a
figure."""
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 -- after choosing the backend
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from ...config import short_value  # noqa: E402

__all__ = ["plt", "sns", "Roles", "HUE", "BASELINE_STYLE", "labels", "value_order", "sorted_runs",
           "ordered_colours", "category_colours", "cut_note", "fit_ticks", "tidy",
           "baselines_for", "baseline_lines", "baselines_note", "note", "empty_figure"]
HUE = "_hue"  # the colour column: one field, or several folded into one label
BASELINE_STYLE = dict(color="0.45", linewidth=0.9, linestyle=":", zorder=0)
LABEL_GAP_PT = 10  # baseline names closer than this (points) would overlap


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
        runs[HUE] = labels(runs, self.hue_fields)
        self.hue_order = list(dict.fromkeys(labels(sorted_runs(runs, self.hue_fields),
                                                    self.hue_fields)))
        self.numeric_hue = all(pd.api.types.is_numeric_dtype(runs[f]) for f in self.hue_fields)
        return runs

    def palette(self):
        return dict(zip(self.hue_order, ordered_colours(len(self.hue_order))
                        if self.numeric_hue else category_colours(len(self.hue_order))))

    def facet_kwargs(self, runs):
        kw = {}
        if self.col:
            kw.update(col=self.col, col_order=value_order(runs[self.col]))
        if self.row:
            kw.update(row=self.row, row_order=value_order(runs[self.row]))
        return kw


def ordered_colours(n):
    """``n`` colours for ordered values (hidden sizes, dropout rates): plasma from dark blue to
    orange, its pale yellow end left out; neighbours differ in hue as well as lightness, which
    viridis's 0.1 and 0.25 teals of four values did not."""
    cmap = matplotlib.colormaps["plasma"]
    return [cmap(x)[:3] for x in np.linspace(0.0, 0.85, n)] if n > 1 else [cmap(0.0)[:3]]


def category_colours(n):
    """``n`` colours for values without an order (cells, texts, optimizers)."""
    return sns.color_palette("tab10" if n <= 10 else "husl", n)


def sorted_runs(runs, fields):
    """runs ordered by ``fields``, each in its order."""
    keys = {f: {v: i for i, v in enumerate(value_order(runs[f]))} for f in fields}
    return runs.sort_values(fields, key=lambda col: col.map(keys[col.name]), kind="stable")


def labels(frame, fields):
    if len(fields) == 1:
        return frame[fields[0]].map(short_value)
    return frame[fields].apply(lambda r: ", ".join(f"{f}={short_value(r[f])}" for f in fields),
                               axis=1)


def value_order(values):
    """Distinct values: numbers sorted, anything else (cases, texts, optimizers) in the order
    the grid lists them (the runs table keeps that order)."""
    values = pd.Series(values)
    unique = list(dict.fromkeys(values.dropna()))
    return sorted(unique) if pd.api.types.is_numeric_dtype(values) else unique


def baselines_for(baselines, runs):
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


def baseline_lines(ax, baselines, runs):
    """Grey dotted lines at the baselines that fall inside the axis' current y range, each
    named at the right edge; a name that would overlap another moves to the left edge, and
    then below its line."""
    low, high = ax.get_ylim()
    height_pt = ax.get_window_extent().height * 72 / ax.figure.dpi
    gap = LABEL_GAP_PT / max(height_pt, 1.0) * (high - low)  # data units between two names
    placed = {"right": [], "left": []}
    for name, value in sorted(baselines_for(baselines, runs).items(), key=lambda kv: -kv[1]):
        if not low < value < high:
            continue
        ax.axhline(value, **BASELINE_STYLE)
        side, va = "right", "bottom"
        if any(abs(value - y) < gap for y in placed["right"]):
            side = "left"
            if any(abs(value - y) < gap for y in placed["left"]):
                side, va = "right", "top"
        placed[side].append(value)
        ax.annotate(f"{name} {value:.2f}", xy=(1.0 if side == "right" else 0.0, value),
                    xycoords=("axes fraction", "data"),
                    xytext=(-3 if side == "right" else 3, 2 if va == "bottom" else -2),
                    textcoords="offset points", fontsize=7.5, color="0.3", va=va, ha=side,
                    bbox=dict(boxstyle="square,pad=0.1", fc="white", ec="none", alpha=0.75))


def baselines_note(baselines, runs, ylim):
    """'uniform 4.63 (above)' for the baselines outside the plotted range, so none is lost."""
    low, high = ylim
    out = [f"{k} {v:.2f} ({'above' if v >= high else 'below'} the plot)"
           for k, v in baselines_for(baselines, runs).items() if not low < v < high]
    return f" Off the scale: {', '.join(out)}." if out else ""


def cut_note(values, run_ids, top):
    """' N runs rise above the top edge (up to X nats/char), cut off there.' for the finite
    ``values`` above ``top`` (of the runs ``run_ids``), or ''."""
    values = pd.Series(values, dtype=float)
    above = np.isfinite(values) & (values > top)
    if not above.any():
        return ""
    k = pd.Series(run_ids)[above.to_numpy()].nunique()
    return (f" {k} run{'s' if k > 1 else ''} rise{'' if k > 1 else 's'} above the top edge (up "
            f"to {values[above].max():.3g} nats/char), cut off there.")


def fit_ticks(ax, limit=24):
    """Long x tick labels (optimizers, cases, texts) turned and anchored at their end, so that
    none spills past its neighbour or the figure's edge; short ones stay level."""
    texts = [t.get_text() for t in ax.get_xticklabels()]
    if sum(map(len, texts)) > limit:
        for label in ax.get_xticklabels():
            label.set(rotation=30, ha="right", rotation_mode="anchor")


def tidy(fig):
    """tight_layout, quietly: with very long names it cannot fit every margin, and the figure
    is saved with a tight bounding box anyway."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        fig.tight_layout()


def note(fig, text):
    """A caption under everything already drawn (tick labels and axis titles included)."""
    fig.canvas.draw()
    bottom = fig.get_tightbbox().y0 / fig.get_figheight()
    fig.text(0.01, bottom - 0.01, text, ha="left", va="top", fontsize=8.5, color="0.25",
             wrap=True)


def empty_figure(info, what, why):
    fig, ax = plt.subplots(figsize=(6, 2))
    ax.axis("off")
    ax.text(0.5, 0.5, f"{info['name']}: {what}\n{why}", ha="center", va="center")
    return fig
