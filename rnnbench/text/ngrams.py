"""The distinct n-grams of a long sequence of ids and their counts, in bounded memory.

An n-gram's key is its ids read as the digits of a number in some base (exact while base**n
fits in 64 bits; past that, with an odd multiplier as the base, a wrapped polynomial hash).
Keys are made a chunk of positions at a time, sorted and reduced to distinct ones per chunk,
and the chunks' results merged once they outgrow what is merged so far: memory follows the
number of distinct n-grams, not the length of the text. The count-based baselines and the
novelty index are built on it.
"""
import numpy as np

CHUNK = 1 << 20  # positions keyed at a time (8 MB of keys)
DENSE = 1 << 22  # key spaces up to this size are counted in a dense table instead


def window_keys(ids, n, base):
    """The uint64 key of each of the len(ids) - n + 1 windows of n ids."""
    m = len(ids) - n + 1
    base = np.uint64(base)
    keys = np.zeros(max(m, 0), dtype=np.uint64)
    for k in range(n):  # uint64 arithmetic wraps silently, as a hash should
        keys *= base
        keys += np.asarray(ids[k:k + m], dtype=np.uint64)
    return keys


def ngram_counts(seq, n, base, counts=True):
    """(sorted distinct keys, their counts) of the n-grams of ``seq`` (anything that slices into
    id arrays and has a length); counts is None when not asked for."""
    windows = max(len(seq) - n + 1, 0)
    if counts and base ** n <= DENSE:
        total = np.zeros(base ** n, np.int64)
        for lo in range(0, windows, CHUNK):
            keys = window_keys(seq[lo:lo + CHUNK + n - 1], n, base)
            total += np.bincount(keys.astype(np.int64), minlength=base ** n)
        keys = np.flatnonzero(total)
        return keys.astype(np.uint64), total[keys]
    runs, merged = [], 0  # sorted distinct (keys, counts) of chunks; runs[0] holds `merged`
    for lo in range(0, windows, CHUNK):
        keys = window_keys(seq[lo:lo + CHUNK + n - 1], n, base)
        keys.sort()
        runs.append(distinct(keys, counts))
        if sum(len(r[0]) for r in runs) - merged >= max(merged, CHUNK):
            runs = [merge(runs)]
            merged = len(runs[0][0])
    if not runs:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64) if counts else None
    return merge(runs)


def distinct(sorted_keys, counts=True):
    """(distinct keys, how often each occurs, or None) of a sorted array."""
    if not len(sorted_keys):
        return sorted_keys, np.zeros(0, np.int64) if counts else None
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    return sorted_keys[starts], np.diff(np.r_[starts, len(sorted_keys)]) if counts else None


def merge(runs):
    """One (keys, counts) of several sorted distinct ones, the counts of equal keys added; the
    list is emptied as it goes, so each run's memory can go once it is copied."""
    if len(runs) == 1:
        return runs.pop()
    with_counts = runs[0][1] is not None
    keys = np.concatenate([r[0] for r in runs])
    counts = np.concatenate([r[1] for r in runs]) if with_counts else None
    runs.clear()
    # a stable sort is a merge sort, linear over a concatenation of sorted runs
    if not with_counts:
        keys.sort(kind="stable")  # in place: no second copy
        return distinct(keys, False)
    order = np.argsort(keys, kind="stable")
    keys, counts = keys[order], counts[order]
    del order
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return keys[starts], np.add.reduceat(counts, starts)


def lookup(keys, counts, queries):
    """counts[keys == q] for each query q (0 where absent); ``keys`` sorted."""
    if not len(keys):
        return np.zeros(len(queries), counts.dtype)
    at = np.minimum(np.searchsorted(keys, queries), len(keys) - 1)
    return np.where(keys[at] == queries, counts[at], 0)


def bincount(ids, size):
    """np.bincount(ids, minlength=size) a chunk at a time (it copies its input as int64)."""
    total = np.zeros(size, np.int64)
    for lo in range(0, len(ids), CHUNK):
        total += np.bincount(ids[lo:lo + CHUNK], minlength=size)[:size]
    return total
