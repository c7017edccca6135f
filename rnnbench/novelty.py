"""Is a sample copied? The share of its character n-grams that never occur in the training text.

A sample's n-grams are its len - n + 1 overlapping windows of n characters, repeats counted.
Novelty 0 means every window appears somewhere in the training text (a copy, or a mosaic of
copied pieces); 1 means none does. A sample shorter than n has no n-grams: its novelty is NaN.
"""
import math

import numpy as np

DEFAULT_N = 8
_MIXER = np.uint64(0x9E3779B97F4A7C15)  # odd, so a wrapped polynomial hash still uses every id


def _codepoints(text):
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


class NgramIndex:
    """The n-grams of one training text, built once and queried for many samples.

    Each n-gram becomes one uint64: its ids over the text's alphabet as the digits of a number
    in base V (exact while V**n fits in 64 bits, i.e. V <= 256 for n = 8), or a wrapped
    polynomial hash beyond that (a false match has odds near 1e-19 per pair).
    """

    def __init__(self, text, n=DEFAULT_N):
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        self.n = n
        self.alphabet = np.unique(_codepoints(text))
        V = max(len(self.alphabet), 1)
        self.base = np.uint64(V) if V ** n <= 2 ** 64 else _MIXER
        # sorted for searchsorted; duplicates do no harm (np.unique is 100x slower here)
        self.keys = np.sort(self._keys(np.searchsorted(self.alphabet, _codepoints(text))))

    def _keys(self, ids):
        n, m = self.n, len(ids) - self.n + 1
        ids = ids.astype(np.uint64)
        keys = np.zeros(max(m, 0), dtype=np.uint64)
        for k in range(n):  # uint64 arithmetic wraps silently, as a hash should
            keys = keys * self.base + ids[k:k + m]
        return keys

    def novelty(self, text):
        """Share of ``text``'s n-grams absent from the training text (NaN when len < n)."""
        codes = _codepoints(text)
        m = len(codes) - self.n + 1
        if m < 1:
            return math.nan
        pos = np.minimum(np.searchsorted(self.alphabet, codes), max(len(self.alphabet) - 1, 0))
        unseen = (self.alphabet[pos] != codes) if len(self.alphabet) else np.ones(len(codes), bool)
        # a window holding a character the training text lacks is new whatever its key says
        unseen_before = np.concatenate([[0], np.cumsum(unseen)])
        has_unseen = unseen_before[self.n:] - unseen_before[:m] > 0
        keys = self._keys(pos)
        at = np.minimum(np.searchsorted(self.keys, keys), max(len(self.keys) - 1, 0))
        found = (self.keys[at] == keys) if len(self.keys) else np.zeros(m, bool)
        return float(np.mean(has_unseen | ~found))


def novelty(sample, training_text, n=DEFAULT_N):
    """Share of ``sample``'s n-grams that never occur in ``training_text`` (NaN when shorter
    than n). For many samples of one text, build an NgramIndex once instead."""
    return NgramIndex(training_text, n).novelty(sample)


_INDEXES = {}  # (corpus checksum, training characters, n) -> NgramIndex, per process


def training_index(corpus, n=DEFAULT_N):
    """The NgramIndex of ``corpus``'s training part, built once per process and text."""
    key = (corpus.checksum, len(corpus.train_ids), n)
    if key not in _INDEXES:
        if len(_INDEXES) >= 4:
            _INDEXES.pop(next(iter(_INDEXES)))
        _INDEXES[key] = NgramIndex(corpus.text[:len(corpus.train_ids)], n)  # = decode(train_ids)
    return _INDEXES[key]
