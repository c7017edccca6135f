"""What every plot shares, on matplotlib alone (a run's plots import neither seaborn nor
SciPy): matplotlib on its Agg backend (every plot module takes ``plt`` from here or common.py,
after the backend is chosen), the house look, baselines as reference lines, notes under a
figure."""
import textwrap
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 -- after choosing the backend
import numpy as np  # noqa: E402
from cycler import cycler  # noqa: E402

__all__ = ["plt", "THEME", "BASELINE_STYLE", "baselines_for", "baseline_lines",
           "baselines_note", "note", "tidy", "validation_read"]
BASELINE_STYLE = dict(color="0.45", linewidth=0.9, linestyle=":", zorder=0)
LABEL_GAP_PT = 10  # baseline names closer than this (points) would overlap
WRAP_MARGIN = 0.95  # a line's characters can be wider than the mean: keep clear of the edge
# seaborn's set_theme(style="whitegrid", context="notebook"), as the rcParams it sets, for the
# plots of one run (drawn without importing seaborn, a second of a train run's time)
THEME = {
    "axes.axisbelow": True, "axes.edgecolor": ".8", "axes.grid": True, "axes.labelcolor": ".15",
    "axes.labelsize": 12.0, "axes.linewidth": 1.25, "axes.titlesize": 12.0,
    "axes.prop_cycle": cycler(color=[
        "#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c",
        "#ccb974", "#64b5cd"]),
    "font.sans-serif": ["Arial", "DejaVu Sans", "Liberation Sans", "Bitstream Vera Sans",
                        "sans-serif"],
    "font.size": 12.0, "grid.color": ".8", "grid.linewidth": 1.0, "legend.fontsize": 11.0,
    "legend.title_fontsize": 12.0, "lines.solid_capstyle": "round", "patch.edgecolor": "w",
    "patch.force_edgecolor": True, "text.color": ".15", "xtick.bottom": False,
    "xtick.color": ".15", "xtick.labelsize": 11.0, "xtick.major.size": 6.0,
    "xtick.major.width": 1.25, "xtick.minor.size": 4.0, "xtick.minor.width": 1.0,
    "ytick.color": ".15", "ytick.labelsize": 11.0, "ytick.left": False, "ytick.major.size": 6.0,
    "ytick.major.width": 1.25, "ytick.minor.size": 4.0, "ytick.minor.width": 1.0}


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


def validation_read(runs):
    """What the runs' validation losses during training were read on, in words: the held-out
    tail, or the first val_slice characters of it (the whole tail then only at the end)."""
    if "val_slice" not in runs or runs.empty:
        return "the held-out tail"
    # a run whose tail is not known (failed before its summary) counts by its val_slice alone
    tail = runs["val_chars"].astype(float).fillna(np.inf) if "val_chars" in runs else np.inf
    part = runs["val_slice"].fillna(0).astype(float)
    sliced = part[(part > 0) & (part < tail - 1)]
    if sliced.empty:
        return "the held-out tail"
    size = (f"first {int(sliced.iloc[0]):,} characters" if sliced.nunique() == 1
            else "first val_slice characters")
    some = "" if len(sliced) == len(part) else ", for the runs that set val_slice"
    return (f"the held-out tail's {size}{some} (the whole tail only at the end of a run: the "
            "final validation loss)")


def tidy(fig):
    """tight_layout, quietly: with very long names it cannot fit every margin, and the figure
    is saved with a tight bounding box anyway."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        fig.tight_layout()


def note(fig, text, bottom=None):
    """A caption under everything already drawn (tick labels and axis titles included),
    wrapped to the figure's width. Laid out, not drawn: matplotlib's own wrap measures every
    prefix of every line at every draw (measured: half a second of a run's three plots).
    ``bottom``: the lowest edge of what is drawn (figure fraction) when the caller's layout
    knows it, which spares measuring every artist (a third of a grid's curve figure)."""
    renderer = fig.canvas.get_renderer()
    if bottom is None:
        bottom = fig.get_tightbbox(renderer).y0 / fig.get_figheight()
    lines = text.split("\n")
    caption = fig.text(0.01, bottom - 0.01, " ".join(lines), ha="left", va="top",
                       fontsize=8.5, color="0.25")
    width = caption.get_window_extent(renderer).width  # the text on one line
    room = 0.98 * fig.get_figwidth() * fig.dpi
    # lines of as many characters as fit, by the text's mean character width
    chars = max(20, int(len(caption.get_text()) * room / max(width, 1.0) * WRAP_MARGIN))
    caption.set_text("\n".join(textwrap.fill(line, chars, break_on_hyphens=False)
                               for line in lines))
