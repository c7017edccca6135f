"""Is a sample copied? The share of its character n-grams that never occur in the training text.

A sample's n-grams are its len - n + 1 overlapping windows of n characters, repeats counted.
Novelty 0 means every window appears somewhere in the training text (a copy, or a mosaic of
copied pieces); 1 means none does. A sample shorter than n has no n-grams: its novelty is NaN.
"""
import math

import numpy as np

from .charids import codepoints as _codepoints
from .ngrams import bincount, ngram_counts, window_keys

DEFAULT_N = 8
_MIXER = np.uint64(0x9E3779B97F4A7C15)  # odd, so a wrapped polynomial hash still uses every id


class NgramIndex:
    """The n-grams of one training text, built once and queried for many samples.

    Each n-gram becomes one uint64: its ids over the text's alphabet as the digits of a number
    in base V (exact while V**n fits in 64 bits, i.e. V <= 256 for n = 8), or a wrapped
    polynomial hash beyond that (a false match has odds near 1e-19 per pair). The distinct keys
    are kept, sorted, built a chunk of the text at a time (rnnbench.text.ngrams): 8 bytes per
    distinct n-gram, never more than per position.
    """

    def __init__(self, text, n=DEFAULT_N):
        alphabet = np.unique(_codepoints(text)) if text else np.zeros(0, np.uint32)
        self._build(alphabet, n, _Digits(len(text), lambda lo, hi: np.searchsorted(
            alphabet, _codepoints(text[lo:hi]))))

    @classmethod
    def from_ids(cls, ids, chars, n=DEFAULT_N):
        """The index of the text ``ids`` encode over the vocabulary ``chars`` (no decoded copy):
        the same keys as NgramIndex(decoded text, n)."""
        index = cls.__new__(cls)
        present = bincount(ids, len(chars)) > 0
        rank = np.cumsum(present) - 1  # id -> digit: its place among the characters present
        points = np.array([ord(c) for c in chars], dtype=np.uint32)
        index._build(points[present], n, _Digits(len(ids), lambda lo, hi: rank[ids[lo:hi]]))
        return index

    def _build(self, alphabet, n, digits):
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        self.n = n
        self.alphabet = alphabet
        V = max(len(alphabet), 1)
        self.base = np.uint64(V) if V ** n <= 2 ** 64 else _MIXER
        self.keys = ngram_counts(digits, n, int(self.base), counts=False)[0]

    def _keys(self, ids):
        return window_keys(ids, self.n, self.base)

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


class _Digits:
    """A text's digits, computed a slice at a time: what ngram_counts reads."""

    def __init__(self, length, digits):
        self.length, self.digits = length, digits

    def __len__(self):
        return self.length

    def __getitem__(self, part):
        return self.digits(part.start, min(part.stop, self.length))


def novelty(sample, training_text, n=DEFAULT_N):
    """Share of ``sample``'s n-grams that never occur in ``training_text`` (NaN when shorter
    than n). For many samples of one text, build an NgramIndex once instead."""
    return NgramIndex(training_text, n).novelty(sample)


_INDEXES = {}  # (corpus checksum, training characters, n) -> NgramIndex, per process


def training_index(corpus, n=DEFAULT_N):
    """The NgramIndex of ``corpus``'s training part (from its ids: no decoded copy of the text),
    built once per process and text."""
    key = (corpus.checksum, len(corpus.train_ids), n)
    if key not in _INDEXES:
        if len(_INDEXES) >= 4:
            _INDEXES.pop(next(iter(_INDEXES)))
        _INDEXES[key] = NgramIndex.from_ids(corpus.train_ids, corpus.chars, n)
    return _INDEXES[key]
