"""Count-based baselines: the loss per character a model reaches without learning much.

Each baseline is fitted on ``train_ids`` and scored, in nats per character, on the characters
the RNN's validation loss predicts: ``val_ids[1:]``, each from the characters before it in the
validation tail. So a trained model's validation loss and these numbers are directly comparable.

- uniform: every character of the vocabulary equally likely, ln V.
- unigram: character frequencies with add-one (Laplace) smoothing,
  p(c) = (n(c) + 1) / (N + V).
- bigram: the previous character's successors with add-one smoothing,
  p(c | a) = (n(a, c) + 1) / (n(a) + V).
- 5gram: the four previous characters, interpolated Kneser-Ney (see ``kneser_ney``).

Counts are taken a chunk of the text at a time and kept as sorted n-gram keys with their
counts (a dense table where the vocabulary is small), so memory grows with the number of
*distinct* n-grams, not with the text: a 100 MB text's baselines fit in a few hundred MB.

Add a baseline by adding a function ``(train_ids, val_ids, vocab_size) -> nats per char`` to
BASELINES. Results are kept per corpus checksum, validation fraction and vocabulary size, so a
cached table is reused as long as the text, its split and its symbols do not change.
"""
import math

import numpy as np
import pandas as pd

from . import ngrams
from .ngrams import bincount, distinct, lookup, ngram_counts, window_keys

LN2 = math.log(2.0)
COLUMNS = ["corpus", "corpus_checksum", "val_fraction", "vocab_size", "baseline",
           "loss_per_char", "bits_per_char"]


def uniform(train_ids, val_ids, vocab_size):
    return math.log(vocab_size)


def unigram(train_ids, val_ids, vocab_size):
    counts = bincount(train_ids, vocab_size).astype(np.float64)
    logp = np.log(counts + 1.0) - math.log(len(train_ids) + vocab_size)
    return _mean_loss(len(val_ids) - 1, lambda lo, hi: logp[val_ids[lo + 1:hi + 1]])


def bigram(train_ids, val_ids, vocab_size):
    V = vocab_size
    keys, pairs = ngram_counts(train_ids, 2, V)
    context = bincount(train_ids[:-1], V)

    def logp(lo, hi):
        a, c = np.asarray(val_ids[lo:hi], np.int64), np.asarray(val_ids[lo + 1:hi + 1], np.int64)
        n = lookup(keys, pairs, (a * V + c).astype(np.uint64))
        return np.log(n + 1.0) - np.log(context[a] + V)
    return _mean_loss(len(val_ids) - 1, logp)


def _mean_loss(n, logp):
    """-mean(logp(0, n)), with logp(lo, hi) computed a chunk at a time into one array (so the
    mean adds up exactly as over the whole array at once)."""
    out = np.empty(max(n, 0))
    for lo in range(0, n, ngrams.CHUNK):
        hi = min(lo + ngrams.CHUNK, n)
        out[lo:hi] = logp(lo, hi)
    return float(-out.mean())


