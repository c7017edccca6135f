"""The statistics of a results folder's own tables: configs.parquet and the whole analysis from
its runs table (whatever its runs' fates), and runs tables of several grids made comparable
field by field."""
import math

import pandas as pd

from ..config import RunConfig
from .analyse import Analysis, analyse
from .stats import FINAL, METRICS, configs_table

CONFIGS = "configs.parquet"


def with_defaults(runs):
    """``runs`` with every RunConfig field it lacks as a column holding the field's default (a
    grid written before the field existed ran with it), and missing values of a field
    filled the same way: so that runs of several grids match on their fields."""
    runs = runs.copy()
    for name, info in RunConfig.model_fields.items():
        default = info.get_default(call_default_factory=True)
        if name not in runs.columns:
            runs[name] = default
        elif default is not None and runs[name].isna().any():
            runs[name] = runs[name].astype(object).where(runs[name].notna(), default)
            runs[name] = runs[name].infer_objects()
    return runs


def _complete(runs):
    """A runs table as a results folder holds it, with the loss and speed columns that runs
    which all failed do not have (NaN: they count, with no mean)."""
    runs = runs.copy()
    for column in (FINAL, *METRICS.values()):
        if column not in runs.columns:
            runs[column] = math.nan
    return runs


def _no_runs(runs):
    return runs.empty or "status" not in runs.columns or "seed" not in runs.columns


def configs_for(runs):
    """configs.parquet's table for a results folder's runs table (empty without runs)."""
    if _no_runs(runs):
        return pd.DataFrame(columns=["config_id", "label", "rank"])
    configs = configs_table(_complete(runs))
    for column in configs.columns.intersection(runs.columns):  # 0.0 and 0.1 alike: floats
        if pd.api.types.is_float_dtype(runs[column]):
            configs[column] = configs[column].astype(float)
    return configs


def analyse_tables(info, runs, trace):
    """analyse() of a results folder's tables, its swept fields named first; with no run
    finished yet an Analysis that says so."""
    if _no_runs(runs):
        return Analysis(configs_for(runs), pd.DataFrame(columns=["config_id", "run_id", "value"]),
                        ["No runs yet: nothing to rank."], [], {}, [], {})
    usable = trace is not None and {"run_id", "update", "val_loss_per_char"} <= set(trace)
    return analyse(_complete(runs), trace if usable else None,
                   order=info.get("swept") or ())
