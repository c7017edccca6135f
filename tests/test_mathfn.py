"""The kernels' exp, tanh and sigmoid: a few ulp from libm in float64 and float32, NaN kept,
and a float32 argument computed (and returned) in float32."""
import numpy as np
import pytest
from numba import njit

from rnnbench.kernels.mathfn import exp_neg, sigmoid, tanh


@njit(cache=True)
def _apply(x, out, which):
    for i in range(x.shape[0]):
        if which == 0:
            out[i] = exp_neg(x[i])
        elif which == 1:
            out[i] = tanh(x[i])
        else:
            out[i] = sigmoid(x[i])


@njit(cache=True)
def _scalar_tanh(x):
    return tanh(x)


def _ulps(got, want, dtype):
    """|got - want| in units of the spacing of ``want`` rounded to ``dtype``."""
    spacing = np.spacing(np.abs(want).astype(dtype)).astype(np.float64)
    return np.abs(got.astype(np.float64) - want) / spacing


def _run(x, which):
    out = np.zeros_like(x)
    _apply(x, out, which)
    return out


@pytest.mark.parametrize("dtype, exp_min, max_ulp", [(np.float64, -708.0, 2.5),
                                                     (np.float32, -87.0, 1.5)])
def test_exp_neg_within_ulps_and_clamped(dtype, exp_min, max_ulp):
    x = np.concatenate([np.linspace(exp_min, 0, 100001),
                        -np.logspace(-12, np.log10(-exp_min), 5001)])
    x = x.astype(dtype)
    got = _run(x, 0)
    assert _ulps(got, np.exp(x.astype(np.float64)), dtype).max() <= max_ulp
    below = _run(np.array([exp_min - 5, -1e30], dtype), 0)
    assert np.all(below == _run(np.array([exp_min], dtype), 0))  # clamped to a normal number
    assert np.all(below >= np.finfo(dtype).tiny)


@pytest.mark.parametrize("dtype, max_ulp", [(np.float64, 2.5), (np.float32, 2.0)])
def test_tanh_and_sigmoid_within_ulps(dtype, max_ulp):
    x = np.concatenate([np.linspace(-40, 40, 100001), np.logspace(-12, 1.6, 5001),
                        -np.logspace(-12, 1.6, 5001)]).astype(dtype)
    wide = x.astype(np.float64)
    assert _ulps(_run(x, 1), np.tanh(wide), dtype).max() <= max_ulp
    assert _ulps(_run(x, 2), 1 / (1 + np.exp(-wide)), dtype).max() <= max_ulp + 1


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nan_stays_nan(dtype):
    x = np.array([np.nan], dtype)
    for which in range(3):
        assert np.isnan(_run(x, which)[0])


def test_float32_argument_gives_float32():
    _scalar_tanh(np.float32(0.5))
    _scalar_tanh(0.5)
    returns = {sig.args[0]: sig.return_type for sig in _scalar_tanh.nopython_signatures}
    assert {str(a): str(r) for a, r in returns.items()} == {"float32": "float32",
                                                           "float64": "float64"}
