"""Exact resume: a run stopped anywhere (a chunk's end, Ctrl-C, a SIGKILL after a checkpoint, a
smaller budget) and continued has the trace, samples, checkpoint.npz and best.npz arrays of the
run done in one go, bit for bit (timing columns aside); chunk boundaries never matter; what
cannot be continued is refused in one line."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from conftest import run_cli
from diskfaults import subprocess_env
from rnnbench.experiments.results import TIMING_COLUMNS
from rnnbench.experiments.run_folder import check_run_folder, save_run
from rnnbench.experiments.sources import read_resume
from rnnbench.model.model import Model, load_checkpoint
from rnnbench.text.corpus import Corpus, prepare_corpus
from rnnbench.training.driver import train
from rnnbench.training.records import RecordTrainState
from rnnbench.training.state import TrainState

SMALL = dict(hidden_size=8, data_limit=20000, trace_every=50, eval_every=200, sample_every=300,
             sample_length=40)
CASES = {
    "rnn": dict(SMALL),
    "lstm-dropout-adam-batch2": dict(SMALL, cell="lstm", dropout=0.3, optimizer="adam",
                                     batch_size=2, num_layers=2),
    "records": dict(SMALL, records="lines", data_limit=0, seq_length=10),
}


def tables(result_or_folder):
    """(trace, samples) without their timing columns."""
    if isinstance(result_or_folder, (str, os.PathLike)):
        trace = pd.read_parquet(os.path.join(result_or_folder, "trace.parquet"))
        samples = pd.read_parquet(os.path.join(result_or_folder, "samples.parquet"))
    else:
        trace, samples = result_or_folder.trace, result_or_folder.samples
    return trace.drop(columns=TIMING_COLUMNS["trace"]), samples.reset_index(drop=True)


def assert_same_run(a, b):
    """Folders ``a`` and ``b`` hold the same run: tables, both checkpoints' arrays."""
    for x, y in zip(tables(a), tables(b)):
        pd.testing.assert_frame_equal(x, y, check_exact=True)
    for name in ("checkpoint.npz", "best.npz"):
        ma, xa, ia = load_checkpoint(os.path.join(a, name))
        mb, xb, ib = load_checkpoint(os.path.join(b, name))
        assert ma.theta.tobytes() == mb.theta.tobytes(), name
        assert sorted(xa) == sorted(xb)
        for key in xa:
            assert xa[key].tobytes() == xb[key].tobytes(), (name, key)
        assert ia.get("best") == ib.get("best")


def with_data(config, lines_file):
    return dict(config, data=lines_file) if config.get("records") else config


@pytest.mark.parametrize("case", CASES)
def test_stopped_at_several_points_and_resumed_is_the_run_in_one_go(tmp_path, case,
                                                                    lines_file):
    config = with_data(CASES[case], lines_file)
    whole = tmp_path / "whole"
    save_run(train(config, updates=1400), whole)
    assert check_run_folder(whole)["status"] == "ok"
    assert os.path.exists(whole / "best.npz")

    legs = tmp_path / "legs"
    asked = []

    def stop_after(k):  # stop at the k-th chunk end this session
        def should_stop():
            asked.append(1)
            return len(asked) % k == 0
        return should_stop

    first = train(config, updates=1400, should_stop=stop_after(7))
    assert first.summary["status"] == "stopped" and 0 < first.summary["updates"] < 1400
    save_run(first, legs)
    stops = [first.summary["updates"]]
    while True:
        resume = read_resume(legs)
        result = train(resume.config, resume=resume, should_stop=stop_after(5))
        save_run(result, legs)
        stops.append(result.summary["updates"])
        if result.summary["status"] == "ok":
            break
    assert len(stops) >= 3, stops  # stopped at several points
    assert_same_run(whole, legs)
    # a finished run continued to a larger budget (off every schedule: 1,400 % 300 != 0) is
    # also the longer run in one go
    longer = tmp_path / "longer"
    save_run(train(config, updates=2300), longer)
    resume = read_resume(legs)
    save_run(train(resume.config.replace(updates=2300), resume=resume), legs)
    assert_same_run(longer, legs)


@pytest.mark.parametrize("records", [False, True])
def test_chunk_boundaries_of_the_compiled_loop_do_not_matter(records, lines_file):
    config = with_data(CASES["records" if records else "lstm-dropout-adam-batch2"], lines_file)
    from rnnbench.config import RunConfig
    cfg = RunConfig.build(dict(config, updates=300))
    corpus = prepare_corpus(Corpus.from_config(cfg), cfg)
    results = []
    for chunks in ([300], [1, 2, 3, 44, 250], [7] * 42 + [6]):
        model = Model.create(cfg.cell, corpus.vocab_size, cfg.hidden_size, cfg.num_layers,
                             dtype=cfg.dtype, seed=cfg.seed, chars=corpus.chars)
        run = (RecordTrainState.from_config(model, corpus, cfg) if records
               else TrainState.from_config(model, corpus.train_ids, cfg))
        losses, smooths = [], []
        for k in chunks:
            lo, sm = np.zeros(k), np.zeros(k)
            assert run.run(lo, sm) == k
            losses.append(lo)
            smooths.append(sm)
        results.append((model.theta.tobytes(), np.concatenate(losses).tobytes(),
                        np.concatenate(smooths).tobytes(), run.h.tobytes(),
                        run.counters.tobytes(), [s.tobytes() for s in run.slots]))
    assert results[0] == results[1] == results[2]


