"""Each grid plot's roles (colour, columns, rows) and its behaviour with diverged runs, one
configuration and one seed, on hand-made tables (no training)."""
import io
import itertools
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from rnnbench.analysis.tables import analyse_tables
from rnnbench.views.plots.common import Roles, baseline_lines, ordered_colours, sns
from rnnbench.views.plots.curves import SECONDS, loss_curves
from rnnbench.views.plots.draw import _with_seconds
from rnnbench.views.plots.effects import effects, interactions
from rnnbench.views.plots.final import final_loss
from rnnbench.views.plots.speed import speed

V = 50
SWEPT = {"hidden_size": [16, 32], "seq_length": [10, 25, 50], "learning_rate": [0.03, 0.1]}


def tables(swept=SWEPT, seeds=(0, 1), diverged=(), plot=None):
    """Runs and trace tables: final loss 2 - 0.002 h - ... + seed noise; the configurations
    in ``diverged`` (tuples of values) diverged (loss 1e30)."""
    runs, trace = [], []
    fields = list(swept)
    for i, (values, seed) in enumerate(itertools.product(itertools.product(*swept.values()),
                                                         seeds)):
        config = dict(zip(fields, values))
        bad = values in diverged
        final = 1e30 if bad else 2.0 - 0.002 * config.get("hidden_size", 0) + 0.01 * seed
        run_id = f"r{i:03d}"
        runs.append(dict(run_id=run_id, status="diverged" if bad else "ok", seed=seed,
                         label=", ".join(f"{k}={v}" for k, v in config.items()) or "base",
                         final_val_loss_per_char=final, best_val_loss_per_char=final,
                         vocab_size=V, corpus_checksum="c", val_fraction=0.1,
                         chars_per_s=1e5 * (1 + i % 3), updates_per_s=1e3 * (1 + i % 3),
                         updates=300, batch_size=1, diverged_at=200 if bad else None,
                         diverged_rule="non_finite" if bad else None,
                         **{"seq_length": 25, **config}))
        for u in (100, 200, 300):
            loss = final + (300 - u) / 200 if not bad else 10.0 ** (u / 10)
            trace.append(dict(run_id=run_id, update=u, chars_seen=u * runs[-1]["seq_length"],
                              loss_per_char=loss, val_loss_per_char=loss))
    info = dict(name="roles", swept=fields, plot=plot or {}, seeds=list(seeds),
                n_runs=len(runs))
    baselines = pd.DataFrame(dict(corpus_checksum="c", val_fraction=0.1, vocab_size=V,
                                  baseline=["uniform", "unigram", "bigram"],
                                  loss_per_char=[math.log(V), 3.05, 2.92]))
    return info, pd.DataFrame(runs), pd.DataFrame(trace), baselines


def roles_of(info, runs):
    roles = Roles(info, runs)
    return roles, roles.add_hue(runs)


def test_roles_follow_the_plot_section_then_the_grid_order():
    info, runs, _, _ = tables(plot={"hue": "learning_rate", "row": "hidden_size"})
    roles, _ = roles_of(info, runs)
    assert (roles.hue_fields, roles.col, roles.row) == (["learning_rate"], "seq_length",
                                                         "hidden_size")
    info, runs, _, _ = tables()
    roles, _ = roles_of(info, runs)
    assert (roles.hue_fields, roles.col, roles.row) == (["hidden_size"], "seq_length",
                                                         "learning_rate")
    four = dict(SWEPT, dropout=[0.0, 0.5])
    info, runs, _, _ = tables(four)
    roles, coloured = roles_of(info, runs)
    assert roles.hue_fields == ["hidden_size", "dropout"]  # a fourth field joins the colour
    assert "hidden_size=16, dropout=0.5" in set(coloured["_hue"])


def test_loss_curves_put_each_role_where_it_belongs():
    info, runs, trace, baselines = tables(plot={"hue": "hidden_size", "col": "seq_length",
                                                "row": "learning_rate"})
    roles, runs = roles_of(info, runs)
    for x in ("update", SECONDS):  # chars_seen: as update, each column its own x
        fig = loss_curves(info, roles, runs, _with_seconds(trace, runs), baselines, x)
        axes = [ax for ax in fig.axes if ax.has_data()]
        assert len(axes) == 3 * 2  # columns: seq_length, rows: learning_rate
        titles = " ".join(t.get_text() for ax in fig.axes for t in ax.texts)
        titles += " ".join(ax.get_title() for ax in fig.axes)
        assert "seq_length = 10" in titles and "learning_rate = 0.1" in titles
        legend = [t.get_text() for t in fig.legends[0].texts]
        assert {"hidden_size", "16", "32"} <= set(legend)
        plt.close(fig)


