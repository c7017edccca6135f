"""Novelty: the share of a sample's n-grams that never occur in the training text."""
import math
import random
import time

import numpy as np
import pytest

from rnnbench.text.novelty import NgramIndex, novelty, training_index


def by_set(sample, text, n):
    """The obvious definition, with a Python set of substrings."""
    grams = {text[i:i + n] for i in range(len(text) - n + 1)}
    windows = [sample[i:i + n] for i in range(len(sample) - n + 1)]
    return sum(w not in grams for w in windows) / len(windows) if windows else math.nan


def test_a_copied_sample_has_novelty_0(corpus):
    text = corpus.decode(corpus.train_ids)
    index = NgramIndex(text)
    for start in (0, 12_345, len(text) - 300):
        assert index.novelty(text[start:start + 300]) == 0.0


def test_a_sample_over_an_unseen_alphabet_has_novelty_1():
    rng = random.Random(0)
    sample = "".join(rng.choice("ЖЗИЙКЛМН") for _ in range(200))
    assert novelty(sample, "the quick brown fox jumps over the lazy dog " * 20) == 1.0


def test_hand_worked_mixed_cases():
    # trigrams of the text: abc bcd cde def efg fgh ghi hij; the sample's windows abc bcx cxb
    # xbc bcd: 3 of 5 absent
    assert novelty("abcxbcd", "abcdefghij", n=3) == pytest.approx(3 / 5)
    # 12 windows of 8; the 3 that reach into "cat" are absent from the text
    assert novelty("the quick brown cat", "the quick brown fox") == pytest.approx(3 / 12)
    # repeats count once per position; a window seen anywhere in the text counts as copied
    assert novelty("aaaa", "aaa", n=3) == 0.0
    assert novelty("abab", "xxabxx", n=2) == pytest.approx(1 / 3)  # ab, ba (absent), ab


def test_shorter_than_n_has_no_ngrams():
    assert math.isnan(novelty("short", "some training text"))
    assert math.isnan(novelty("", "some training text"))
    assert novelty("training", "some training text") == 0.0  # exactly n: one window


def test_agrees_with_a_python_set(corpus):
    text = corpus.decode(corpus.train_ids[:50_000])
    index = NgramIndex(text, 5)
    rng = random.Random(1)
    for _ in range(100):
        start, length = rng.randrange(len(text) - 80), rng.randrange(0, 80)
        chars = list(text[start:start + length])
        for _ in range(rng.randrange(4)):
            if chars:
                chars[rng.randrange(len(chars))] = rng.choice("xyzq日 ")
        sample = "".join(chars)
        expected, got = by_set(sample, text, 5), index.novelty(sample)
        assert got == expected or (math.isnan(got) and math.isnan(expected))


def test_a_large_alphabet_is_hashed_and_still_agrees():
    rng = random.Random(2)
    text = "".join(chr(0x4E00 + rng.randrange(400)) for _ in range(20_000))
    index = NgramIndex(text)
    assert index.base != len(index.alphabet)  # 400**8 does not fit in 64 bits
    for start in (0, 777, 15_000):
        sample = text[start:start + 40] + "".join(chr(0x4E00 + rng.randrange(400))
                                                  for _ in range(20))
        assert index.novelty(sample) == by_set(sample, text, 8)


def test_a_megabyte_index_is_fast_and_cached(corpus):
    rng = np.random.default_rng(3)
    text = "".join(np.array(list("abcdefghij klmnop\n"))[rng.integers(0, 18, 1_000_000)])
    t0 = time.perf_counter()
    index = NgramIndex(text)
    assert time.perf_counter() - t0 < 5  # about 0.1 s on one core
    assert index.novelty(text[1000:1300]) == 0.0
    assert training_index(corpus) is training_index(corpus)
