"""Every cell and activation against PyTorch autograd (skipped when PyTorch is not installed).

Two oracles: PyTorch's own nn.RNN/nn.LSTM/nn.GRU where they exist (tanh everywhere, and ReLU
for nn.RNN), and otherwise the same documented equations written out with torch operations,
so autograd, not our BPTT, differentiates them.
"""
import numpy as np
import pytest

from rnnbench.model.model import Model

torch = pytest.importorskip("torch")

V, H, L, B, T = 11, 6, 2, 3, 7
COMBOS = [(c, a) for c in ("rnn", "lstm", "gru") for a in ("tanh", "relu", "sigmoid")]
NATIVE = {("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")}
ACT = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}


def make_case(cell, activation, seed=0):
    rng = np.random.default_rng(seed)
    model = Model.create(cell, V, H, L, activation, seed=seed, init_scale=0.4)
    for name, p in model.params.items():
        if name.startswith("b"):
            p[...] = rng.standard_normal(p.shape) * 0.3
    xs, ys = rng.integers(0, V, (B, T)), rng.integers(0, V, (B, T))
    state = rng.standard_normal((B, model.state_rows, H)) * 0.5  # h per layer, then LSTM c
    return model, xs, ys, state


def manual_forward(cell, act, sd, xs, state):
    """PyTorch's equations with the activation swapped in, unrolled with torch operations."""
    f = ACT[act]
    x = torch.nn.functional.one_hot(torch.from_numpy(xs), V).double()   # B, T, V
    st = torch.from_numpy(state)
    outs = x
    for l in range(L):
        W, U = sd[f"rnn.weight_ih_l{l}"], sd[f"rnn.weight_hh_l{l}"]
        bi, bh = sd[f"rnn.bias_ih_l{l}"], sd[f"rnn.bias_hh_l{l}"]
        h = st[:, l]
        c = st[:, L + l] if cell == "lstm" else None
        seq = []
        for t in range(T):
            gi, gh = outs[:, t] @ W.T + bi, h @ U.T + bh
            if cell == "rnn":
                h = f(gi + gh)
            elif cell == "lstm":
                i, fg, g, o = (gi + gh).chunk(4, dim=1)
                c = torch.sigmoid(fg) * c + torch.sigmoid(i) * f(g)
                h = torch.sigmoid(o) * f(c)
            else:
                ir, iz, in_ = gi.chunk(3, dim=1)
                hr, hz, hn = gh.chunk(3, dim=1)
                r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
                n = f(in_ + r * hn)
                h = (1 - z) * n + z * h
            seq.append(h)
        outs = torch.stack(seq, dim=1)
    return outs


def native_forward(cell, act, sd, xs, state):
    kind = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    kw = {"nonlinearity": act} if cell == "rnn" else {}
    net = kind(V, H, L, batch_first=True, dtype=torch.float64, **kw)
    net.load_state_dict({k[4:]: v for k, v in sd.items() if k.startswith("rnn.")})
    x = torch.nn.functional.one_hot(torch.from_numpy(xs), V).double()
    st = torch.from_numpy(state).transpose(0, 1).contiguous()   # layers first
    h0 = st[:L]
    out, _ = net(x, (h0, st[L:]) if cell == "lstm" else h0)
    return out, dict(net.named_parameters())


def torch_loss(sd, outs, ys):
    logits = outs @ sd["fc.weight"].T + sd["fc.bias"]
    return torch.nn.functional.cross_entropy(logits.reshape(-1, V),
                                             torch.from_numpy(ys).reshape(-1),
                                             reduction="sum") / B


@pytest.mark.parametrize("cell, activation", COMBOS)
def test_loss_and_gradients_match_autograd(cell, activation):
    model, xs, ys, state = make_case(cell, activation)
    loss, grads, _ = model.loss_and_grads(xs, ys, state)
    sd = {k: torch.tensor(v, requires_grad=True) for k, v in model.to_torch_state_dict().items()}
    t_loss = torch_loss(sd, manual_forward(cell, activation, sd, xs, state), ys)
    t_loss.backward()
    assert loss == pytest.approx(t_loss.item(), rel=1e-12)
    ours = model.to_torch_state_dict(grads)
    for k, p in sd.items():
        expect = p.grad.numpy()
        if k.startswith("rnn.bias_hh") and cell != "gru":  # one bias: same gradient as bias_ih
            k = k.replace("bias_hh", "bias_ih")
        np.testing.assert_allclose(ours[k], expect, rtol=1e-9, atol=1e-13, err_msg=k)


@pytest.mark.parametrize("cell, activation", sorted(NATIVE))
def test_exported_weights_give_the_same_loss_in_pytorch_modules(cell, activation):
    model, xs, ys, state = make_case(cell, activation, seed=1)
    sd = {k: torch.from_numpy(v) for k, v in model.to_torch_state_dict().items()}
    out, params = native_forward(cell, activation, sd, xs, state)
    t_loss = torch_loss(sd, out, ys)
    assert t_loss.item() == pytest.approx(model.loss(xs, ys, state), rel=1e-12)
    # and back: PyTorch's own initialisation (two random biases) imports to the same loss
    tsd = {f"rnn.{k}": v.detach() for k, v in params.items()}
    tsd.update({"fc.weight": sd["fc.weight"], "fc.bias": sd["fc.bias"]})
    back = Model.from_torch_state_dict(tsd, cell, activation)
    assert back.num_layers == L and back.hidden_size == H
    out2, _ = native_forward(cell, activation, tsd, xs, state)
    assert back.loss(xs, ys, state) == pytest.approx(torch_loss(tsd, out2, ys).item(), rel=1e-12)
