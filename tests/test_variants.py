"""Every list of variants agrees with variants.py: the config's choices, the kernels' codes (and
an unknown code is an error, never another variant), the model's layout and state rows, the
PyTorch mapping, the NumPy reference, the checkpoint's optimizer slots, the named indices of
the packed arrays, and the run-id rule that lets a new field leave every id unchanged."""
import types
from typing import get_args

import numpy as np
import pytest

from rnnbench import compiled
from rnnbench.config import DEFAULT_LEARNING_RATE, RunConfig
from rnnbench.experiments import grid
from rnnbench.kernels import activations, network, optim, shapes, workspace
from rnnbench.model.model import Model, load_checkpoint
from rnnbench.model.torch_layout import from_torch, to_torch
from rnnbench.reference.cells import loss_fun
from rnnbench.training.state import CarriedState
from rnnbench.variants import (ACTIVATIONS, CELLS, CLIP_MODES, DIMS, DIMS_INDEX, HYPER,
                               HYPER_INDEX, OPTIMIZERS, SLOT_NAMES)

V, H, L = 5, 4, 2
UNKNOWN = 99


def _choices(name):
    return get_args(RunConfig.model_fields[name].annotation)


def test_config_choices_are_the_tables_keys():
    assert _choices("cell") == tuple(CELLS)
    assert _choices("activation") == tuple(ACTIVATIONS)
    assert _choices("optimizer") == tuple(OPTIMIZERS)
    assert _choices("clip_mode") == tuple(CLIP_MODES)
    assert DEFAULT_LEARNING_RATE == {k: o.learning_rate for k, o in OPTIMIZERS.items()}


def test_codes_are_distinct_and_the_kernels_name_them_alike():
    for table in ({k: c.code for k, c in CELLS.items()}, ACTIVATIONS,
                  {k: o.code for k, o in OPTIMIZERS.items()}, CLIP_MODES):
        assert sorted(table.values()) == list(range(len(table)))
    assert (network.RNN, network.LSTM, network.GRU) == tuple(
        CELLS[c].code for c in ("rnn", "lstm", "gru"))
    assert (activations.TANH, activations.RELU, activations.SIGMOID) == tuple(
        ACTIVATIONS[a] for a in ("tanh", "relu", "sigmoid"))
    assert (optim.SGD, optim.MOMENTUM, optim.ADAGRAD, optim.RMSPROP, optim.ADAM) == tuple(
        OPTIMIZERS[o].code for o in ("sgd", "momentum", "adagrad", "rmsprop", "adam"))
    assert (optim.CLIP_VALUE, optim.CLIP_NORM, optim.CLIP_NONE) == tuple(
        CLIP_MODES[m] for m in ("value", "norm", "none"))


def _chunk(model, T=3, B=2, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, model.vocab_size, (B, T))
    return ids, rng.integers(0, model.vocab_size, (B, T))


def _loss_with_dims(model, dims):
    """The compiled loss and gradient of one chunk with ``dims`` (the Model's, maybe altered)."""
    ids, targets = _chunk(model)
    B = ids.shape[0]
    state = np.zeros((model.state_rows, B, model.hidden_size))
    grad = np.zeros_like(model.theta)
    return compiled.loss_and_grads(
        model.theta, grad, dims, np.ascontiguousarray(ids.T).reshape(-1),
        np.ascontiguousarray(targets.T).reshape(-1), state, state.copy(), 0.0,
        np.uint64(compiled.dropout_key(0, 0)), True), grad


@pytest.mark.parametrize("cell", list(CELLS))
def test_every_cell_and_activation_is_a_kernel_and_matches_the_reference(cell):
    for activation in ACTIVATIONS:
        model = Model.create(cell, V, H, L, activation=activation, seed=1)
        ids, targets = _chunk(model)
        state = np.zeros((model.state_rows, ids.shape[0], H))
        ref_loss, ref_grads, _ = loss_fun(model, model.params, ids, targets, state)
        loss, grad = _loss_with_dims(model, model.dims(ids.shape[0]))
        assert loss == pytest.approx(ref_loss, rel=1e-10)
        views = model.views(grad)
        for name, _ in model.layout:
            np.testing.assert_allclose(views[name], ref_grads[name], rtol=1e-7, atol=1e-12)


