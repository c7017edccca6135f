"""Running grids: determinism across --jobs and backends, resume after SIGKILL, divergence,
failure, Ctrl-C, dry runs and --force."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import run_cli
from rnnbench.experiments.results import TIMING_COLUMNS

# 4 real runs and 4 that diverge at once (learning rate 1e308).
GRID = """
name: tiny
data: pydoc
base: {updates: 1500, trace_every: 100, eval_every: 500, sample_every: 500,
       sample_length: 40}
grid:
  hidden_size: [8, 16]
  learning_rate: [0.1, 1.0e+308]
seeds: 2
samples: {temperatures: [0.5, 1.5], length: 30}
"""
N_RUNS, N_DIVERGED = 8, 4


@pytest.fixture(scope="module")
def grid_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("grid") / "tiny.yaml"
    path.write_text(textwrap.dedent(GRID))
    return path


@pytest.fixture(scope="module")
def reference(grid_file):
    """The grid run once, uninterrupted, in this process (--jobs 1)."""
    out = grid_file.parent / "reference"
    code, stdout, _ = run_cli("run", grid_file, "--jobs", "1", "--out", out, "--no-report")
    assert code == 0, stdout
    assert f"done: {N_RUNS - N_DIVERGED} ok, {N_DIVERGED} diverged, 0 failed" in stdout
    return out


def tables(out):
    """The three tables without the columns that measure the machine."""
    return {name: pd.read_parquet(Path(out) / f"{name}.parquet").drop(
        columns=TIMING_COLUMNS[name]) for name in ("runs", "trace", "samples")}


def assert_same_tables(a, b):
    ta, tb = tables(a), tables(b)
    for name in ta:
        pd.testing.assert_frame_equal(ta[name], tb[name], check_exact=True, obj=name)


def test_tables_hold_every_run_in_grid_order(reference, grid_file):
    from rnnbench.experiments.grid import load_grid
    runs = pd.read_parquet(reference / "runs.parquet")
    grid = load_grid(grid_file)
    assert list(runs["run_id"]) == [r.run_id for r in grid.runs]
    assert (runs["status"] == "diverged").sum() == N_DIVERGED
    assert runs.loc[runs["status"] == "diverged", "error"].str.contains("loss became").all()
    ok = runs[runs["status"] == "ok"]
    assert (ok["final_val_loss_per_char"] < 4.0).all() and (ok["updates_done"] == 1500).all()
    for col in ("hidden_size", "learning_rate", "seed", "best_val_bits_per_char", "chars_per_s",
                "corpus_checksum", "rnnbench_version", "numba_version"):
        assert col in runs.columns
    trace = pd.read_parquet(reference / "trace.parquet")
    assert set(trace["run_id"]) == set(runs["run_id"])
    samples = pd.read_parquet(reference / "samples.parquet")
    final = samples[samples["kind"] == "final"]
    assert len(final) == 2 * (N_RUNS - N_DIVERGED)
    assert set(final["temperature"]) == {0.5, 1.5} and (final["text"].str.len() == 30).all()
    assert (samples["novelty_n"] == 8).all() and samples["novelty"].between(0, 1).all()
    for name in ("grid.json", "baselines.parquet"):
        assert (reference / name).exists()


def test_jobs_2_gives_the_same_tables(reference, grid_file, tmp_path):
    out = tmp_path / "jobs2"
    code, stdout, _ = run_cli("run", grid_file, "--jobs", "2", "--out", out, "--no-report",
                              "--quiet")
    assert code == 0, stdout
    assert_same_tables(reference, out)


def test_dask_local_cluster_gives_the_same_tables(reference, grid_file, tmp_path):
    pytest.importorskip("dask.distributed")
    out = tmp_path / "dask"
    environ = dict(os.environ)
    code, stdout, _ = run_cli("run", grid_file, "--backend", "dask", "--jobs", "2", "--out",
                              out, "--no-report", "--quiet")
    assert code == 0, stdout
    assert "2 dask workers" in stdout
    assert_same_tables(reference, out)
    # the nannies set OMP_NUM_THREADS=1 and more in this process as they spawned the workers:
    # gone again, or a lone run here later would count one core
    assert {k: v for k, v in os.environ.items() if environ.get(k) != v} == {}
    assert set(environ) == set(os.environ)


def test_resume_after_sigkill(reference, grid_file, tmp_path):
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "rnnbench", "run", str(grid_file), "--jobs",
                             "1", "--out", str(out), "--no-report", "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            cwd=Path(__file__).resolve().parents[1])
    deadline = time.monotonic() + 60
    while not list(out.glob("runs/[!.]*/summary.json")) and time.monotonic() < deadline:
        assert proc.poll() is None, "the grid ended before it could be killed"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = {p.parent.name for p in out.glob("runs/[!.]*/summary.json")}
    assert 1 <= len(finished) < N_RUNS
    for run in finished:  # every complete-looking folder is really complete
        folder = out / "runs" / run
        summary = json.loads((folder / "summary.json").read_text())
        assert len(pd.read_parquet(folder / "trace.parquet")) > 0 and summary["status"]

    code, stdout, _ = run_cli("run", grid_file, "--jobs", "1", "--out", out, "--no-report",
                              "--quiet")
    assert code == 0
    assert f"{len(finished)} already finished, {N_RUNS - len(finished)} to run" in stdout
    assert_same_tables(reference, out)


def test_failed_run_exit_1_then_retried(grid_file, tmp_path, monkeypatch):
    import rnnbench.experiments.runner
    real_train = rnnbench.experiments.runner.train

    def train(config, **kw):
        if config.hidden_size == 16 and config.learning_rate == 0.1:
            raise RuntimeError("boom\nsecond line")
        return real_train(config, **kw)

    monkeypatch.setattr(rnnbench.experiments.runner, "train", train)
    out = tmp_path / "failing"
    code, stdout, stderr = run_cli("run", grid_file, "--jobs", "1", "--out", out, "--no-report",
                                   "--quiet")
    assert code == 1
    assert "2 failed" in stdout and "failed: hidden_size=16, learning_rate=0.1, seed=0: " \
        "RuntimeError: boom second line" in stderr
    runs = pd.read_parquet(out / "runs.parquet")
    assert len(runs) == N_RUNS and (runs["status"] == "failed").sum() == 2
    assert (out / "runs" / runs.loc[runs["status"] == "failed", "run_id"].iloc[0]
            / "error.txt").read_text().startswith("Traceback")
    # failed runs are tried again (and fail again); finished ones are not
    code, stdout, _ = run_cli("run", grid_file, "--jobs", "1", "--out", out, "--no-report",
                              "--quiet")
    assert code == 1 and "6 already finished, 2 to run" in stdout


def test_ctrl_c_keeps_finished_runs(grid_file, tmp_path, monkeypatch):
    import rnnbench.experiments.runner
    real_train = rnnbench.experiments.runner.train
    calls = []

    def train(config, **kw):
        calls.append(config)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_train(config, **kw)

    monkeypatch.setattr(rnnbench.experiments.runner, "train", train)
    out = tmp_path / "interrupted"
    code, _, stderr = run_cli("run", grid_file, "--jobs", "1", "--out", out, "--quiet")
    assert code == 130 and "interrupted; 2 runs finished now are kept" in stderr
    assert len(pd.read_parquet(out / "runs.parquet")) == 2
    assert not (out / "report.md").exists()


def test_dry_run_and_force(reference, grid_file, tmp_path):
    code, stdout, _ = run_cli("run", grid_file, "--out", reference, "--dry-run")
    assert code == 0 and f"{N_RUNS} of {N_RUNS} finished; 0 would run" in stdout
    assert stdout.count("done (diverged)") == N_DIVERGED
    empty = tmp_path / "never"
    code, stdout, _ = run_cli("run", grid_file, "--out", empty, "--dry-run")
    assert code == 0 and f"0 of {N_RUNS} finished; {N_RUNS} would run" in stdout
    assert not empty.exists()
    code, stdout, _ = run_cli("run", grid_file, "--out", reference, "--dry-run", "--force")
    assert f"; {N_RUNS} would run" in stdout
