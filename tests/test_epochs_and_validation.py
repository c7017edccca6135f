"""--epochs (one pass of the data pointer over the training text, as the loop counts it; in
train and in grids) and the validation slice (val_slice characters every eval_every, the whole
tail at the end, kept apart in the trace)."""
import json

import numpy as np
import pytest

from conftest import run_cli
from rnnbench.config import RunConfig
from rnnbench.text.corpus import Corpus, prepare_corpus
from rnnbench.training.driver import train
from rnnbench.training.epochs import updates_per_epoch

TINY = dict(hidden_size=4, sample_every=0, eval_every=50, trace_every=50)


@pytest.mark.parametrize("settings", [
    dict(data_limit=5000), dict(data_limit=5000, batch_size=3, seq_length=7),
    dict(data_limit=53, val_fraction=0.0), "records", "records-batch3"])
def test_an_epoch_is_the_updates_one_pass_takes(settings, lines_file):
    if isinstance(settings, str):
        settings = dict(data=lines_file, records="lines", seq_length=10,
                        batch_size=3 if settings.endswith("3") else 1)
    config = RunConfig.build(dict(TINY, **settings))
    corpus = prepare_corpus(Corpus.from_config(config), config)
    u = updates_per_epoch(config, corpus)
    assert u >= 1
    for epochs in (1, 2):
        assert train(config, updates=epochs * u - 1).summary["epochs"] == epochs - 1
        result = train(config.replace(epochs=epochs))
        assert result.summary["updates"] == epochs * u and result.summary["epochs"] == epochs
        assert result.config.updates == epochs * u and result.config.epochs == epochs
    # a fraction of an epoch is rounded up to whole updates
    assert train(config.replace(epochs=0.5)).summary["updates"] == -(-u // 2)


def test_epochs_on_the_command_line_and_in_a_grid(tmp_path):
    out = tmp_path / "run"
    code, stdout, stderr = run_cli("train", "--hidden-size", "4", "--data-limit", "5000",
                                   "--epochs", "2", "--sample-every", "0", "--out", out,
                                   "--quiet", "--no-report")
    assert code == 0, stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs"] == 2 and summary["updates"] == 2 * 179
    code, _, stderr = run_cli("train", "--epochs", "2", "--updates", "9", "--out",
                              tmp_path / "x")
    assert code == 2 and "--updates or --epochs, not both" in stderr
    code, _, stderr = run_cli("train", "--resume", out, "--epochs", "3", "--quiet",
                              "--no-report")
    assert code == 0, stderr
    assert json.loads((out / "summary.json").read_text())["epochs"] == 3
    grid = tmp_path / "e.yaml"
    grid.write_text("name: e\ndata: pydoc\nbase: {hidden_size: 4, data_limit: 5000, "
                    "sample_every: 0}\ngrid:\n  epochs: [1, 2]\n")
    code, _, stderr = run_cli("run", grid, "--jobs", "1", "--out", tmp_path / "res",
                              "--quiet", "--no-report")
    assert code == 0, stderr
    import pandas as pd
    runs = pd.read_parquet(tmp_path / "res" / "runs.parquet").sort_values("epochs")
    assert list(runs["epochs_done"]) == [1, 2] and list(runs["updates_done"]) == [179, 358]


def test_the_validation_slice_and_the_whole_tail_are_kept_apart():
    base = dict(TINY, data_limit=40000, updates=300, eval_every=100)
    whole = train(base)
    sliced = train(base, val_slice=500)
    t0, t1 = whole.trace, sliced.trace
    # training is the same; only what validation reads differs
    assert np.array_equal(t0["loss"], t1["loss"])
    full0 = t0["val_full_loss_per_char"].dropna()
    full1 = t1["val_full_loss_per_char"].dropna()
    assert list(full0.index) == list(full1.index) == [len(t0) - 1]  # at the end only
    assert full1.iloc[0] == full0.iloc[0] == whole.summary["final_val_loss_per_char"] \
        == sliced.summary["final_val_loss_per_char"]
    assert full0.iloc[0] == t0["val_loss_per_char"].iloc[-1]  # no slice: the same reading
    assert t1["val_loss_per_char"].iloc[-1] != full1.iloc[0]
    # the slice is the tail's first 500 characters read on from the carried state: a slice
    # as long as the tail is the tail
    assert np.array_equal(train(base, val_slice=10**9).trace["val_loss_per_char"],
                          t0["val_loss_per_char"], equal_nan=True)
    assert 0 < sliced.summary["val_s"] < sliced.summary["wall_s"]
    assert sliced.summary["best_val_loss_per_char"] == t1["val_loss_per_char"].min()


def test_a_records_slice_reads_whole_records(lines_file):
    base = dict(TINY, data=lines_file, records="lines", seq_length=10, updates=100,
                eval_every=100)
    a = train(base, val_slice=1)  # at least one record
    b = train(base)
    assert np.isfinite(a.trace["val_loss_per_char"].iloc[-1])
    assert a.trace["val_full_loss_per_char"].iloc[-1] == b.trace["val_loss_per_char"].iloc[-1]


@pytest.mark.parametrize("records", [False, True])
def test_validation_beside_training_is_the_in_line_path_bit_for_bit(records, lines_file):
    base = dict(TINY, data_limit=40000, updates=300, val_slice=500, sample_every=100,
                eval_every=50)
    if records:
        base.update(data=lines_file, records="lines", seq_length=10)
    runs = {}
    for beside in (False, True):
        seen = []
        runs[beside] = train(base, validate_beside=beside, checkpoint_every=100,
                             on_checkpoint=seen.append, passage=True), seen
    (line, line_cps), (thread, thread_cps) = runs[False], runs[True]
    clocks = ["elapsed_s", "train_s"]
    for a, b in [(line, thread)] + list(zip(line_cps, thread_cps)):
        assert a.trace.drop(columns=clocks).equals(b.trace.drop(columns=clocks))
        assert a.samples.equals(b.samples)
        assert np.array_equal(a.best.theta, b.best.theta)
        assert np.array_equal(a.best_arrays.get("h"), b.best_arrays.get("h"))
        for key in ("best_checkpoint_update", "best_val_loss_per_char",
                    "final_val_loss_per_char"):
            assert a.summary[key] == b.summary[key] or np.isnan(a.summary[key])
    assert len(line_cps) == len(thread_cps) == 2
    assert line.trace["val_loss_per_char"].notna().sum() == 6
