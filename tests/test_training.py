import math

import numpy as np
import pytest

import rnnbench
from rnnbench.config import ConfigError, RunConfig
from rnnbench.text.corpus import Corpus, CorpusError

SMALL = dict(hidden_size=24, updates=400, trace_every=50, eval_every=200, sample_every=200,
             sample_length=40)


def test_same_seed_same_run(corpus):
    a = rnnbench.train(corpus=corpus, **SMALL)
    b = rnnbench.train(corpus=corpus, **SMALL)
    assert np.array_equal(a.model.theta, b.model.theta)
    cols = ["update", "loss", "smooth_loss", "val_loss_per_char"]
    assert a.trace[cols].equals(b.trace[cols])
    assert a.samples.equals(b.samples)
    c = rnnbench.train(corpus=corpus, **{**SMALL, "seed": 1})
    assert not np.array_equal(a.model.theta, c.model.theta)


def test_trace_samples_and_summary(corpus):
    r = rnnbench.train(corpus=corpus, **SMALL)
    t = r.trace
    assert list(t["update"]) == list(range(50, 401, 50))
    assert list(t["chars_seen"]) == [u * 25 for u in t["update"]]
    for col in ["epoch", "loss", "smooth_loss", "loss_per_char", "bits_per_char",
                "val_loss_per_char", "elapsed_s"]:
        assert col in t
    assert t["val_loss_per_char"].notna().sum() == 2
    np.testing.assert_allclose(t["bits_per_char"], t["loss_per_char"] / math.log(2))
    assert list(r.samples["update"]) == [0, 200, 400]
    assert all(len(s) == 40 for s in r.samples["text"])
    s = r.summary
    assert s["status"] == "ok" and s["updates"] == 400
    assert s["final_val_loss_per_char"] < math.log(corpus.vocab_size)
    assert s["updates_per_s"] > 0 and s["corpus_checksum"] == corpus.checksum


def test_smooth_loss_follows_the_recipe(corpus):
    r = rnnbench.train(corpus=corpus, hidden_size=10, updates=3, trace_every=1, sample_every=0)
    smooth = -math.log(1 / corpus.vocab_size) * 25
    for loss, s in zip(r.trace["loss"], r.trace["smooth_loss"]):
        smooth = 0.999 * smooth + 0.001 * loss
        assert s == pytest.approx(smooth, rel=1e-15)


def test_learning_lowers_the_loss(corpus):
    r = rnnbench.train(corpus=corpus, hidden_size=64, updates=1500, sample_every=0)
    first, last = r.trace["loss_per_char"].iloc[0], r.trace["loss_per_char"].iloc[-1]
    assert last < first - 0.5 and last < 3.2


def test_training_continues_from_a_model(corpus):
    first = rnnbench.train(corpus=corpus, **SMALL)
    again = rnnbench.train(corpus=corpus, model=first.model, **SMALL)
    assert again.trace["loss_per_char"].iloc[0] < first.trace["loss_per_char"].iloc[0]
    assert not np.array_equal(first.model.theta, again.model.theta)  # the input is not changed


def test_divergence_is_a_status_not_a_crash(corpus):
    r = rnnbench.train(corpus=corpus, hidden_size=8, updates=100, learning_rate=1e308,
                       sample_every=0)
    assert r.summary["status"] == "diverged"
    assert "nan" in r.summary["error"] or "inf" in r.summary["error"]
    assert r.summary["updates"] < 100
    assert not np.isfinite(r.trace["loss"].iloc[-1])


def test_wraps_reset_and_count_epochs():
    corpus = Corpus.from_text("abcdefghij" * 10, val_fraction=0.0)
    r = rnnbench.train(corpus=corpus, hidden_size=8, seq_length=10, updates=40, trace_every=10,
                       sample_every=0, val_fraction=0.0)
    # 100 characters, 10 per update: a wrap every 9 updates (p + 11 >= 100 at p = 90)
    assert list(r.trace["epoch"]) == [1, 2, 3, 4]
    assert math.isnan(r.summary["final_val_loss_per_char"])


def test_config_errors_name_the_key():
    with pytest.raises(ConfigError, match="unknown key 'hiden_size' \\(did you mean 'hidden_size'"):
        RunConfig.build({"hiden_size": 10})
    with pytest.raises(ConfigError, match="learning_rate: .*greater than 0.*-1"):
        RunConfig.build({"learning_rate": -1})
    with pytest.raises(ConfigError, match="hidden_size"):
        RunConfig.build({"hidden_size": "many"})
    with pytest.raises(ConfigError, match="cell: .*'rnn', 'lstm' or 'gru'.*'lstn'"):
        RunConfig.build({"cell": "lstn"})
    with pytest.raises(ConfigError, match="num_layers"):
        RunConfig.build({"num_layers": 0})
    with pytest.raises(ConfigError, match="dropout"):
        RunConfig.build({"dropout": 1.0})
    with pytest.raises(ConfigError, match="forget_bias: applies to the LSTM only"):
        RunConfig.build({"forget_bias": 1.0})


def test_learning_rate_defaults_per_optimizer():
    assert RunConfig(optimizer="adam").learning_rate == 1e-3
    assert RunConfig(optimizer="rmsprop").learning_rate == 1e-3
    assert RunConfig(optimizer="adagrad").learning_rate == 0.1
    assert RunConfig(optimizer="adam", learning_rate=0.02).learning_rate == 0.02


def test_recipe_defaults():
    c = RunConfig()
    assert (c.hidden_size, c.seq_length, c.learning_rate, c.clip, c.init_scale) == \
        (100, 25, 0.1, 5.0, 0.01)
    assert (c.cell, c.activation, c.optimizer, c.dtype) == ("rnn", "tanh", "adagrad", "float64")


def test_text_too_short_for_seq_length():
    corpus = Corpus.from_text("tiny text", val_fraction=0.0)
    with pytest.raises(CorpusError, match="fewer than seq_length"):
        rnnbench.train(corpus=corpus, updates=1)


def test_a_model_that_does_not_fit_the_config_is_an_error(corpus, small_model):
    with pytest.raises(ConfigError, match="hidden_size: the model has 16, the config 100"):
        rnnbench.train(corpus=corpus, model=small_model, hidden_size=100, updates=1)
    other = Corpus.from_text("abc" * 50, val_fraction=0.0)
    with pytest.raises(CorpusError, match="vocabulary"):
        rnnbench.train(corpus=other, model=small_model, hidden_size=16, updates=1)


def test_data_limit_trains_on_a_slice_it_can_memorise(corpus):
    result = rnnbench.train(data_limit=200, val_fraction=0.0, hidden_size=32, seq_length=20,
                   updates=1500, sample_every=0, eval_every=500, trace_every=500)
    s = result.summary
    assert s["train_chars"] == 200 and s["corpus"] == "pydoc[:200]"
    assert s["vocab_size"] == len(set(corpus.text[:200]))
    assert result.trace["loss_per_char"].iloc[-1] < 0.1  # about 3.4 nats/char untrained