CLI = ("--hidden-size", "8", "--data-limit", "20000", "--trace-every", "50", "--eval-every",
       "200", "--sample-every", "300", "--sample-length", "40", "--dropout", "0.2",
       "--no-report")  # the report: test_run_report.py


def _start(out, *extra):
    return subprocess.Popen([sys.executable, "-m", "rnnbench", "train", *CLI, "--out", str(out),
                             "--quiet", *extra], env=subprocess_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for_checkpoint(proc, out, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(out / "summary.json") and proc.poll() is None:
            return
        if proc.poll() is not None:
            pytest.fail(f"train ended before a checkpoint: {proc.communicate()}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail("no checkpoint written in time")


@pytest.mark.parametrize("how", ["ctrl-c", "sigkill", "sigkill-split"])
def test_a_killed_or_interrupted_train_resumes_to_the_same_run(tmp_path, how):
    """(sigkill-split: a batch of 16, which a lone run on 2 or more cores splits over threads,
    training/split.py; its parts are kept for the resume.)"""
    out = tmp_path / "run"
    cli = CLI + (("--batch-size", "16") if how.endswith("split") else ())
    proc = _start(out, "--updates", "100000000", "--checkpoint-every", "500",
                  *cli[len(CLI):])
    _wait_for_checkpoint(proc, out)
    proc.send_signal(signal.SIGINT if how == "ctrl-c" else signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=60)
    summary = check_run_folder(out)
    assert summary["status"] == "stopped"
    if how == "ctrl-c":
        assert proc.returncode == 130, stderr
        assert f"continue with: rnnbench train --resume {out}" in stdout
    else:
        assert proc.returncode == -signal.SIGKILL
    stopped = summary["updates"]
    target = stopped + 700
    code, stdout, stderr = run_cli("train", "--resume", out, "--updates", target, "--quiet",
                                   "--no-report")
    assert code == 0, stderr
    assert f"continuing from update {stopped:,}" in stdout
    # what a kill during a checkpoint's write left (a temporary folder) is gone
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    whole = tmp_path / "whole"
    code, _, stderr = run_cli("train", *cli, "--updates", target, "--out", whole, "--quiet")
    assert code == 0, stderr
    assert_same_run(whole, out)
    parts = load_checkpoint(os.path.join(out, "checkpoint.npz"))[2]["loop"]["parts"]
    assert parts == (min(2, len(os.sched_getaffinity(0))) if how.endswith("split") else 1)
    assert check_run_folder(out)["updates"] == target


def test_what_cannot_be_continued_is_refused_in_one_line(tmp_path):
    out = tmp_path / "run"
    assert run_cli("train", *CLI, "--updates", "300", "--out", out, "--quiet")[0] == 0
    before = {p: (out / p).read_bytes() for p in os.listdir(out) if (out / p).is_file()}
    for args, words in [
            (("--updates", "600", "--hidden-size", "16"), "hidden_size is 8 in the run"),
            ((), "finished its 300 updates; give --updates"),
            (("--updates", "300"), "updates: the run has 300 already"),
            (("--updates", "600", "--out", tmp_path / "other"), "drop --out")]:
        code, _, stderr = run_cli("train", "--resume", out, *args, "--quiet")
        assert code == 2 and words in stderr and len(stderr.strip().splitlines()) == 1, stderr
    assert {p: (out / p).read_bytes() for p in os.listdir(out) if (out / p).is_file()} == before
    # the same value given again is no change
    assert run_cli("train", "--resume", out, "--updates", "400", "--hidden-size", "8",
                   "--quiet", "--no-report")[0] == 0
    (tmp_path / "empty").mkdir()
    code, _, stderr = run_cli("train", "--resume", tmp_path / "empty", "--updates", "9")
    assert code == 2 and "not a run folder" in stderr
    # a damaged checkpoint is named, not trusted
    ckpt = out / "checkpoint.npz"
    ckpt.write_bytes(ckpt.read_bytes()[:-10])
    code, _, stderr = run_cli("train", "--resume", out, "--updates", "900")
    assert code == 2 and "damaged" in stderr
    # a diverged run is not continued
    div = tmp_path / "div"
    code, _, _ = run_cli("train", *CLI, "--updates", "300", "--learning-rate", "1e30",
                         "--out", div, "--quiet")
    assert code == 1
    code, _, stderr = run_cli("train", "--resume", div, "--updates", "900")
    assert code == 2 and "diverged" in stderr


def test_the_closing_line_gives_the_wall_clock_rate_and_the_training_rate(tmp_path):
    code, stdout, _ = run_cli("train", *CLI, "--updates", "300", "--out", tmp_path / "r",
                              "--quiet")
    assert code == 0
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    line = next(s for s in stdout.splitlines() if s.startswith("300 updates in"))
    wall_rate = 300 / summary["wall_s"]
    assert f"{wall_rate:,.0f} updates/s" in line.split("(")[0]
    assert f"training alone {summary['train_s']:.1f} s: {summary['updates_per_s']:,.0f}" in line
    trace = pd.read_parquet(tmp_path / "r" / "trace.parquet")
    assert trace["train_s"].is_monotonic_increasing
    assert trace["train_s"].iloc[-1] == pytest.approx(summary["train_s"])
