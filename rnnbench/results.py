"""A grid's results folder: one folder per run, and the tables rebuilt from them.

Layout of ``results/<name>/``::

    grid.json          the grid as resolved (what plots and the report need to know)
    baselines.parquet  count-based baseline losses per corpus and split
    runs/<run_id>/     config.json, trace.parquet, samples.parquet, checkpoint.npz, summary.json
    runs.parquet       one row per run          } rebuilt from runs/ in the grid's order,
    trace.parquet      one row per trace point  } so an interrupted grid, once finished,
    samples.parquet    one row per text sample  } has the same tables as an uninterrupted one

Only the parent process writes here. Every file is written under a temporary name and renamed;
a run folder counts as complete once its summary.json exists (written last).
"""
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from .store import CHECKPOINT, atomic_write_json, atomic_write_parquet, save_run

RUNS, TRACE, SAMPLES = "runs.parquet", "trace.parquet", "samples.parquet"
GRID_INFO, BASELINES = "grid.json", "baselines.parquet"
SUMMARY = "summary.json"
FINISHED = ("ok", "diverged")  # a failed run is tried again on the next invocation
# Columns that measure the machine, not the experiment: they differ between identical runs.
TIMING_COLUMNS = {"runs": ["wall_s", "train_s", "updates_per_s", "chars_per_s"],
                  "trace": ["elapsed_s"], "samples": []}


class ResultsDir:
    """The results folder of one grid."""

    def __init__(self, root):
        self.root = Path(root)

    def run_folder(self, run_id):
        return self.root / "runs" / run_id

    def summary(self, run_id):
        """The saved summary of a run, or None when the run has no complete folder."""
        try:
            return json.loads((self.run_folder(run_id) / SUMMARY).read_text())
        except (OSError, ValueError):
            return None

    def status(self, run_id):
        summary = self.summary(run_id)
        return None if summary is None else summary.get("status")

    def plan(self, runs, force=False):
        """({run_id: saved status or None}, the RunSpecs to do now: all of ``runs`` with
        ``force``, else the unfinished ones), reading each summary once."""
        statuses = {spec.run_id: self.status(spec.run_id) for spec in runs}
        return statuses, [s for s in runs if force or statuses[s.run_id] not in FINISHED]

    # -- writing (parent process only) ----------------------------------------------------

    def prepare(self, grid, baselines):
        """Create the folder and write what the grid is, before any run starts."""
        (self.root / "runs").mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.root / GRID_INFO, grid.info())
        atomic_write_parquet(self.root / BASELINES, baselines)

    def cached_baselines(self):
        path = self.root / BASELINES
        return pd.read_parquet(path) if path.exists() else None

    def save(self, outcome):
        """Write one finished run (ok, diverged or failed) into its own folder."""
        folder = self.run_folder(outcome.run_id)
        folder.mkdir(parents=True, exist_ok=True)
        # The old summary goes first, so a kill part-way through never leaves a folder that
        # looks complete while holding a mix of two runs' files.
        (folder / SUMMARY).unlink(missing_ok=True)
        for tmp in folder.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)
        if outcome.result is not None:
            save_run(replace(outcome.result, summary=outcome.summary), folder)
        else:
            for name in ("trace.parquet", "samples.parquet", CHECKPOINT):
                (folder / name).unlink(missing_ok=True)
            atomic_write_json(folder / "config.json", outcome.config.model_dump())
            if outcome.traceback:
                (folder / "error.txt").write_text(outcome.traceback)
            atomic_write_json(folder / SUMMARY, outcome.summary)
        return folder

    def write_tables(self, grid):
        """Rebuild runs/trace/samples.parquet from the complete run folders, in grid order."""
        runs, traces, samples = [], [], []
        for spec in grid.runs:
            summary = self.summary(spec.run_id)
            if summary is None:
                continue
            runs.append(run_row(spec, summary))
            folder = self.run_folder(spec.run_id)
            if (folder / "trace.parquet").exists():
                traces.append(_with_id(pd.read_parquet(folder / "trace.parquet"), spec.run_id))
                samples.append(_with_id(pd.read_parquet(folder / "samples.parquet"),
                                        spec.run_id))
        atomic_write_parquet(self.root / RUNS, _runs_frame(runs))
        atomic_write_parquet(self.root / TRACE, _concat(traces))
        atomic_write_parquet(self.root / SAMPLES, _concat(samples))
        return len(runs)


def short_value(value):
    """A number as %g, anything else as str: how field values appear in labels."""
    return f"{value:g}" if isinstance(value, (float, np.floating)) else str(value)


def run_row(spec, summary):
    """One row of runs.parquet: id, status, every config field, then the summary's numbers.

    A summary key that is also a config field (``updates``: asked for / done) gets ``_done``.
    """
    config = spec.config.model_dump()
    row = dict(run_id=spec.run_id, status=summary.get("status"), error=summary.get("error"))
    row.update(config)
    row.update(label=spec.label, case=spec.case)
    for key, value in summary.items():
        if key in ("status", "error"):
            continue
        row[key + "_done" if key in config else key] = value
    return row


def _runs_frame(rows):
    if not rows:
        return pd.DataFrame(columns=["run_id", "status", "error"])
    columns = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    return pd.DataFrame(rows, columns=columns)


def _with_id(frame, run_id):
    frame.insert(0, "run_id", run_id)
    return frame


def _concat(frames):
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=["run_id"])
    return pd.concat(frames, ignore_index=True)


def load_tables(root):
    """(info, runs, trace, samples, baselines) of a results folder, for plots and reports."""
    root = Path(root)
    missing = [n for n in (GRID_INFO, RUNS, TRACE, SAMPLES) if not (root / n).exists()]
    if missing:
        raise FileNotFoundError(f"{root}: not a grid results folder (missing {missing[0]}; "
                                f"run 'rnnbench run GRID --out {root}' first)")
    info = json.loads((root / GRID_INFO).read_text())
    baselines = (pd.read_parquet(root / BASELINES) if (root / BASELINES).exists()
                 else pd.DataFrame())
    return (info, pd.read_parquet(root / RUNS), pd.read_parquet(root / TRACE),
            pd.read_parquet(root / SAMPLES), baselines)
