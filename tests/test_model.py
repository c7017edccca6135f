import math

import numpy as np
import pytest

from rnnbench.model.model import Model, load_checkpoint


def test_params_are_views_into_theta(small_model):
    m = small_model
    assert list(m.params) == ["Wxh", "Whh", "bh", "Why", "by"]
    assert m.params["Wxh"].shape == (16, m.vocab_size)
    assert m.params["Why"].shape == (m.vocab_size, 16)
    m.params["bh"][3] = 7.0
    assert 7.0 in m.theta
    assert np.all(m.params["by"] == 0) and np.all(m.params["bh"][[0, 1, 2]] == 0)


def test_init_is_randn_times_scale():
    m = Model.create("rnn", 50, 200, seed=0, init_scale=0.01)
    assert m.params["Whh"].std() == pytest.approx(0.01, rel=0.02)
    again = Model.create("rnn", 50, 200, seed=0)
    other = Model.create("rnn", 50, 200, seed=1)
    assert np.array_equal(m.theta, again.theta)
    assert not np.array_equal(m.theta, other.theta)


def test_untrained_loss_is_log_vocab_per_character(corpus):
    m = Model.create("rnn", corpus.vocab_size, 100, seed=0)
    ids = corpus.train_ids[:201]
    loss, _, _ = m.loss_and_grads(ids[:-1], ids[1:])
    assert loss / 200 == pytest.approx(math.log(corpus.vocab_size), rel=0.01)


def test_save_and_load_round_trip(tmp_path, small_model):
    path = tmp_path / "m.npz"
    mem = np.arange(float(small_model.theta.size))  # AdaGrad's memory: one value a weight
    small_model.save(path, arrays={"mem": mem}, info={"note": "x"})
    m, arrays, info = load_checkpoint(path)
    assert np.array_equal(m.theta, small_model.theta)
    assert m.chars == small_model.chars and m.hidden_size == 16
    assert np.array_equal(arrays["mem"], mem) and info == {"note": "x"}
    assert np.array_equal(Model.load(path).theta, small_model.theta)
    assert not list(tmp_path.glob(".*tmp"))


def test_torch_layout_round_trip_keeps_the_loss(corpus, small_model):
    sd = small_model.to_torch_state_dict()
    assert set(sd) == {"rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0",
                       "rnn.bias_hh_l0", "fc.weight", "fc.bias"}
    assert sd["rnn.weight_ih_l0"].shape == (16, corpus.vocab_size)
    assert np.all(sd["rnn.bias_hh_l0"] == 0)
    # PyTorch keeps two biases: import adds them
    sd["rnn.bias_hh_l0"] = sd["rnn.bias_ih_l0"] * 0.25
    sd["rnn.bias_ih_l0"] = sd["rnn.bias_ih_l0"] * 0.75
    back = Model.from_torch_state_dict(sd, "rnn", "tanh")
    ids = corpus.train_ids[:26]
    assert back.loss(ids[:-1], ids[1:]) == pytest.approx(small_model.loss(ids[:-1], ids[1:]),
                                                         rel=1e-14)


def test_to_torch_state_dict_maps_gradients_too(corpus, small_model):
    ids = corpus.train_ids[:26]
    _, grads, _ = small_model.loss_and_grads(ids[:-1], ids[1:])
    sd = small_model.to_torch_state_dict(grads)
    assert np.array_equal(sd["fc.weight"], grads["Why"])


def test_sampling_same_seed_same_text(small_model):
    a = small_model.sample("The ", 100, temperature=0.8, seed=11)
    b = small_model.sample("The ", 100, temperature=0.8, seed=11)
    c = small_model.sample("The ", 100, temperature=0.8, seed=12)
    assert a == b and a != c and len(a) == 100


def test_greedy_and_low_temperature_agree(corpus):
    import rnnbench
    model = rnnbench.train(corpus=corpus, hidden_size=32, updates=300, sample_every=0).model
    greedy = model.sample("The ", 60, greedy=True, seed=1)
    assert greedy == model.sample("The ", 60, greedy=True, seed=2)
    assert model.sample("The ", 60, temperature=1e-4, seed=3) == greedy


def test_prime_outside_vocabulary_is_an_error(small_model):
    with pytest.raises(ValueError, match="not in the vocabulary"):
        small_model.sample("日本", 10)


def test_bad_sampling_arguments(small_model):
    with pytest.raises(ValueError, match="temperature"):
        small_model.sample("a", 10, temperature=0)
    with pytest.raises(ValueError, match="prime"):
        small_model.sample("", 10)


def test_stale_kernel_cache_is_dropped(tmp_path):
    from rnnbench.compiled import STAMP, drop_stale_cache, sources_hash
    (tmp_path / "rnn.rnn_forward_backward-1.py311.nbi").write_text("old index")
    (tmp_path / "rnn.rnn_forward_backward-1.py311.1.nbc").write_text("old code")
    (tmp_path / STAMP).write_text("hash of other sources")
    assert drop_stale_cache([tmp_path]) == 2
    assert (tmp_path / STAMP).read_text() == sources_hash()
    (tmp_path / "x.nbi").write_text("fresh")
    assert drop_stale_cache([tmp_path]) == 0 and (tmp_path / "x.nbi").exists()


def test_validation_and_training_losses_are_the_same_numbers(corpus, small_model):
    ids = corpus.val_ids[:201]  # one block of the validation kernel: bit for bit
    h0 = np.tanh(np.random.default_rng(4).standard_normal(16))
    total, n = small_model.eval_loss(ids, h0)
    assert n == 200
    assert total == small_model.loss(ids[:-1], ids[1:], h0)
    longer = corpus.val_ids[:1001]  # blocks of 256 add up in another order
    total, _ = small_model.eval_loss(longer, h0)
    assert total == pytest.approx(small_model.loss(longer[:-1], longer[1:], h0), rel=1e-14)
