"""What a grid's report says, as a list of (kind, payload) blocks built from its tables: what
was run, the baselines, the plots, the best configurations, the runs that diverged or failed,
a 1,000-character passage from the best model (its row of samples.parquet), the temperature
table and every run's samples over training. render.py writes the blocks as report.md and
report.html, so both say the same thing."""
import math

import numpy as np
import pandas as pd

from ...divergence import FACTOR, WINDOW
from ...config import short_value
from ...experiments.results import ranked_ok
from ...text.novelty import DEFAULT_N
from ..plots.draw import PLOTS

SAMPLES_PER_RUN = 4  # training samples shown per run: update 0, the last, and evenly between
PLOT_CAPTIONS = {
    "loss_vs_updates.png": "Loss per character against updates",
    "loss_vs_chars.png": "Loss per character against characters seen (fair across seq_length)",
    "final_val_loss.png": "Final validation loss",
    "speed.png": "Training speed",
}


def report_blocks(root, info, runs, samples, baselines):
    """The report as a list of (kind, payload) blocks."""
    b = [("h1", f"Grid {info['name']}")]
    if info.get("description"):
        b.append(("p", info["description"].strip()))
    b += _what_was_run(info, runs)
    b += _baselines(baselines)
    b.append(("h2", "Plots"))
    for name, caption in PLOT_CAPTIONS.items():
        if (root / PLOTS / name).exists():
            b.append(("img", (f"{PLOTS}/{name}", caption)))
    b += _best(info, runs)
    b += _failures(runs)
    b += _passage(runs, samples)
    b += _temperature(info, runs, samples)
    b += _training_samples(info, runs, samples)
    return b


def _what_was_run(info, runs):
    counts = runs["status"].value_counts()
    statuses = ", ".join(f"{counts[s]} {s}" for s in ("ok", "diverged", "failed") if s in counts)
    done = len(runs)
    b = [("h2", "What was run"),
         ("p", f"{done} of {info['n_runs']} runs finished ({statuses or 'none yet'}), from "
               f"`{info['path']}`. Swept: {', '.join(info['swept']) or 'nothing'}; seeds: "
               f"{', '.join(map(str, info['seeds']))}.")]
    if len(runs):
        r0 = runs.iloc[0]
        corpora = runs.drop_duplicates("corpus")
        b.append(("p", "Texts: " + "; ".join(
            f"{c.corpus} (vocabulary {c.vocab_size}, {c.train_chars:,} training and "
            f"{c.val_chars:,} validation characters{_records(c)})"
            for c in corpora.itertuples()) + "."))
        b.append(("p", f"rnnbench {r0['rnnbench_version']}, Numba {r0['numba_version']}. "
                  "Losses are in nats per character (bits = nats / ln 2). Same machine, same "
                  "tables; across CPUs only statistically the same."))
    b.append(("details", ("The grid file", info["source"])))
    return b


def _baselines(baselines):
    if baselines.empty:
        return []
    table = baselines.pivot_table(index="corpus", columns="baseline", values="loss_per_char",
                                  sort=False)
    rows = [[c] + [f"{table.loc[c, k]:.3f} ({table.loc[c, k] / math.log(2):.2f})"
                   for k in table.columns] for c in table.index]
    return [("h2", "Baselines"),
            ("p", "Validation loss per character in nats (bits) of count-based models fitted "
                  "on the same training text: what a model gets without learning much. Unigram "
                  "and bigram use add-one smoothing; the 5-gram reads four characters of context "
                  "with interpolated Kneser-Ney smoothing."),
            ("table", (["text", *table.columns], rows))]


