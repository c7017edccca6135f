import json

import numpy as np
import pytest

from conftest import run_cli
from rnnbench.model.gradcheck import gradcheck
from rnnbench.model.model import Model


def chunk(corpus, start, T):
    ids = corpus.train_ids[start:start + T + 1]
    return ids[:-1], ids[1:]


@pytest.mark.parametrize("seed, start", [(0, 0), (1, 0), (3, 1000), (5, 20000)])
def test_vanilla_hidden_5_max_relative_error_below_1e7(corpus, seed, start):
    model = Model.create("rnn", corpus.vocab_size, 5, seed=seed)
    xs, ys = chunk(corpus, start, 25)
    result = gradcheck(model, xs, ys, threshold=1e-7)
    assert result.passed, result.params
    assert set(result.params) == {"Wxh", "Whh", "bh", "Why", "by"}


def test_with_a_nonzero_initial_state(corpus):
    model = Model.create("rnn", corpus.vocab_size, 8, seed=2)
    xs, ys = chunk(corpus, 300, 25)
    h0 = np.tanh(np.random.default_rng(1).standard_normal(8))
    assert gradcheck(model, xs, ys, h0=h0, threshold=1e-7).passed


def test_a_loss_function_reads_the_weights_at_each_call(corpus):
    """The gradient check checks its chunk once (Model.loss_function) and then perturbs theta
    in place: each call must see the weights as they are then, with and without the ReLU
    fingerprint, and equal the one-off loss."""
    model = Model.create("rnn", corpus.vocab_size, 6, activation="relu", seed=1)
    xs, ys = chunk(corpus, 50, 12)
    plain = model.loss_function(xs, ys, dropout=0.2, mask_seed=3)
    with_pattern = model.loss_function(xs, ys, dropout=0.2, mask_seed=3, pattern=True)
    before = plain()[0]
    assert before == model.loss(xs, ys, dropout=0.2, mask_seed=3) == with_pattern()[0]
    pattern = with_pattern()[1]
    model.theta[:] *= -1.0  # flips every pre-activation: another loss, another active set
    assert plain()[0] == model.loss(xs, ys, dropout=0.2, mask_seed=3) != before
    assert with_pattern() == model.loss_and_pattern(xs, ys, dropout=0.2, mask_seed=3)
    assert with_pattern()[1] != pattern


def test_a_wrong_gradient_is_caught(corpus, monkeypatch):
    model = Model.create("rnn", corpus.vocab_size, 5, seed=0)
    xs, ys = chunk(corpus, 0, 25)
    original = Model.loss_and_grads

    def off_by_a_little(self, *args, **kwargs):
        loss, grads, h = original(self, *args, **kwargs)
        grads["Whh"][2, 3] *= 1.0 + 1e-5
        return loss, grads, h

    monkeypatch.setattr(Model, "loss_and_grads", off_by_a_little)
    result = gradcheck(model, xs, ys)
    assert not result.passed
    assert result.params["Whh"]["max_rel_error"] > 1e-7
    assert result.params["Why"]["max_rel_error"] < 1e-7


def test_the_check_restores_the_parameters(corpus):
    model = Model.create("rnn", corpus.vocab_size, 5, seed=0)
    before = model.theta.copy()
    gradcheck(model, *chunk(corpus, 0, 10))
    assert np.array_equal(model.theta, before)


def test_cli_table_and_exit_status():
    code, out, _ = run_cli("gradcheck", "--cell", "rnn", "--hidden-size", "5",
                           "--seq-length", "25")
    assert code == 0
    assert "PASSED" in out and "rel = |g_a - g_n|" in out
    for name in ("Wxh", "Whh", "bh", "Why", "by"):
        assert name in out


def test_cli_json():
    code, out, _ = run_cli("gradcheck", "--hidden-size", "5", "--json")
    assert code == 0
    obj = json.loads(out)
    assert obj["passed"] is True
    assert obj["max_rel_error"] <= 1e-7
    assert set(obj["params"]["Whh"]) == {"max_rel_error", "mean_rel_error"}


def test_cli_failing_threshold_gives_exit_1():
    code, out, _ = run_cli("gradcheck", "--hidden-size", "5", "--threshold", "1e-15")
    assert code == 1
    assert "FAILED" in out


@pytest.mark.parametrize("args, message", [
    (["--hidden-size", "0"], "hidden_size: Input should be greater than 0"),
    (["--dropout", "1"], "dropout: Input should be less than 1"),
    (["--init-scale", "0"], "init_scale: Input should be greater than 0"),
    (["--seed", "-1"], "seed: Input should be greater than or equal to 0"),
    (["--cell", "lstm", "--activation", "relu", "--seq-length", "1000000"],
     "fewer than seq_length + 1 = 1000001"),
])
def test_cli_checks_options_as_run_config_does(args, message):
    code, _, err = run_cli("gradcheck", *args)
    assert code == 2 and message in err and err.count("\n") == 1


def test_cli_options_are_run_config_fields(capsys):
    from rnnbench.cli import main
    with pytest.raises(SystemExit):
        main(["gradcheck", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "hidden units per layer (default: 5)" in text and "{rnn,lstm,gru}" in text
