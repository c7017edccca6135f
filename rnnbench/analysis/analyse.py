"""Every seed statistic of a grid in one call, for the report, the plots and configs.parquet."""
from dataclasses import dataclass, field

import pandas as pd

from .budgets import AXES, budget_sentence, budget_winners
from .effects import effect_sentences, interactions, marginal_means, swept_fields
from .stats import ALPHA, configs_table, labels, prepare_runs, seed_outliers
from .verdict import verdict

CHECKSUM = "corpus_checksum"


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


def analyse(runs, trace=None, fields=None, alpha=ALPHA, order=()):
    """The seed statistics of a runs table (and, with its trace table, the equal-budget
    winners on every axis). ``fields``: the configuration fields (default: every RunConfig
    field but the seed, and the text's checksum); ``order``: fields named first in labels
    and lists (a grid's swept fields as its file lists them)."""
    fields = prepare_runs(runs, fields)[1]
    configs = configs_table(runs, fields, alpha)
    named = described_by(configs, fields, order)
    if len(configs):
        configs["label"] = labels(configs, named)
    outliers = seed_outliers(runs, fields)
    swept = swept_fields(configs, named)
    result = Analysis(configs, outliers, verdict(configs, outliers, alpha), swept,
                      {f: marginal_means(configs, f, named) for f in swept},
                      effect_sentences(configs, named), interactions(configs, named))
    if trace is not None:
        for axis in AXES:
            winners = budget_winners(runs, trace, axis, fields, configs)
            result.budgets[axis] = winners
            result.budget_sentences[axis] = budget_sentence(winners, axis)
    return result


def described_by(configs, fields, order=()):
    """The fields that describe a configuration to a reader, ``order`` first: all of them but
    the text's checksum where the text's name already tells the texts apart (it still
    separates configurations, only it is not named)."""
    fields = [f for f in order if f in fields] + [f for f in fields if f not in order]
    if CHECKSUM in fields and "data" in fields and len(configs):
        pairs = configs[["data", CHECKSUM]].astype(str).drop_duplicates()
        if not pairs["data"].duplicated().any():
            fields.remove(CHECKSUM)
    return fields
