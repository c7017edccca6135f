"""Seed statistics of a runs table: one row per configuration, which differences are real, and
which seeds sit far from their siblings. Pure numbers (pandas, NumPy, SciPy): no files, no plots.

A configuration is a run's config without its seed. Only ok runs enter a mean; diverged and
failed runs are counted beside it. Intervals are 95% Student-t intervals of the mean over seeds
(n - 1 degrees of freedom); a configuration with one seed has none. The best configuration
(lowest mean final validation loss per character) is compared with every other by Welch's t
test, the p-values corrected across those comparisons with Holm's step-down method.
"""
import functools
import hashlib
import json
import math

import numpy as np
import pandas as pd
from scipy import stats as sps

from ..config import RunConfig, short_value

CONFIDENCE = 0.95
ALPHA = 0.05
FINAL = "final_val_loss_per_char"
# configs.parquet summarises these run columns: name in the table -> column of the runs table
METRICS = {"final_val": FINAL, "best_val": "best_val_loss_per_char",
           "updates_per_s": "updates_per_s", "chars_per_s": "chars_per_s"}
REQUIRED = ("run_id", "status", "seed", FINAL)
STATUS_ORDER = {"ok": 0, "diverged": 1, "failed": 2}
# Outlier rule (see seed_outliers): a seed of 3+ is flagged beyond OUTLIER_Z robust standard
# deviations from its configuration's median; a pair when its gap exceeds PAIR_GAP typical
# seed standard deviations of the other configurations (at least MIN_OTHERS of them).
OUTLIER_Z, PAIR_GAP, MIN_OTHERS = 5.0, 10.0, 3
MAD_TO_SD = 1.482602218505602  # 1 / Phi^-1(3/4): the MAD of a normal sample times this is sigma


class StatsError(ValueError):
    """A runs or trace table the statistics cannot use; the message is one line."""


# -- configurations ------------------------------------------------------------------------------

# Fields that change what a run records, not what it trains (seeds.py: samples draw from
# streams of their own): runs that differ only in them are the same configuration.
RECORDING = ("trace_every", "eval_every", "sample_every", "sample_length", "temperature")


def config_fields(runs):
    """The columns of ``runs`` that make a configuration: every RunConfig field but the seed
    and the RECORDING ones, and the text's checksum (the same name may hold another text in
    another grid)."""
    fields = [f for f in RunConfig.model_fields
              if f != "seed" and f not in RECORDING and f in runs.columns]
    return fields + (["corpus_checksum"] if "corpus_checksum" in runs.columns else [])


