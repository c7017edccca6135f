"""A run folder on disk: config, summary, trace and samples tables, and the checkpoint.

Every file is written to a temporary name and renamed into place, so a reader (or a process
killed half-way) never sees a half-written file. summary.json is written last: its presence
marks a complete run.
"""
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

CHECKPOINT = "checkpoint.npz"


def atomic_write_bytes(path, data):
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def atomic_write_json(path, obj):
    atomic_write_bytes(path, (json.dumps(obj, indent=2, default=_json_default) + "\n").encode())


def atomic_write_parquet(path, df):
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    df.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"cannot store {type(obj).__name__} as JSON")


def save_run(result, folder):
    """Write a RunResult into ``folder`` (created if needed); returns the folder's Path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = result.config.model_dump()
    atomic_write_json(folder / "config.json", config)
    atomic_write_parquet(folder / "trace.parquet", result.trace)
    atomic_write_parquet(folder / "samples.parquet", result.samples)
    result.model.save(folder / CHECKPOINT, arrays=result.optimizer_state,
                      info={"config": config, "summary": result.summary})
    atomic_write_json(folder / "summary.json", result.summary)
    return folder


def checkpoint_path(path):
    """The checkpoint file of a run folder (or the file itself)."""
    path = Path(path)
    return path / CHECKPOINT if path.is_dir() else path


def load_tables(folder):
    """(trace, samples, summary) of a saved run."""
    folder = Path(folder)
    return (pd.read_parquet(folder / "trace.parquet"), pd.read_parquet(folder / "samples.parquet"),
            json.loads((folder / "summary.json").read_text()))
