"""The smoothed 5-gram baseline: a distribution, sensible on tiny texts, and the measured figures."""
import math

import numpy as np
import pytest

from rnnbench.text.baselines import BASELINES, corpus_baselines, kneser_ney
from rnnbench.text.corpus import Corpus


def _next_char_probabilities(train, context, V, order):
    """p(c | context) for every c, read off the mean validation loss of context + c."""
    n = len(context)
    before = kneser_ney(train, np.array(context), V, order) * (n - 1) if n > 1 else 0.0
    return np.array([math.exp(before - kneser_ney(train, np.array(context + [c]), V, order) * n)
                     for c in range(V)])


@pytest.mark.parametrize("order", [1, 2, 3, 5])
@pytest.mark.parametrize("context", [[1, 2, 3, 0], [4, 4, 4, 4], [0]])
def test_kneser_ney_is_a_distribution(order, context):
    train = np.random.default_rng(0).integers(0, 4, 300)  # symbol 4 never occurs in training
    p = _next_char_probabilities(train, context, 5, order)
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    assert (p > 0).all()


def test_kneser_ney_learns_a_repeated_pattern():
    train, val = np.tile([0, 1, 2, 3], 200), np.tile([0, 1, 2, 3], 100)
    assert kneser_ney(train, val, 6) < 0.05 < math.log(6)
    assert kneser_ney(train, val, 6, order=1) == pytest.approx(math.log(4), abs=0.02)


def _losses(corpus):
    return {r["baseline"]: r["loss_per_char"] for r in corpus_baselines(corpus)}


def test_builtin_corpus_baselines(corpus):
    loss = _losses(corpus)
    assert list(loss) == list(BASELINES)
    expected = {"uniform": 4.635, "unigram": 3.237, "bigram": 2.323, "5gram": 1.238}
    assert loss == pytest.approx(expected, abs=2e-3)


def test_tinyshakespeare_baselines(shakespeare_path):
    # The issue quotes "about 1.77" for a smoothed 5-gram; interpolated Kneser-Ney with four
    # characters of context reaches 1.58 (Witten-Bell: 1.67; 1.77 is Witten-Bell's 4-gram).
    loss = _losses(Corpus.from_file(shakespeare_path, val_fraction=0.1))
    expected = {"uniform": 4.174, "unigram": 3.347, "bigram": 2.482, "5gram": 1.579}
    assert loss == pytest.approx(expected, abs=2e-3)
