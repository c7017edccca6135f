"""How runs that diverged or failed appear in the plots: never on a scale, always in a note.

A diverged run's losses can reach 1e200 nats per character: the y range of the loss curves is
set by the runs that finished (and never reaches beyond ``CAP_ABOVE_UNIFORM`` above uniform
guessing), the final-loss views take finite values of ok runs only, and each diverged run is an
x where its curve ends, listed under the figure with the update and the rule that stopped it.
"""
import math

import numpy as np
import pandas as pd

CAP_ABOVE_UNIFORM = 1.5  # nats per character: the loss axes never reach higher above ln V
DIVERGED_STYLE = dict(marker="x", color="crimson", markersize=9, markeredgewidth=2, zorder=5,
                      linestyle="none", clip_on=False)
MAX_LISTED = 8  # runs named in a note; the rest are counted


def column(runs, name):
    """runs[name] as floats, NaN where the table lacks the column (all runs failed)."""
    if name in runs:
        return pd.to_numeric(runs[name], errors="coerce").astype(float)
    return pd.Series(np.nan, index=runs.index, dtype=float)


def final_values(runs):
    """Final validation loss per run: ok runs with a finite value only, else NaN."""
    values = column(runs, "final_val_loss_per_char")
    return values.where((runs["status"] == "ok") & np.isfinite(values))


def uniform_loss(runs):
    """ln V of the largest vocabulary among the runs (the worst a guessing model does), or
    None when the table does not say."""
    sizes = column(runs, "vocab_size").dropna()
    return math.log(sizes.max()) if len(sizes) and sizes.max() > 1 else None


def scale_values(long, runs):
    """The loss values that may set the y range: those of ok runs, and of a diverged run only
    before its last trace point (where it diverged); finite ones only."""
    status = dict(zip(runs["run_id"], runs["status"]))
    last = long.groupby("run_id")["update"].transform("max")
    keep = long["run_id"].map(status).eq("ok") | (
        long["run_id"].map(status).eq("diverged") & (long["update"] < last))
    values = long.loc[keep, "loss"].astype(float)
    return values[np.isfinite(values)]


def y_range(long, runs, uniform):
    """(bottom, top) of a loss axis: just around the curves that may set it, the top at most
    CAP_ABOVE_UNIFORM above ``uniform`` (ln V; or that of the runs' vocabulary)."""
    values = scale_values(long, runs)
    cap = (uniform if uniform is not None else uniform_loss(runs) or 5.0) + CAP_ABOVE_UNIFORM
    high = float(values.quantile(0.99)) if len(values) else cap
    top = math.ceil((min(high, cap) + 0.15) * 10) / 10
    low = float(values.min()) if len(values) else 0.0
    bottom = max(0.0, math.floor(min(low, top - 0.5) * 10) / 10 - 0.1)
    return bottom, top


def mark_diverged(ax, trace, facet_runs, x, top):
    """An x at the last trace point of each diverged run of this facet: at its training loss,
    or at the top edge when that is off the scale or not finite."""
    diverged = facet_runs[facet_runs["status"] == "diverged"]
    for run_id in diverged["run_id"]:
        rows = trace[trace["run_id"] == run_id]
        if rows.empty:
            continue
        last = rows.iloc[-1]
        loss = float(last["loss_per_char"]) if pd.notna(last["loss_per_char"]) else math.inf
        y = loss if math.isfinite(loss) and loss < top else top
        ax.plot([last[x]], [y], **DIVERGED_STYLE)


def _run_name(r):
    label = getattr(r, "label", None) or "run"
    return f"{label} seed {r.seed}"


def diverged_note(runs, marked=True):
    """' Diverged (N; ...): name at update U (rule); ...' for the diverged runs, or ''.
    ``marked``: the figure shows them as x marks."""
    diverged = runs[runs["status"] == "diverged"]
    if diverged.empty:
        return ""
    at = column(diverged, "diverged_at")
    rules = diverged["diverged_rule"] if "diverged_rule" in diverged else [None] * len(diverged)
    parts = []
    for r, update, rule in zip(diverged.itertuples(), at, rules):
        where = f" at update {int(update):,}" if np.isfinite(update) else ""
        parts.append(f"{_run_name(r)}{where}" + (f" ({rule})" if rule else ""))
    more = len(parts) - MAX_LISTED
    listed = "; ".join(parts[:MAX_LISTED]) + (f"; and {more} more" if more > 0 else "")
    how = ("x where each stopped, at the top edge when off the scale" if marked
           else "no final loss")
    return f" Diverged ({len(parts)}; {how}): {listed}."


def failed_note(runs):
    """' Failed (no curve): name; ...' for the failed runs, or ''."""
    failed = runs[runs["status"] == "failed"]
    if failed.empty:
        return ""
    names = [_run_name(r) for r in failed.itertuples()]
    more = len(names) - MAX_LISTED
    listed = "; ".join(names[:MAX_LISTED]) + (f"; and {more} more" if more > 0 else "")
    return f" Failed (no curve): {listed}."


def status_text(runs):
    """'3 ok, 2 diverged, 1 failed' for a runs table."""
    counts = runs["status"].value_counts() if len(runs) else {}
    return ", ".join(f"{counts[s]} {s}" for s in ("ok", "diverged", "failed") if s in counts)
