"""A run folder: every file in it, written, read and checked here.

    config.json      the resolved RunConfig
    trace.parquet    one row per trace point      } a finished run (ok or diverged)
    samples.parquet  one row per text sample      }
    checkpoint.npz   the last weights and what training needs to continue exactly
                     (model/checkpoint.py, training/resume.py)
    best.npz         the weights and recurrent state at the lowest validation loss so far
                     (at the evaluations every eval_every), that update and loss in its info
    baselines.parquet  the count-based baselines of its text and split (``train`` writes it)
    error.txt        a failed run's traceback
    summary.json     how the run ended ("ok", "diverged", "failed", or "stopped": a run saved
                     part-way, by a checkpoint or Ctrl-C, that ``train --resume`` continues);
                     written last, it records the size and sha256 of every other file, and
                     is sealed (integrity.py)

A run folder is written whole (disk.writing.write_folder: a temporary folder that takes its
place in one step), so a reader, or a process killed part-way, sees the old run or the new one,
never a mix; a damaged folder is noticed and not trusted. Folders of rnnbench versions before
these hashes count as intact when their files read (``check_legacy``).
"""
import errno
import json
import os
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from ..disk.lock import FolderLock
from ..disk.reading import read_bytes
from ..disk.writing import (WriteError, parquet_bytes, probe_writable, sweep_temps,
                            to_json_bytes, write_folder)
from ..model.layout import parameter_count
from ..variants import OPTIMIZERS
from .integrity import DamagedFile, check_file, first_line, read_regular, sealed, unseal

SUMMARY, CONFIG, TRACE, SAMPLES, CHECKPOINT, BEST, BASELINES, ERROR = (
    "summary.json", "config.json", "trace.parquet", "samples.parquet", "checkpoint.npz",
    "best.npz", "baselines.parquet", "error.txt")
RUN_FILES = (CONFIG, TRACE, SAMPLES, CHECKPOINT, BEST, BASELINES, ERROR, SUMMARY)
VIEW_FILES = ("plots", "report.md", "report.html")  # drawn from the files above, not sealed
STATUSES = ("ok", "diverged", "failed", "stopped")
_FINISHED_FILES = (CONFIG, TRACE, SAMPLES, CHECKPOINT)
NEEDS = {"ok": _FINISHED_FILES, "diverged": _FINISHED_FILES, "failed": (CONFIG,),
         "stopped": _FINISHED_FILES}
CHECKPOINTS = {"last": CHECKPOINT, "best": BEST}  # what sample, report and load_run choose
SUMMARY_LIMIT = 16 * 2**20     # bytes of a run's summary.json read for sampling


# -- writing ------------------------------------------------------------------------------------

def save_run(result, folder, own=False, baselines=None):
    """Write a RunResult as the run folder ``folder`` (replacing a run already there; ``own``:
    whatever is there, the folder being the tool's, e.g. a grid's runs/<run_id>); returns the
    folder's Path. ``baselines``: the text's baselines table, kept as baselines.parquet."""
    config = result.config.model_dump()
    info = {"config": config, "summary": result.summary}
    checkpoint = result.model.checkpoint_bytes(
        arrays=result.checkpoint_arrays, info=dict(info, loop=result.loop_info))
    files = {CONFIG: to_json_bytes(config), TRACE: parquet_bytes(result.trace),
             SAMPLES: parquet_bytes(result.samples), CHECKPOINT: checkpoint}
    if baselines is not None:
        files[BASELINES] = parquet_bytes(baselines)
    if result.best is not None:
        loop = result.loop_info
        best = dict(update=loop["best_update"], val_loss_per_char=loop["best_val"])
        files[BEST] = result.best.checkpoint_bytes(arrays=result.best_arrays,
                                                   info=dict(info, best=best))
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
                    if e not in RUN_FILES + VIEW_FILES
                    and not (e.startswith(".") and e.endswith(".tmp")))
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
    params = parameter_count(config.cell, vocab_size, config.hidden_size, config.num_layers)
    state = 2 * config.num_layers * config.batch_size * config.hidden_size
    item = 4 if config.dtype == "float32" else 8
    checkpoint = (params * (1 + len(OPTIMIZERS[config.optimizer].slots)) + state) * item
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


def checkpoint_path(path, which="last"):
    """The checkpoint file of a run folder (``which``: "last" or "best"), or the file itself."""
    if which not in CHECKPOINTS:
        raise ValueError(f"checkpoint: expected one of {', '.join(CHECKPOINTS)}, got {which!r}")
    path = Path(path)
    if not path.is_dir():
        return path
    if which == "best" and not (path / BEST).exists():
        raise ValueError(f"{path} has no {BEST} (no validation loss was measured, or the run "
                         f"was written before best checkpoints)")
    return path / CHECKPOINTS[which]


