"""A grid's results folder: one folder per run, and the tables rebuilt from them.

Layout of ``results/<name>/``::

    grid.json          the grid as resolved (what plots and the report need to know)
    baselines.parquet  count-based baseline losses per corpus and split
    runs/<run_id>/     config.json, trace.parquet, samples.parquet, checkpoint.npz, summary.json
                       (status "stopped" while its worker trains it: a checkpoint that the
                       next invocation continues, experiments/checkpoints.py; no table row)
    runs.parquet       one row per run          } rebuilt from runs/ in the grid's order,
    trace.parquet      one row per trace point  } so an interrupted grid, once finished,
    samples.parquet    one row per text sample  } has the same tables as an uninterrupted one
    configs.parquet    one row per configuration (a run's config without its seed): seed
                       statistics, Welch + Holm against the best (analysis/stats.py)
    manifest.json      the size and sha256 of grid.json, baselines.parquet and the tables

One process writes here at a time (``lock``), and only the parent of the workers. A run folder
counts as finished only when it is intact (see ``integrity``): a damaged one is run again, with
a note. Damaged tables are rebuilt by the next run; damaged baselines are computed again.
"""
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd

from ..disk.lock import FolderLock
from ..disk.reading import UnreadableFile, open_regular
from ..disk.writing import atomic_write_bytes, parquet_bytes, sweep_temps, to_json_bytes
from .integrity import (DamagedFile, check_file, first_line, is_record, read_regular, record,
                        sealed, unseal)
from .run_folder import check_run_folder, read_tables, save_failed, save_run

RUNS, TRACE, SAMPLES = "runs.parquet", "trace.parquet", "samples.parquet"
GRID_INFO, BASELINES, MANIFEST = "grid.json", "baselines.parquet", "manifest.json"
LOCK = ".rnnbench.lock"
RUNS_LIMIT = 1 << 30  # bytes of a runs table read on its own (rnnbench sample --best)
FINISHED = ("ok", "diverged")  # a failed run is tried again on the next invocation
# Columns that measure the machine, not the experiment: they differ between identical runs.
TIMING_COLUMNS = {"runs": ["wall_s", "startup_s", "train_s", "val_s", "updates_per_s",
                           "chars_per_s"],
                  "trace": ["elapsed_s", "train_s"], "samples": []}


def print_note(message):
    print(f"rnnbench: note: {message}", file=sys.stderr)