@pytest.mark.parametrize("x", ["update", "chars_seen"])
def test_loss_curves_lay_out_without_overlaps(x):
    """In seaborn's theme (as draw.py draws): no axis (its tick labels, axis labels, titles,
    row titles, marks) overlaps another, the legend, the suptitle or the note under all."""
    info, runs, trace, baselines = tables(diverged={(16, 10, 0.1)})
    roles, runs = roles_of(info, runs)
    with plt.rc_context():
        sns.set_theme(style="whitegrid", context="notebook")
        fig = loss_curves(info, roles, runs, trace, baselines, x)
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        boxes = [ax.get_tightbbox(renderer) for ax in fig.axes]
        others = [a.get_window_extent(renderer) for a in (fig.legends[0], fig._suptitle,
                                                           fig.texts[-1])]
        assert all(b.x1 < others[0].x0 for b in boxes)  # the legend right of every axis
        assert not any(a.overlaps(b) for a, b in itertools.combinations(boxes + others, 2))
    plt.close(fig)


def test_a_legend_taller_than_the_curves_keeps_clear_of_the_note():
    """As saved (bbox_inches="tight" moves the figure's origin, and the legend with it): the
    legend of 26 entries inside the image, beside the axis' middle, above the note."""
    info, runs, trace, baselines = tables({"hidden_size": list(range(8, 200, 8))}, seeds=(0,))
    roles, runs = roles_of(info, runs)
    fig = loss_curves(info, roles, runs, trace, baselines, "update")
    seen = {}  # where each artist is drawn in the saved image (the last draw is the save's)
    fig.canvas.mpl_connect("draw_event", lambda event: seen.update(
        image=fig.bbox.frozen(), axis=fig.axes[0].get_window_extent(event.renderer).frozen(),
        legend=fig.legends[0].get_window_extent(event.renderer),
        caption=fig.texts[-1].get_window_extent(event.renderer)))
    fig.savefig(io.BytesIO(), format="png", bbox_inches="tight")
    image, axis, legend, caption = (seen[k] for k in ("image", "axis", "legend", "caption"))
    assert legend.height > axis.height * 1.5 and caption.y1 < legend.y0
    assert image.y0 - 1 < legend.y0 and legend.y1 < image.y1 + 1 and legend.x1 < image.x1 + 1
    assert abs((legend.y0 + legend.y1) / 2 - (axis.y0 + axis.y1) / 2) < 1
    plt.close(fig)


def test_effects_and_interactions_of_three_fields():
    info, runs, trace, _ = tables()
    a = analyse_tables(info, runs, trace)
    fig = effects(info, a)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == list(SWEPT)
    shared = {ax.get_ylim() for ax in panels}
    assert len(shared) == 1  # one scale: the tallest swing is the field that matters most
    plt.close(fig)
    fig = interactions(info, a)
    maps = [ax for ax in fig.axes if ax.get_xlabel()]
    assert [(ax.get_ylabel(), ax.get_xlabel()) for ax in maps] == [
        ("hidden_size", "seq_length"), ("hidden_size", "learning_rate"),
        ("seq_length", "learning_rate")]
    assert all("±" in t.get_text() for t in maps[0].texts)
    plt.close(fig)


