"""Comparison plots of a grid, drawn from its tables alone (seaborn on matplotlib's Agg).

Runs are compared by loss per character (nats), which does not depend on seq_length, against
updates, characters seen and seconds of training. The first swept field colours the curves, the
next two split the figure into columns and rows (the grid's ``plot:`` section can choose), and
any further ones join the colour's label. Grey lines are count-based baselines on the same
split. The effects and interactions of the swept fields come from analysis.analyse.
"""
import io
import os
import sys
from contextlib import contextmanager
from pathlib import Path

from joblib.externals.loky import ProcessPoolExecutor

from ...analysis.budgets import training_seconds
from ...analysis.stats import StatsError
from ...analysis.tables import analyse_tables
from ...disk.writing import atomic_write_bytes
from ...experiments.pool import kill_processes
from ...experiments.results import load_tables
from ...experiments.workers import init_worker
from .common import Roles, empty_figure, plt, sns
from .curves import SECONDS, loss_curves
from .effects import effects, interactions
from .final import final_loss
from .speed import speed

PLOTS = "plots"


# the figures that take longest (every run's curves, facet by facet): drawn by a helper
# process beside the others when a second core is free (plot_helper)
HELPER_PLOTS = ("loss_vs_updates.png", "loss_vs_chars.png")


def make_plots(root, tables=None, analysis=None, away=None):
    """Write every plot of the results folder ``root`` (``tables``: its load_tables,
    ``analysis``: their analyse_tables, if made already); returns their paths. A plot that
    has nothing to show (effects of one configuration, a speed chart of one bar) is not
    drawn, and an old one of that name is removed. ``away``: helper_plots' future, drawing
    HELPER_PLOTS meanwhile (should it fail, they are drawn here)."""
    root = Path(root)
    tables = tables or load_tables(root)
    info, runs, trace, _, baselines = tables
    out = root / PLOTS
    out.mkdir(exist_ok=True)
    sns.set_theme(style="whitegrid", context="notebook")
    if _none_finished(runs):
        return [_save(empty_figure(info, name[:-4].replace("_", " "), "no run has finished"),
                      out / name)
                for name in ("loss_vs_updates.png", "final_val_loss.png")]
    analysis = analysis or analyse_tables(info, runs, trace)
    here = [n for n in FIGURES if away is None or n not in HELPER_PLOTS]
    paths = draw_plots(root, tables, analysis, here)
    if away is not None:
        try:
            paths += away.result()
        except Exception as exc:  # noqa: BLE001 -- a dead helper: draw its plots here
            print(f"rnnbench: warning: the plot helper failed ({type(exc).__name__}: {exc}); "
                  "drawing its plots here", file=sys.stderr)
            paths += draw_plots(root, tables, analysis, HELPER_PLOTS)
    return [out / n for n in FIGURES if out / n in paths]


def helper_plots(helper, root, tables):
    """HELPER_PLOTS of ``root`` drawn by plot_helper's process ``helper``: a future of their
    paths, for make_plots; None without a helper or while no run has finished."""
    if helper is None or _none_finished(tables[1]):
        return None
    (Path(root) / PLOTS).mkdir(exist_ok=True)
    try:
        return helper.submit(draw_plots, root, tables, None, HELPER_PLOTS)
    except Exception as exc:  # noqa: BLE001 -- a helper dead already: make_plots draws all
        print(f"rnnbench: warning: the plot helper failed ({type(exc).__name__}); drawing "
              "every plot here", file=sys.stderr)
        return None


def draw_plots(root, tables, analysis, names):
    """Draw the plots ``names`` (of FIGURES) of ``root`` from its ``tables``; their paths.
    ``analysis`` may be None when no plot of ``names`` needs it (HELPER_PLOTS do not)."""
    info, runs, trace, _, baselines = tables
    out = Path(root) / PLOTS
    sns.set_theme(style="whitegrid", context="notebook")
    paths = []
    for name in names:
        fig = _drawn(info, name, lambda r, rs: FIGURES[name](info, r, rs, trace, baselines,
                                                            analysis), runs)
        if fig is None:
            (out / name).unlink(missing_ok=True)
            continue
        paths.append(_save(fig, out / name))
    return paths


def _none_finished(runs):
    """Whether no run has finished yet (the runs table is empty or has no run's config)."""
    return runs.empty or "seed" not in runs


def _seconds_curves(info, roles, runs, trace, baselines, analysis):
    timed = _with_seconds(trace, runs)
    return None if timed is None else loss_curves(info, roles, runs, timed, baselines, SECONDS)


FIGURES = {  # name -> draw(info, roles, runs, trace, baselines, analysis), in the report's order
    "effects.png": lambda i, r, rs, t, b, a: effects(i, a),
    "interactions.png": lambda i, r, rs, t, b, a: interactions(i, a),
    "final_val_loss.png": lambda i, r, rs, t, b, a: final_loss(i, r, rs, b),
    "loss_vs_updates.png": lambda i, r, rs, t, b, a: loss_curves(i, r, rs, t, b, "update"),
    "loss_vs_chars.png": lambda i, r, rs, t, b, a: loss_curves(i, r, rs, t, b, "chars_seen"),
    "loss_vs_seconds.png": _seconds_curves,
    "speed.png": lambda i, r, rs, t, b, a: speed(i, r, rs)}


@contextmanager
def plot_helper():
    """A loky process that draws HELPER_PLOTS while this one draws the rest, when a second
    core is free (else None). It starts at once, so its imports overlap reading and analysing
    the tables; it leaves Ctrl-C to this process, is killed on the way out of an error or an
    interrupt, and exits by itself should this process die (as a grid's workers do)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    if cores < 2:
        yield None
        return
    try:
        pool = ProcessPoolExecutor(1, initializer=init_worker, initargs=(os.getpid(),))
        pool.submit(_ready)  # start the process (and its imports) now, not at the first plot
    except Exception as exc:  # noqa: BLE001 -- no process to be had: draw everything here
        print(f"rnnbench: warning: no plot helper ({type(exc).__name__}: {exc}); drawing "
              "every plot here", file=sys.stderr)
        yield None
        return
    try:
        yield pool
    except BaseException:
        kill_processes(list(getattr(pool, "_processes", {})))
        pool.shutdown(wait=False, kill_workers=True)
        raise
    pool.shutdown()


def _ready():
    """The helper's start: this module (seaborn, matplotlib) is imported by now."""


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
