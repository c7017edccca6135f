"""The model issue: cells, layers, dropout, batches, optimizers, clipping, float32."""
import numpy as np
import pytest

import rnnbench
from conftest import run_cli
from rnnbench.model.gradcheck import gradcheck_matrix
from rnnbench.kernels.optim import Optimizer, optimizer_step
from rnnbench.model.model import Model
from rnnbench.variants import CLIP_MODES, HYPER, OPTIMIZERS

TINY = "abcab cabba acca bbc aab caab cbab bacab abba cab cabbac bca acab ab cabab bcab abc\n"


def test_gradient_check_matrix_passes_at_1e6():
    """Every cell x activation x layers 1-3 x dropout off/on x batch 1/3, on a 6-symbol text."""
    corpus = rnnbench.Corpus.from_text(TINY, 0.0)
    rows = list(gradcheck_matrix(corpus.train_ids, corpus.vocab_size, seq_length=8))
    assert len(rows) == 3 * 3 * 3 * 2 * 2
    bad = [r for r in rows if not r["passed"]]
    assert not bad, bad
    assert max(r["max_rel_error"] for r in rows) <= 1e-6
    assert all(r["skipped"] == 0 for r in rows if r["activation"] != "relu")


def test_batch_loss_and_gradient_are_the_mean_over_streams():
    rng = np.random.default_rng(0)
    model = Model.create("lstm", 9, 7, 2, seed=3, init_scale=0.3)
    xs, ys = rng.integers(0, 9, (3, 10)), rng.integers(0, 9, (3, 10))
    loss, grads, state = model.loss_and_grads(xs, ys)
    singles = [model.loss_and_grads(xs[b], ys[b]) for b in range(3)]
    assert loss == pytest.approx(np.mean([s[0] for s in singles]), rel=1e-13)
    for k in grads:
        np.testing.assert_allclose(grads[k], np.mean([s[1][k] for s in singles], axis=0),
                                   rtol=1e-11, atol=1e-15)
    np.testing.assert_allclose(state[1], singles[1][2], rtol=1e-13, atol=1e-16)


def test_dropout_masks_follow_the_seed_and_are_off_for_evaluation():
    model = Model.create("rnn", 9, 32, 2, seed=1, init_scale=0.3)
    xs, ys = np.arange(20) % 9, (np.arange(20) + 1) % 9
    plain = model.loss(xs, ys)
    a = model.loss(xs, ys, dropout=0.5, mask_seed=1)
    b = model.loss(xs, ys, dropout=0.5, mask_seed=2)
    assert a == model.loss(xs, ys, dropout=0.5, mask_seed=1)
    assert a != b and a != plain
    assert model.loss(xs, ys, dropout=0.0, mask_seed=5) == plain
    total, n = model.eval_loss(np.append(xs, ys[-1]))
    assert total == pytest.approx(plain, rel=1e-12) and n == 20


def test_dropout_keeps_about_one_minus_p():
    from rnnbench.kernels.dropout import dropout_key, fill_mask
    mask = np.empty((400, 100))
    fill_mask(mask, np.uint64(dropout_key(3, 17)), 1, 0.3, 4, 4, 0)
    kept = mask > 0
    assert kept.mean() == pytest.approx(0.7, abs=0.01)
    assert np.allclose(mask[kept], 1 / 0.7)


SETTINGS = dict(learning_rate=0.05, clip=5.0, eps=1e-8, momentum=0.9, decay=0.9, beta1=0.9,
                beta2=0.999)


def numpy_step(opt, theta, g, s1, s2, t):
    """The documented formulas, written plainly."""
    lr, eps = SETTINGS["learning_rate"], SETTINGS["eps"]
    g = np.clip(g, -SETTINGS["clip"], SETTINGS["clip"])
    if opt == "sgd":
        return theta - lr * g, s1, s2
    if opt == "momentum":
        v = SETTINGS["momentum"] * s1 + g
        return theta - lr * v, v, s2
    if opt == "adagrad":
        m = s1 + g * g
        return theta - lr * g / np.sqrt(m + eps), m, s2
    if opt == "rmsprop":
        m = SETTINGS["decay"] * s1 + (1 - SETTINGS["decay"]) * g * g
        return theta - lr * g / np.sqrt(m + eps), m, s2
    b1, b2 = SETTINGS["beta1"], SETTINGS["beta2"]
    m, v = b1 * s1 + (1 - b1) * g, b2 * s2 + (1 - b2) * g * g
    return theta - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps), m, v


@pytest.mark.parametrize("opt", list(OPTIMIZERS))
def test_optimizer_updates_follow_their_formulas(opt):
    rng = np.random.default_rng(1)
    theta = rng.standard_normal(50)
    s1, s2 = np.abs(rng.standard_normal(50)), np.abs(rng.standard_normal(50))
    hyper = np.array([SETTINGS[name] for name in HYPER])
    ref = (theta.copy(), s1.copy(), s2.copy())
    for t in (1, 2, 3):
        g = rng.standard_normal(50) * 4  # some beyond the clip
        ref = numpy_step(opt, *ref[:1], g, *ref[1:], t)
        optimizer_step(theta, g, Optimizer(OPTIMIZERS[opt].code, CLIP_MODES["value"], hyper, s1,
                                           s2), t)
        np.testing.assert_allclose(theta, ref[0], rtol=1e-13, atol=1e-15)


