"""What the plots of a grid share, beyond base.py's (matplotlib on Agg, baselines, notes):
seaborn, which swept field colours the lines and which split the figure (Roles), the order of
values."""
import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns

from ...config import short_value
from .base import (BASELINE_STYLE, baseline_lines, baselines_for, baselines_note, note, plt,
                   tidy)

__all__ = ["plt", "sns", "Roles", "HUE", "BASELINE_STYLE", "labels", "value_order", "sorted_runs",
           "ordered_colours", "category_colours", "cut_note", "fit_ticks", "tidy",
           "baselines_for", "baseline_lines", "baselines_note", "note", "empty_figure"]
HUE = "_hue"  # the colour column: one field, or several folded into one label


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


def empty_figure(info, what, why):
    fig, ax = plt.subplots(figsize=(6, 2))
    ax.axis("off")
    ax.text(0.5, 0.5, f"{info['name']}: {what}\n{why}", ha="center", va="center")
    return fig
