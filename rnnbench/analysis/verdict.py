"""The ranking of a configs table in words: the best configuration, which others seed noise
cannot separate from it, whether more seeds are needed, lost runs and stray seeds."""
import math

import numpy as np
from scipy import stats as sps

from .stats import ALPHA, num, pm

POWER = 0.8  # the seeds-needed estimate: a difference found 8 times in 10
LISTED = 5   # configurations named in a sentence before "and N more"


def verdict(configs, outliers=None, alpha=ALPHA):
    """Sentences (a list of strings) about a configs table from stats.configs_table; with
    ``outliers`` (stats.seed_outliers) also one per flagged seed."""
    if configs.empty:
        return ["No runs yet: nothing to rank."]
    lost = _lost_runs(configs)
    ok = configs[configs["rank"].notna()]
    if ok.empty:
        return ["No configuration has an ok run with a final validation loss, so nothing can "
                "be ranked."] + lost
    best = configs.iloc[0]
    out = [f"Best: {best['label']}, final validation loss {_mean_text(best)}."]
    if len(ok) == 1:
        out.append("It is the only configuration with an ok run: nothing to compare.")
    elif best["n"] < 2:
        out.append("The best configuration has one seed, so no difference can be told from "
                   "seed noise: add seeds (2 or more per configuration; 3 or more also tell a "
                   "stray seed from its siblings).")
    else:
        out += _comparisons(configs, alpha)
    out += lost
    if outliers is not None:
        out += outlier_sentences(configs, outliers)
    return out


def _mean_text(row):
    if row["n"] >= 2:
        return (f"{pm(row['final_val_mean'], row['final_val_ci'])} nats/char (mean of "
                f"{row['n']} seeds, 95% interval)")
    return f"{num(row['final_val_mean'])} nats/char (one seed: no interval)"


def _names(rows, with_p=False):
    names = [f"{r['label']}" + (f" (p = {r['p_holm']:.2g})" if with_p else "")
             for _, r in rows.head(LISTED).iterrows()]
    more = f" and {len(rows) - LISTED} more" if len(rows) > LISTED else ""
    return "; ".join(names) + more  # labels hold commas


def _comparisons(configs, alpha):
    others = configs.iloc[1:]
    tested = others[others["p_holm"].notna()]
    same = others[others["vs_best"] == "indistinguishable"]
    worse = others[others["vs_best"] == "worse"]
    untested = others[others["vs_best"] == "not tested: one seed"]
    level = f"{alpha:.0%} level"
    test = (f"Welch's t test on the final validation loss over seeds, Holm-corrected over "
            f"{len(tested)} comparison{'s' if len(tested) != 1 else ''}")
    out = []
    if len(same):
        verb = "is" if len(same) == 1 else "are"
        out.append(f"{len(same)} configuration{'s' if len(same) > 1 else ''} {verb} "
                   f"indistinguishable from the best at the {level} ({test}): "
                   f"{_names(same, with_p=True)}.")
        out += _add_seeds(configs, alpha)
    if len(worse):
        who = ("Every other configuration is" if len(worse) == len(others) else
               f"{len(worse)} configuration{'s are' if len(worse) > 1 else ' is'}")
        out.append(f"{who} worse than the best beyond seed noise (Holm-adjusted p < {alpha:g}"
                   + ("" if len(same) else f"; {test}") + ").")
    if len(untested):
        out.append(f"{len(untested)} configuration{'s have' if len(untested) > 1 else ' has'} "
                   f"one ok seed and {'were' if len(untested) > 1 else 'was'} not tested: "
                   f"{_names(untested)}.")
    return out


