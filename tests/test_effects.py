"""rnnbench.analysis.effects: marginal means, paired differences, sentences, interactions, colours."""
import math

import numpy as np
import pytest
from scipy import stats as sps

from rnnbench.analysis.effects import (cell_means, colour_range, combine, effect_sentence,
                              effect_sentences, interactions, marginal_means, paired_difference,
                              swept_fields)
from rnnbench.analysis.stats import StatsError, configs_table
from stats_tables import dropout_grid, grid, ok_values, runs_table

# A 2x2 grid whose hidden_size effect flips sign with the learning rate: 128 is 0.2 better at
# 0.03, 0.1 worse at 0.3, 0.05 better on average.
FLIP = {(("hidden_size", 32), ("learning_rate", 0.03)): 2.0,
        (("hidden_size", 128), ("learning_rate", 0.03)): 1.8,
        (("hidden_size", 32), ("learning_rate", 0.3)): 2.1,
        (("hidden_size", 128), ("learning_rate", 0.3)): 2.2}
OFFSETS = [-0.01, 0.0, 0.015]


def flip_grid():
    return grid(FLIP, OFFSETS)


def hand_average(runs, cells):
    """Mean of cell means, its half-width and Welch-Satterthwaite df, by hand."""
    means, parts, dfs = [], [], []
    for where in cells:
        x = ok_values(runs, **where)
        means.append(x.mean())
        parts.append(x.var(ddof=1) / len(x) / len(cells) ** 2)
        dfs.append(len(x) - 1)
    var = sum(parts)
    df = var ** 2 / sum(p ** 2 / d for p, d in zip(parts, dfs))
    return np.mean(means), sps.t.ppf(0.975, df) * math.sqrt(var), df


def test_marginal_means_average_the_other_fields_with_seed_noise_intervals():
    runs = flip_grid()
    runs.loc[0, "final_val_loss_per_char"] += 0.02   # unequal spreads
    configs = configs_table(runs)
    assert swept_fields(configs) == ["hidden_size", "learning_rate"]
    marg = marginal_means(configs, "hidden_size")
    assert list(marg["hidden_size"]) == [32, 128]
    for h, row in zip((32, 128), marg.itertuples()):
        mean, half, df = hand_average(runs, [dict(hidden_size=h, learning_rate=lr)
                                             for lr in (0.03, 0.3)])
        assert row.mean == pytest.approx(mean) and row.ci == pytest.approx(half)
        assert row.df == pytest.approx(df) and (row.n_settings, row.n_missing) == (2, 0)
        assert row.n_seeds == 6 and row.low == pytest.approx(mean - half)


def test_a_difference_at_one_setting_is_welchs_test():
    runs = flip_grid()
    runs.loc[3, "final_val_loss_per_char"] += 0.03
    configs = configs_table(runs)
    d = paired_difference(configs, "hidden_size", 32, 128, {"learning_rate": 0.03})
    ref = sps.ttest_ind(ok_values(runs, hidden_size=32, learning_rate=0.03),
                        ok_values(runs, hidden_size=128, learning_rate=0.03), equal_var=False)
    low, high = ref.confidence_interval(0.95)
    assert (d["low"], d["high"]) == (pytest.approx(low), pytest.approx(high))
    assert d["df"] == pytest.approx(ref.df) and d["n_settings"] == 1
    overall = paired_difference(configs, "hidden_size", 32, 128)
    # (128, 0.03)'s mean rose by 0.01: (0.19 + -0.1) / 2
    assert overall["diff"] == pytest.approx(0.045) and overall["n_settings"] == 2


def test_the_sentence_names_the_sign_flip():
    configs = configs_table(flip_grid())
    text = effect_sentence(configs, "hidden_size")
    d = paired_difference(configs, "hidden_size", 32, 128)
    at = {lr: paired_difference(configs, "hidden_size", 32, 128, {"learning_rate": lr})
          for lr in (0.03, 0.3)}
    assert d["diff"] == pytest.approx(0.05) and at[0.03]["diff"] == pytest.approx(0.2)
    assert at[0.3]["diff"] == pytest.approx(-0.1)
    assert text == (
        f"hidden_size 128 is 0.050 ± {d['ci']:.3f} nats/char better than 32 on average over 2 "
        f"settings of learning_rate; by learning_rate: better at 0.03 (0.200 ± "
        f"{at[0.03]['ci']:.3f}), worse at 0.3 (0.100 ± {at[0.3]['ci']:.3f}).")
    lr = effect_sentence(configs, "learning_rate")              # better at both sizes: no flip
    d = paired_difference(configs, "learning_rate", 0.3, 0.03)  # (2.1+2.2)/2 - (2.0+1.8)/2
    assert lr == (f"learning_rate 0.03 is 0.250 ± {d['ci']:.3f} nats/char better than 0.3 on "
                  f"average over 2 settings of hidden_size.")
    assert effect_sentences(configs) == [text, lr]


