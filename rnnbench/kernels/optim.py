"""Gradient clipping and optimizer updates over the flat parameter vector."""
import numpy as np

from .jit import kernel


@kernel
def clip_adagrad(theta, grad, mem, lr, clip, eps):
    """min-char-rnn's update: g = clip(grad, -clip, clip); mem += g*g; theta -= lr*g/sqrt(mem+eps).

    The clipped value lives only in a register: ``grad`` keeps the raw gradient. A NaN gradient
    stays NaN (both comparisons are false), so divergence shows up in the next loss.
    """
    for i in range(theta.shape[0]):
        g = grad[i]
        if g > clip:
            g = clip
        elif g < -clip:
            g = -clip
        m = mem[i] + g * g
        mem[i] = m
        theta[i] -= lr * g / np.sqrt(m + eps)
