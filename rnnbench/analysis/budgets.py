"""Equal budgets: which configuration is best within T seconds of training or C characters,
from a trace table and its runs table, and where that answer differs from the best after all
updates (the configs table's first row).

A run's loss at a budget is its last validation at or before the budget: what it had reached
had it stopped there (nothing is interpolated between validations, nothing extrapolated past
one). A configuration's value at a budget is the mean over its ok seeds, once every one of
them has a validation by then (before that it is not yet measured and cannot win).

Seconds are seconds of training, not ``elapsed_s``: the trace's ``elapsed_s`` is wall time
since the run's clock started and includes validation, sampling and, on a cold cache, the
compilation of the sampler and the evaluator (21 s before the first trace row of a measured
run), which would charge a configuration for how often it is measured. A trace with a
``train_s`` column (training seconds at that row) is used as it is; otherwise a row's
training seconds are update / the run's updates_per_s (its mean training speed, the timer of
which stops for validation and sampling). Speeds are those of the grid's own machine and load
(``--jobs``): comparable within a grid, not across machines.
"""
import math

import numpy as np
import pandas as pd

from .stats import CONFIDENCE, StatsError, prepare_runs, summarise, t_interval

AXES = {"seconds": "training seconds", "chars": "characters", "updates": "updates"}
UNITS = {"seconds": "s", "chars": "characters", "updates": "updates"}
SHOWN = 6  # budget segments named in a sentence


def _check_axis(axis):
    if axis not in AXES:
        raise StatsError(f"budget axis: expected one of {', '.join(AXES)}, got {axis!r}")


def training_seconds(trace, runs):
    """Seconds of training at each row of ``trace`` (see the module's note)."""
    if "train_s" in trace.columns:
        return trace["train_s"].astype(float)
    if "updates_per_s" not in runs.columns:
        raise StatsError("runs table: missing column 'updates_per_s' (needed for seconds)")
    speed = trace["run_id"].map(runs.drop_duplicates("run_id").set_index("run_id")
                                ["updates_per_s"]).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (trace["update"].astype(float) / speed.where(speed > 0)).astype(float)


def evaluations(runs, trace, axis="seconds", fields=None):
    """One row per validation of an ok run: config_id, run_id, seed, x (the budget axis)
    and val (its validation loss per character)."""
    _check_axis(axis)
    for column in ("run_id", "update", "val_loss_per_char"):
        if column not in trace.columns:
            raise StatsError(f"trace table: missing column {column!r}")
    prepared, _ = prepare_runs(runs, fields)
    ok = prepared[prepared["status"] == "ok"]
    rows = trace[trace["run_id"].isin(ok["run_id"])]
    rows = rows[np.isfinite(rows["val_loss_per_char"].astype(float))]
    if axis == "seconds":
        x = training_seconds(rows, ok)
    else:
        column = "chars_seen" if axis == "chars" else "update"
        if column not in rows.columns:
            raise StatsError(f"trace table: missing column {column!r}")
        x = rows[column].astype(float)
    ids = ok.set_index("run_id")
    out = pd.DataFrame({"config_id": rows["run_id"].map(ids["config_id"]).to_numpy(),
                        "run_id": rows["run_id"].to_numpy(),
                        "seed": rows["run_id"].map(ids["seed"]).to_numpy(),
                        "x": x.to_numpy(), "val": rows["val_loss_per_char"].to_numpy(float)})
    return out[np.isfinite(out["x"])].sort_values(["run_id", "x"], kind="stable")


def losses_at(runs, trace, budgets, axis="seconds", fields=None, confidence=CONFIDENCE):
    """Per configuration and budget: n (ok seeds), mean, sd and ci (half-width) of the seeds'
    last validation loss at or before the budget; NaN until every ok seed has one."""
    budgets = np.asarray(budgets, dtype=float).ravel()
    ev = evaluations(runs, trace, axis, fields)
    prepared, _ = prepare_runs(runs, fields)
    ok = prepared[prepared["status"] == "ok"]
    rows = []
    for cid, seeds in ok.groupby("config_id", sort=False):
        values = np.full((len(seeds), len(budgets)), np.nan)
        for i, run in enumerate(seeds["run_id"]):
            mine = ev[ev["run_id"] == run]
            at = np.searchsorted(mine["x"].to_numpy(), budgets, side="right") - 1
            values[i] = np.where(at >= 0, mine["val"].to_numpy()[np.maximum(at, 0)]
                                 if len(mine) else np.nan, np.nan)
        for j, budget in enumerate(budgets):
            column = values[:, j]
            n, mean, sd, half = (t_interval(column, confidence) if np.isfinite(column).all()
                                 else (len(column), math.nan, math.nan, math.nan))
            rows.append(dict(budget=budget, config_id=cid, n=n, mean=mean, sd=sd, ci=half))
    return pd.DataFrame(rows, columns=["budget", "config_id", "n", "mean", "sd", "ci"])


