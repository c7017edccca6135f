"""Comparison plots of a grid, drawn from its tables alone (seaborn on matplotlib's Agg).

Runs are compared by loss per character (nats), which does not depend on seq_length, against
updates, characters seen and seconds of training. The first swept field colours the curves, the
next two split the figure into columns and rows (the grid's ``plot:`` section can choose), and
any further ones join the colour's label. Grey lines are count-based baselines on the same
split. The effects and interactions of the swept fields come from analysis.analyse.
"""
import io
import sys
from pathlib import Path

from ...analysis.budgets import training_seconds
from ...analysis.stats import StatsError
from ...analysis.tables import analyse_tables
from ...disk.writing import atomic_write_bytes
from ...experiments.results import load_tables
from .common import Roles, empty_figure, plt, sns
from .curves import SECONDS, loss_curves
from .effects import effects, interactions
from .final import final_loss
from .speed import speed

PLOTS = "plots"


def make_plots(root, tables=None, analysis=None):
    """Write every plot of the results folder ``root`` (``tables``: its load_tables,
    ``analysis``: their analyse_tables, if made already); returns their paths. A plot that
    has nothing to show (effects of one configuration, a speed chart of one bar) is not
    drawn, and an old one of that name is removed."""
    root = Path(root)
    info, runs, trace, _, baselines = tables or load_tables(root)
    out = root / PLOTS
    out.mkdir(exist_ok=True)
    sns.set_theme(style="whitegrid", context="notebook")
    if runs.empty or "seed" not in runs:  # no run finished yet
        return [_save(empty_figure(info, name[:-4].replace("_", " "), "no run has finished"),
                      out / name)
                for name in ("loss_vs_updates.png", "final_val_loss.png")]
    analysis = analysis or analyse_tables(info, runs, trace)
    timed = _with_seconds(trace, runs)
    figures = {
        "effects.png": lambda r, rs: effects(info, analysis),
        "interactions.png": lambda r, rs: interactions(info, analysis),
        "final_val_loss.png": lambda r, rs: final_loss(info, r, rs, baselines),
        "loss_vs_updates.png": lambda r, rs: loss_curves(info, r, rs, trace, baselines, "update"),
        "loss_vs_chars.png": lambda r, rs: loss_curves(info, r, rs, trace, baselines,
                                                       "chars_seen"),
        "loss_vs_seconds.png": lambda r, rs: None if timed is None else loss_curves(
            info, r, rs, timed, baselines, SECONDS),
        "speed.png": lambda r, rs: speed(info, r, rs)}
    paths = []
    for name, draw in figures.items():
        fig = _drawn(info, name, draw, runs)
        if fig is None:
            (out / name).unlink(missing_ok=True)
            continue
        paths.append(_save(fig, out / name))
    return paths


def _with_seconds(trace, runs):
    """The trace with its seconds of training (analysis.budgets.training_seconds), or None
    when the tables cannot tell them."""
    if trace.empty or "update" not in trace:
        return None
    try:
        return trace.assign(**{SECONDS: training_seconds(trace, runs).to_numpy()})
    except StatsError:
        return None


def _drawn(info, name, draw, runs):
    """The figure ``draw`` makes; should it fail, a figure that says so (the other plots and
    the report are still made, and the error is printed)."""
    try:
        roles = Roles(info, runs)
        return draw(roles, roles.add_hue(runs))
    except Exception as exc:  # noqa: BLE001 -- one plot must not cost the grid its report
        plt.close("all")
        why = " ".join(f"{type(exc).__name__}: {exc}".split())
        print(f"rnnbench: warning: {name} could not be drawn: {why}", file=sys.stderr)
        return empty_figure(info, name[:-4].replace("_", " "), f"could not be drawn: {why}")


def _save(fig, path):
    buffer = io.BytesIO()  # written whole, through a temp file: never through a planted link
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
    return path
