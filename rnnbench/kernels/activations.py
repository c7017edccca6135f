"""Hidden activations over short contiguous blocks, chosen at run time by a small integer code.

The code is tested once per block, outside the loop, so each loop is straight-line code that
LLVM vectorises. Derivatives are written in terms of the activation's *output* a (what the
forward pass stores): tanh' = 1 - a^2, sigmoid' = a (1 - a), relu' = [a > 0]. For ReLU that is
the derivative from the right at 0, a point the gradient check never evaluates exactly.
"""
from ..variants import ACTIVATIONS
from .jit import inline_kernel, kernel
from .mathfn import ONE, ZERO, sigmoid, tanh

TANH, RELU, SIGMOID = ACTIVATIONS["tanh"], ACTIVATIONS["relu"], ACTIVATIONS["sigmoid"]


@inline_kernel
def relu(x):
    return x if x > ZERO else ZERO * x  # NaN stays NaN


@kernel
def act_sum(code, a, b, out):
    """out[k] = act(a[k] + b[k])."""
    n = out.shape[0]
    if code == TANH:
        for k in range(n):
            out[k] = tanh(a[k] + b[k])
    elif code == RELU:
        for k in range(n):
            out[k] = relu(a[k] + b[k])
    elif code == SIGMOID:
        for k in range(n):
            out[k] = sigmoid(a[k] + b[k])
    else:
        raise ValueError("unknown activation code (see variants.ACTIVATIONS)")


@kernel
def act_inplace(code, x):
    """x[k] = act(x[k])."""
    n = x.shape[0]
    if code == TANH:
        for k in range(n):
            x[k] = tanh(x[k])
    elif code == RELU:
        for k in range(n):
            x[k] = relu(x[k])
    elif code == SIGMOID:
        for k in range(n):
            x[k] = sigmoid(x[k])
    else:
        raise ValueError("unknown activation code (see variants.ACTIVATIONS)")


@kernel
def act_grad(code, a, out):
    """out[k] = act'(x_k) given a[k] = act(x_k)."""
    n = out.shape[0]
    if code == TANH:
        for k in range(n):
            out[k] = ONE - a[k] * a[k]
    elif code == RELU:
        for k in range(n):
            out[k] = ONE if a[k] > ZERO else ZERO
    elif code == SIGMOID:
        for k in range(n):
            out[k] = a[k] * (ONE - a[k])
    else:
        raise ValueError("unknown activation code (see variants.ACTIVATIONS)")
