"""The compiled network against rnnbench.reference.cells (plain NumPy), every cell, in float64."""
import numpy as np
import pytest

from rnnbench.model.model import Model
from rnnbench.reference.cells import ReferenceNetwork
from rnnbench.training.state import TrainState


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_updates_agree_with_numpy(corpus, cell, activation):
    model = Model.create(cell, corpus.vocab_size, 12, 2, activation, seed=4, init_scale=0.2)
    data = corpus.train_ids[:3000]
    ref = ReferenceNetwork(model, data, seq_length=10, batch_size=3)
    fast = TrainState(model, data, 10, batch_size=3)
    losses, smooths = np.zeros(3), np.zeros(3)
    assert fast.run(losses, smooths) == 3
    ref_losses = [ref.step()[0] for _ in range(3)]
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-11)
    for name, value in ref.params.items():
        np.testing.assert_allclose(model.params[name], value, rtol=1e-9, atol=1e-12,
                                   err_msg=name)
    np.testing.assert_allclose(fast.h, ref.state, rtol=1e-9, atol=1e-12)
