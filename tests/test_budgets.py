"""rnnbench.analysis.budgets on a made-up trace: a fast configuration that leads early, a slow one that
wins later and after all updates."""
import math

import numpy as np
import pandas as pd
import pytest

from rnnbench.analysis.budgets import (best_within, budget_sentence, budget_winners, evaluations,
                              losses_at, training_seconds)
from rnnbench.analysis.stats import StatsError, configs_table, t_interval
from stats_tables import runs_table, trace_table

FAST = [2.5, 2.2, 2.1, 2.05, 2.0]      # hidden 32, 1000 updates/s: validations at 1 .. 5 s
SLOW = [2.3, 1.9, 1.7, 1.6, 1.5]       # hidden 128, 100 updates/s: at 10 .. 50 s
SEED_OFFSET = (-0.01, 0.01)


def made_up():
    rows, evals = [], {}
    for h, values, speed in ((32, FAST, 1000.0), (128, SLOW, 100.0)):
        for seed, off in enumerate(SEED_OFFSET):
            run_id = f"h{h}s{seed}"
            rows.append(dict(hidden_size=h, seed=seed, final=values[-1] + off, run_id=run_id,
                             updates_per_s=speed * (1 - 0.01 * seed)))
            evals[run_id] = [(1000 * (i + 1), 25000 * (i + 1), v + off)
                             for i, v in enumerate(values)]
    # a diverged seed of the fast one with tempting numbers: never counted
    rows.append(dict(hidden_size=32, seed=2, final=0.5, run_id="h32s2", status="diverged",
                     updates_per_s=1000.0))
    evals["h32s2"] = [(1000, 25000, 0.5)]
    return runs_table(rows), trace_table(evals)


def test_the_fast_configuration_wins_small_budgets_the_slow_one_later():
    runs, trace = made_up()
    configs = configs_table(runs)
    assert configs["hidden_size"].iloc[0] == 128            # the best after all updates
    w = budget_winners(runs, trace, "seconds", configs=configs)
    assert list(w["label"]) == ["hidden_size=32", "hidden_size=128"]
    assert w["start"].tolist() == pytest.approx([1000 / 990, 2000 / 99])   # slower seed's
    assert w["mean"].tolist() == pytest.approx([2.5, 1.9])
    assert w["final_best"].tolist() == [False, True] and w["n_measured"].tolist() == [1, 2]
    assert budget_sentence(w, "seconds") == (
        "A budget of training seconds changes the answer. Below 20.2 s: from 1.01 s, "
        "hidden_size=32 (2.500 nats/char). From 20.2 s on, hidden_size=128, the best after "
        "all updates, leads (1.900 nats/char there).")
    # per update (or character) the slow one is better from its first validation on
    for axis, first in (("updates", "1,000 updates"), ("chars", "25,000 characters")):
        w = budget_winners(runs, trace, axis, configs=configs)
        assert list(w["label"]) == ["hidden_size=128"]
        assert budget_sentence(w, axis) == (
            f"Whatever the budget of {'updates' if axis == 'updates' else 'characters'}, from "
            f"the first validation at {first} on, the best configuration is hidden_size=128, "
            f"the best after all updates.")


def test_a_run_counts_its_last_validation_at_or_before_the_budget():
    runs, trace = made_up()
    at = losses_at(runs, trace, [0.5, 1.005, 2.5, 15.0, 1e9], "seconds")
    fast = at[at["config_id"] == at["config_id"].iloc[0]].set_index("budget")
    slow = at[at["config_id"] != at["config_id"].iloc[0]].set_index("budget")
    assert math.isnan(fast.loc[0.5, "mean"])
    assert math.isnan(fast.loc[1.005, "mean"])        # seed 1 not validated yet: unmeasured
    n, mean, sd, half = t_interval([2.2 - 0.01, 2.2 + 0.01])
    assert (fast.loc[2.5, "n"], fast.loc[2.5, "mean"]) == (2, pytest.approx(mean))
    assert fast.loc[2.5, "ci"] == pytest.approx(half) and fast.loc[2.5, "sd"] == pytest.approx(sd)
    assert fast.loc[15.0, "mean"] == pytest.approx(2.0) and slow.loc[15.0, "mean"] == \
        pytest.approx(2.3)
    assert fast.loc[1e9, "mean"] == pytest.approx(2.0) and slow.loc[1e9, "mean"] == \
        pytest.approx(1.5)                              # the final validation
    ranking = best_within(runs, trace, 15.0, "seconds")
    assert list(ranking["label"]) == ["hidden_size=32", "hidden_size=128"]
    assert list(ranking["n"]) == [2, 2]                 # the diverged seed is not counted


def test_training_seconds_not_elapsed_wall_time():
    runs, trace = made_up()
    seconds = training_seconds(trace, runs)
    first = trace["run_id"] == "h128s1"                 # 99 updates/s: 5000 at 50.5 s
    assert seconds[first & (trace["update"] == 5000)].tolist() == pytest.approx([5000 / 99])
    # elapsed_s (validation and compilation included) never enters: make it say the opposite
    trace["elapsed_s"] = np.where(trace["run_id"].str.startswith("h32"), 1e6, 0.0)
    assert list(budget_winners(runs, trace, "seconds")["label"]) == ["hidden_size=32",
                                                                       "hidden_size=128"]
    # a trace that records its training seconds is used as it is
    trace["train_s"] = trace["update"] / 1000.0         # as fast as each other
    w = budget_winners(runs, trace, "seconds")
    assert list(w["label"]) == ["hidden_size=128"] and w["start"].iloc[0] == pytest.approx(1.0)


def test_bad_input_and_empty_traces():
    runs, trace = made_up()
    with pytest.raises(StatsError, match="budget axis: expected one of seconds, chars, updates, "
                                         "got 'minutes'"):
        budget_winners(runs, trace, "minutes")
    with pytest.raises(StatsError, match="trace table: missing column 'val_loss_per_char'"):
        evaluations(runs, trace.drop(columns="val_loss_per_char"))
    with pytest.raises(StatsError, match="missing column 'chars_seen'"):
        evaluations(runs, trace.drop(columns="chars_seen"), "chars")
    with pytest.raises(StatsError, match="missing column 'updates_per_s'"):
        evaluations(runs.drop(columns="updates_per_s"), trace)
    empty = trace.iloc[:0]
    w = budget_winners(runs, empty, "seconds")
    assert w.empty and budget_sentence(w, "seconds") == (
        "No ok run has a validation to compare within a budget of training seconds.")
    runs.loc[runs["hidden_size"] == 128, "updates_per_s"] = 0.0     # no speed: no seconds
    assert list(budget_winners(runs, trace, "seconds")["label"]) == ["hidden_size=32"]
    assert pd.isna(losses_at(runs, trace, [1e9])["mean"]).tolist() == [False, True]


def test_analyse_gives_every_table_and_sentence():
    from rnnbench.analysis.analyse import analyse
    runs, trace = made_up()
    a = analyse(runs, trace)
    assert a.configs["hidden_size"].tolist() == [128, 32] and a.swept == ["hidden_size"]
    assert len(a.outliers) == 4 and not a.outliers["outlier"].any()
    assert a.verdict[0].startswith("Best: hidden_size=128, final validation loss 1.500 ± ")
    assert list(a.marginals) == ["hidden_size"] and a.interactions == {}
    assert a.effects[0].startswith("hidden_size 128 is 0.500 ± ")
    assert list(a.budgets) == ["seconds", "chars", "updates"]
    assert a.budget_sentences["seconds"].startswith("A budget of training seconds changes")
    assert analyse(runs).budgets == {}