def test_within_noise_one_seed_and_missing_settings_are_said():
    noisy = grid({(("hidden_size", 32),): 2.0, (("hidden_size", 64),): 1.99}, [-0.05, 0.05])
    assert "within seed noise (its 95% interval includes 0)" in \
        effect_sentence(configs_table(noisy), "hidden_size")
    one = grid({(("hidden_size", 32),): 2.0, (("hidden_size", 64),): 1.9}, [0.0])
    text = effect_sentence(configs_table(one), "hidden_size")
    assert text == ("hidden_size 64 is 0.100 nats/char better than 32 (a configuration with one "
                    "seed: no interval).")
    runs = flip_grid()
    runs.loc[runs["learning_rate"].eq(0.3) & runs["hidden_size"].eq(128), "status"] = "diverged"
    configs = configs_table(runs)
    marg = marginal_means(configs, "hidden_size")
    assert list(marg["n_missing"]) == [0, 1] and list(marg["n_settings"]) == [2, 1]
    assert marg["mean"].iloc[1] == pytest.approx(1.8 + np.mean(OFFSETS))
    text = effect_sentence(configs, "hidden_size")
    assert text.startswith("hidden_size 128 is 0.200 ± ") and \
        "at the one setting of learning_rate where both have ok runs (1 more lack an ok run " \
        "for one of them)" in text


def test_a_flagged_seed_is_named_in_the_sentence():
    text = effect_sentence(configs_table(dropout_grid()), "dropout")
    assert text.startswith("dropout 0.25 is 0.923 ± 10.105 nats/char better than 0, within seed "
                           "noise")
    assert text.endswith("; the means include seeds flagged as far from their siblings (1 at 0).")


def test_fields_that_never_vary_apart_cannot_be_separated():
    runs = runs_table([dict(optimizer=o, learning_rate=lr, hidden_size=h, seed=s,
                            final=m + h / 1e4 + s / 100)
                       for o, lr, m in (("adagrad", 0.1, 2.0), ("adam", 0.002, 1.8))
                       for h in (32, 64) for s in (0, 1)])
    configs = configs_table(runs)
    assert swept_fields(configs) == ["hidden_size", "learning_rate", "optimizer"]
    text = effect_sentence(configs, "optimizer")
    assert text == ("optimizer: adam and adagrad never ran at the same settings of the other "
                    "fields (learning_rate changes with it), so its effect cannot be separated.")
    assert effect_sentence(configs, "hidden_size").startswith("hidden_size 32 is 0.003")


def test_interaction_tables_average_over_the_remaining_field():
    cells = {(("hidden_size", h), ("learning_rate", lr), ("seq_length", q)): 1 + h / 100 + lr
             + q / 1000 for h in (32, 64) for lr in (0.1, 0.3) for q in (10, 50)}
    configs = configs_table(grid(cells, [0.0, 0.01]))
    tables = interactions(configs)
    assert list(tables) == [("hidden_size", "seq_length"), ("hidden_size", "learning_rate"),
                            ("seq_length", "learning_rate")]       # RunConfig's field order
    t = tables[("hidden_size", "learning_rate")]
    assert len(t) == 4 and (t["n_settings"] == 2).all() and (t["n_seeds"] == 4).all()
    row = t[(t["hidden_size"] == 64) & (t["learning_rate"] == 0.3)].iloc[0]
    assert row["mean"] == pytest.approx(1 + 0.64 + 0.3 + 0.03 + 0.005)
    assert row["ci"] > 0
    assert cell_means(configs, ["seq_length"])["seq_length"].tolist() == [10, 50]


def test_colour_range_cannot_be_stretched_by_an_outlier():
    clean = [1.80, 1.82, 1.85, 1.90, 1.87, 1.83]
    assert colour_range(clean) == (1.80, 1.90)
    low, high = colour_range(clean + [9.0])
    assert low == 1.80 and 1.90 <= high < 2.1
    assert colour_range([np.nan, np.inf, 2.0, -np.inf]) == pytest.approx((1.99, 2.01))
    assert all(map(math.isnan, colour_range([np.nan])))
    low, high = colour_range([[1.8, 1.9], [3.5, 1.85]])     # a 2x2 table: one cell far off
    assert high < 2.5
    # task4 as measured: hidden_size x learning_rate, 128 at 0.3 holds a plateau seed
    task4 = [2.068, 1.924, 2.140, 1.956, 1.914, 2.369, 1.889, 2.121, 3.226]
    low, high = colour_range(task4)
    assert low == 1.889 and 2.369 < high < 2.75


def test_combine_edges():
    assert combine([0.5, 0.5], [1.0, 2.0], [0.0, 0.0], [1, 1]) == (1.5, 0.0, math.inf)
    est, half, df = combine([1.0], [1.0], [np.nan], [0])
    assert est == 1.0 and math.isnan(half) and math.isnan(df)


def test_unknown_fields_and_metrics_are_one_line_errors():
    configs = configs_table(flip_grid())
    with pytest.raises(StatsError, match="configs table: no field column 'dropout'"):
        marginal_means(configs, "dropout")
    with pytest.raises(StatsError, match="no field column 'seq_length'"):
        paired_difference(configs, "hidden_size", 32, 128, {"seq_length": 25})
    with pytest.raises(StatsError, match="missing column 'speed_mean' \\(metric 'speed'\\)"):
        marginal_means(configs, "hidden_size", metric="speed")
    speed = marginal_means(configs, "hidden_size", metric="chars_per_s")
    assert speed["mean"].tolist() == [25000.0, 25000.0] and speed["ci"].tolist() == [0.0, 0.0]
    assert effect_sentences(configs.iloc[:0]) == []
