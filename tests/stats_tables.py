"""Hand-made runs and trace tables for the statistics tests (not a test module)."""
import numpy as np
import pandas as pd


def runs_table(rows):
    """A runs table from dicts of config fields plus seed, final and optionally status, best,
    updates_per_s, chars_per_s and run_id; a constant ``cell`` column is added."""
    out = []
    for i, row in enumerate(rows):
        row = dict(row)
        final = row.pop("final")
        out.append(dict(run_id=row.pop("run_id", f"r{i:03d}"), status=row.pop("status", "ok"),
                        cell="rnn", final_val_loss_per_char=final,
                        best_val_loss_per_char=row.pop("best", final - 0.01),
                        updates_per_s=row.pop("updates_per_s", 1000.0),
                        chars_per_s=row.pop("chars_per_s", 25000.0), **row))
    return pd.DataFrame(out)


def grid(cells, seeds_offsets, **extra):
    """A runs table with one configuration per {field values: mean} item of ``cells`` and one
    seed per offset (value = mean + offset)."""
    rows = []
    for key, mean in cells.items():
        for seed, off in enumerate(seeds_offsets):
            rows.append(dict(**dict(key), seed=seed, final=mean + off, **extra))
    return runs_table(rows)


def dropout_grid(plateau=3.2946):
    """grids/task1_dropout.yaml's final validation losses as measured on this machine: the
    no-dropout seed 1 sat on a plateau."""
    cells = {0.0: [1.7040, plateau], 0.1: [1.5843, 1.6603], 0.25: [1.5792, 1.5737],
             0.5: [1.6483, 1.7074]}
    return runs_table([dict(dropout=d, seed=s, final=v) for d, vs in cells.items()
                       for s, v in enumerate(vs)])


def ok_values(runs, **where):
    sel = runs["status"] == "ok"
    for k, v in where.items():
        sel &= runs[k] == v
    return runs.loc[sel, "final_val_loss_per_char"].to_numpy(float)


def trace_table(runs_evals):
    """{run_id: [(update, chars_seen, val), ...]} as a trace table (training rows between)."""
    rows = []
    for run_id, evals in runs_evals.items():
        for update, chars, val in evals:
            rows.append(dict(run_id=run_id, update=update, chars_seen=chars,
                             loss_per_char=val + 0.1, val_loss_per_char=val,
                             elapsed_s=float(update)))
            rows.append(dict(run_id=run_id, update=update + 1, chars_seen=chars + 1,
                             loss_per_char=val, val_loss_per_char=np.nan,
                             elapsed_s=float(update + 1)))
    return pd.DataFrame(rows)
