"""A grid whose run was interrupted (SIGKILL of the parent, Ctrl-C) continues that run from its
last checkpoint on the next ``rnnbench run``, and its tables are those of a grid never
interrupted; a damaged checkpoint is not trusted. Tiny runs; the kills come once a run's
worker has written a checkpoint (a run folder of status "stopped")."""
import json
import os
import signal
import textwrap
import time

import pandas as pd
import pytest

from conftest import run_cli
from rnnbench.disk.writing import pid_alive
from test_faults import Rnnbench, assert_all_gone
from test_runner import assert_same_tables

# two runs long enough to be caught between checkpoints; extra samples of the final model
GRID = """
name: ckpt
data: pydoc
base: {hidden_size: 16, updates: 12000, trace_every: 500, eval_every: 3000,
       sample_every: 6000, sample_length: 20, val_slice: 2000}
grid:
  learning_rate: [0.1, 0.05]
checkpoint_every: 1000
samples: {temperatures: [0.7], length: 20}
"""


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    """(the grid file, its results run once, uninterrupted, in this process)."""
    folder = tmp_path_factory.mktemp("ckpt")
    (folder / "ckpt.yaml").write_text(textwrap.dedent(GRID))
    code, stdout, _ = run_cli("run", folder / "ckpt.yaml", "--jobs", "1", "--out",
                              folder / "reference", "--no-report", "--quiet")
    assert code == 0, stdout
    assert [_status(p.parent)[0] for p in folder.glob("reference/runs/*/summary.json")] \
        == ["ok", "ok"]
    return folder / "ckpt.yaml", folder / "reference"


def _status(folder):
    try:
        return json.loads((folder / "summary.json").read_text()).get("status"), \
            json.loads((folder / "summary.json").read_text()).get("updates")
    except (OSError, ValueError):
        return None, None


def _stopped(out):
    """{run_id: updates} of the run folders that hold a checkpoint (status "stopped")."""
    found = {}
    for path in out.glob("runs/[!.]*/summary.json"):
        status, updates = _status(path.parent)
        if status == "stopped":
            found[path.parent.name] = updates
    return found


def _reaped(pids, timeout=10):
    """Wait until no process ``pids`` is left, zombies included: the next run's lock clears
    the temporary folders of dead writers only (a killed worker may leave one)."""
    deadline = time.monotonic() + timeout
    while any(pid_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)


def _rerun(out, monkeypatch):
    """The grid run again in this process; {run_id: update its run was continued from}."""
    import rnnbench.experiments.runner as runner
    real_train, resumed = runner.train, {}

    def train(config, **kw):
        if kw.get("resume") is not None:
            resumed[config.learning_rate] = kw["resume"].updates
        return real_train(config, **kw)

    monkeypatch.setattr(runner, "train", train)
    return resumed


@pytest.mark.parametrize("how,jobs", [("kill", "2"), ("ctrl_c", "1")])
def test_interrupted_run_continues_from_its_checkpoint(grid, tmp_path, monkeypatch, how, jobs):
    grid_file, reference = grid
    out = tmp_path / how
    run = Rnnbench(tmp_path, "run", grid_file, "--jobs", jobs, "--out", out, "--no-report")
    run.wait_for(lambda: _stopped(out), "a checkpoint")
    if how == "kill":
        run.proc.kill()
        run.proc.wait()
        assert_all_gone(run.seen.values())  # the loky workers follow their parent
        _reaped(run.seen)
    else:
        run.proc.send_signal(signal.SIGINT)
        code, _, err = run.finish()
        assert code == 130 and "interrupted" in err
    stopped = _stopped(out)
    assert stopped and all(0 < n < 12000 for n in stopped.values())
    # a stopped run is no row of the tables: they hold finished runs only
    if (out / "runs.parquet").exists():
        assert not set(pd.read_parquet(out / "runs.parquet")["run_id"]) & set(stopped)

    resumed = _rerun(out, monkeypatch)
    code, stdout, _ = run_cli("run", grid_file, "--jobs", "1", "--out", out, "--no-report")
    assert code == 0, stdout
    assert "continued from its checkpoint at update" in stdout
    assert resumed and all(n > 0 for n in resumed.values())
    assert sorted(resumed.values()) == sorted(stopped.values())  # each from its checkpoint
    assert not _stopped(out) and not list(out.glob("runs/.*"))
    assert_same_tables(reference, out)


def test_damaged_checkpoint_starts_from_zero(grid, tmp_path, monkeypatch):
    """A stopped run whose checkpoint is truncated is run again from update 0, with a note."""
    grid_file, reference = grid
    out = tmp_path / "damaged"
    run = Rnnbench(tmp_path, "run", grid_file, "--jobs", "1", "--out", out, "--no-report")
    run.wait_for(lambda: _stopped(out), "a checkpoint")
    run.proc.kill()
    run.proc.wait()
    run_id = next(iter(_stopped(out)))
    checkpoint = out / "runs" / run_id / "checkpoint.npz"
    checkpoint.write_bytes(checkpoint.read_bytes()[:100])
    resumed = _rerun(out, monkeypatch)
    code, stdout, stderr = run_cli("run", grid_file, "--jobs", "1", "--out", out,
                                   "--no-report", "--quiet")
    assert code == 0, stdout
    assert f"run {run_id} is damaged" in stderr and "checkpoint.npz" in stderr
    assert resumed == {}
    assert_same_tables(reference, out)


def test_dead_worker_keeps_its_checkpoint(grid, tmp_path, monkeypatch):
    """A worker killed (as by the OOM killer) after its run's checkpoint: the run counts as
    failed now, its checkpoint stays, and the next invocation continues it."""
    grid_file, reference = grid
    out = tmp_path / "worker"
    run = Rnnbench(tmp_path, "run", grid_file, "--jobs", "2", "--out", out, "--no-report")
    run.wait_for(lambda: set(_stopped(out)) & set(run.markers().values()), "a checkpoint")
    target = next(iter(set(_stopped(out)) & set(run.markers().values())))
    os.kill(next(p for p, r in run.markers().items() if r == target), signal.SIGKILL)
    code, stdout, stderr = run.finish()
    assert code == 1, stderr
    assert f"run {target}: its worker died; its last checkpoint is kept" in stderr
    assert target in _stopped(out)
    resumed = _rerun(out, monkeypatch)
    code, stdout, _ = run_cli("run", grid_file, "--jobs", "1", "--out", out, "--no-report")
    assert code == 0 and "1 to run" in stdout and list(resumed.values())[0] > 0
    assert_same_tables(reference, out)
