"""`train --out` never loses or mixes work: an existing run is refused unless --force, the
folder is replaced whole (a SIGKILL while saving leaves the old run), an unwritable or full
--out is found before training, and a full disk or read-only folder (train or grid) is one
line, exit 1, with no temporary file left anywhere."""
import errno
import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

import rnnbench.experiments.runner
import rnnbench.text.baselines
import rnnbench.training.driver
from conftest import run_cli
from diskfaults import fill, mounts, subprocess_env, temp_files, tree  # noqa: F401 -- a fixture
from rnnbench.disk import writing as safe_io
from rnnbench.experiments.run_folder import check_run_folder
from rnnbench.model.model import load_checkpoint

TINY = ("--hidden-size", "8", "--updates", "20", "--sample-every", "0", "--eval-every", "10",
        "--data-limit", "20000", "--quiet")


def train(out, *extra):
    return run_cli("train", *TINY, "--out", out, *extra)


def snapshot(folder):
    return {p: (folder / p).read_bytes() for p in tree(folder) if (folder / p).is_file()}


@pytest.fixture
def trainings(monkeypatch):
    """The configs train() was called with (to tell that nothing was trained)."""
    calls, real = [], rnnbench.training.driver.train

    def spy(config, **kw):
        calls.append(config)
        return real(config, **kw)
    monkeypatch.setattr(rnnbench.training.driver, "train", spy)
    return calls


def assert_consistent(folder, hidden_size):
    """The folder is one intact run: its summary, config and checkpoint agree."""
    summary = check_run_folder(folder)
    model, _, info = load_checkpoint(folder / "checkpoint.npz")
    config = json.loads((folder / "config.json").read_text())
    assert model.hidden_size == config["hidden_size"] == hidden_size
    assert info["summary"] == summary and info["config"] == config


def test_an_existing_run_is_refused_and_force_replaces_it(tmp_path, trainings):
    out = tmp_path / "run"
    assert train(out)[0] == 0
    before = snapshot(out)
    code, stdout, stderr = train(out, "--hidden-size", "16")
    assert code == 2 and stderr.count("\n") == 1 and len(trainings) == 1
    assert f"{out} holds a run already; add --force to replace it" in stderr
    assert snapshot(out) == before and "updates in" not in stdout

    precious = tmp_path / "precious.json"
    precious.write_text("keep me")
    (out / "summary.json").unlink()
    (out / "summary.json").symlink_to(precious)  # planted: must not be written through
    code, stdout, stderr = train(out, "--hidden-size", "16", "--force")
    assert code == 0, stderr
    assert precious.read_text() == "keep me" and not (out / "summary.json").is_symlink()
    assert_consistent(out, 16)
    assert sorted(os.listdir(tmp_path)) == ["precious.json", "run"]  # no lock, no temp


@pytest.mark.parametrize("force", [(), ("--force",)])
def test_a_folder_that_is_not_a_run_is_never_replaced(tmp_path, trainings, force):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    code, _, stderr = train(out, *force)
    assert code == 2 and "holds files that are not a run's (notes.txt)" in stderr
    assert os.listdir(out) == ["notes.txt"] and trainings == []
    a_file = tmp_path / "file"
    a_file.write_text("x")
    code, _, stderr = train(a_file, *force)
    assert code == 2 and f"{a_file} is a file, not a run folder" in stderr
    assert a_file.read_text() == "x" and sorted(os.listdir(tmp_path)) == ["file", "mine"]


