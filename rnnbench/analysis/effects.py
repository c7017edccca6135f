"""What each swept field does, from a configs table (stats.configs_table): its marginal means,
the difference between its best and worst value in one sentence (with where it flips sign),
the two-field tables of means behind interaction heat maps, and a colour range no outlier
can stretch.

A mean "over the other fields" weighs every setting of the other swept fields equally (each a
configuration's mean over its seeds), so it is the grid's average, not the runs' average. Its
interval counts seed noise only: the variance is sum(w_i^2 sd_i^2 / n_i) with each
configuration's own seed variance (no equal-variance assumption, as in the Welch tests), and
the degrees of freedom are Welch-Satterthwaite's. A configuration with one seed has no seed
variance, so an average that includes it has no interval. Differences are paired: a value
against another at the same settings of every other field, over the settings where both have
ok runs.
"""
import itertools
import math

import numpy as np
import pandas as pd

from ..config import short_value
from .stats import (CONFIDENCE, MAD_TO_SD, StatsError, config_fields, plain_value, pm,
                    t_quantile, varying_fields)

COLUMNS = ["mean", "ci", "low", "high", "df", "n_settings", "n_missing", "n_seeds"]
FENCE = 3.0  # colour_range: robust standard deviations from the median before clipping


def swept_fields(configs, fields=None):
    """The configuration fields that vary across ``configs``."""
    return varying_fields(configs, config_fields(configs) if fields is None else fields)


def _key(row, fields):
    return tuple(plain_value(row[f]) for f in fields)


def _rows(table, field, value):
    """The rows of ``table`` whose ``field`` is ``value`` (100 and 100.0 alike)."""
    return table[table[field].map(plain_value) == plain_value(value)]


def _check(configs, names, metric):
    """One-line errors for a field or metric the configs table lacks."""
    for name in names:
        if name not in configs.columns:
            raise StatsError(f"configs table: no field column {name!r}")
    for column in (f"{metric}_mean", f"{metric}_sd", "n"):
        if column not in configs.columns:
            raise StatsError(f"configs table: missing column {column!r} (metric {metric!r})")


def _settings(configs, metric):
    """The configurations with ok runs: their means and the seed variance of each mean."""
    ok = configs[(configs["n"] > 0) & np.isfinite(configs[f"{metric}_mean"].astype(float))]
    ok = ok.assign(_mean=ok[f"{metric}_mean"].astype(float),
                   _var=ok[f"{metric}_sd"].astype(float) ** 2 / ok["n"])
    return ok


def combine(weights, means, variances, dfs, confidence=CONFIDENCE):
    """(estimate, interval half-width, degrees of freedom) of sum(w_i * mean_i) when mean_i
    has variance variances[i] on dfs[i] degrees of freedom (Welch-Satterthwaite)."""
    w, m, v, d = (np.asarray(a, dtype=float) for a in (weights, means, variances, dfs))
    estimate = float(w @ m)
    if len(v) == 0 or not np.isfinite(v).all():
        return estimate, math.nan, math.nan
    parts = w ** 2 * v
    total = float(parts.sum())
    if total == 0:
        return estimate, 0.0, math.inf
    df = total ** 2 / float((parts ** 2 / d).sum())
    return estimate, t_quantile(df, confidence) * math.sqrt(total), df


def _average(rows, confidence):
    k = len(rows)
    est, half, df = combine(np.full(k, 1 / k), rows["_mean"], rows["_var"], rows["n"] - 1,
                            confidence)
    return dict(mean=est, ci=half, low=est - half, high=est + half, df=df, n_settings=k,
                n_seeds=int(rows["n"].sum()))


def _order(values):
    """Distinct values: numbers ascending, anything else in the table's order (best first)."""
    unique = list(dict.fromkeys(plain_value(v) for v in values))
    numeric = all(isinstance(v, (int, float)) for v in unique if v is not None)
    return sorted(unique, key=lambda v: (v is None, v if v is not None else 0)) \
        if numeric else unique


