"""A grid's results folder trusts only intact files: each kind of damaged run file, baselines
and tables leads to a redo (or a rebuild) with a one-line note and the same tables as an
undamaged folder; folders of earlier versions (no hashes) resume; two `rnnbench run` on one
folder: the second is refused, naming the first, and touches nothing; a SIGKILLed holder
blocks nothing."""
import json
import shutil
import signal
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from conftest import run_cli
from diskfaults import subprocess_env, temp_files, tree
from rnnbench.experiments.run_folder import check_run_folder
from rnnbench.experiments.results import TIMING_COLUMNS, load_tables

GRID = """
name: tiny
data: pydoc
base: {hidden_size: 8, updates: 100, trace_every: 50, eval_every: 50, sample_every: 50,
       sample_length: 20, data_limit: 20000}
grid:
  learning_rate: [0.1, 0.05]
seeds: 1
"""


@pytest.fixture(scope="module")
def grid_file(tmp_path_factory):
    """The grid file, run once into reference/ beside it."""
    path = tmp_path_factory.mktemp("integrity") / "tiny.yaml"
    path.write_text(textwrap.dedent(GRID))
    code, _, stderr = rerun(path, path.parent / "reference")
    assert code == 0, stderr
    return path


@pytest.fixture
def reference(grid_file):
    """An undamaged results folder of the grid (read only)."""
    return grid_file.parent / "reference"


