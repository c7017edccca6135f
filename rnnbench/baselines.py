"""Count-based baselines: the loss per character a model reaches without learning much.

Each baseline is fitted on ``train_ids`` and scored, in nats per character, on the characters
the RNN's validation loss predicts: ``val_ids[1:]``, each from the characters before it in the
validation tail. So a trained model's validation loss and these numbers are directly comparable.

- uniform: every character of the vocabulary equally likely, ln V.
- unigram: character frequencies with add-one (Laplace) smoothing,
  p(c) = (n(c) + 1) / (N + V).
- bigram: the previous character's successors with add-one smoothing,
  p(c | a) = (n(a, c) + 1) / (n(a) + V).

Add a baseline by adding a function ``(train_ids, val_ids, vocab_size) -> nats per char`` to
BASELINES. Results are kept per corpus checksum and validation fraction, so a cached table is
reused as long as the text and its split do not change.
"""
import math

import numpy as np
import pandas as pd

LN2 = math.log(2.0)
COLUMNS = ["corpus", "corpus_checksum", "val_fraction", "baseline", "loss_per_char",
           "bits_per_char"]


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


BASELINES = {"uniform": uniform, "unigram": unigram, "bigram": bigram}


def corpus_baselines(corpus):
    """Rows (one per baseline) for one corpus and its split; empty when nothing is held out."""
    if len(corpus.val_ids) < 2:
        return []
    rows = []
    for name, fn in BASELINES.items():
        nats = fn(corpus.train_ids, corpus.val_ids, corpus.vocab_size)
        rows.append(dict(corpus=corpus.name, corpus_checksum=corpus.checksum,
                         val_fraction=corpus.val_fraction, baseline=name, loss_per_char=nats,
                         bits_per_char=nats / LN2))
    return rows


def baselines_table(corpora, cached=None):
    """One table of every baseline for each distinct corpus (and split) in ``corpora``.

    Rows of ``cached`` (an earlier table) with the same checksum, split and baseline are reused
    instead of counted again.
    """
    have = {}
    if cached is not None and len(cached):
        for row in cached.to_dict("records"):
            have[(row["corpus_checksum"], row["val_fraction"], row["baseline"])] = row
    rows, seen = [], set()
    for corpus in corpora:
        key = (corpus.checksum, corpus.val_fraction)
        if key in seen:
            continue
        seen.add(key)
        reused = [have.get((*key, name)) for name in BASELINES]
        if all(r is not None for r in reused):
            rows += [{**r, "corpus": corpus.name} for r in reused]
        else:
            rows += corpus_baselines(corpus)
    return pd.DataFrame(rows, columns=COLUMNS)
