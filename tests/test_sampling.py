"""Sampling controls (temperature, greedy, top-k, stop id) and the sample command."""
import json
import math

import numpy as np
import pytest

from conftest import run_cli
from rnnbench.model.model import Model

LOGITS = {5: 2.0, 6: 1.5, 7: 1.0, 8: 0.0}  # every other id: -30


@pytest.fixture(scope="module")
def fixed():
    """A model whose next-character distribution ignores its input: softmax(by)."""
    model = Model.create("rnn", 20, 8, seed=0, chars=[chr(65 + i) for i in range(20)])
    model.params["Why"][:] = 0.0
    model.params["by"][:] = -30.0
    for i, v in LOGITS.items():
        model.params["by"][i] = v
    return model


def softmax(temperature):
    y = np.full(20, -30.0)
    for i, v in LOGITS.items():
        y[i] = v
    p = np.exp((y - y.max()) / temperature)
    return p / p.sum()


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_draws_follow_softmax_over_temperature(fixed, temperature):
    ids = fixed.sample_ids([0], 4000, temperature, seed=1)
    freq = np.bincount(ids, minlength=20) / len(ids)
    assert np.abs(freq - softmax(temperature)).max() < 0.03


def test_top_k_draws_among_the_k_likeliest_only(fixed):
    ids = fixed.sample_ids([0], 3000, 2.0, seed=2, top_k=2)
    assert set(ids) == {5, 6}
    p = softmax(2.0)[[5, 6]]
    assert np.mean(ids == 5) == pytest.approx(p[0] / p.sum(), abs=0.03)
    greedy = fixed.sample_ids([0], 50, greedy=True)
    assert np.array_equal(fixed.sample_ids([0], 50, 1.5, seed=3, top_k=1), greedy)
    assert set(greedy) == {5}
    # k >= V (or 0) is no restriction: the same draws
    assert np.array_equal(fixed.sample_ids([0], 200, seed=4, top_k=20),
                          fixed.sample_ids([0], 200, seed=4))


def test_a_stop_id_ends_the_sample_without_itself(fixed):
    full = fixed.sample_ids([0], 300, seed=5)
    stopped = fixed.sample_ids([0], 300, seed=5, stop_id=7)
    first = int(np.argmax(full == 7))
    assert 0 < first < 300 and np.array_equal(stopped, full[:first])
    assert len(fixed.sample_ids([0], 300, seed=5, stop_id=19)) == 300  # never drawn: max length
    text = fixed.sample("A", 300, seed=5, stop="H")
    assert text == fixed.decode(full[:first])


def test_same_seed_same_text_with_every_control(small_model):
    kw = dict(temperature=0.8, top_k=5, stop=" ")
    a = small_model.sample("The ", 100, seed=11, **kw)
    assert a == small_model.sample("The ", 100, seed=11, **kw)
    assert a != small_model.sample("The ", 100, seed=12, **kw) or len(a) < 3
    assert small_model.sample("The ", 0) == ""


def test_bad_controls(small_model):
    with pytest.raises(ValueError, match="top_k"):
        small_model.sample("a", 10, top_k=-1)
    with pytest.raises(ValueError, match="stop_id"):
        small_model.sample_ids([0], 10, stop_id=small_model.vocab_size)
    with pytest.raises(ValueError, match="one character"):
        small_model.sample("a", 10, stop="ab")


# -- the command -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample") / "run"
    code, _, err = run_cli("train", "--hidden-size", "12", "--updates", "200", "--out", out,
                           "--quiet", "--sample-every", "100", "--sample-length", "30",
                           "--no-report")
    assert code == 0, err
    return out


def test_several_temperatures_and_counts(run):
    code, out, _ = run_cli("sample", run, "--prime", "The ", "--temperature", "0.5", "1.5",
                           "--count", "2", "--seed", "7", "--length", "40")
    assert code == 0
    heads = [line for line in out.splitlines() if line.startswith("--- ")]
    assert [h.split(", novelty")[0] for h in heads] == [
        "--- temperature 0.5, seed 7", "--- temperature 0.5, seed 8",
        "--- temperature 1.5, seed 7", "--- temperature 1.5, seed 8"]
    single = run_cli("sample", run, "--prime", "The ", "--temperature", "1.5", "--seed", "8",
                     "--length", "40")
    assert single[0] == 0 and single[1].strip() in out
    assert "novelty" in single[2] and "novelty" not in single[1]


def test_json_document(run):
    code, out, _ = run_cli("sample", run, "--json", "--prime", "The ", "--temperature", "0.7",
                           "1.0", "--top-k", "10", "--count", "3", "--length", "50")
    assert code == 0
    doc = json.loads(out)
    assert doc["run"]["path"] == str(run) and doc["run"]["corpus"] == "pydoc"
    assert doc["settings"]["top_k"] == 10 and doc["settings"]["novelty_n"] == 8
    assert [(s["temperature"], s["seed"]) for s in doc["samples"]] == [
        (0.7, 0), (0.7, 1), (0.7, 2), (1.0, 0), (1.0, 1), (1.0, 2)]
    for s in doc["samples"]:
        assert len(s["text"]) == 50 and 0 <= s["novelty"] <= 1
    greedy = json.loads(run_cli("sample", run, "--json", "--greedy", "--count", "2")[1])
    assert greedy["samples"][0]["text"] == greedy["samples"][1]["text"]


def test_training_samples_carry_their_novelty(run):
    import pandas as pd
    samples = pd.read_parquet(run / "samples.parquet")
    assert (samples["novelty_n"] == 8).all() and samples["novelty"].between(0, 1).all()


def test_novelty_not_measured_without_the_training_text(tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("a small text about nothing in particular. " * 30)
    out = tmp_path / "run"
    assert run_cli("train", "--data", text, "--hidden-size", "8", "--updates", "20",
                   "--out", out, "--quiet", "--no-report")[0] == 0
    text.write_text("another text now")
    code, stdout, err = run_cli("sample", out, "--length", "20")
    assert code == 0 and "has changed since the run" in err and len(stdout) > 20
    doc = json.loads(run_cli("sample", out, "--length", "20", "--json")[1])
    assert doc["samples"][0]["novelty"] is None and doc["settings"]["novelty_note"]


@pytest.mark.parametrize("args, message", [
    (["--temperature", "0"], "--temperature must be > 0"),
    (["--temperature", "1", "-0.5"], "--temperature must be > 0"),
    (["--count", "0"], "--count must be >= 1"),
    (["--top-k", "-1"], "--top-k must be >= 0"),
    (["--best"], "not a grid results folder"),
    (["--prime", "日"], "not in the model's vocabulary"),
])
def test_bad_sample_options(run, args, message):
    code, _, err = run_cli("sample", run, *args)
    assert code == 2 and message in err and err.count("\n") == 1


def test_best_needs_a_finished_run(tmp_path):
    import pandas as pd
    pd.DataFrame(dict(run_id=["abc"], status=["failed"],
                      final_val_loss_per_char=[math.nan])).to_parquet(tmp_path / "runs.parquet")
    code, _, err = run_cli("sample", tmp_path, "--best")
    assert code == 2 and "no finished runs" in err and err.count("\n") == 1
    code, _, err = run_cli("sample", tmp_path)
    assert code == 2 and "add --best" in err
