"""Memory estimated up front: absurd sizes refused in one line naming the field (train, the
Python API, a grid file, --jobs), and the estimate checked against measured peak memory."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

import rnnbench
from rnnbench.training import resources
from rnnbench.config import ConfigError, RunConfig
from rnnbench.text.corpus import Corpus
from rnnbench.training.resources import MB, run_memory

from conftest import run_cli

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(updates=4, hidden_size=8, seq_length=10, trace_every=2, eval_every=4,
            sample_every=0)


def _one_line(err):
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("options, field", [
    (["--hidden-size", 200_000], "hidden_size"),           # 40e9 parameters
    (["--hidden-size", 30_000, "--num-layers", 40], "hidden_size"),
    (["--updates", 10**12], "updates"),                     # the trace alone
    (["--sample-every", 1, "--sample-length", 10**6, "--updates", 10**6], "sample_length"),
])
def test_train_refuses_a_run_that_cannot_fit(tmp_path, options, field):
    out = tmp_path / "run"
    code, stdout, err = run_cli("train", *options, "--out", out, "--quiet")
    line = _one_line(err)
    assert code == 2 and line.startswith(f"rnnbench: error: {field}: the run needs about ")
    assert "this machine can spare" in line
    assert not out.exists() and "run folder" not in stdout  # refused before anything is made


def test_the_python_api_refuses_before_allocating(monkeypatch):
    monkeypatch.setattr(resources, "available", lambda: 50 * MB)
    with pytest.raises(ConfigError, match=r"^hidden_size: the run needs about .*parameters"):
        rnnbench.train(dict(TINY, hidden_size=3000))
    assert rnnbench.train(dict(TINY)).summary["status"] == "ok"  # a tiny run fits in 50 MB


def test_a_grid_with_a_run_that_cannot_fit_is_refused_when_read(tmp_path):
    grid = tmp_path / "g.yaml"
    grid.write_text("name: g\nbase: {updates: 4, sample_every: 0}\n"
                    "grid: {hidden_size: [8, 300000]}\n")
    out = tmp_path / "out"
    code, _, err = run_cli("run", grid, "--out", out, "--dry-run")
    line = _one_line(err)
    assert code == 2 and f"{grid}: run hidden_size=300000: hidden_size: the run needs" in line
    assert not out.exists()


def test_runs_at_once_must_fit_together(tmp_path, monkeypatch):
    grid = tmp_path / "g.yaml"
    grid.write_text("name: g\nbase: {updates: 4, sample_every: 0, eval_every: 4, "
                    "hidden_size: 700, data_limit: 3000}\nseeds: 2\n")
    corpus = Corpus.load("pydoc").head(3000)
    one = run_memory(RunConfig.build(dict(updates=4, sample_every=0, eval_every=4,
                                          hidden_size=700)), corpus)
    # room for the parent's copy and one worker, not two
    free = resources.grid_memory([one] * 2, corpus.ids.nbytes, 1) + MB
    monkeypatch.setattr(resources, "available", lambda: free)
    out = tmp_path / "out"
    code, stdout, err = run_cli("run", grid, "--out", out, "--jobs", 2, "--quiet")
    line = _one_line(err)
    assert code == 2 and line.startswith("rnnbench: error: --jobs: 2 runs at once need about")
    assert line.endswith("--jobs 1 fits") and not (out / "runs").exists()


def _peak_rss(options, out):
    """Peak resident memory (bytes) of `rnnbench train OPTIONS` in a fresh process: its VmHWM
    (ru_maxrss would also count the memory of this process, which it forks from)."""
    code = ("import sys; from rnnbench.cli import main; main(sys.argv[1:]); "
            "print(*[line for line in open('/proc/self/status') if line.startswith('VmHWM')])")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    args = [str(a) for k, v in options.items() for a in (f"--{k.replace('_', '-')}", v)]
    # --no-report: the estimate covers training and saving, not drawing the report after
    done = subprocess.run([sys.executable, "-c", code, "train", *args, "--quiet", "--no-report",
                           "--out", out],
                          capture_output=True, text=True, env=env, timeout=300)
    lines = [line for line in done.stdout.splitlines() if line.startswith("VmHWM")]
    assert lines, done.stderr
    return int(lines[0].split()[1]) * 1024  # kB


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
def test_the_estimate_is_close_to_the_measured_peak(tmp_path):
    """Peak RSS of `train` above that of a tiny run, against the estimate above the tiny run's
    estimate: within 0.7x to 1.3x. Each run allocates 60 MB or more, so that memory the
    allocator kept from start-up (it takes a few MB of new allocations) does not blur it."""
    base = dict(data_limit=20_000, updates=2, trace_every=1, eval_every=2, sample_every=0)
    configs = [dict(hidden_size=8),
               dict(cell="lstm", hidden_size=700, optimizer="adam"),  # parameters, saving
               dict(hidden_size=256, batch_size=64, seq_length=200)]  # the workspace
    corpus = Corpus.load("pydoc").head(20_000)
    rnnbench.train(dict(base, hidden_size=4))  # compiled and cached: no process compiles below
    measured, estimated = [], []
    for i, c in enumerate(configs):
        c = dict(base, **c)
        measured.append(_peak_rss(c, tmp_path / f"run{i}"))
        estimated.append(run_memory(RunConfig.build(c), corpus).total)
    for i in range(1, len(configs)):
        dm, de = measured[i] - measured[0], estimated[i] - estimated[0]
        assert de > 60 * MB, configs[i]  # large enough to stand out of the allocator's noise
        assert 0.7 <= dm / de <= 1.3, (configs[i], dm / MB, de / MB)