class ResultsDir:
    """The results folder of one grid. ``note(message)`` is told of each damaged file found
    (default: a line on stderr)."""

    def __init__(self, root, note=print_note):
        self.root = Path(root)
        self.note = note
        self._checked = {}   # run_id -> (what the folder looked like, summary or None)
        self._noted = set()

    def run_folder(self, run_id):
        return self.root / "runs" / run_id

    def lock(self, wait=False, on_wait=print_note):
        """The lock of this folder (a context manager): one process writes it at a time.
        Taking it clears the temporary files that a killed writer left."""
        def sweep():
            sweep_temps(self.root)
            sweep_temps(self.root / "runs")
        return FolderLock(self.root / LOCK, self.root, wait=wait, on_wait=on_wait,
                          hint="wait for it to finish, or add --wait", after_acquire=sweep)

    def summary(self, run_id):
        """The summary of a finished, intact run; None when the run has no such folder (a
        damaged one is noted once)."""
        folder = self.run_folder(run_id)
        seen = _signature(folder)
        cached = self._checked.get(run_id)
        if cached is not None and cached[0] == seen:
            return cached[1]
        try:
            summary = check_run_folder(folder)
        except DamagedFile as exc:
            summary = None
            self._tell(f"run {run_id} is damaged: {exc}; it counts as not finished and runs "
                       f"again")
        self._checked[run_id] = (seen, summary)
        return summary

    def status(self, run_id):
        summary = self.summary(run_id)
        return None if summary is None else summary.get("status")

    def plan(self, runs, force=False):
        """({run_id: saved status or None}, the RunSpecs to do now: all of ``runs`` with
        ``force``, else the unfinished ones), reading each summary once."""
        statuses = {spec.run_id: self.status(spec.run_id) for spec in runs}
        return statuses, [s for s in runs if force or statuses[s.run_id] not in FINISHED]

    def _tell(self, message):
        if message not in self._noted:
            self._noted.add(message)
            self.note(message)

    # -- writing (parent process only, holding the lock) ----------------------------------

    def prepare(self, grid, baselines):
        """Create the folder and write what the grid is, before any run starts."""
        (self.root / "runs").mkdir(parents=True, exist_ok=True)
        self._write_root({GRID_INFO: to_json_bytes(grid.info()),
                          BASELINES: parquet_bytes(baselines)})

    def cached_baselines(self):
        """The baselines table written before, or None when there is none or it is damaged
        (noted: they are computed again)."""
        path = self.root / BASELINES
        if not path.exists():
            return None
        try:
            return self._read_root(BASELINES, pd.read_parquet)
        except DamagedFile as exc:
            self._tell(f"{exc}; computing the baselines again")
            return None

    def save(self, outcome):
        """Write one finished run (ok, diverged or failed) as its own folder, whole."""
        folder = self.run_folder(outcome.run_id)
        self._checked.pop(outcome.run_id, None)
        if outcome.result is not None:
            return save_run(replace(outcome.result, summary=outcome.summary), folder, own=True)
        return save_failed(folder, outcome.config, outcome.summary, outcome.traceback, own=True)

    def write_tables(self, grid):
        """Rebuild runs/trace/samples.parquet from the intact run folders, in grid order; a run
        whose tables do not read counts as not finished (noted), never as a row without its
        trace."""
        runs, traces, samples = [], [], []
        for spec in grid.runs:
            summary = self.summary(spec.run_id)
            if summary is None or summary.get("status") == "stopped":  # a run still to finish
                continue
            if summary.get("status") in FINISHED:
                try:
                    trace, sample = read_tables(self.run_folder(spec.run_id))
                except (OSError, ValueError) as exc:
                    self._tell(f"run {spec.run_id} is damaged: its tables do not read "
                               f"({first_line(exc)}); it counts as not finished")
                    continue
                traces.append(_with_id(trace, spec.run_id))
                samples.append(_with_id(sample, spec.run_id))
            runs.append(run_row(spec, summary))
        runs = _runs_frame(runs)
        self._write_root({RUNS: parquet_bytes(runs),
                          TRACE: parquet_bytes(_concat(traces)),
                          SAMPLES: parquet_bytes(_concat(samples)),
                          **_configs(runs)})
        return len(runs)

    def write_comparison(self, info, runs, trace, samples, baselines):
        """Write the tables of several grids' runs (experiments/compare.py) as a results
        folder of their own, with what the comparison is in place of grid.json's grid."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._write_root({GRID_INFO: to_json_bytes(info), BASELINES: parquet_bytes(baselines),
                          RUNS: parquet_bytes(runs), TRACE: parquet_bytes(trace),
                          SAMPLES: parquet_bytes(samples),
                          **_configs(runs)})

    def _manifest(self):
        """{name: records} of manifest.json; None when it is damaged (noted; it is written
        again with the next files)."""
        try:
            return read_manifest(self.root)
        except DamagedFile as exc:
            self._tell(f"{exc}; it is written again")
            return None

    def _write_root(self, files):
        """Write files of the results root and record them in manifest.json: the manifest
        lists old and new while they are replaced, so a kill at any moment leaves each file
        matching an entry."""
        listed = self._manifest() or {}
        new = {name: [record(data)] for name, data in files.items()}
        atomic_write_bytes(self.root / MANIFEST, manifest_bytes(
            {**listed, **{name: listed.get(name, []) + rec for name, rec in new.items()}}))
        for name, data in files.items():
            atomic_write_bytes(self.root / name, data)
        atomic_write_bytes(self.root / MANIFEST, manifest_bytes({**listed, **new}))

    def _read_root(self, name, reader):
        listed = self._manifest()
        if listed is None:
            raise DamagedFile(f"{self.root / name} cannot be checked ({MANIFEST} is damaged)")
        return read_root(self.root, name, reader, listed)


def read_root(root, name, reader, listed):
    """``reader(path)`` of the root file ``name``, checked against its ``listed`` records (read
    as is when unlisted: a legacy folder); DamagedFile when it is not intact or does not read."""
    path = Path(root) / name
    if name in listed:
        check_file(path, str(path), listed[name])
    try:
        return reader(path)
    except (OSError, ValueError) as exc:
        raise DamagedFile(f"{path} does not read ({first_line(exc)})") from None


def read_manifest(root):
    """{name: [records]} of a grid's manifest.json ({} when there is none: a legacy folder);
    DamagedFile when it is not intact."""
    path = os.path.join(root, MANIFEST)
    if not os.path.lexists(path):
        return {}
    doc, integrity = unseal(read_regular(path, path), path)
    files = doc.get("files") if integrity is not None else None
    if not isinstance(files, dict) or not all(
            isinstance(v, list) and v and all(is_record(r) for r in v) for v in files.values()):
        raise DamagedFile(f"{path} is malformed")
    return files


def manifest_bytes(files):
    """A sealed manifest.json listing ``files`` ({name: [records]}: more than one while a file
    is being replaced, so that a kill in between leaves a file that matches)."""
    return sealed({"files": files})


def _signature(folder):
    """What a run folder looks like from outside (names, inodes, sizes, times), to check each
    folder's content once per process unless it changes."""
    try:
        with os.scandir(folder) as entries:
            return tuple(sorted((e.name, e.inode(), e.stat(follow_symlinks=False).st_size,
                                 e.stat(follow_symlinks=False).st_mtime_ns) for e in entries))
    except OSError:
        return None


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