def test_norm_clipping_scales_to_the_global_norm():
    g = np.full(100, 2.0)  # norm 20
    theta = np.zeros(100)
    hyper = np.array([dict(learning_rate=1.0, clip=5.0, eps=1e-8).get(name, 0.0) for name in HYPER])
    optimizer_step(theta, g, Optimizer(OPTIMIZERS["sgd"].code, CLIP_MODES["norm"], hyper, g[:0],
                                       g[:0]), 1)
    np.testing.assert_allclose(theta, -g * 5.0 / (20.0 + 1e-6), rtol=1e-14)
    theta[:] = 0
    optimizer_step(theta, g, Optimizer(OPTIMIZERS["sgd"].code, CLIP_MODES["none"], hyper, g[:0],
                                       g[:0]), 1)
    np.testing.assert_array_equal(theta, -g)


SMALL = dict(hidden_size=32, updates=600, sample_every=0, eval_every=600, trace_every=100,
             sample_length=20)


@pytest.mark.parametrize("overrides", [
    dict(optimizer="sgd"), dict(optimizer="momentum"), dict(optimizer="rmsprop"),
    dict(optimizer="adam", learning_rate=3e-3), dict(cell="lstm", optimizer="adam",
    learning_rate=3e-3), dict(cell="gru", optimizer="adam", learning_rate=3e-3),
    dict(activation="relu"), dict(activation="sigmoid"), dict(num_layers=2, dropout=0.2),
    dict(batch_size=4), dict(dtype="float32"), dict(clip_mode="norm"),
], ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_every_variant_learns(corpus, overrides):
    result = rnnbench.train(corpus=corpus, **SMALL, **overrides)
    first, last = result.trace["loss_per_char"].iloc[[0, -1]]
    assert result.summary["status"] == "ok"
    assert last < first - 0.1, (first, last)
    assert np.isfinite(result.summary["final_val_loss_per_char"])


def test_float32_is_float32_everywhere(corpus, tmp_path):
    result = rnnbench.train(corpus=corpus, dtype="float32", optimizer="adam", cell="lstm",
                            hidden_size=16, updates=50, sample_every=0)
    assert result.model.theta.dtype == np.float32
    assert {k: v.dtype for k, v in result.optimizer_state.items() if k in ("m", "v", "h")} == \
        {"m": np.float32, "v": np.float32, "h": np.float32}
    from rnnbench.experiments.run_folder import save_run
    from rnnbench.model.model import load_checkpoint
    model, arrays, _ = load_checkpoint(save_run(result, tmp_path) / "checkpoint.npz")
    assert model.theta.dtype == np.float32 and arrays["m"].dtype == np.float32
    f64 = rnnbench.train(corpus=corpus, optimizer="adam", cell="lstm", hidden_size=16,
                         updates=1, sample_every=0)
    assert result.trace["loss"].iloc[0] != f64.trace["loss"].iloc[0]


def test_same_seed_same_run_with_dropout_and_batches(corpus):
    cfg = dict(SMALL, updates=200, cell="gru", num_layers=2, dropout=0.3, batch_size=3)
    a, b = rnnbench.train(corpus=corpus, **cfg), rnnbench.train(corpus=corpus, **cfg)
    np.testing.assert_array_equal(a.model.theta, b.model.theta)
    c = rnnbench.train(corpus=corpus, **dict(cfg, seed=1))
    assert not np.array_equal(a.model.theta, c.model.theta)


def test_forget_bias_and_sampling_of_a_deep_lstm(corpus):
    model = Model.create("lstm", corpus.vocab_size, 8, 3, seed=0, chars=corpus.chars,
                         forget_bias=1.0)
    for s in ("", "_l1", "_l2"):
        b = model.params["bh" + s]
        assert np.all(b[8:16] == 1.0) and np.all(b[:8] == 0) and np.all(b[16:] == 0)
    one = model.sample("The ", 50, temperature=0.8, seed=4)
    assert one == model.sample("The ", 50, temperature=0.8, seed=4) and len(one) == 50


def test_cli_trains_the_issue_example(tmp_path):
    code, out, err = run_cli("train", "--cell", "lstm", "--num-layers", "2", "--dropout", "0.3",
                             "--optimizer", "adam", "--learning-rate", "2e-3", "--batch-size",
                             "32", "--hidden-size", "16", "--updates", "3", "--quiet",
                             "--out", tmp_path / "run")
    assert code == 0, err
    code, out, _ = run_cli("sample", tmp_path / "run", "--length", "30", "--seed", "1")
    assert code == 0 and len(out) >= 30