def plain_value(value):
    """A value as JSON sees it, the same whatever column dtype held it (100 == 100.0)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 53:
        return int(value)  # beyond 2**53 (a learning rate of 1e308) it stays a float
    return value


def config_id(values):
    """A 12-hex-digit id of a configuration's field values (a mapping)."""
    blob = json.dumps({k: plain_value(v) for k, v in values.items()}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def prepare_runs(runs, fields=None):
    """(runs with a ``config_id`` column, the fields): statuses other than ok and diverged
    count as failed, and a repeat of a seed already counted for its configuration (the same
    run in two folders, or with other sample settings) is left out and counted in
    ``_repeats`` of the row kept."""
    if not isinstance(runs, pd.DataFrame):
        raise StatsError(f"runs table: expected a DataFrame, got {type(runs).__name__}")
    for column in REQUIRED:
        if column not in runs.columns:
            raise StatsError(f"runs table: missing column {column!r}")
    for column in METRICS.values():
        if column in runs.columns and not (pd.api.types.is_numeric_dtype(runs[column])
                                           or runs[column].isna().all()):
            raise StatsError(f"runs table: column {column!r} is not numeric")
    fields = config_fields(runs) if fields is None else list(fields)
    missing = [f for f in fields if f not in runs.columns]
    if missing:
        raise StatsError(f"runs table: missing field column {missing[0]!r}")
    runs = runs.reset_index(drop=True).copy()
    runs["status"] = runs["status"].where(runs["status"].isin(["ok", "diverged"]), "failed")
    runs["config_id"] = [config_id(dict(zip(fields, row)))
                         for row in runs[fields].itertuples(index=False, name=None)]
    runs["_order"] = runs["status"].map(STATUS_ORDER)
    runs = runs.sort_values(["config_id", "seed", "_order"], kind="stable")
    key = runs["config_id"].astype(str) + "/" + runs["seed"].astype(str)
    runs["_repeats"] = key.groupby(key).transform("size") - 1
    runs = runs[~key.duplicated()].sort_index().drop(columns="_order")
    return runs, fields


def varying_fields(table, fields):
    """The ``fields`` that take more than one value in ``table`` (None and NaN one value)."""
    return [f for f in fields if table[f].map(plain_value).astype(str).nunique() > 1]


def labels(table, fields):
    """'hidden_size=64, seq_length=25' per row: the fields that vary across the table."""
    shown = varying_fields(table, fields)
    if not shown:
        return pd.Series("base", index=table.index)
    return table[shown].apply(
        lambda r: ", ".join(f"{f}={short_value(plain_value(r[f]))}" for f in shown), axis=1)


# -- the numbers -------------------------------------------------------------------------------

def t_interval(values, confidence=CONFIDENCE):
    """(n, mean, standard deviation, half-width of the Student-t interval of the mean) of the
    finite ``values``; sd and half-width are NaN below two values."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        return 0, math.nan, math.nan, math.nan
    mean = float(x.mean())
    if n == 1:
        return 1, mean, math.nan, math.nan
    sd = float(x.std(ddof=1))
    return n, mean, sd, t_quantile(n - 1, confidence) * sd / math.sqrt(n)


@functools.lru_cache(maxsize=4096)
def t_quantile(df, confidence=CONFIDENCE):
    """The two-sided Student-t quantile for ``df`` degrees of freedom (cached: the budgets ask
    for the same few, n - 1 of each configuration, thousands of times)."""
    return float(sps.t.ppf(0.5 + confidence / 2, df))


def welch(mean_a, sd_a, n_a, mean_b, sd_b, n_b, confidence=CONFIDENCE):
    """Welch's t test of mean_b - mean_a from summary statistics: dict(diff, t, df, p, half).

    Below two seeds on a side there is no test (t, df, p, half NaN). When both sides have zero
    variance the seeds showed no noise at all: equal means give p = 1 (no evidence of a
    difference), different ones t = +-inf and p = 0, as scipy's limit does.
    """
    diff = mean_b - mean_a
    out = dict(diff=diff, t=math.nan, df=math.nan, p=math.nan, half=math.nan)
    if n_a < 2 or n_b < 2 or not all(map(math.isfinite, (mean_a, mean_b, sd_a, sd_b))):
        return out
    va, vb = sd_a ** 2 / n_a, sd_b ** 2 / n_b
    se2 = va + vb
    if se2 == 0:
        same = diff == 0
        return {**out, "t": 0.0 if same else math.copysign(math.inf, diff),
                "p": 1.0 if same else 0.0, "half": 0.0}
    # Welch-Satterthwaite degrees of freedom
    df = se2 ** 2 / (va ** 2 / (n_a - 1) + vb ** 2 / (n_b - 1))
    t = diff / math.sqrt(se2)
    return dict(diff=diff, t=t, df=df, p=float(2 * sps.t.sf(abs(t), df)),
                half=t_quantile(df, confidence) * math.sqrt(se2))


def holm(pvalues):
    """Holm's step-down adjustment of ``pvalues`` (NaN stays NaN and is not counted): the
    i-th smallest of m becomes max over j <= i of (m - j + 1) p_(j), capped at 1."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    mask = np.isfinite(p)
    if ((p[mask] < 0) | (p[mask] > 1)).any():
        raise StatsError("holm: p-values must lie between 0 and 1")
    q = p[mask]
    m = len(q)
    order = np.argsort(q, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * q[order]))
    result = np.empty(m)
    result[order] = adjusted
    out[mask] = result
    return out


# -- the table of configurations ---------------------------------------------------------------

def summarise(runs, fields=None, confidence=CONFIDENCE):
    """One row per configuration, best first: its fields, run counts and, per metric, mean,
    sd, half-width and bounds of the interval over its ok seeds (see configs_table)."""
    runs, fields = prepare_runs(runs, fields)
    rows = []
    for cid, group in runs.groupby("config_id", sort=False):
        ok = group[group["status"] == "ok"]
        used = ok[np.isfinite(ok[FINAL].astype(float))]  # the seeds every mean is over
        row = dict(config_id=cid, **{f: plain_value(group[f].iloc[0]) for f in fields})
        row.update(n_runs=len(group), n_ok=len(ok), n=len(used),
                   n_diverged=int((group["status"] == "diverged").sum()),
                   n_failed=int((group["status"] == "failed").sum()),
                   n_repeated=int(group["_repeats"].sum()),
                   seeds=", ".join(str(plain_value(s)) for s in sorted(used["seed"].tolist())))
        ranked = used.sort_values(FINAL, kind="stable")
        row.update(best_run_id=ranked["run_id"].iloc[0] if len(ranked) else None,
                   best_seed=plain_value(ranked["seed"].iloc[0]) if len(ranked) else None)
        for name, column in METRICS.items():
            values = used[column].astype(float) if column in used else []
            _, mean, sd, half = t_interval(values, confidence)
            row.update({f"{name}_mean": mean, f"{name}_sd": sd, f"{name}_ci": half,
                        f"{name}_low": mean - half, f"{name}_high": mean + half})
        row["has_interval"] = bool(np.isfinite(row["final_val_ci"]))
        row["note"] = _note(row)
        rows.append(row)
    table = pd.DataFrame(rows, columns=_summary_columns(fields))
    table.insert(1, "label", labels(table, fields) if len(table) else pd.Series(dtype=str))
    table = table.sort_values("final_val_mean", kind="stable", na_position="last")
    ranked = table["final_val_mean"].notna()
    table.insert(2, "rank", ranked.cumsum().astype("Int64").where(ranked, pd.NA))
    return table.reset_index(drop=True)


