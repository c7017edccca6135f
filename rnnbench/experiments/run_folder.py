"""A run folder on disk: config, summary, trace and samples tables, and the checkpoint.

A run folder is written whole (``safe_io.write_folder``: a temporary folder that takes its
place in one step), so a reader, or a process killed part-way, sees the old run or the new one,
never a mix. Its summary.json lists every other file's size and sha256 (``integrity``), so a
damaged folder is noticed and not trusted.
"""
import errno
import io
import os
import shutil
from math import prod
from pathlib import Path

import pandas as pd

from .integrity import (CHECKPOINT, CONFIG, ERROR, RUN_FILES, SAMPLES, SUMMARY, TRACE,
                        check_run_folder, sealed, to_json_bytes)
from ..disk.lock import FolderLock
from ..disk.writing import WriteError, atomic_write_bytes, probe_writable, sweep_temps, write_folder

__all__ = ["CHECKPOINT", "WriteError", "atomic_write_bytes", "atomic_write_json",
           "atomic_write_parquet", "save_run", "save_failed", "checkpoint_path", "load_tables"]


def atomic_write_json(path, obj):
    atomic_write_bytes(path, to_json_bytes(obj))


def atomic_write_parquet(path, df):
    atomic_write_bytes(path, parquet_bytes(df))


def parquet_bytes(df):
    """A table as the bytes of a parquet file (built in memory: nothing is written if it
    cannot be stored)."""
    buffer = io.BytesIO()
    df.to_parquet(buffer, index=False)
    return buffer.getvalue()


def save_run(result, folder, own=False):
    """Write a RunResult as the run folder ``folder`` (replacing a run already there; ``own``:
    whatever is there, the folder being the tool's, e.g. a grid's runs/<run_id>); returns the
    folder's Path."""
    config = result.config.model_dump()
    checkpoint = result.model.checkpoint_bytes(arrays=result.optimizer_state,
                                               info={"config": config, "summary": result.summary})
    files = {CONFIG: to_json_bytes(config), TRACE: parquet_bytes(result.trace),
             SAMPLES: parquet_bytes(result.samples), CHECKPOINT: checkpoint}
    return write_run(folder, files, result.summary, own)


def save_failed(folder, config, summary, traceback="", own=False):
    """Write the folder of a run that raised: its config, summary and error.txt (the traceback)."""
    files = {CONFIG: to_json_bytes(config.model_dump())}
    if traceback:
        files[ERROR] = traceback.encode("utf-8", "replace")
    return write_run(folder, files, summary, own)


def write_run(folder, files, summary, own=False):
    """Write ``files`` and, last, a summary.json that records them, as the folder ``folder``."""
    folder = Path(folder)
    if not own:
        check_replaceable(folder)
    write_folder(folder, {**files, SUMMARY: sealed(summary, files)})
    return folder


def check_replaceable(folder):
    """Raise ValueError unless ``folder`` is absent, empty, or a run folder (nothing in it but a
    run's files): a folder of other files is never swapped out and removed."""
    if os.path.islink(folder) or not os.path.lexists(folder):
        return
    if not os.path.isdir(folder):
        raise ValueError(f"{folder} is a file, not a run folder")
    others = sorted(e for e in os.listdir(folder)  # temp files (.*.tmp) are no one's work
                    if e not in RUN_FILES and not (e.startswith(".") and e.endswith(".tmp")))
    if others:
        raise ValueError(f"{folder} holds files that are not a run's ({', '.join(others[:3])}"
                         f"{', ...' if len(others) > 3 else ''}); choose another folder")


def is_run_folder(folder):
    """Whether ``folder`` holds a run (a summary or a config), as opposed to being new/empty."""
    return any(os.path.lexists(Path(folder) / name) for name in (SUMMARY, CONFIG, CHECKPOINT))


def run_folder_lock(folder):
    """The lock of a run folder (``train --out``): a file beside it, ``.<name>.lock``, since the
    folder itself is replaced as a whole. Holding it also clears what a killed writer of this
    folder left (its temporary folders)."""
    folder = Path(folder)
    return FolderLock(folder.parent / f".{folder.name}.lock", folder,
                      after_acquire=lambda: sweep_temps(folder.parent, folder.name))


def run_folder_bytes(config, vocab_size):
    """A generous estimate of the size of a run folder of ``config``: the checkpoint (weights,
    optimizer slots, hidden state) and the tables."""
    from ..model.model import param_layout
    from ..training.driver import SLOT_NAMES
    params = sum(prod(shape) for _, shape in param_layout(
        config.cell, vocab_size, config.hidden_size, config.num_layers))
    state = 2 * config.num_layers * config.batch_size * config.hidden_size
    item = 4 if config.dtype == "float32" else 8
    checkpoint = (params * (1 + len(SLOT_NAMES[config.optimizer])) + state) * item
    trace = (config.updates // config.trace_every + 2) * 200
    samples = ((config.updates // config.sample_every + 2) * (config.sample_length * 4 + 100)
               if config.sample_every else 0)
    return checkpoint + trace + samples + 65536


def check_space(folder, need):
    """Raise WriteError unless a run folder of about ``need`` bytes can be written at ``folder``:
    a trial folder and file are written beside it (and removed), then the free space is read."""
    folder = Path(folder)
    probe_writable(folder)
    free = shutil.disk_usage(folder.parent).free
    if free < need:
        raise WriteError(errno.ENOSPC, f"cannot write {folder}: about {need:,} bytes needed, "
                         f"{free:,} free on its device")


def checkpoint_path(path):
    """The checkpoint file of a run folder (or the file itself)."""
    path = Path(path)
    return path / CHECKPOINT if path.is_dir() else path


def load_tables(folder):
    """(trace, samples, summary) of a saved run; DamagedFile if its files are not intact."""
    folder = Path(folder)
    summary = check_run_folder(folder)
    if summary is None:
        raise FileNotFoundError(f"{folder}: no finished run (no {SUMMARY})")
    return pd.read_parquet(folder / TRACE), pd.read_parquet(folder / SAMPLES), summary