def cell_means(configs, by, fields=None, metric="final_val", confidence=CONFIDENCE):
    """Mean of ``metric`` per combination of the ``by`` fields, over the other swept fields
    and seeds: the ``by`` columns, then mean, ci (half-width), low, high, df, n_settings
    (settings of the other fields with ok runs), n_missing (settings run without an ok one)
    and n_seeds."""
    by = list(by)
    _check(configs, by, metric)
    others = [f for f in swept_fields(configs, fields) if f not in by]
    ok = _settings(configs, metric)
    planned = {}
    for _, row in configs.iterrows():
        planned.setdefault(_key(row, by), set()).add(_key(row, others))
    groups = {}
    for i, row in ok.iterrows():
        groups.setdefault(_key(row, by), []).append(i)
    orders = [_order(configs[f]) for f in by]
    rows = []
    for key in itertools.product(*orders):
        if key not in planned:
            continue
        got = ok.loc[groups.get(key, [])]
        stats = _average(got, confidence) if len(got) else dict(
            mean=math.nan, ci=math.nan, low=math.nan, high=math.nan, df=math.nan,
            n_settings=0, n_seeds=0)
        rows.append({**dict(zip(by, key)), **stats,
                     "n_missing": len(planned[key]) - stats["n_settings"]})
    return pd.DataFrame(rows, columns=[*by, *COLUMNS])


def marginal_means(configs, field, fields=None, metric="final_val", confidence=CONFIDENCE):
    """cell_means by one field: its marginal effect, value by value."""
    return cell_means(configs, [field], fields, metric, confidence)


def paired_difference(configs, field, a, b, given=None, fields=None, metric="final_val",
                      confidence=CONFIDENCE):
    """Mean of (value ``a`` - value ``b``) of ``field`` over the settings of the other swept
    fields that have ok runs for both (restricted to ``given``, a {field: value} mapping):
    dict(diff, ci, low, high, df, n_settings)."""
    given = dict(given or {})
    _check(configs, [field, *given], metric)
    others = [f for f in swept_fields(configs, fields) if f != field and f not in given]
    ok = _settings(configs, metric)
    for g, u in given.items():
        ok = _rows(ok, g, u)
    side = {v: {_key(r, others): r for _, r in _rows(ok, field, v).iterrows()} for v in (a, b)}
    common = [k for k in side[a] if k in side[b]]
    k = len(common)
    if k == 0:
        return dict(diff=math.nan, ci=math.nan, low=math.nan, high=math.nan, df=math.nan,
                    n_settings=0)
    ra, rb = [side[a][c] for c in common], [side[b][c] for c in common]
    est, half, df = combine(
        [1 / k] * k + [-1 / k] * k, [r["_mean"] for r in ra + rb],
        [r["_var"] for r in ra + rb], [r["n"] - 1 for r in ra + rb], confidence)
    return dict(diff=est, ci=half, low=est - half, high=est + half, df=df, n_settings=k)


# -- sentences ---------------------------------------------------------------------------------

def effect_sentences(configs, fields=None, metric="final_val", confidence=CONFIDENCE):
    """One sentence per swept field (see effect_sentence)."""
    return [s for f in swept_fields(configs, fields)
            if (s := effect_sentence(configs, f, fields, metric, confidence))]


def effect_sentence(configs, field, fields=None, metric="final_val", confidence=CONFIDENCE):
    """'hidden_size 128 is 0.120 ± 0.030 nats/char better than 32 on average over ...; by
    learning_rate: better at 0.03 (...), worse at 0.3 (...).' Best against worst value of
    ``field`` by marginal mean, with the other values' differences, and for every other swept
    field whose values flip the sign, the difference at each of them. None without ok runs."""
    marg = marginal_means(configs, field, fields, metric, confidence)
    marg = marg[np.isfinite(marg["mean"])]
    if marg.empty:
        return None
    name = short_value
    if len(marg) == 1:
        return f"{field}: only {name(marg[field].iloc[0])} has ok runs, nothing to compare."
    best = marg.loc[marg["mean"].idxmin(), field]
    worst = marg.loc[marg["mean"].idxmax(), field]
    others = [f for f in swept_fields(configs, fields) if f != field]
    d = paired_difference(configs, field, worst, best, None, fields, metric, confidence)
    if d["n_settings"] == 0:
        tied = [g for g in others if _separate(configs, field, best, worst, g)]
        return (f"{field}: {name(best)} and {name(worst)} never ran at the same settings of "
                f"the other fields ({', '.join(tied) or 'they'} "
                f"{'changes' if len(tied) == 1 else 'change'} with it), so its effect cannot "
                f"be separated.")
    text = f"{field} {name(best)} is {_diff_text(d)} than {name(worst)}"
    if others:
        k = d["n_settings"]
        lacking = _both_ran(configs, field, best, worst, others) - k
        text += (f" on average over {k} settings of {', '.join(others)}" if k > 1 else
                 f" at the one setting of {', '.join(others)} where both have ok runs")
        if lacking > 0:
            text += f" ({lacking} more lack an ok run for one of them)"
    text += _noise(d)
    middle = [v for v in marg[field] if v not in (best, worst)]
    if 0 < len(middle) <= 4:
        text += "".join(f"; {name(v)}: " + _diff_text(paired_difference(
            configs, field, worst, v, None, fields, metric, confidence)) + f" than {name(worst)}"
            for v in middle)
    for g in others:
        text += _flips(configs, field, best, worst, g, d["diff"], fields, metric, confidence)
    return text + _flagged(configs, field, list(marg[field])) + "."