def kneser_ney(train_ids, val_ids, vocab_size, order=5):
    """Interpolated Kneser-Ney n-gram loss, one absolute discount per order.

    Chen & Goodman, "An empirical study of smoothing techniques for language modeling" (1998),
    eq. 17 (interpolated KN), with D = n1 / (n1 + 2 n2) per order:
        p_k(c | h) = (max(n_k(hc) - D_k, 0) + D_k N1+(h.) p_{k-1}(c | h')) / sum_c' n_k(hc'),
    where n_k is the count for the highest order and the continuation count N1+(.hc) (distinct
    left extensions) below it; h' is h without its first character; below order 1 is uniform
    over the vocabulary, and an unseen context h passes p_{k-1} through unchanged.

    A k-gram is the number its ids spell in base V (exact while V**order fits in 64 bits, a
    vocabulary of up to 7,131 for order 5; beyond, ``kneser_ney_dense`` computes the same in
    memory that grows with the text). The highest order is counted a chunk at a time; every
    lower order follows from its distinct keys: the distinct (k)-grams of the training text are
    the suffixes of its distinct (k+1)-grams and its first k characters.
    """
    V = vocab_size
    if V ** order > 2 ** 64:
        return kneser_ney_dense(train_ids, val_ids, V, order)
    train, val = np.asarray(train_ids), np.asarray(val_ids)
    keys, counts = ngram_counts(train, order, V)
    level = {order: (keys, counts.astype(np.float64))}
    for k in range(order - 1, 0, -1):
        # continuation counts: distinct (k+1)-grams per suffix; then the distinct k-grams
        suffixes = keys % np.uint64(V ** k)
        suffixes.sort()
        level[k] = distinct(suffixes)
        first = window_keys(train[:k], k, V) if len(train) >= k else suffixes[:0]
        keys = np.union1d(level[k][0], first)
        level[k] = (level[k][0], level[k][1].astype(np.float64))
    if order == 1:
        n1 = bincount(train, V).astype(np.float64)
    else:
        n1 = np.zeros(V)
        n1[level[1][0].astype(np.int64)] = level[1][1]
    D = _discount(n1)
    p = ((np.maximum(n1 - D, 0) + D * np.count_nonzero(n1) / V) / n1.sum() if n1.sum()
         else np.full(V, 1.0 / V))[val[1:]]  # val[1:], as the RNN's validation loss
    for k in range(2, order + 1):
        _interpolate(p, val, k, V, *level[k])
    return float(-np.log(p).mean())


