"""The vectors the compiled loop streams start on a cache line (model/layout.on_cache_line):
a misaligned theta made the float64 update 8-16% slower. Aligning changes no value."""
import numpy as np
import pytest

import rnnbench
from rnnbench.model.layout import on_cache_line
from rnnbench.training.state import TrainState


@pytest.mark.parametrize("offset", [0, 1, 2, 3, 7])
def test_on_cache_line_copies_values_to_a_64_byte_boundary(offset):
    buf = np.arange(offset + 50, dtype=np.float64)
    a = buf[offset:].reshape(5, 10)
    out = on_cache_line(a)
    assert out.ctypes.data % 64 == 0
    assert out.dtype == a.dtype and out.shape == a.shape and np.array_equal(out, a)
    if a.ctypes.data % 64 == 0:
        assert out is a  # already aligned: no copy
    else:
        assert not np.shares_memory(out, a)


@pytest.mark.parametrize("optimizer", ["adagrad", "adam"])
def test_train_state_aligns_theta_grad_and_slots(optimizer):
    model = rnnbench.Model.create("rnn", 7, 5, seed=0)
    misaligned = np.empty(model.theta.size + 1)[1:]  # 8 bytes past numpy's alignment
    misaligned[:] = model.theta
    model.theta = misaligned
    before = misaligned.copy()
    state = TrainState(model, np.arange(200) % 7, 10, optimizer=optimizer)
    arrays = [model.theta, state.grad, state.opt.s1] + ([state.opt.s2] * (optimizer == "adam"))
    assert all(a.ctypes.data % 64 == 0 for a in arrays)
    assert np.array_equal(model.theta, before)
    assert all(np.shares_memory(v, model.theta) for v in model.params.values())
    assert state.opt.s1 is state.slots[0]  # the loop updates the arrays a checkpoint saves
    state.run(np.zeros(3), np.zeros(3))
    assert not np.array_equal(model.theta, before)  # trained in place, in the model