def _best(info, runs):
    ok = runs[runs["status"] == "ok"]
    if ok.empty:
        return []
    keys = [f for f in info["swept"] if f in runs.columns] or ["label"]
    grouped = ok.groupby(keys, sort=False, dropna=False).agg(
        val=("final_val_loss_per_char", "mean"), val_sd=("final_val_loss_per_char", "std"),
        best=("best_val_loss_per_char", "mean"), train=("final_loss_per_char", "mean"),
        chars_s=("chars_per_s", "mean"), seeds=("seed", "nunique"),
        run_id=("run_id", "first")).reset_index().sort_values("val", kind="stable")
    header = [*keys, "final val nats/char", "bits/char", "best val", "train", "chars/s",
              "seeds", "run"]
    rows = []
    for r in grouped.head(10).itertuples(index=False):
        d = r._asdict()
        spread = f" ± {num(d['val_sd'])}" if d["seeds"] > 1 else ""
        rows.append([short_value(d[k]) for k in keys]
                    + [f"{num(d['val'])}{spread}", num(d["val"] / math.log(2)),
                       num(d["best"]), num(d["train"]), num(d["chars_s"], 0, 1e12),
                       str(d["seeds"]), d["run_id"]])
    more = f" (the best 10 of {len(grouped)})" if len(grouped) > 10 else ""
    return [("h2", "Best configurations"),
            ("p", f"Ranked by final validation loss, mean over seeds (± their standard "
                  f"deviation){more}. 'run' is the first seed's folder under runs/."),
            ("table", (header, rows))]


def _failures(runs):
    """Every run that diverged (the update and the rule that stopped it) or failed."""
    bad = runs[runs["status"] != "ok"]
    if bad.empty:
        return []
    at = bad["diverged_at"] if "diverged_at" in bad else pd.Series(np.nan, index=bad.index)
    rule = bad["diverged_rule"] if "diverged_rule" in bad else pd.Series(None, index=bad.index)
    rows = [[r.label, str(r.seed), r.status, f"{int(u):,}" if pd.notna(u) else "",
             k if isinstance(k, str) else "", r.error or "", r.run_id]
            for r, u, k in zip(bad.itertuples(), at, rule)]
    b = [("h2", "Diverged and failed runs")]
    if (bad["status"] == "diverged").any():
        b.append(("p", "A run diverges when its loss becomes NaN or infinite (rule non_finite), "
                       f"or when the median of its last {WINDOW} updates' training losses per "
                       f"character is above {FACTOR:g} x ln V, {FACTOR:g} times what uniform "
                       "guessing gives, or above that many times its first update's loss if "
                       "that is higher (rule above_guessing). It stops at that update; its "
                       "losses are left out of the tables' rankings and of every plot's scale."))
    if (bad["status"] == "failed").any():
        b.append(("p", "A failed run raised an error (its error.txt holds the traceback); the "
                       "next `rnnbench run` of the grid tries it again."))
    b.append(("table", (["run", "seed", "status", "update", "rule", "error", "run id"], rows)))
    return b


def _records(c):
    """', in 275 and 30 records' for a run in records mode, else ''."""
    n = getattr(c, "train_records", None)
    if n is None or pd.isna(n):
        return ""
    return f", in {int(n):,} and {int(c.val_records):,} records, each from a zero state"


def _passage(runs, samples):
    """The best run's passage: its row of kind "passage" in samples.parquet, drawn by the run's
    worker when it ended; an older results folder has none, and the section says how to draw it."""
    ok = ranked_ok(runs)
    if ok.empty:
        return []
    best = ok.iloc[0]
    b = [("h2", "A passage from the best model")]
    mine = (samples[(samples["kind"] == "passage") & (samples["run_id"] == best["run_id"])]
            if {"kind", "run_id"} <= set(samples.columns) else samples.iloc[:0])
    if mine.empty:
        return b + [("p", f"Run {best['run_id']} has no passage in samples.parquet: its results "
                          f"were made before each run drew one. Draw it from the run's "
                          f"checkpoint with `rnnbench sample runs/{best['run_id']} --length "
                          f"1000` in this folder.")]
    row = mine.iloc[0]
    records = pd.notna(best.get("train_records", math.nan))
    return b + [("p", f"{len(row['text']):,} characters from run {best['run_id']} "
                      f"({best['label']}, seed {best['seed']}; final validation loss "
                      f"{num(best['final_val_loss_per_char'])} nats/char), drawn from its final "
                      f"model at temperature {row['temperature']:g} with the passage seed, "
                      + ("starting a record from the end symbol and a zero state." if records
                         else "continuing from the hidden state training ended in.")),
                ("pre", row["text"])]