def _interpolate(p, val, k, V, keys, n):
    """p[j - 1] <- order k's estimate for val[j], for every j with k - 1 characters before it
    in the validation tail (p holds order k - 1's), a chunk of positions at a time."""
    D = _discount(n)
    contexts = keys // np.uint64(V)  # sorted, as keys are: each context's k-grams adjacent
    starts = np.flatnonzero(np.r_[True, contexts[1:] != contexts[:-1]]) if len(keys) else []
    total = np.add.reduceat(n, starts) if len(keys) else n
    types = np.add.reduceat((n > 0).astype(np.float64), starts) if len(keys) else n
    count_of = _table(keys, V ** k, n)
    context_of = _table(contexts[starts], V ** (k - 1), total, types)
    for lo in range(k - 1, len(val), ngrams.CHUNK):
        g = window_keys(val[lo - k + 1:lo + ngrams.CHUNK], k, V)  # the k-gram ending at each j
        h_total, h_types = context_of(g // np.uint64(V))
        ok = np.flatnonzero(h_total > 0)  # a context never seen passes p through
        (count,) = count_of(g[ok])
        j = lo - 1 + ok  # p[j] is the estimate of val[j + 1]
        p[j] = (np.maximum(count - D, 0) + D * h_types[ok] * p[j]) / h_total[ok]


def _table(keys, space, *values):
    """A function: query keys -> the ``values`` arrays at those keys (0 where absent); a dense
    array for a key space of up to ngrams.DENSE entries, else a binary search in ``keys``."""
    if space <= ngrams.DENSE:
        dense = [np.zeros(space, v.dtype) for v in values]
        for d, v in zip(dense, values):
            d[keys.astype(np.int64)] = v
        return lambda q: [d[q.astype(np.int64)] for d in dense]
    if not len(keys):
        return lambda q: [np.zeros(len(q), v.dtype) for v in values]

    def at(q):
        i = np.minimum(np.searchsorted(keys, q), len(keys) - 1)
        found = keys[i] == q
        return [np.where(found, v[i], 0) for v in values]
    return at


def kneser_ney_dense(train_ids, val_ids, vocab_size, order=5):
    """``kneser_ney`` as first written: every k-gram given a dense id by np.unique over the
    whole text, several int64 arrays the length of the text per order. Exact for any
    vocabulary; kneser_ney calls it when base-V keys would not fit in 64 bits."""
    V = vocab_size
    z = np.concatenate([train_ids, [V], val_ids]).astype(np.int64)  # V separates the texts
    n_train = len(train_ids)
    # keys[k][t]: id of the k-gram ending at position t; contexts[k]/suffixes[k]: the ids of the
    # (k-1)-grams before and after the first character of each distinct k-gram.
    keys, counts = [None, z], [None, np.bincount(train_ids, minlength=V + 1)]
    contexts, suffixes = [None, None], [None, None]
    for k in range(2, order + 1):
        pairs = keys[k - 1][k - 2:-1] * (V + 1) + z[k - 1:]
        distinct, first, inverse = np.unique(pairs, return_index=True, return_inverse=True)
        key = np.full(len(z), -1, np.int64)
        key[k - 1:] = inverse
        keys.append(key)
        at = first + k - 1
        contexts.append(keys[k - 1][at - 1])
        suffixes.append(keys[k - 1][at])
        counts.append(np.bincount(key[k - 1:n_train], minlength=len(distinct)))
    level = [None] * order + [counts[order].astype(np.float64)]
    for k in range(order - 1, 0, -1):
        seen = counts[k + 1] > 0
        level[k] = np.bincount(suffixes[k + 1][seen], minlength=len(counts[k])).astype(np.float64)

    at = np.arange(n_train + 2, len(z))  # val_ids[1:], as the RNN's validation loss
    j = at - (n_train + 1)                # characters of the validation tail before each one
    n1 = level[1][:V]
    D = _discount(n1)
    p = ((np.maximum(n1 - D, 0) + D * np.count_nonzero(n1) / V) / n1.sum() if n1.sum()
         else np.full(V, 1.0 / V))[z[at]]
    for k in range(2, order + 1):
        n, D = level[k], _discount(level[k])
        size = len(counts[k - 1])
        total = np.bincount(contexts[k], weights=n, minlength=size)
        types = np.bincount(contexts[k], weights=n > 0, minlength=size)
        ok = np.flatnonzero(j >= k - 1)
        h, g = keys[k - 1][at[ok] - 1], keys[k][at[ok]]
        seen = total[h] > 0
        ok, h, g = ok[seen], h[seen], g[seen]
        p[ok] = (np.maximum(n[g] - D, 0) + D * types[h] * p[ok]) / total[h]
    return float(-np.log(p).mean())


def _discount(counts):
    """Chen & Goodman's D = n1 / (n1 + 2 n2), kept inside (0, 1) for tiny texts."""
    n1, n2 = np.count_nonzero(counts == 1), np.count_nonzero(counts == 2)
    return min(max(n1 / (n1 + 2 * n2), 0.05), 0.95) if n1 + n2 else 0.5


BASELINES = {"uniform": uniform, "unigram": unigram, "bigram": bigram, "5gram": kneser_ney}


def corpus_baselines(corpus):
    """Rows (one per baseline) for one corpus and its split; empty when nothing is held out."""
    if len(corpus.val_ids) < 2:
        return []
    rows = []
    for name, fn in BASELINES.items():
        nats = fn(corpus.train_ids, corpus.val_ids, corpus.vocab_size)
        rows.append(dict(corpus=corpus.name, corpus_checksum=corpus.checksum,
                         val_fraction=corpus.val_fraction, vocab_size=corpus.vocab_size,
                         baseline=name, loss_per_char=nats, bits_per_char=nats / LN2))
    return rows


def baselines_table(corpora, cached=None, compute=True):
    """One table of every baseline for each distinct corpus (and split) in ``corpora``.

    Rows of ``cached`` (an earlier table) with the same checksum, split, vocabulary size and
    baseline are reused instead of counted again; with ``compute`` false, nothing is counted:
    the table holds the reused rows only (possibly none).
    """
    have = {}
    if cached is not None and len(cached):
        for row in cached.to_dict("records"):
            have[(row["corpus_checksum"], row["val_fraction"], row.get("vocab_size"),
                  row["baseline"])] = row
    rows, seen = [], set()
    for corpus in corpora:
        key = (corpus.checksum, corpus.val_fraction, corpus.vocab_size)
        if key in seen:
            continue
        seen.add(key)
        reused = [have.get((*key, name)) for name in BASELINES]
        if all(r is not None for r in reused):
            rows += [{**r, "corpus": corpus.name} for r in reused]
        elif compute:
            rows += corpus_baselines(corpus)
    return pd.DataFrame(rows, columns=COLUMNS)