def test_an_unknown_cell_or_activation_code_is_an_error():
    model = Model.create("rnn", V, H, 1, seed=1)
    for index in (DIMS_INDEX["cell"], DIMS_INDEX["activation"]):
        dims = model.dims(2)
        dims[index] = UNKNOWN
        with pytest.raises(ValueError, match="unknown (cell|activation) code"):
            _loss_with_dims(model, dims)
    stranger = types.SimpleNamespace(cell="mgu", activation="tanh", num_layers=1,
                                     hidden_size=H)
    ids, targets = _chunk(model)
    with pytest.raises(ValueError, match="unknown cell 'mgu'"):
        loss_fun(stranger, model.params, ids, targets, np.zeros((1, 2, H)))


def _opt(code, clip_mode, theta):
    hyper = np.array([0.1 if n == "learning_rate" else 5.0 if n == "clip" else 0.9 if n in (
        "beta1", "momentum", "decay") else 0.999 if n == "beta2" else 1e-8 for n in HYPER])
    return compiled.Optimizer(code, clip_mode, hyper, np.zeros_like(theta),
                              np.zeros_like(theta))


def test_every_optimizer_and_clip_code_is_a_kernel_and_an_unknown_one_is_an_error():
    theta, grad = np.ones(6), np.linspace(-8.0, 8.0, 6)
    for o in OPTIMIZERS.values():
        for mode in CLIP_MODES.values():
            t = theta.copy()
            compiled.repeat_optimizer(1, t, grad, _opt(o.code, mode, t))
            assert not np.array_equal(t, theta)
    with pytest.raises(ValueError, match="unknown optimizer code"):
        compiled.repeat_optimizer(1, theta.copy(), grad, _opt(UNKNOWN, 0, theta))
    with pytest.raises(ValueError, match="unknown clip mode code"):
        compiled.repeat_optimizer(1, theta.copy(), grad,
                                  _opt(OPTIMIZERS["adagrad"].code, UNKNOWN, theta))


@pytest.mark.parametrize("cell", list(CELLS))
def test_model_layout_state_and_dims_follow_the_cell_table(cell):
    spec = CELLS[cell]
    model = Model.create(cell, V, H, L, seed=0)
    G = spec.n_gates
    shapes_ = dict(model.layout)
    assert shapes_["Wxh"] == (G * H, V) and shapes_["Whh_l1"] == (G * H, H)
    names = [n for n, _ in model.layout if n.startswith("b") and n != "by"]
    assert [n for n in names if "_l" not in n] == list(spec.biases)
    assert [n[:-3] for n in names if n.endswith("_l1")] == list(spec.biases)
    assert model.state_rows == spec.state_rows * L
    assert model.zero_state().shape[0] == spec.state_rows * L
    dims = dict(zip(DIMS, model.dims(3)))
    assert dims == dict(cell=spec.code, activation=ACTIVATIONS["tanh"], vocab=V, hidden=H,
                        layers=L, batch=3, gates=G, biases=len(spec.biases),
                        state_rows=spec.state_rows, streams=3, first=0)
    part = dict(zip(DIMS, model.dims(2, 6, 4)))  # streams 4, 5 of a batch of 6
    assert (part["batch"], part["streams"], part["first"]) == (2, 6, 4)