# `rnnbench train` killed in the middle of writing its run folder: it stops after the second
# file of its new folder until it is killed
STALLED_TRAIN = textwrap.dedent("""
    import sys, time
    from rnnbench.disk import writing as safe_io
    real, written = safe_io._write_new, []
    def write_new(path, data):
        real(path, data)
        written.append(path)
        if len(written) == 2 and path.parent.name.startswith(".run."):
            print("saving", flush=True)
            time.sleep(120)
    safe_io._write_new = write_new
    from rnnbench.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def test_sigkill_while_saving_leaves_the_old_run_whole(tmp_path):
    out = tmp_path / "run"
    assert train(out)[0] == 0
    before = snapshot(out)
    proc = subprocess.Popen([sys.executable, "-c", STALLED_TRAIN, "train", *TINY, "--out",
                             str(out), "--hidden-size", "16", "--force"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=subprocess_env(), cwd=tmp_path)
    try:
        lines = iter(proc.stdout.readline, "")
        assert "saving\n" in lines, proc.stderr.read()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert snapshot(out) == before  # the old run, whole: its summary is its own
    assert_consistent(out, 8)
    assert len(os.listdir(tmp_path)) == 3  # run, the killed writer's temp folder and lock
    code, _, stderr = train(out, "--force")  # the next writer clears them
    assert code == 0, stderr
    assert os.listdir(tmp_path) == ["run"]


def test_unwritable_out_is_found_before_training(mounts, trainings):
    read_only = mounts.read_only()
    code, stdout, stderr = train(read_only / "run")
    assert code == 1 and stderr.count("\n") == 1 and trainings == []
    assert stderr.startswith(f"rnnbench: error: cannot write {read_only}/run: ")
    assert stderr.rstrip().endswith(("Read-only file system", "Permission denied"))
    assert os.listdir(read_only) == []


def test_too_small_a_disk_is_found_before_training(mounts, trainings):
    disk = mounts.tmpfs("128k")
    code, _, stderr = train(disk / "run", "--hidden-size", "64")
    assert code == 1 and stderr.count("\n") == 1 and trainings == []
    assert f"cannot write {disk}/run: about " in stderr and " bytes needed, " in stderr
    assert os.listdir(disk) == []


def test_a_disk_that_fills_during_training_is_one_line_and_leaves_nothing(mounts, monkeypatch):
    disk = mounts.tmpfs("1m")
    real = rnnbench.training.driver.train

    def train_then_fill(config, **kw):
        result = real(config, **kw)
        fill(disk)
        return result
    monkeypatch.setattr(rnnbench.training.driver, "train", train_then_fill)
    code, _, stderr = train(disk / "run")
    assert code == 1 and stderr == f"rnnbench: error: cannot write {disk}/run: No space " \
                                   f"left on device\n"
    assert tree(disk) == ["filler"]


def test_injected_enospc_while_saving_is_one_line_and_leaves_nothing(tmp_path, monkeypatch,
                                                                     trainings):
    real = safe_io._write_new

    def full_after_the_probe(path, data):
        if path.name != "probe":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(path, data)
    monkeypatch.setattr(safe_io, "_write_new", full_after_the_probe)
    code, stdout, stderr = train(tmp_path / "a" / "run")
    assert len(trainings) == 1  # it trained, then could not save
    assert code == 1 and stderr == f"rnnbench: error: cannot write {tmp_path}/a/run: No space " \
                                   f"left on device\n"
    assert os.listdir(tmp_path) == []  # not even the folder 'a' it made for the run


GRID = """
name: tiny
data: pydoc
base: {hidden_size: 8, updates: 20, eval_every: 10, sample_every: 0, data_limit: 20000}
grid:
  learning_rate: [0.1, 0.05]
"""


def test_a_grid_on_a_full_disk_is_one_line_and_keeps_what_it_saved(mounts, monkeypatch,
                                                                     tmp_path):
    grid = tmp_path / "tiny.yaml"
    grid.write_text(textwrap.dedent(GRID))
    disk = mounts.tmpfs("2m")
    real, calls = rnnbench.experiments.runner.train, []

    def fill_on_the_second_run(config, **kw):
        calls.append(config)
        if len(calls) == 2:
            fill(disk)
        return real(config, **kw)
    monkeypatch.setattr(rnnbench.experiments.runner, "train", fill_on_the_second_run)
    code, _, stderr = run_cli("run", grid, "--out", disk / "g", "--jobs", "1", "--quiet")
    assert code == 1 and stderr.count("\n") == 1
    assert stderr.startswith(f"rnnbench: error: cannot write {disk}/g/")
    assert stderr.endswith(": No space left on device\n")
    runs = os.listdir(disk / "g" / "runs")
    assert len(runs) == 1 and check_run_folder(disk / "g" / "runs" / runs[0])["status"] == "ok"
    assert temp_files(disk) == []


def test_a_grid_into_a_read_only_folder_is_one_line_and_creates_nothing(mounts, tmp_path):
    grid = tmp_path / "tiny.yaml"
    grid.write_text(textwrap.dedent(GRID))
    read_only = mounts.read_only()
    code, stdout, stderr = run_cli("run", grid, "--out", read_only / "g", "--quiet")
    assert code == 1 and stdout == "" and stderr.count("\n") == 1
    assert stderr.startswith(f"rnnbench: error: cannot write {read_only}/g: ")
    assert os.listdir(read_only) == []


def test_baselines_that_cannot_be_counted_cost_the_run_nothing(tmp_path, monkeypatch):
    """The baselines are counted beside the training: should that fail, the run is saved
    whole, without them, its report drawn, and a warning says so."""
    def broken(corpora):
        raise MemoryError("no room for the 5-gram counts")
    monkeypatch.setattr(rnnbench.text.baselines, "baselines_table", broken)
    code, out, err = train(tmp_path / "run", "--checkpoint-every", "10")
    assert code == 0, err
    assert "baselines of" in err and "MemoryError: no room" in err
    assert_consistent(tmp_path / "run", 8)
    assert not (tmp_path / "run" / "baselines.parquet").exists()
    assert (tmp_path / "run" / "report.html").stat().st_size > 0
