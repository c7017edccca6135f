"""Gradient clipping and the optimizer updates, over the flat parameter vector.

The clipped gradient lives only in a register: ``grad`` keeps the raw gradient. A NaN gradient
stays NaN through clipping, so divergence shows up in the next loss.

``hyper`` (theta's dtype) holds the hyperparameters in variants.HYPER's order, read here by
name. Updates, with g the clipped gradient and t the 1-based update count:
  sgd       theta -= lr g
  momentum  v = momentum v + g;  theta -= lr v                  (PyTorch's SGD with momentum)
  adagrad   m += g^2;  theta -= lr g / sqrt(m + eps)            (min-char-rnn)
  rmsprop   m = decay m + (1 - decay) g^2;  theta -= lr g / sqrt(m + eps)   (DD2424 notes)
  adam      m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
            theta -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)    (Kingma & Ba 2015)
"""
import numpy as np

from ..variants import CLIP_MODES, HYPER_INDEX, OPTIMIZERS
from .jit import inline_kernel, kernel
from .mathfn import ONE

# where each hyperparameter sits in ``hyper``
H_LR, H_CLIP, H_EPS = HYPER_INDEX["learning_rate"], HYPER_INDEX["clip"], HYPER_INDEX["eps"]
H_MOMENTUM, H_DECAY = HYPER_INDEX["momentum"], HYPER_INDEX["decay"]
H_BETA1, H_BETA2 = HYPER_INDEX["beta1"], HYPER_INDEX["beta2"]

SGD, MOMENTUM, ADAGRAD, RMSPROP, ADAM = (OPTIMIZERS[name].code for name in (
    "sgd", "momentum", "adagrad", "rmsprop", "adam"))
CLIP_VALUE, CLIP_NORM, CLIP_NONE = CLIP_MODES["value"], CLIP_MODES["norm"], CLIP_MODES["none"]


@inline_kernel
def _clipped(g, lo, hi):
    if g > hi:
        return hi
    if g < lo:
        return lo
    return g


@kernel
def norm_scale(grad, max_norm):
    """PyTorch's clip_grad_norm_ factor: min(1, max_norm / (||grad||_2 + 1e-6))."""
    acc = 0.0
    for i in range(grad.shape[0]):
        acc += np.float64(grad[i]) * grad[i]
    coef = max_norm / (np.sqrt(acc) + 1e-6)
    return coef if coef < 1.0 else 1.0


@kernel
def optimizer_step(theta, grad, s1, s2, opt, clip_mode, hyper, t):
    """Clip ``grad`` (in registers) and apply one update of optimizer ``opt`` to theta."""
    lr, clip, eps = hyper[H_LR], hyper[H_CLIP], hyper[H_EPS]  # all of theta's dtype: float32 stays float32
    lo, hi, scale = -clip, clip, hyper.dtype.type(1.0)
    if clip_mode != CLIP_VALUE:
        lo, hi = hyper.dtype.type(-np.inf), hyper.dtype.type(np.inf)
    if clip_mode == CLIP_NORM:
        scale = hyper.dtype.type(norm_scale(grad, clip))
    n = theta.shape[0]
    if opt == ADAGRAD:
        for i in range(n):
            g = _clipped(grad[i] * scale, lo, hi)
            m = s1[i] + g * g
            s1[i] = m
            theta[i] -= lr * g / np.sqrt(m + eps)
    elif opt == SGD:
        for i in range(n):
            theta[i] -= lr * _clipped(grad[i] * scale, lo, hi)
    elif opt == MOMENTUM:
        mu = hyper[H_MOMENTUM]
        for i in range(n):
            v = mu * s1[i] + _clipped(grad[i] * scale, lo, hi)
            s1[i] = v
            theta[i] -= lr * v
    elif opt == RMSPROP:
        decay = hyper[H_DECAY]
        for i in range(n):
            g = _clipped(grad[i] * scale, lo, hi)
            m = decay * s1[i] + (ONE - decay) * g * g
            s1[i] = m
            theta[i] -= lr * g / np.sqrt(m + eps)
    else:
        b1, b2 = hyper[H_BETA1], hyper[H_BETA2]
        c1 = hyper.dtype.type(1.0 / (1.0 - np.float64(b1) ** t))
        c2 = hyper.dtype.type(1.0 / (1.0 - np.float64(b2) ** t))
        for i in range(n):
            g = _clipped(grad[i] * scale, lo, hi)
            m = b1 * s1[i] + (ONE - b1) * g
            v = b2 * s2[i] + (ONE - b2) * g * g
            s1[i] = m
            s2[i] = v
            theta[i] -= lr * (m * c1) / (np.sqrt(v * c2) + eps)