def _configs(runs):
    """{configs.parquet: its bytes} for ``runs``."""
    # imported here: the statistics import SciPy's (0.8 s), and a grid's workers, which import
    # this module to read their inputs, never write the configs table
    from ..analysis.tables import CONFIGS, configs_for
    return {CONFIGS: parquet_bytes(configs_for(runs))}


def _with_id(frame, run_id):
    frame.insert(0, "run_id", run_id)
    return frame


def _concat(frames):
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=["run_id"])
    return pd.concat(frames, ignore_index=True)


def is_grid_folder(path):
    return (Path(path) / RUNS).exists()


def read_runs(root):
    """The runs table of the results folder ``root`` as it is (what ``rnnbench sample --best``
    ranks), or a one-line ValueError."""
    path = Path(root) / RUNS
    try:
        with open_regular(path, "runs table", RUNS_LIMIT) as f:
            return pd.read_parquet(f)
    except UnreadableFile:
        raise
    except Exception as exc:  # noqa: BLE001 -- pyarrow's errors for a damaged file vary
        raise ValueError(f"{path}: cannot read the runs table ({first_line(exc)[:200]})") from None


def ranked_ok(runs):
    """The rows of a runs table with status ok, lowest final validation loss first (a stable
    sort: ties keep the table's order)."""
    ok = runs[runs["status"] == "ok"] if "status" in runs else runs.iloc[:0]
    if "final_val_loss_per_char" not in ok:
        return ok
    return ok.sort_values("final_val_loss_per_char", kind="stable")


def load_tables(root):
    """(info, runs, trace, samples, baselines) of a results folder, for plots and reports."""
    root = Path(root)
    missing = [n for n in (GRID_INFO, RUNS, TRACE, SAMPLES) if not (root / n).exists()]
    if missing:
        raise FileNotFoundError(f"{root}: not a grid results folder (missing {missing[0]}; "
                                f"run 'rnnbench run GRID --out {root}' first)")
    try:
        listed = read_manifest(root)
        info = read_root(root, GRID_INFO, lambda p: json.loads(p.read_bytes()), listed)
        if not isinstance(info, dict):
            raise DamagedFile(f"{root / GRID_INFO} does not hold a grid's description")
        tables = [read_root(root, name, pd.read_parquet, listed)
                  for name in (RUNS, TRACE, SAMPLES)]
        baselines = (read_root(root, BASELINES, pd.read_parquet, listed)
                     if (root / BASELINES).exists() else pd.DataFrame())
    except DamagedFile as exc:
        grid = "GRID"
        try:
            grid = json.loads((root / GRID_INFO).read_bytes())["path"]
        except (OSError, ValueError, TypeError, KeyError):
            pass
        raise DamagedFile(f"{exc}; 'rnnbench run {grid} --out {root}' rebuilds the tables "
                          f"(finished runs are kept)") from None
    return (info, *tables, baselines)
