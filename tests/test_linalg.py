"""The recurrence's matrix-vector product (kernels/linalg.py): the float64 loop may add in any
order, so it must still be W x to the last few ulp and still carry a NaN through."""
import numpy as np
import pytest

from rnnbench.kernels.timing import repeat_matvec


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-13), ("float32", 1e-5)])
@pytest.mark.parametrize("shape", [(100, 100), (37, 29), (512, 128), (1, 3)])
def test_matvec_is_w_times_x(dtype, rtol, shape):
    rng = np.random.default_rng(0)
    W = rng.standard_normal(shape).astype(dtype)
    x = rng.standard_normal(shape[1]).astype(dtype)
    out = np.full(shape[0], np.nan, dtype)
    repeat_matvec(1, W, x, out)
    exact = W.astype(np.float64) @ x.astype(np.float64)
    scale = np.abs(W).astype(np.float64) @ np.abs(x).astype(np.float64)  # error bound's scale
    assert out.dtype == dtype
    assert np.all(np.abs(out - exact) <= rtol * scale)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_matvec_carries_nan(dtype):
    W = np.ones((20, 11), dtype)
    x = np.ones(11, dtype)
    x[7] = np.nan
    out = np.zeros(20, dtype)
    repeat_matvec(1, W, x, out)
    assert np.isnan(out).all()
