"""The course's gradient check (plain centred differences, its bound, its names) and records
mode's polish (a training sample is one record; no sample shows the end symbol; a .jsonl /
.json / .csv file read as plain text is warned about)."""
import json

import numpy as np
import pytest

from conftest import run_cli
from rnnbench.model.gradcheck import course_name, gradcheck
from rnnbench.model.model import Model
from rnnbench.text.corpus import Corpus
from rnnbench.training.driver import train


def test_the_course_names_beside_the_package_names():
    assert [course_name(n) for n in ("Wxh", "Whh", "Why", "bh", "by")] == \
        ["U", "W", "V", "b", "c"]
    assert course_name("Whh_l1") == "W_2" and course_name("bxh_l2") == "b_3"


def test_central_differences_pass_their_bound_and_catch_a_wrong_gradient():
    corpus = Corpus.load("pydoc", 0.0)
    ids = corpus.train_ids
    model = Model.create("rnn", corpus.vocab_size, 5, seed=7)
    r = gradcheck(model, ids[:25], ids[1:26], method="central")
    assert r.passed and r.step == 1e-4 and r.method == "central"
    assert r.threshold == pytest.approx(3.279e-6)
    assert 1e-8 < r.max_rel_error < 3e-6  # plain differences are coarser than sixth-order
    # the bound follows the step: both a coarse and a fine step pass theirs
    for step in (1e-3, 1e-5):
        assert gradcheck(model, ids[:25], ids[1:26], step=step, method="central").passed
    six = gradcheck(model, ids[:25], ids[1:26])
    assert six.max_rel_error < r.max_rel_error and six.threshold == 1e-7
    # a gradient that is wrong by a little: caught by the central check's bound
    real = model.loss_and_grads

    def off(*a, **k):
        loss, grads, h = real(*a, **k)
        grads["Whh"][0, 0] *= 1.0 + 1e-4
        return loss, grads, h
    model.loss_and_grads = off
    assert not gradcheck(model, ids[:25], ids[1:26], method="central").passed
    with pytest.raises(ValueError, match="method must be one of"):
        gradcheck(model, ids[:25], ids[1:26], method="forward")


def test_the_command_in_the_course_notation():
    code, out, _ = run_cli("gradcheck", "--step", "1e-4", "--method", "central")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[1].split()[:2] == ["course", "param"]
    assert [line.split()[0] for line in lines[2:7]] == ["U", "W", "b", "V", "c"]
    assert "plain centred difference; h = 0.0001" in out and "PASSED" in out
    code, out, _ = run_cli("gradcheck", "--method", "central", "--json")
    doc = json.loads(out)
    assert doc["method"] == "central" and doc["course_names"]["Why"] == "V"


def test_a_records_training_sample_is_one_record_without_its_end_symbol(lines_file, tmp_path):
    result = train(data=str(lines_file), records="lines", hidden_size=16, seq_length=10,
                   updates=600, sample_every=100, sample_length=400, learning_rate=0.3)
    end = result.model.end_symbol
    samples = result.samples[result.samples["kind"] == "training"]
    assert len(samples) == 7
    assert not samples["text"].str.contains(end, regex=False).any()
    assert (samples["prime"] == "").all()
    # trained a while, records end well before 400 characters: the samples stopped there
    assert samples["text"].str.len().iloc[-3:].max() < 400
    out = tmp_path / "run"
    assert run_cli("train", "--data", lines_file, "--records", "lines", "--hidden-size", "8",
                   "--updates", "200", "--out", out, "--quiet", "--no-report")[0] == 0
    code, text, _ = run_cli("sample", out, "--length", "100", "--count", "3")
    assert code == 0 and end not in text


@pytest.mark.parametrize("suffix, spec", [(".jsonl", "jsonl:<field>"),
                                          (".json", "jsonl:<field>"),
                                          (".csv", "csv:<column>")])
def test_a_records_file_without_records_is_warned_about(tmp_path, suffix, spec):
    path = tmp_path / f"tweets{suffix}"
    path.write_text("\n".join(f'{{"text": "tweet number {i} says hello"}}' for i in range(400)))
    code, _, stderr = run_cli("train", "--data", path, "--hidden-size", "4", "--updates", "5",
                              "--sample-every", "0", "--out", tmp_path / "r", "--quiet",
                              "--no-report")
    assert code == 0
    warning = [line for line in stderr.splitlines() if "warning" in line]
    assert len(warning) == 1 and f"--records {spec}" in warning[0]
    code, _, stderr = run_cli("train", "--data", path, "--records", "lines", "--hidden-size",
                              "4", "--updates", "5", "--sample-every", "0", "--out",
                              tmp_path / "r2", "--quiet", "--no-report")
    assert code == 0 and "warning" not in stderr
    assert np.isfinite(json.loads((tmp_path / "r2" / "summary.json").read_text())[
        "final_val_loss_per_char"])
