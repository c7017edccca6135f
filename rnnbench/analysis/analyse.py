"""Every seed statistic of a grid in one call, for the report, the plots and configs.parquet."""
from dataclasses import dataclass, field

import pandas as pd

from .budgets import AXES, budget_sentence, budget_winners
from .effects import effect_sentences, interactions, marginal_means, swept_fields
from .stats import ALPHA, configs_table, prepare_runs, seed_outliers
from .verdict import verdict


@dataclass
class Analysis:
    """What analyse() found; every table is a DataFrame, every sentence a string."""

    configs: pd.DataFrame      # configs.parquet: one row per configuration, best first
    outliers: pd.DataFrame     # one row per ok run: its score against its siblings
    verdict: list              # the ranking in words
    swept: list                # the configuration fields that vary
    marginals: dict            # field -> marginal_means
    effects: list              # one sentence per swept field
    interactions: dict         # (field, field) -> cell_means of the pair
    budgets: dict = field(default_factory=dict)           # axis -> budget_winners
    budget_sentences: dict = field(default_factory=dict)  # axis -> budget_sentence


def analyse(runs, trace=None, fields=None, alpha=ALPHA):
    """The seed statistics of a runs table (and, with its trace table, the equal-budget
    winners on every axis). ``fields``: the configuration fields (default: every RunConfig
    field but the seed, and the text's checksum)."""
    fields = prepare_runs(runs, fields)[1]
    configs = configs_table(runs, fields, alpha)
    outliers = seed_outliers(runs, fields)
    swept = swept_fields(configs, fields)
    result = Analysis(configs, outliers, verdict(configs, outliers, alpha), swept,
                      {f: marginal_means(configs, f, fields) for f in swept},
                      effect_sentences(configs, fields), interactions(configs, fields))
    if trace is not None:
        for axis in AXES:
            winners = budget_winners(runs, trace, axis, fields, configs)
            result.budgets[axis] = winners
            result.budget_sentences[axis] = budget_sentence(winners, axis)
    return result