def _add_seeds(configs, alpha):
    """'The top k cannot be told apart ...' when the runner-up (and maybe more) is within
    seed noise of the best, with a rough number of seeds that would separate the runner-up."""
    top = 1
    while top < len(configs) and configs.iloc[top]["vs_best"] == "indistinguishable":
        top += 1
    if top < 2:
        return []
    best, second = configs.iloc[0], configs.iloc[1]
    seeds = sorted(set(configs.iloc[:top]["n"]))
    each = f"{seeds[0]} seeds each" if len(seeds) == 1 else "their seeds"
    spread = configs.iloc[top - 1]["diff"]
    if top == int(configs["rank"].notna().sum()):
        text = (f"With {each} no configuration can be told apart from the best: the "
                f"differences, up to {num(spread)} nats/char, are within seed noise. Add seeds")
    else:
        text = (f"The top {top} cannot be told apart with {each}: they differ by at most "
                f"{num(spread)} nats/char, within seed noise. Add seeds")
    n = seeds_needed(second["diff"], best["final_val_sd"], second["final_val_sd"], alpha)
    if np.isfinite(n):
        n = max(n, max(seeds) + 1)
        text += (f": about {n} per configuration would detect the runner-up's difference of "
                 f"{num(second['diff'])} nats/char {POWER * 10:.0f} times in 10 at this "
                 f"spread (before the Holm correction)")
    return [text + "."]


def seeds_needed(diff, sd_a, sd_b, alpha=ALPHA, power=POWER, limit=10_000):
    """Seeds per side for Welch's two-sided test at ``alpha`` to detect ``diff`` with
    ``power`` if the seed standard deviations are ``sd_a`` and ``sd_b`` (noncentral t, equal
    seeds on both sides); NaN when the difference or the spread is zero or unknown, or more
    than ``limit`` would be needed."""
    va, vb = sd_a ** 2, sd_b ** 2
    if not all(np.isfinite([diff, va, vb])) or diff == 0 or va + vb == 0:
        return math.nan
    for n in range(2, limit + 1):
        df = (n - 1) * (va + vb) ** 2 / (va ** 2 + vb ** 2)
        ncp = abs(diff) / math.sqrt((va + vb) / n)
        crit = sps.t.ppf(1 - alpha / 2, df)
        if sps.nct.sf(crit, df, ncp) + sps.nct.cdf(-crit, df, ncp) >= power:
            return n
    return math.nan


def _lost_runs(configs):
    diverged, failed = int(configs["n_diverged"].sum()), int(configs["n_failed"].sum())
    if not diverged and not failed:
        return []
    parts = [f"{k} {word}" for k, word in ((diverged, "diverged"), (failed, "failed")) if k]
    hit = int(((configs["n_diverged"] + configs["n_failed"]) > 0).sum())
    out = [f"{' and '.join(parts)} run{'s' if diverged + failed > 1 else ''} (in {hit} "
           f"configuration{'s' if hit > 1 else ''}) {'are' if diverged + failed > 1 else 'is'} "
           f"counted, never averaged in."]
    none = configs[configs["n_ok"] == 0]
    if len(none):
        out.append(f"No ok run at all: {_names(none)}.")
    return out


def outlier_sentences(configs, outliers):
    """One sentence per flagged seed: where it lies, against what, and the configuration's
    mean and rank without it."""
    out = []
    ranked = configs[configs["rank"].notna()]
    for _, o in outliers[outliers["outlier"]].iterrows():
        mine = configs[configs["config_id"] == o["config_id"]]
        if mine.empty:
            continue
        row = mine.iloc[0]
        siblings = outliers[(outliers["config_id"] == o["config_id"])
                            & (outliers["run_id"] != o["run_id"])]["value"]
        without = float(siblings.mean())
        others = ranked[ranked["config_id"] != o["config_id"]]["final_val_mean"]
        rank_without = int((others < without).sum()) + 1
        what = (f"its sibling's {num(siblings.iloc[0])}" if len(siblings) == 1 else
                f"the median of its {len(siblings) + 1} seeds, {num(o['median'])}")
        rank = (f"rank {rank_without} instead of {row['rank']}" if rank_without != row["rank"]
                else f"the same rank, {rank_without}")
        out.append(f"Seed {o['seed']} of {row['label']} is far from its siblings: "
                   f"{num(o['value'])} nats/char against {what} ({o['reason']}). Without it "
                   f"the configuration's mean would be {num(without)} instead of "
                   f"{num(row['final_val_mean'])}, {rank}.")
    return out
