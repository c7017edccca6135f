"""Gradient clipping and the optimizer updates, over the flat parameter vector: one step
function per optimizer (variants.OPTIMIZERS), chosen by its code in ``optimizer_step``.

The clipped gradient lives only in a register: ``grad`` keeps the raw gradient. A NaN gradient
stays NaN through clipping, so divergence shows up in the next loss.

An Optimizer carries what the update needs besides theta and the gradient: the optimizer's
and the clip mode's codes, ``hyper`` (theta's dtype; the hyperparameters in variants.HYPER's
order, read here by name) and the state vectors s1, s2 (empty where it keeps fewer). Updates,
with g the clipped gradient and t the 1-based update count:
  sgd       theta -= lr g
  momentum  v = momentum v + g;  theta -= lr v                  (PyTorch's SGD with momentum)
  adagrad   m += g^2;  theta -= lr g / sqrt(m + eps)            (min-char-rnn)
  rmsprop   m = decay m + (1 - decay) g^2;  theta -= lr g / sqrt(m + eps)   (DD2424 notes)
  adam      m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
            theta -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)    (Kingma & Ba 2015)
"""
from collections import namedtuple

import numpy as np

from ..variants import CLIP_MODES, HYPER_INDEX, OPTIMIZERS
from .jit import inline_kernel, kernel
from .mathfn import ONE

Optimizer = namedtuple("Optimizer", "code clip_mode hyper s1 s2")

SGD, MOMENTUM, ADAGRAD, RMSPROP, ADAM = (OPTIMIZERS[name].code for name in (
    "sgd", "momentum", "adagrad", "rmsprop", "adam"))
CLIP_VALUE, CLIP_NORM, CLIP_NONE = CLIP_MODES["value"], CLIP_MODES["norm"], CLIP_MODES["none"]
# where each hyperparameter sits in ``hyper``
H_LR, H_CLIP, H_EPS = HYPER_INDEX["learning_rate"], HYPER_INDEX["clip"], HYPER_INDEX["eps"]
H_MOMENTUM, H_DECAY = HYPER_INDEX["momentum"], HYPER_INDEX["decay"]
H_BETA1, H_BETA2 = HYPER_INDEX["beta1"], HYPER_INDEX["beta2"]


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
def optimizer_step(theta, grad, opt, t):
    """Clip ``grad`` (in registers) and apply update number ``t`` of ``opt`` to theta."""
    hyper = opt.hyper  # all of theta's dtype: float32 stays float32
    clip = hyper[H_CLIP]
    lo, hi, scale = -clip, clip, hyper.dtype.type(1.0)
    if opt.clip_mode == CLIP_NORM:
        lo, hi = hyper.dtype.type(-np.inf), hyper.dtype.type(np.inf)
        scale = hyper.dtype.type(norm_scale(grad, clip))
    elif opt.clip_mode == CLIP_NONE:
        lo, hi = hyper.dtype.type(-np.inf), hyper.dtype.type(np.inf)
    elif opt.clip_mode != CLIP_VALUE:
        raise ValueError("unknown clip mode code (see variants.CLIP_MODES)")
    if opt.code == ADAGRAD:
        adagrad(theta, grad, opt.s1, hyper, scale, lo, hi)
    elif opt.code == SGD:
        sgd(theta, grad, hyper, scale, lo, hi)
    elif opt.code == MOMENTUM:
        momentum(theta, grad, opt.s1, hyper, scale, lo, hi)
    elif opt.code == RMSPROP:
        rmsprop(theta, grad, opt.s1, hyper, scale, lo, hi)
    elif opt.code == ADAM:
        adam(theta, grad, opt.s1, opt.s2, hyper, scale, lo, hi, t)
    else:
        raise ValueError("unknown optimizer code (see variants.OPTIMIZERS)")


@inline_kernel
def sgd(theta, grad, hyper, scale, lo, hi):
    lr = hyper[H_LR]
    for i in range(theta.shape[0]):
        theta[i] -= lr * _clipped(grad[i] * scale, lo, hi)


@inline_kernel
def momentum(theta, grad, v, hyper, scale, lo, hi):
    lr, mu = hyper[H_LR], hyper[H_MOMENTUM]
    for i in range(theta.shape[0]):
        vi = mu * v[i] + _clipped(grad[i] * scale, lo, hi)
        v[i] = vi
        theta[i] -= lr * vi


@inline_kernel
def adagrad(theta, grad, mem, hyper, scale, lo, hi):
    lr, eps = hyper[H_LR], hyper[H_EPS]
    for i in range(theta.shape[0]):
        g = _clipped(grad[i] * scale, lo, hi)
        m = mem[i] + g * g
        mem[i] = m
        theta[i] -= lr * g / np.sqrt(m + eps)


@inline_kernel
def rmsprop(theta, grad, mean_square, hyper, scale, lo, hi):
    lr, eps, decay = hyper[H_LR], hyper[H_EPS], hyper[H_DECAY]
    for i in range(theta.shape[0]):
        g = _clipped(grad[i] * scale, lo, hi)
        m = decay * mean_square[i] + (ONE - decay) * g * g
        mean_square[i] = m
        theta[i] -= lr * g / np.sqrt(m + eps)


@inline_kernel
def adam(theta, grad, m1, m2, hyper, scale, lo, hi, t):
    lr, eps, b1, b2 = hyper[H_LR], hyper[H_EPS], hyper[H_BETA1], hyper[H_BETA2]
    c1 = hyper.dtype.type(1.0 / (1.0 - np.float64(b1) ** t))
    c2 = hyper.dtype.type(1.0 / (1.0 - np.float64(b2) ** t))
    for i in range(theta.shape[0]):
        g = _clipped(grad[i] * scale, lo, hi)
        m = b1 * m1[i] + (ONE - b1) * g
        v = b2 * m2[i] + (ONE - b2) * g * g
        m1[i] = m
        m2[i] = v
        theta[i] -= lr * (m * c1) / (np.sqrt(v * c2) + eps)
