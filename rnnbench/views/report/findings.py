"""The report's first screen, from analysis.analyse: which settings are best, by how much, and
whether that is more than seed noise (the verdict, the top configurations with their 95%
intervals and Holm-corrected tests against the best); what each swept field does; and which
configuration wins within an equal budget of training seconds or characters."""
import math

import numpy as np

from ..plots.base import validation_read
from .numbers import num

TOP = 10          # configurations in the first table (all of them in configs.parquet)
BUDGET_AXES = ("seconds", "chars")  # updates: the ranking after all updates already says it


def first_screen(analysis, runs):
    """Blocks: the verdict, the top configurations, the effect and budget sentences
    (``runs``: the runs table, for what their validation read)."""
    configs = analysis.configs
    b = [("h2", "Which settings are best")]
    b += [("p", s) for s in analysis.verdict]
    if "data" in analysis.swept:
        b.append(("p", "The texts differ, and so does how predictable each is: a text's loss "
                       "is best read against its own baselines (see Baselines below), not "
                       "against another text's."))
    if len(configs) and configs["rank"].notna().any():
        b += top_table(configs)
    if analysis.effects:
        b.append(("h3", "What each swept field does"))
        b.append(("p", "Each field's best value against its worst, averaged over the other "
                       "swept fields (each setting weighs the same) and their seeds, with a 95% "
                       "interval from the seeds' spread; where another field reverses the "
                       "difference, the difference at each of its values."))
        b += [("p", s) for s in analysis.effects]
    sentences = [analysis.budget_sentences[a] for a in BUDGET_AXES
                 if a in analysis.budget_sentences]
    if sentences and len(configs) > 1:
        b.append(("h3", "Equal budgets"))
        b.append(("p", "Which configuration would be best had every run stopped after the "
                       "same seconds of training or the same number of characters read (each "
                       f"run's last validation by then, on {validation_read(runs)}, mean over "
                       "its seeds). Seconds of "
                       "training leave out validation and sampling; they are this grid's "
                       "machine and load."))
        b += [("p", s) for s in sentences]
    return b


def top_table(configs):
    """The best configurations: mean final validation loss with its 95% interval, n, the
    difference from the best with Holm's p, then best loss and speed."""
    ranked = configs[configs["rank"].notna()]
    shown = ranked.head(TOP)
    header = ["rank", "configuration", "final val nats/char (95% interval)", "n",
              "vs best (Holm p)", "best val", "chars/s", "note"]
    rows = [[str(int(r["rank"])), r["label"], interval(r, "final_val"), _n(r), _vs_best(r),
             num(r["best_val_mean"]), num(r["chars_per_s_mean"], 0, 1e12), r["note"]]
            for _, r in shown.iterrows()]
    unranked = len(configs) - len(ranked)
    more = [f"the best {len(shown)} of {len(ranked)} ranked"] if len(shown) < len(ranked) else []
    if unranked:
        more.append(f"{unranked} without an ok run {'is' if unranked == 1 else 'are'} not "
                    f"ranked")
    return [("p", "Configurations (a run's settings without its seed), ranked by the mean "
                  "final validation loss over their ok seeds; the interval is the 95% "
                  "Student-t interval of that mean. 'vs best': the difference from the best "
                  "and Welch's test of it, Holm-corrected over every comparison; 'same' means "
                  "seed noise cannot tell it from the best at the 5% level"
                  + (f" ({'; '.join(more)}; all of them in configs.parquet)." if more
                     else "; all of it in configs.parquet.")),
            ("table", (header, rows))]


def interval(row, metric):
    """'1.801 ± 0.004', or the mean alone when there is no interval (one seed)."""
    mean, half = row[f"{metric}_mean"], row[f"{metric}_ci"]
    if mean is None or not np.isfinite(mean):
        return ""
    if half is None or not np.isfinite(half):
        return num(mean)
    decimals = 3 if half <= 0 else min(6, max(3, 1 - math.floor(math.log10(half))))
    return num(mean, decimals) + " ± " + num(half, decimals)


def _n(row):
    lost = int(row["n_runs"]) - int(row["n"])
    return f"{int(row['n'])}" + (f" of {int(row['n_runs'])}" if lost else "")


def _vs_best(row):
    what = row["vs_best"]
    if what == "best":
        return "best"
    diff = row["diff"]
    sign = f"+{num(diff)}" if np.isfinite(diff) else ""
    if np.isfinite(row["p_holm"]):
        word = "same" if what == "indistinguishable" else what
        return f"{sign} {word} (p = {row['p_holm']:.2g})"
    return f"{sign} ({what})".strip()