@pytest.fixture
def copy(reference, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(reference, out, symlinks=True)
    return out


def run_ids(out):
    return list(pd.read_parquet(out / "runs.parquet")["run_id"])


def rerun(grid_file, out, *extra):
    return run_cli("run", grid_file, "--jobs", "1", "--out", out, "--no-report", "--quiet",
                   *extra)


def tables(out):
    _, runs, trace, samples, baselines = load_tables(out)
    return dict(runs=runs.drop(columns=TIMING_COLUMNS["runs"]),
                trace=trace.drop(columns=TIMING_COLUMNS["trace"]), samples=samples,
                baselines=baselines)


def assert_same_tables(a, b):
    ta, tb = tables(a), tables(b)
    for name in ta:
        pd.testing.assert_frame_equal(ta[name], tb[name], check_exact=True, obj=name)


def truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def edit_summary(path):
    doc = json.loads(path.read_text())
    doc["final_val_loss_per_char"] = 0.5  # a better loss than the run had, seal kept
    path.write_text(json.dumps(doc))


def other_parquet(path):
    pd.DataFrame({"update": [1], "loss": [0.0]}).to_parquet(path)


def edit_manifest(path):
    doc = json.loads(path.read_text())
    doc["files"]["runs.parquet"][0]["bytes"] += 1
    path.write_text(json.dumps(doc))


def link_summary(path):
    real = path.with_name("elsewhere.json")
    path.rename(real)
    path.symlink_to(real)


DAMAGE = {  # name: (what is done to run 0's folder, the note's words)
    "truncated trace": (lambda f: truncate(f / "trace.parquet"), "trace.parquet has "),
    "truncated samples": (lambda f: truncate(f / "samples.parquet"), "samples.parquet has "),
    "truncated checkpoint": (lambda f: truncate(f / "checkpoint.npz"), "checkpoint.npz has "),
    "missing trace": (lambda f: (f / "trace.parquet").unlink(), "trace.parquet is missing"),
    "replaced trace": (lambda f: other_parquet(f / "trace.parquet"), "trace.parquet has "),
    "edited config": (lambda f: (f / "config.json").write_text(
        (f / "config.json").read_text().replace('"hidden_size": 8', '"hidden_size": 9')),
        "config.json has changed since it was written"),
    "summary []": (lambda f: (f / "summary.json").write_text("[]"),
                   "summary.json holds an empty list, not a mapping"),
    "summary not JSON": (lambda f: (f / "summary.json").write_text('{"status": "ok", '),
                         "summary.json is not valid JSON"),
    "edited summary": (lambda f: edit_summary(f / "summary.json"),
                       "summary.json has been changed since it was written (its seal"),
    "summary link": (lambda f: link_summary(f / "summary.json"),
                     "summary.json is a symbolic link"),
}


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_a_damaged_run_is_redone_with_a_note(grid_file, reference, copy, kind):
    damage, words = DAMAGE[kind]
    damaged = run_ids(copy)[0]
    damage(copy / "runs" / damaged)
    code, stdout, stderr = rerun(grid_file, copy)
    assert code == 0, stderr
    assert f"rnnbench: note: run {damaged} is damaged: {words}" in stderr
    assert stderr.count("\n") == 1 and "1 already finished, 1 to run" in stdout
    assert_same_tables(reference, copy)
    assert check_run_folder(copy / "runs" / damaged)["status"] == "ok"
    assert temp_files(copy) == [] and not (copy / "runs" / damaged / "elsewhere.json").exists()


def strip_hashes(out):
    """Make ``out`` look written by an rnnbench before file hashes."""
    (out / "manifest.json").unlink()
    for summary in out.glob("runs/[!.]*/summary.json"):
        doc = json.loads(summary.read_text())
        del doc["integrity"]
        summary.write_text(json.dumps(doc, indent=2))


def test_a_legacy_folder_resumes_and_its_damaged_runs_are_redone(grid_file, reference, copy):
    strip_hashes(copy)
    code, stdout, stderr = rerun(grid_file, copy, "--dry-run")
    assert code == 0 and stderr == "" and "2 of 2 finished; 0 would run" in stdout
    first, second = run_ids(copy)
    (copy / "runs" / first / "trace.parquet").unlink()
    truncate(copy / "runs" / second / "checkpoint.npz")
    code, stdout, stderr = rerun(grid_file, copy)
    assert code == 0 and "0 already finished, 2 to run" in stdout
    assert f"run {first} is damaged: trace.parquet is missing" in stderr
    assert f"run {second} is damaged: checkpoint.npz does not read (" in stderr
    assert_same_tables(reference, copy)


@pytest.mark.parametrize("name, damage", [("baselines.parquet", truncate),
                                          ("baselines.parquet", other_parquet),
                                          ("manifest.json", edit_manifest)])
def test_damaged_baselines_are_computed_again(grid_file, reference, copy, name, damage):
    damage(copy / name)
    code, stdout, stderr = rerun(grid_file, copy)
    assert code == 0 and "2 already finished, 0 to run" in stdout
    assert f"rnnbench: note: {copy}/baselines.parquet " in stderr
    assert stderr.rstrip().endswith("; computing the baselines again")
    assert_same_tables(reference, copy)


@pytest.mark.parametrize("name, damage, words", [
    ("runs.parquet", truncate, "runs.parquet has "),
    ("trace.parquet", other_parquet, "trace.parquet has "),
    ("manifest.json", lambda p: edit_manifest(p),
     "manifest.json has been changed since it was written"),
    ("grid.json", lambda p: p.write_text("{}"), "grid.json has "),
])
def test_damaged_tables_stop_plot_and_report_until_a_run_rebuilds_them(
        grid_file, reference, copy, name, damage, words):
    damage(copy / name)
    for command in ("plot", "report"):
        code, stdout, stderr = run_cli(command, copy)
        assert code == 2 and stdout == "" and stderr.count("\n") == 1
        assert stderr.startswith(f"rnnbench: error: {copy}/{words}")
        grid = "GRID" if name == "grid.json" else grid_file
        assert f"'rnnbench run {grid} --out {copy}' rebuilds the tables" in stderr
    assert not (copy / "plots").exists() and not (copy / "report.md").exists()
    code, stdout, _ = rerun(grid_file, copy)
    assert code == 0 and "2 already finished, 0 to run" in stdout
    assert_same_tables(reference, copy)


def test_legacy_tables_that_do_not_read_stop_report(copy):
    (copy / "manifest.json").unlink()
    truncate(copy / "samples.parquet")
    code, _, stderr = run_cli("report", copy)
    assert code == 2 and stderr.startswith(f"rnnbench: error: {copy}/samples.parquet does not "
                                           f"read (")


def test_a_failed_run_writes_error_txt_without_following_a_planted_link(
        grid_file, tmp_path, monkeypatch):
    import rnnbench.experiments.runner
    real_train = rnnbench.experiments.runner.train

    def train(config, **kw):
        if config.learning_rate == 0.05:
            raise RuntimeError("boom")
        return real_train(config, **kw)
    monkeypatch.setattr(rnnbench.experiments.runner, "train", train)
    out = tmp_path / "failing"
    assert rerun(grid_file, out)[0] == 1
    failed = run_ids(out)[1]
    error = out / "runs" / failed / "error.txt"
    assert error.read_text().startswith("Traceback")
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    error.unlink()
    error.symlink_to(precious)
    code, stdout, _ = rerun(grid_file, out)
    assert code == 1 and "1 already finished, 1 to run" in stdout
    assert precious.read_text() == "keep me"
    assert not error.is_symlink() and "RuntimeError: boom" in error.read_text()
    assert temp_files(out) == []


# -- two writers ----------------------------------------------------------------------------

# `rnnbench run` that stops half-way through writing its first run folder (its staging folder
# holds one file) until it is killed
STALLED_RUN = textwrap.dedent("""
    import sys, time
    from rnnbench.disk import writing as safe_io
    real = safe_io._write_new
    def write_new(path, data):
        real(path, data)
        if path.parent.name.startswith("."):
            print("saving", flush=True)
            time.sleep(120)
    safe_io._write_new = write_new
    from rnnbench.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def test_a_second_run_is_refused_and_a_killed_holder_blocks_nothing(grid_file, reference,
                                                                       tmp_path):
    out = tmp_path / "shared"
    first = subprocess.Popen([sys.executable, "-c", STALLED_RUN, "run", str(grid_file), "--jobs",
                              "1", "--out", str(out), "--no-report", "--quiet"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=subprocess_env())
    try:
        line = first.stdout.readline()
        while line and line.strip() != "saving":
            line = first.stdout.readline()
        assert line.strip() == "saving", first.stderr.read()
        before = {p: (out / p).read_bytes() for p in tree(out) if (out / p).is_file()}
        assert any(".tmp/" in p for p in before)  # the first one's staging folder

        code, stdout, stderr = rerun(grid_file, out)
        assert code == 2 and stdout == "" and stderr.count("\n") == 1
        assert stderr.startswith(f"rnnbench: error: {out} is in use by 'rnnbench run ")
        assert f"(pid {first.pid}, " in stderr and stderr.rstrip().endswith("or add --wait")
        after = {p: (out / p).read_bytes() for p in tree(out) if (out / p).is_file()}
        assert after == before  # nothing deleted, nothing written
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()

    code, stdout, stderr = rerun(grid_file, out)  # the lock died with its holder
    assert code == 0 and "0 already finished, 2 to run" in stdout, stderr
    assert_same_tables(reference, out)
    assert temp_files(out) == []  # the killed writer's staging folder and lock file are gone