# -- reading and checking -----------------------------------------------------------------------

def check_run_folder(folder):
    """The summary of the finished run in ``folder`` (without its integrity entry), None when
    it has none (never finished); DamagedFile when the folder is not intact."""
    path = os.path.join(folder, SUMMARY)
    if not os.path.lexists(path):
        return None
    summary, integrity = unseal(read_regular(path, SUMMARY), SUMMARY)
    status = summary.get("status")
    if status not in STATUSES:
        raise DamagedFile(f"{SUMMARY} has no valid status (got {status!r})")
    if status != "failed" and not isinstance(summary.get("updates"), int):
        raise DamagedFile(f"{SUMMARY} of a finished run has no update count")
    if integrity is None:
        check_legacy(folder, status)
        return summary
    files = integrity.get("files", {})
    for name in NEEDS[status]:
        if name not in files:
            raise DamagedFile(f"{SUMMARY} does not list {name}")
    for name, rec in files.items():
        if name not in RUN_FILES:
            raise DamagedFile(f"{SUMMARY} lists an unknown file {name!r}")
        check_file(os.path.join(folder, name), name, [rec])
    return summary


def check_legacy(folder, status):
    """A run folder written before file hashes: intact when each file it needs reads."""
    for name in NEEDS[status]:
        path = os.path.join(folder, name)
        data = read_regular(path, name)
        try:
            if name == CONFIG:
                if not isinstance(json.loads(data), dict):
                    raise ValueError("not a mapping")
            elif name == CHECKPOINT:
                with zipfile.ZipFile(path) as z:
                    if z.testzip() is not None:
                        raise ValueError("a member fails its CRC")
            else:
                pq.read_table(path)
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise DamagedFile(f"{name} does not read ({first_line(exc)})") from None


def read_tables(folder):
    """(trace, samples) of a finished run's folder (check_run_folder first)."""
    folder = Path(folder)
    return pd.read_parquet(folder / TRACE), pd.read_parquet(folder / SAMPLES)


@dataclass
class RunTables:
    """What a run's plots, report and ``load_run`` read: the config and summary (dicts), the
    trace, samples and baselines (tables; baselines empty when the folder has none)."""

    config: dict
    summary: dict
    trace: pd.DataFrame
    samples: pd.DataFrame
    baselines: pd.DataFrame

    @property
    def val_note(self):
        """What the validation loss was computed on, in words."""
        chars, part = self.summary.get("val_chars"), self.config.get("val_slice") or 0
        whole = f"all {chars:,} characters" if isinstance(chars, int) else "all of it"
        how = ("each validation record from a zero state" if self.config.get("records")
               else "read on from the hidden state training had reached")
        if part and isinstance(chars, int) and part < chars - 1:
            return (f"its first {part:,} characters every eval_every updates, {whole} at the "
                    f"end of the run (plotted apart); {how}")
        return f"{whole}, every eval_every updates; {how}"


def load_run_tables(folder):
    """The RunTables of the run in ``folder``, checked whole first (a damaged folder is a
    DamagedFile; one that never finished, a ValueError)."""
    folder = Path(folder)
    summary = check_run_folder(folder)
    if summary is None:
        raise ValueError(f"{folder}: not a run folder (no {SUMMARY})")
    if summary["status"] == "failed":
        raise ValueError(f"{folder}: the run failed ({summary.get('error')}); nothing to show")
    config = json.loads(read_regular(folder / CONFIG, CONFIG))
    trace, samples = read_tables(folder)
    baselines = (pd.read_parquet(folder / BASELINES) if (folder / BASELINES).exists()
                 else pd.DataFrame())
    return RunTables(config, summary, trace, samples, baselines)


def read_summary(folder):
    """A run's summary.json as a dict, unchecked (what ``rnnbench sample`` shows of a run);
    a one-line ValueError (disk.reading.UnreadableFile, or not a JSON object) if not one."""
    path = Path(folder) / SUMMARY
    raw = read_bytes(path, "run summary", SUMMARY_LIMIT)
    try:
        summary = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"{path}: not a run summary (not valid JSON: "
                         f"{first_line(exc)[:200]})") from None
    if not isinstance(summary, dict):
        raise ValueError(f"{path}: not a run summary (a JSON {type(summary).__name__}, not "
                         f"an object)")
    return summary