def _diff_text(d):
    """'0.120 ± 0.030 nats/char better' for a positive worst-minus-this difference."""
    word = "better" if d["diff"] >= 0 else "worse"
    return f"{pm(abs(d['diff']), d['ci'])} nats/char {word}"


def _noise(d):
    if not np.isfinite(d["ci"]):
        return " (a configuration with one seed: no interval)"
    if d["low"] <= 0 <= d["high"]:
        return ", within seed noise (its 95% interval includes 0)"
    return ""


def _flips(configs, field, best, worst, g, overall, fields, metric, confidence):
    """'; by g: better at u1 (...), worse at u2 (...)' when g's values flip the sign."""
    at = {}
    for u in _order(configs[g]):
        d = paired_difference(configs, field, worst, best, {g: u}, fields, metric, confidence)
        if d["n_settings"]:
            at[u] = d
    if not any(d["diff"] * overall < 0 for d in at.values()):
        return ""
    better = [u for u, d in at.items() if d["diff"] >= 0]
    worse = [u for u, d in at.items() if d["diff"] < 0]

    def listed(values):
        items = [f"{short_value(u)} ({pm(abs(at[u]['diff']), at[u]['ci'])})" for u in values]
        return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
    parts = ([f"better at {listed(better)}"] if better else []) + \
            ([f"worse at {listed(worse)}"] if worse else [])
    return f"; by {g}: " + ", ".join(parts)


def _flagged(configs, field, values):
    """'; the means include seeds flagged as far from their siblings (1 at 0)' or ''."""
    if "n_outliers" not in configs.columns:
        return ""
    parts = []
    for v in values:
        k = int(_rows(configs, field, v)["n_outliers"].sum())
        if k:
            parts.append(f"{k} at {short_value(v)}")
    return (f"; the means include seeds flagged as far from their siblings ({', '.join(parts)})"
            if parts else "")


def _both_ran(configs, field, a, b, others):
    """How many settings of ``others`` were run (whatever their status) with both values."""
    keys = [{_key(r, others) for _, r in _rows(configs, field, v).iterrows()} for v in (a, b)]
    return len(keys[0] & keys[1])


def _separate(configs, field, a, b, g):
    """Whether ``g`` takes disjoint values where ``field`` is ``a`` and where it is ``b``."""
    va, vb = (set(_rows(configs, field, v)[g].map(plain_value)) for v in (a, b))
    return not (va & vb)


# -- interactions ------------------------------------------------------------------------------

def interactions(configs, fields=None, metric="final_val", confidence=CONFIDENCE):
    """{(field_a, field_b): cell_means by both} for every pair of swept fields: the numbers
    of an interaction heat map (mean, annotated with ci)."""
    swept = swept_fields(configs, fields)
    return {(a, b): cell_means(configs, [a, b], fields, metric, confidence)
            for a, b in itertools.combinations(swept, 2)}


def colour_range(values, fence=FENCE):
    """(low, high) of a colour scale for ``values``: the finite values' range, clipped to the
    median +- ``fence`` robust standard deviations (1.4826 MAD), so that no value far from
    the rest (fewer than half of them) can stretch it; values outside take the end colours.
    A single value, or equal ones, get a range of +-0.5% around it (at least 1e-3)."""
    x = np.asarray(values, dtype=float).ravel()
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return math.nan, math.nan
    median = float(np.median(x))
    spread = fence * MAD_TO_SD * float(np.median(np.abs(x - median)))
    low, high = float(x.min()), float(x.max())
    if spread > 0:
        low, high = max(low, median - spread), min(high, median + spread)
    if high <= low:
        pad = max(abs(median) * 0.005, 1e-3)
        return median - pad, median + pad
    return low, high