def _summary_columns(fields):
    columns = ["config_id", *fields, "n_runs", "n_ok", "n", "n_diverged", "n_failed",
               "n_repeated",
               "seeds", "best_run_id", "best_seed"]
    for name in METRICS:
        columns += [f"{name}_{s}" for s in ("mean", "sd", "ci", "low", "high")]
    return columns + ["has_interval", "note"]


def _note(row):
    lost = [f"{row[k]} {k[2:]}" for k in ("n_diverged", "n_failed") if row[k]]
    if row["n_ok"] > row["n"]:
        lost.append(f"{row['n_ok'] - row['n']} ok without a final validation loss")
    if row["n_ok"] == 0:
        return "no ok run" + (f" ({', '.join(lost)})" if lost else "")
    note = {0: "no final validation loss", 1: "one seed: no interval"}.get(row["n"], "")
    if lost and row["n"]:
        note += ("; " if note else "") + ", ".join(lost) + " not averaged in"
    return note


def compare_to_best(configs, alpha=ALPHA, confidence=CONFIDENCE):
    """``configs`` (from summarise, best first) with Welch's test of each configuration
    against the best on the final validation loss: diff (theirs - the best's, nats/char) and
    its interval, welch_t, welch_df, p_value, p_holm (Holm across the tested comparisons) and
    vs_best: best, worse (p_holm < alpha), indistinguishable, not tested: one seed, no ok run
    (or no final loss: ok runs without a final validation loss)."""
    configs = configs.copy()
    for column in ("diff", "diff_low", "diff_high", "welch_t", "welch_df", "p_value", "p_holm"):
        configs[column] = math.nan
    configs["vs_best"] = np.select([configs["n_ok"] == 0, configs["n"] == 0],
                                   ["no ok run", "no final loss"], "not tested: one seed")
    if configs.empty or pd.isna(configs["rank"].iloc[0]):
        return configs
    best = configs.iloc[0]
    configs.loc[0, "vs_best"] = "best"
    for i in configs.index[1:]:
        row = configs.loc[i]
        if row["n"] == 0:
            continue
        w = welch(best["final_val_mean"], best["final_val_sd"], best["n"],
                  row["final_val_mean"], row["final_val_sd"], row["n"], confidence)
        configs.loc[i, ["diff", "diff_low", "diff_high", "welch_t", "welch_df", "p_value"]] = [
            w["diff"], w["diff"] - w["half"], w["diff"] + w["half"], w["t"], w["df"], w["p"]]
    configs["p_holm"] = holm(configs["p_value"])
    tested = configs["p_holm"].notna()
    configs.loc[tested, "vs_best"] = np.where(configs.loc[tested, "p_holm"] < alpha, "worse",
                                              "indistinguishable")
    return configs


def num(value):
    """A loss or difference in nats/char for a sentence: 3 decimals, or 3 significant digits
    beyond 10,000 (a blown-up run's 1.25e+24)."""
    return f"{value:.3f}" if abs(value) < 1e4 or not np.isfinite(value) else f"{value:.3g}"


def pm(value, half=math.nan):
    """'1.801 ± 0.004': the value to the decimals that show two significant digits of the
    half-width (at least 3, at most 6); without a finite half-width as num() writes it."""
    if not np.isfinite(half) or abs(value) >= 1e4 or half >= 1e4:
        return num(value) + (f" ± {num(half)}" if np.isfinite(half) else "")
    decimals = 3 if half <= 0 else min(6, max(3, 1 - math.floor(math.log10(half))))
    return f"{value:.{decimals}f} ± {half:.{decimals}f}"


# -- seeds far from their siblings -------------------------------------------------------------

