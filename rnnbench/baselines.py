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

Add a baseline by adding a function ``(train_ids, val_ids, vocab_size) -> nats per char`` to
BASELINES. Results are kept per corpus checksum, validation fraction and vocabulary size, so a
cached table is reused as long as the text, its split and its symbols do not change.
"""
import math

import numpy as np
import pandas as pd

LN2 = math.log(2.0)
COLUMNS = ["corpus", "corpus_checksum", "val_fraction", "vocab_size", "baseline",
           "loss_per_char", "bits_per_char"]


def uniform(train_ids, val_ids, vocab_size):
    return math.log(vocab_size)


def unigram(train_ids, val_ids, vocab_size):
    counts = np.bincount(train_ids, minlength=vocab_size).astype(np.float64)
    logp = np.log(counts + 1.0) - math.log(len(train_ids) + vocab_size)
    return float(-logp[val_ids[1:]].mean())


def bigram(train_ids, val_ids, vocab_size):
    V = vocab_size
    pairs = np.bincount(train_ids[:-1] * V + train_ids[1:], minlength=V * V).reshape(V, V)
    context = pairs.sum(axis=1, keepdims=True)
    logp = np.log(pairs + 1.0) - np.log(context + V)
    return float(-logp[val_ids[:-1], val_ids[1:]].mean())


def kneser_ney(train_ids, val_ids, vocab_size, order=5):
    """Interpolated Kneser-Ney n-gram loss, one absolute discount per order.

    Chen & Goodman, "An empirical study of smoothing techniques for language modeling" (1998),
    eq. 17 (interpolated KN), with D = n1 / (n1 + 2 n2) per order:
        p_k(c | h) = (max(n_k(hc) - D_k, 0) + D_k N1+(h.) p_{k-1}(c | h')) / sum_c' n_k(hc'),
    where n_k is the count for the highest order and the continuation count N1+(.hc) (distinct
    left extensions) below it; h' is h without its first character; below order 1 is uniform
    over the vocabulary, and an unseen context h passes p_{k-1} through unchanged.
    """
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


def baselines_table(corpora, cached=None):
    """One table of every baseline for each distinct corpus (and split) in ``corpora``.

    Rows of ``cached`` (an earlier table) with the same checksum, split, vocabulary size and
    baseline are reused instead of counted again.
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
        else:
            rows += corpus_baselines(corpus)
    return pd.DataFrame(rows, columns=COLUMNS)