@pytest.mark.parametrize("cell", list(CELLS))
def test_the_torch_mapping_covers_every_cell(cell):
    model = Model.create(cell, V, H, L, seed=2)
    sd = to_torch(cell, L, model.params)
    for layer in range(L):
        for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            assert sd[f"rnn.{kind}_l{layer}"].shape[0] == CELLS[cell].n_gates * H
    back = Model(cell, V, H, L)
    from_torch(sd, cell, back.params)
    np.testing.assert_array_equal(back.theta, model.theta)
    torch = pytest.importorskip("torch")
    module = getattr(torch.nn, CELLS[cell].torch_module)(V, H, L, batch_first=True)
    assert {f"rnn.{k}" for k in module.state_dict()} == {k for k in sd if k.startswith("rnn.")}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_slots_are_the_checkpoints_names(name, tmp_path):
    model = Model.create("rnn", V, H, 1, seed=0)
    state = CarriedState(model, 4, optimizer=name)
    arrays = state.arrays()
    assert [k for k in arrays if k not in ("h", "counters", "smooth")] == list(
        OPTIMIZERS[name].slots)
    assert set(OPTIMIZERS[name].slots) <= set(SLOT_NAMES)
    for k, slot in enumerate(OPTIMIZERS[name].slots):
        state.slots[k][:] = k + 1.5
    model.save(tmp_path / "c.npz", state.arrays())
    _, loaded, _ = load_checkpoint(tmp_path / "c.npz")
    for k, slot in enumerate(OPTIMIZERS[name].slots):
        np.testing.assert_array_equal(loaded[slot], np.full_like(model.theta, k + 1.5))


def test_packed_arrays_are_read_by_the_names_defined_once():
    assert set(HYPER) <= set(RunConfig.model_fields)
    assert set(HYPER[2:]) == {r for o in OPTIMIZERS.values() for r in o.reads}
    assert (optim.H_LR, optim.H_CLIP, optim.H_EPS, optim.H_MOMENTUM, optim.H_DECAY,
            optim.H_BETA1, optim.H_BETA2) == tuple(HYPER_INDEX[n] for n in (
                "learning_rate", "clip", "eps", "momentum", "decay", "beta1", "beta2"))
    # what the driver packs: each RunConfig field at its own index (distinct values)
    values = dict(learning_rate=0.25, clip=3.5, eps=1e-5, momentum=0.75, decay=0.875,
                  beta1=0.625, beta2=0.9375)
    assert set(values) == set(HYPER)
    config = RunConfig(**values)
    state = CarriedState(Model.create("rnn", V, H, 1), 4, config.learning_rate, config.clip,
                         **CarriedState.settings(config))
    assert {n: state.hyper[HYPER_INDEX[n]] for n in HYPER} == values
    assert state.opt.hyper is state.hyper
    assert (shapes.CELL, shapes.ACT, shapes.VOCAB, shapes.HIDDEN, shapes.LAYERS, shapes.BATCH,
            shapes.GATES, shapes.BIASES, shapes.STATE_ROWS, shapes.STREAMS,
            shapes.FIRST) == tuple(range(len(DIMS)))
    model = Model.create("gru", V, H, L)
    ws = compiled.workspace(model.dims(2), 3, model.theta, 0.0)
    assert len(ws) == len(workspace.WORKSPACE)
    assert ws[workspace.LOGITS].shape == (3 * 2, V) and ws[workspace.HH].shape == (2, 3 * H)


def test_a_new_field_at_its_default_leaves_every_run_id_unchanged(monkeypatch):
    assert set(grid.FIRST_FIELDS) <= set(RunConfig.model_fields)
    configs = [RunConfig(), RunConfig(cell="lstm", optimizer="adam", learning_rate=1e-3),
               RunConfig(hidden_size=32, num_layers=2, dropout=0.25)]
    before = [grid.run_id(c, "0" * 64) for c in configs]
    assert before[0] == "b50a39a9d34c"  # the id of the defaults since run ids were written

    class WithKnob(RunConfig):  # a field added later (say AdamW's weight decay)
        weight_decay: float = 0.0

    monkeypatch.setattr(grid, "RunConfig", WithKnob)
    knob = [WithKnob(**c.model_dump()) for c in configs]
    assert [grid.run_id(c, "0" * 64) for c in knob] == before
    moved = grid.run_id(knob[0].model_copy(update={"weight_decay": 0.01}), "0" * 64)
    assert moved not in before
