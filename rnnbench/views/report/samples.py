"""The report's text: a 1,000-character passage from the best configuration (its best seed),
that configuration's samples at every recorded update side by side, and its final model at
each temperature of the grid's ``samples:``."""
import math

import pandas as pd

from ...text.novelty import DEFAULT_N
from .numbers import novelty, num

PASSAGE_LENGTH = 1000
SEED_COLUMNS = 3  # seeds of the best configuration shown side by side


def best_runs(analysis, runs):
    """(the best configuration's row of the configs table, its ok runs best first), or
    (None, empty) when nothing is ranked."""
    configs = analysis.configs
    if configs.empty or pd.isna(configs["rank"].iloc[0]):
        return None, runs.iloc[:0]
    best = configs.iloc[0]
    mine = analysis.outliers[analysis.outliers["config_id"] == best["config_id"]]
    order = mine.sort_values("value", kind="stable")["run_id"].tolist()
    chosen = runs[runs["run_id"].isin(order)].set_index("run_id", drop=False)
    return best, chosen.loc[order].reset_index(drop=True)


def passage(info, runs, samples, analysis):
    """The passage: the best configuration's best seed, its samples row of kind "passage"
    (drawn by the run's worker); a folder written before those rows says how to draw one."""
    best, chosen = best_runs(analysis, runs)
    if best is None:
        return []
    run = chosen.iloc[0]
    head = ("h2", "A passage from the best configuration")
    about = (f"run {run['run_id']} ({best['label']}, seed {run['seed']}: the best seed of the "
             f"best configuration; final validation loss "
             f"{num(run['final_val_loss_per_char'])} nats/char)")
    kind = samples["kind"] if "kind" in samples else pd.Series("", index=samples.index)
    rows = samples[(kind == "passage") & (samples["run_id"] == run["run_id"])]
    if rows.empty:
        folder = _run_folder(info, run["run_id"])
        return [head, ("p", f"No passage in samples.parquet for {about}: its results were "
                            f"made before each run drew one. Draw it from the run's checkpoint "
                            f"with `rnnbench sample {folder} --length {PASSAGE_LENGTH}`.")]
    row = rows.iloc[0]
    records = pd.notna(run.get("train_records", math.nan))
    return [head, ("p", f"{len(row['text']):,} characters from {about}, drawn from its final "
                        f"model at temperature {row['temperature']:g} with the passage seed, "
                        + ("starting a record from the end symbol and a zero state." if records
                           else "continuing from the hidden state training ended in.")),
            ("pre", row["text"])]


def _run_folder(info, run_id):
    """Where a run's folder is, as a command run in the results folder names it: runs/ID, or
    (a comparison) the folder of the grid its run came from."""
    folders = info.get("run_folders") or {}
    return folders.get(run_id, f"runs/{run_id}")


def training_samples(runs, samples, analysis):
    """The best configuration's training samples at every recorded update, one column per
    seed (the best seeds first)."""
    best, chosen = best_runs(analysis, runs)
    if best is None or samples.empty:
        return []
    kind = samples["kind"] if "kind" in samples else pd.Series("training", index=samples.index)
    training = samples[kind == "training"]
    shown = chosen.head(SEED_COLUMNS)
    mine = training[training["run_id"].isin(shown["run_id"])]
    if mine.empty:
        return []
    updates = sorted(mine["update"].unique())
    header = ["update"] + [f"seed {s}" for s in shown["seed"]]
    rows = []
    for u in updates:
        row = [f"{int(u):,}"]
        for run_id in shown["run_id"]:
            s = mine[(mine["run_id"] == run_id) & (mine["update"] == u)]
            row.append("" if s.empty else s.iloc[0]["prime"] + s.iloc[0]["text"]
                       + _novelty_note(s.iloc[0]))
        rows.append(row)
    more = (f" (the best {SEED_COLUMNS} of its {len(chosen)} seeds)"
            if len(chosen) > SEED_COLUMNS else "")
    return [("h2", "Samples of the best configuration over training"),
            ("p", f"{best['label']}{more}: the recipe's samples (from the current hidden state, "
                  f"seeded by the next input character) before the first update and every "
                  f"sample_every updates. Every run's samples are in samples.parquet."),
            ("table", (header, rows, tuple(range(1, len(header)))))]


def _novelty_note(sample):
    value = novelty(sample.get("novelty"))
    return f"\n[novelty {value}]" if value else ""


def temperature(info, runs, samples, analysis):
    """The best configuration's best seed at every temperature side by side, with novelty;
    then the novelty per temperature over every run."""
    kind = samples["kind"] if "kind" in samples else pd.Series("training", index=samples.index)
    final = samples[kind == "final"]
    best, chosen = best_runs(analysis, runs)
    if final.empty or best is None:
        return []
    with_final = chosen[chosen["run_id"].isin(final["run_id"])]
    if with_final.empty:
        return []
    run = with_final.iloc[0]
    settings = info.get("samples") or {}
    n = _novelty_n(final)
    b = [("h2", "Temperature"),
         ("p", f"The final model of run {run['run_id']} ({best['label']}, seed {run['seed']}; "
               f"the best seed of the best configuration, final validation loss "
               f"{num(run['final_val_loss_per_char'])} nats/char) at each temperature: "
               f"{settings.get('length')} characters after the prime "
               f"{settings.get('prime')!r}, all with the same seed so that only the "
               f"temperature differs (lower: more conservative, higher: more varied). "
               f"Novelty: the share of the sample's {n}-grams that never occur in the training "
               f"text (0: every piece copied, 1: all new; empty when shorter than {n})."),
         ("table", (["temperature", "sample", "novelty"], _final_rows(final, run), 1))]
    count = final["run_id"].nunique()
    if count > 1 and "novelty" in final:
        stats = final.groupby("temperature")["novelty"].agg(["mean", "min", "max"])
        b.append(("p", f"Novelty per temperature over the {count} runs with final samples "
                       f"(all in samples.parquet):"))
        b.append(("table", (["temperature", "mean novelty", "min", "max"],
                            [[f"{t:g}", *(novelty(r[k]) for k in ("mean", "min", "max"))]
                             for t, r in stats.iterrows()])))
    return b


def _final_rows(final, run):
    mine = final[final["run_id"] == run["run_id"]].sort_values("temperature", kind="stable")
    return [[f"{s.temperature:g}", s.prime + s.text, novelty(getattr(s, "novelty", None))]
            for s in mine.itertuples()]


def _novelty_n(samples):
    ns = samples["novelty_n"].dropna().unique() if "novelty_n" in samples else []
    return int(ns[0]) if len(ns) else DEFAULT_N
