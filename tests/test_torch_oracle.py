"""PyTorch autograd as an independent oracle (skipped when PyTorch is not installed)."""
import numpy as np
import pytest

from rnnbench.model.model import Model

torch = pytest.importorskip("torch")


def torch_loss_and_grads(state_dict, xs, ys, h0, vocab_size):
    """nn.RNN (batch_first) + nn.Linear, CrossEntropy summed over the chunk, as the course does."""
    H = state_dict["rnn.weight_hh_l0"].shape[0]
    rnn = torch.nn.RNN(vocab_size, H, batch_first=True, dtype=torch.float64)
    fc = torch.nn.Linear(H, vocab_size, dtype=torch.float64)
    net = torch.nn.ModuleDict({"rnn": rnn, "fc": fc})
    net.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v))
                         for k, v in state_dict.items()})
    xs, ys = np.asarray(xs, np.int64), np.asarray(ys, np.int64)  # a Corpus's ids are uint16
    x = torch.nn.functional.one_hot(torch.from_numpy(xs), vocab_size).double()[None]
    out, h_last = rnn(x, torch.from_numpy(h0)[None, None])
    loss = torch.nn.functional.cross_entropy(fc(out[0]), torch.from_numpy(ys), reduction="sum")
    loss.backward()
    grads = {k: p.grad.numpy() for k, p in net.named_parameters()}
    return loss.item(), grads, h_last.detach().numpy().ravel()


def test_loss_and_gradients_match_autograd(corpus):
    model = Model.create("rnn", corpus.vocab_size, 32, seed=9)
    model.params["bh"][...] = np.random.default_rng(0).standard_normal(32) * 0.1
    model.params["by"][...] = np.random.default_rng(1).standard_normal(corpus.vocab_size) * 0.1
    xs, ys = corpus.train_ids[3000:3025], corpus.train_ids[3001:3026]
    h0 = np.tanh(np.random.default_rng(2).standard_normal(32))
    loss, grads, h_last = model.loss_and_grads(xs, ys, h0)
    t_loss, t_grads, t_h = torch_loss_and_grads(model.to_torch_state_dict(), xs, ys, h0,
                                                corpus.vocab_size)
    assert loss == pytest.approx(t_loss, rel=1e-12)
    np.testing.assert_allclose(h_last, t_h, rtol=1e-12, atol=1e-15)
    ours = model.to_torch_state_dict(grads)
    for k, g in t_grads.items():
        if k == "rnn.bias_hh_l0":  # PyTorch's second bias has the same gradient as the first
            np.testing.assert_allclose(g, ours["rnn.bias_ih_l0"], rtol=1e-10, atol=1e-14)
        else:
            np.testing.assert_allclose(g, ours[k], rtol=1e-10, atol=1e-14, err_msg=k)


def test_a_trained_model_loads_into_pytorch(corpus):
    import rnnbench
    model = rnnbench.train(corpus=corpus, hidden_size=24, updates=200, sample_every=0).model
    xs, ys = corpus.val_ids[:50], corpus.val_ids[1:51]
    t_loss, _, _ = torch_loss_and_grads(model.to_torch_state_dict(), xs, ys, np.zeros(24),
                                        corpus.vocab_size)
    assert t_loss == pytest.approx(model.loss(xs, ys), rel=1e-12)
    # and back: a PyTorch state dict (tensors, two biases) becomes the same model
    rnn = torch.nn.RNN(corpus.vocab_size, 24, batch_first=True, dtype=torch.float64)
    sd = {f"rnn.{k}": v.detach() for k, v in rnn.state_dict().items()}
    sd.update({"fc.weight": torch.zeros(corpus.vocab_size, 24, dtype=torch.float64),
               "fc.bias": torch.zeros(corpus.vocab_size, dtype=torch.float64)})
    back = Model.from_torch_state_dict(sd, "rnn", "tanh")
    np.testing.assert_allclose(back.params["bh"],
                               (sd["rnn.bias_ih_l0"] + sd["rnn.bias_hh_l0"]).numpy())