def _temperature(info, runs, samples):
    """One model's final samples at every temperature side by side, with their novelty; then
    the novelty per temperature over every run, and the other runs' samples folded away."""
    kind = samples["kind"] if "kind" in samples else pd.Series("training", index=samples.index)
    final = samples[kind == "final"]
    if final.empty:
        return []
    settings = info.get("samples") or {}
    ranked = runs[runs["run_id"].isin(final["run_id"])].sort_values("final_val_loss_per_char",
                                                                    kind="stable")
    best = ranked.iloc[0]
    n = _novelty_n(final)
    b = [("h2", "Temperature"),
         ("p", f"The final model of run {best['run_id']} ({best['label']}, seed {best['seed']}; "
               f"the lowest final validation loss, {num(best['final_val_loss_per_char'])} "
               f"nats/char) at each temperature: {settings.get('length')} characters after the "
               f"prime {settings.get('prime')!r}, all with the same seed so that only the "
               f"temperature differs (lower: more conservative, higher: more varied). "
               f"Novelty: the share of the sample's {n}-grams that never occur in the training "
               f"text (0: every piece copied, 1: all new; empty when shorter than {n})."),
         ("table", (["temperature", "sample", "novelty"], _sample_rows(final, best), 1))]
    if len(ranked) > 1 and "novelty" in final:
        stats = final.groupby("temperature")["novelty"].agg(["mean", "min", "max"])
        b.append(("p", f"Novelty per temperature over the {len(ranked)} runs with final "
                       f"samples:"))
        b.append(("table", (["temperature", "mean novelty", "min", "max"],
                            [[f"{t:g}", *(_novelty(r[k]) for k in ("mean", "min", "max"))]
                             for t, r in stats.iterrows()])))
    if len(ranked) > 1:
        for r in ranked.iloc[1:].itertuples():
            rows = _sample_rows(final, r._asdict())
            b.append(("details", (f"{r.label}, seed {r.seed}", "\n\n".join(
                f"--- temperature {t}, novelty {nov} ---\n{text}" for t, text, nov in rows))))
    return b


def _sample_rows(final, run):
    mine = final[final["run_id"] == run["run_id"]].sort_values("temperature", kind="stable")
    return [[f"{s.temperature:g}", s.prime + s.text, _novelty(getattr(s, "novelty", math.nan))]
            for s in mine.itertuples()]


def _novelty_n(samples):
    ns = samples["novelty_n"].dropna().unique() if "novelty_n" in samples else []
    return int(ns[0]) if len(ns) else DEFAULT_N


def num(value, decimals=3, big=1e6):
    """A number for a table: ``decimals`` decimals, three significant digits with an exponent
    from ``big`` up (never a 24-digit number), empty when missing."""
    if value is None or pd.isna(value):
        return ""
    value = float(value)
    if not math.isfinite(value) or abs(value) >= big:
        return f"{value:.3g}"
    return f"{value:,.{decimals}f}" if decimals == 0 else f"{value:.{decimals}f}"


def _novelty(value):
    return "" if value is None or not np.isfinite(value) else f"{value:.2f}"


def _training_samples(info, runs, samples):
    if len(samples) == 0:
        return []
    training = samples[samples["kind"] == "training"] if "kind" in samples else samples
    b = [("h2", "Samples over training"),
         ("p", "Each run's own samples as it trained (the recipe's: from the current hidden "
               "state, seeded by the next input character), before the first update and at "
               f"intervals; at most {SAMPLES_PER_RUN} per run here, all in samples.parquet.")]
    for r in runs.itertuples():
        mine = training[training["run_id"] == r.run_id]
        if mine.empty:
            continue
        updates = sorted(mine["update"].unique())
        pick = sorted({updates[int(round(i))] for i in
                       np.linspace(0, len(updates) - 1, min(SAMPLES_PER_RUN, len(updates)))})
        shown = mine[mine["update"].isin(pick)]
        b.append(("details", (f"{r.label}, seed {r.seed} ({r.status})",
                              "\n\n".join(f"--- update {s.update:,}{_novelty_note(s)} ---\n"
                                          f"{s.prime}{s.text}" for s in shown.itertuples()))))
    return b


def _novelty_note(sample):
    value = _novelty(getattr(sample, "novelty", math.nan))
    return f", novelty {value}" if value else ""
