"""Dropout masks from a counter-based generator: a mask depends only on (key, layer, position),
so it does not depend on how a run is chunked, and the key only on (seed, update)."""
import numpy as np

from .jit import inline_kernel, kernel


@inline_kernel
def mix64(z):
    """splitmix64's finaliser (Steele et al. 2014): a bijection on 64 bits with full avalanche."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@kernel
def dropout_key(seed, update):
    """The mask key of one update of a run: masks are reproducible and independent of chunking."""
    return mix64(np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(update))


@kernel
def fill_mask(mask, key, layer, p, B, streams, first):
    """Inverted dropout: each element is 1/(1-p) with probability 1-p, else 0. ``mask`` holds
    time-major rows of B streams, streams first .. first + B - 1 of a batch of ``streams``:
    each element's draw depends on its place in the whole batch (row t*streams + first + b),
    so a batch split into parts draws the masks of the batch in one piece."""
    n_rows, H = mask.shape
    keep = 1.0 / (1.0 - p)
    base = np.uint64(layer) * np.uint64(n_rows // B * streams * H)
    for r in range(n_rows):
        g = (r // B) * streams + first + r % B
        for i in range(H):
            z = mix64(key + (base + np.uint64(g * H + i)) * np.uint64(0x9E3779B97F4A7C15))
            u = np.float64(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)  # 53 bits -> [0, 1)
            mask[r, i] = keep if u >= p else 0.0