def seed_sd(values):
    """A median-unbiased estimate of the seed standard deviation from one configuration's
    values: the sample sd over the median of chi_{n-1} / sqrt(n - 1), so that the median of
    such estimates over configurations estimates a common sigma. NaN below two values."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) < 2:
        return math.nan
    return float(x.std(ddof=1) / _sd_median_ratio(len(x) - 1))


@functools.lru_cache(maxsize=None)
def _sd_median_ratio(df):
    """The median of the sample sd over sigma for ``df`` degrees of freedom (normal data)."""
    return math.sqrt(sps.chi2.ppf(0.5, df) / df)


def seed_outliers(runs, fields=None, column=FINAL):
    """One row per ok run: config_id, run_id, seed, value, median of its configuration, the
    scale it was judged on, score (distance / scale), outlier and a reason (judge_seeds)."""
    runs, fields = prepare_runs(runs, fields)
    ok = runs[runs["status"] == "ok"].copy()
    ok["value"] = ok[column].astype(float)
    ok = ok[np.isfinite(ok["value"])]
    groups = [g for _, g in ok.groupby("config_id", sort=False)]
    judged = judge_seeds([g["value"].to_numpy() for g in groups])
    rows = []
    for g, verdicts in zip(groups, judged):
        for r, v in zip(g.itertuples(), verdicts):
            rows.append(dict(config_id=r.config_id, run_id=r.run_id, seed=plain_value(r.seed), **v))
    columns = ["config_id", "run_id", "seed", "value", "median", "scale", "score", "outlier",
               "reason"]
    return pd.DataFrame(rows, columns=columns).astype({"outlier": bool})


def judge_seeds(groups):
    """For each configuration's array of seed values, one dict per value: value, median,
    scale, score, outlier, reason.

    The rule. ``typical`` is the median over the *other* configurations (at least MIN_OTHERS
    with two or more seeds) of seed_sd: no single configuration, plateau or not, can move it.
    With 3+ seeds a seed is flagged when it lies more than OUTLIER_Z times
    max(MAD * 1.4826, typical) from its configuration's median (on either side). With 2 seeds
    it cannot be told which one strays: the pair is flagged when its gap exceeds PAIR_GAP *
    typical, and the higher loss (a plateau or a late blow-up only ever raises it) is named.
    One seed: no rule. False alarms on clean data (normal seed noise, 2,000 seeded grids
    each): with equal noise everywhere the pair rule flags 1.6% of configurations in grids of
    4 configurations (5% of grids), 0.1% with 9 and none with 27; the 3-seed rule 0.65%,
    0.12% and 0.02%. Where the seed sd differs between configurations (up to 3x either way)
    0.6-4% are flagged, the noisiest ones: their seeds do disagree unusually.
    """
    sds = np.array([seed_sd(x) for x in groups])
    out = []
    for i, x in enumerate(groups):
        others = np.delete(sds, i)
        others = others[np.isfinite(others)]
        typical = float(np.median(others)) if len(others) >= MIN_OTHERS else math.nan
        out.append(_judge(np.asarray(x, dtype=float), typical))
    return out


def _judge(x, typical):
    median = float(np.median(x)) if len(x) else math.nan
    n = len(x)
    rows = [dict(value=float(v), median=median, scale=math.nan, score=math.nan,
                 outlier=False, reason="") for v in x]
    if n >= 3:
        mad = MAD_TO_SD * float(np.median(np.abs(x - median)))
        scale = max(mad, typical) if np.isfinite(typical) else mad
        for row, v in zip(rows, x):
            row["scale"] = scale
            row["score"] = abs(v - median) / scale if scale > 0 else math.nan
            if scale > 0 and row["score"] > OUTLIER_Z:
                row.update(outlier=True, reason=f"{row['score']:.3g} robust standard "
                           f"deviations from the median of its {n} seeds")
    elif n == 2 and np.isfinite(typical) and typical > 0:
        gap = abs(x[1] - x[0])
        for row in rows:
            row.update(scale=typical, score=gap / typical)
        if gap > PAIR_GAP * typical:
            rows[int(np.argmax(x))].update(
                outlier=True, reason=f"{gap / typical:.3g} times the typical seed standard "
                f"deviation ({typical:.3g}) from its one sibling; of a pair the higher loss "
                f"is named")
    return rows


def configs_table(runs, fields=None, alpha=ALPHA, confidence=CONFIDENCE):
    """configs.parquet: summarise, compare_to_best, and each configuration's flagged seeds
    (n_outliers, outlier_seeds)."""
    fields = prepare_runs(runs, fields)[1]
    configs = compare_to_best(summarise(runs, fields, confidence), alpha, confidence)
    flagged = seed_outliers(runs, fields)
    flagged = flagged[flagged["outlier"]]
    seeds = flagged.groupby("config_id")["seed"].agg(lambda s: ", ".join(map(str, s)))
    configs["n_outliers"] = configs["config_id"].map(
        flagged["config_id"].value_counts()).fillna(0).astype(int)
    configs["outlier_seeds"] = [seeds.get(c, "") for c in configs["config_id"]]
    return configs