def test_diverged_configurations_never_set_a_colour_or_a_scale():
    info, runs, trace, baselines = tables(diverged={(16, 10, 0.1)})
    a = analyse_tables(info, runs, trace)
    fig = interactions(info, a)
    low, high = fig.axes[-1].get_ylim()  # the colour bar
    assert 1.9 < low < high < 2.0
    plt.close(fig)
    fig = effects(info, a)
    assert all(ax.get_ylim()[1] < 3 for ax in fig.axes if ax.get_title())
    plt.close(fig)
    roles, coloured = roles_of(info, runs)
    fig = loss_curves(info, roles, coloured, trace, baselines, "update")
    text = fig.texts[-1].get_text()
    assert "Diverged (2; x where each stopped" in text and "rise above" not in text
    assert all(ax.get_ylim()[1] < math.log(V) + 1.7 for ax in fig.axes if ax.has_data())
    plt.close(fig)
    two = {"hidden_size": [16, 32], "learning_rate": [0.03, 0.1]}
    info, runs, trace, baselines = tables(two, diverged={(16, 0.1)})
    roles, runs = roles_of(info, runs)
    fig = final_loss(info, roles, runs, baselines)  # two fields: the heat map
    low, high = fig.axes[0].collections[0].get_clim()
    assert 1.9 < low < high < 2.0 and "diverged" in [t.get_text() for t in fig.axes[0].texts]
    assert interactions(info, analyse_tables(info, runs, trace)) is None  # the heat map's job
    plt.close("all")


def test_one_configuration_draws_no_comparison_of_one():
    info, runs, trace, baselines = tables({}, seeds=(0, 1, 2))
    a = analyse_tables(info, runs, trace)
    roles, runs = roles_of(info, runs)
    assert effects(info, a) is None and interactions(info, a) is None
    assert speed(info, roles, runs) is None  # one bar compares nothing
    fig = loss_curves(info, roles, runs, trace, baselines, "update")
    assert len([ax for ax in fig.axes if ax.has_data()]) == 1
    legend = [t.get_text() for t in fig.legends[0].texts]
    assert {"seed 0", "seed 1", "seed 2"} <= set(legend)  # one configuration: colour by seed
    plt.close("all")


def test_one_seed_has_no_interval_and_says_so():
    two = {"hidden_size": [16, 32], "learning_rate": [0.03, 0.1]}
    info, runs, trace, baselines = tables(two, seeds=(0,))
    a = analyse_tables(info, runs, trace)
    assert a.configs["has_interval"].sum() == 0
    fig = effects(info, a)
    assert "Hollow: a mean that includes a one-seed configuration" in fig.texts[-1].get_text()
    plt.close(fig)
    roles, runs = roles_of(info, runs)
    fig = final_loss(info, roles, runs, baselines)
    assert not any("±" in t.get_text() for t in fig.axes[0].texts)
    assert "(one seed)" in fig.axes[0].get_title()
    plt.close(fig)


def test_ordered_colours_are_told_apart():
    for n in (2, 3, 4, 5, 6):
        c = np.array(ordered_colours(n))
        gaps = [np.linalg.norm(c[i] - c[j]) for i in range(n) for j in range(i + 1, n)]
        assert min(gaps) > 0.25, n  # viridis's four values: 0.19 (dropout 0.1 and 0.25)


def test_baseline_names_never_overlap_and_cut_curves_are_counted():
    info, runs, trace, baselines = tables({"hidden_size": [16, 32]})
    trace.loc[trace["update"] == 100, "val_loss_per_char"] = 40.0  # far above the top
    roles, runs = roles_of(info, runs)
    fig = loss_curves(info, roles, runs, trace, baselines, "update")
    fig.canvas.draw()
    ax = [a for a in fig.axes if a.has_data()][0]
    names = [t for t in ax.texts if t.get_text().startswith(("unigram", "bigram"))]
    assert len(names) == 2
    boxes = [t.get_window_extent() for t in names]
    assert not boxes[0].overlaps(boxes[1])
    assert "4 runs rise above the top edge (up to 40" in fig.texts[-1].get_text()
    plt.close(fig)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_baseline_lines_place_every_name(n):
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.set_ylim(2.5, 3.5)
    values = [3.05, 3.0, 2.95][:n]
    base = pd.DataFrame(dict(corpus_checksum="c", val_fraction=0.1, vocab_size=V,
                             baseline=[f"b{i}" for i in range(n)], loss_per_char=values))
    runs = pd.DataFrame(dict(corpus_checksum=["c"], val_fraction=[0.1], vocab_size=[V]))
    baseline_lines(ax, base, runs)
    fig.canvas.draw()
    boxes = [t.get_window_extent() for t in ax.texts]
    assert len(boxes) == n
    assert not any(a.overlaps(b) for a, b in itertools.combinations(boxes, 2))
    plt.close(fig)