def best_within(runs, trace, budget, axis="seconds", fields=None, configs=None,
                confidence=CONFIDENCE):
    """The configurations ranked by their mean validation loss within ``budget`` (best
    first; the unmeasured ones last): config_id, label, n, mean, sd, ci."""
    configs = summarise(runs, fields) if configs is None else configs
    at = losses_at(runs, trace, [budget], axis, fields, confidence)
    at.insert(2, "label", at["config_id"].map(configs.set_index("config_id")["label"]))
    return at.sort_values("mean", kind="stable", na_position="last").reset_index(drop=True)


def budget_winners(runs, trace, axis="seconds", fields=None, configs=None,
                   confidence=CONFIDENCE):
    """The budget axis cut where the best configuration changes: start (the best holds from
    this budget to the next row's start, the last one to the end), config_id, label, mean
    and ci at the start, n_measured (configurations measured by then) and final_best (it is
    the best after all updates). Budgets are every point at which some run was validated:
    between two of them no value changes."""
    configs = summarise(runs, fields) if configs is None else configs
    columns = ["start", "config_id", "label", "mean", "ci", "n_measured", "final_best"]
    ev = evaluations(runs, trace, axis, fields)
    if ev.empty or configs.empty:
        return pd.DataFrame(columns=columns)
    budgets = np.unique(ev["x"].to_numpy())
    at = losses_at(runs, trace, budgets, axis, fields, confidence)
    order = {c: i for i, c in enumerate(configs["config_id"])}  # ties: the better-ranked
    at = at[np.isfinite(at["mean"])].assign(_order=at["config_id"].map(order))
    at = at.sort_values(["budget", "mean", "_order"], kind="stable")
    measured = at.groupby("budget")["config_id"].count()
    best = at.drop_duplicates("budget")
    best = best[best["config_id"].ne(best["config_id"].shift())]
    final = configs["config_id"].iloc[0] if pd.notna(configs["rank"].iloc[0]) else None
    labels = configs.set_index("config_id")["label"]
    return pd.DataFrame({"start": best["budget"].to_numpy(),
                         "config_id": best["config_id"].to_numpy(),
                         "label": best["config_id"].map(labels).to_numpy(),
                         "mean": best["mean"].to_numpy(), "ci": best["ci"].to_numpy(),
                         "n_measured": best["budget"].map(measured).to_numpy(),
                         "final_best": (best["config_id"] == final).to_numpy()},
                        columns=columns)


def budget_text(value, axis):
    """'12.3 s', '1,250,000 characters', '2,500 updates'."""
    number = f"{value:.3g}" if axis == "seconds" else f"{value:,.0f}"
    return f"{number} {UNITS[axis]}"


def budget_sentence(winners, axis):
    """The winners (budget_winners) in words: whether a budget of ``axis`` changes which
    configuration is best, and from which budget the best after all updates leads."""
    _check_axis(axis)
    if winners.empty:
        return f"No ok run has a validation to compare within a budget of {AXES[axis]}."
    last = winners.iloc[-1]
    final = ", the best after all updates," if last["final_best"] else ""
    if len(winners) == 1:
        return (f"Whatever the budget of {AXES[axis]}, from the first validation at "
                f"{budget_text(last['start'], axis)} on, the best configuration is "
                f"{last['label']}{final.rstrip(',')}.")
    before = winners.iloc[:-1]
    if len(before) <= SHOWN:
        lead = "; ".join(f"from {budget_text(r['start'], axis)}, {r['label']} "
                         f"({r['mean']:.3f} nats/char)" for _, r in before.iterrows())
    else:
        names = list(dict.fromkeys(before["label"]))
        lead = (f"{len(names)} configuration{'s' if len(names) > 1 else ''} lead in turn "
                f"({len(before)} changes): {'; '.join(names[:SHOWN])}"
                + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""))
    return (f"A budget of {AXES[axis]} changes the answer. Below "
            f"{budget_text(last['start'], axis)}: {lead}. From "
            f"{budget_text(last['start'], axis)} on, {last['label']}{final} leads "
            f"({last['mean']:.3f} nats/char there).")
