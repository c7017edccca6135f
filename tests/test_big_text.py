"""Big texts in bounded memory: the encoded corpus, the baselines (same values as the first,
dense implementation), the novelty index, baselines skipped, and the text shared with workers
through memory rather than pickled into every task."""
import math
import os
import pickle
import subprocess
import sys
import tempfile
import textwrap
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import run_cli
from rnnbench.text import baselines, ngrams
from rnnbench.text.corpus import IDS, Corpus, CorpusError
from rnnbench.text.novelty import NgramIndex, training_index
from rnnbench.text.corpus import RecordCorpus
from rnnbench.experiments.runner import _corpus
from rnnbench.experiments.shared import CorpusText, SharedCorpus, worker_payloads

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def big():
    """A 4 MB text: nine copies of the built-in corpus, each with its lines shuffled."""
    lines = Corpus.load("pydoc").text.split("\n")
    rng = np.random.default_rng(0)
    parts = []
    for _ in range(9):
        rng.shuffle(lines)
        parts.append("\n".join(lines))
    return Corpus("\n".join(parts), 0.1, "big")


def _traced_peak(fn):
    """(result, peak bytes NumPy and Python allocated while ``fn`` ran)."""
    tracemalloc.start()
    try:
        return fn(), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_corpus_costs_its_ids_and_a_chunk(big):
    text = big.raw_text
    corpus, peak = _traced_peak(lambda: Corpus(text, 0.1, "again"))
    assert corpus.ids.dtype == IDS and corpus.text is text  # nothing mapped: kept once
    assert np.array_equal(corpus.ids, big.ids)
    # the ids (2 bytes a character) and one chunk's temporaries; int64 ids alone took 8
    assert peak < 2 * len(text) + 40 * 2**20


@pytest.mark.parametrize("name", ["pydoc", "python:argparse", "unicode", "chunked"])
def test_bounded_baselines_equal_the_dense_ones(name, monkeypatch):
    if name == "unicode":
        rng = np.random.default_rng(1)
        corpus = Corpus("".join(map(chr, 0x4E00 + rng.zipf(1.3, 40_000) % 600)), 0.2)
        assert corpus.vocab_size > 300
    else:
        corpus = Corpus.load("pydoc" if name == "chunked" else name)
    if name == "chunked":  # many chunks, so that every merge is exercised
        monkeypatch.setattr(ngrams, "CHUNK", 777)
    train, val, V = corpus.train_ids, corpus.val_ids, corpus.vocab_size
    dense = np.asarray(train, np.int64), np.asarray(val, np.int64)
    assert baselines.kneser_ney(train, val, V) == baselines.kneser_ney_dense(*dense, V)
    for order in (1, 2, 3):
        assert (baselines.kneser_ney(train, val, V, order)
                == baselines.kneser_ney_dense(*dense, V, order))
    # the first unigram and bigram: dense tables of counts, add-one smoothing
    counts = np.bincount(dense[0], minlength=V)
    unigram = np.log(counts + 1.0) - math.log(len(train) + V)
    assert baselines.unigram(train, val, V) == float(-unigram[dense[1][1:]].mean())
    pairs = np.bincount(dense[0][:-1] * V + dense[0][1:], minlength=V * V).reshape(V, V)
    bigram = np.log(pairs + 1.0) - np.log(pairs.sum(axis=1, keepdims=True) + V)
    assert baselines.bigram(train, val, V) == float(-bigram[dense[1][:-1], dense[1][1:]].mean())


def test_random_tiny_texts_agree_with_the_dense_kneser_ney(monkeypatch):
    rng = np.random.default_rng(2)
    for _ in range(200):
        V, order = int(rng.integers(2, 9)), int(rng.integers(1, 7))
        train, val = rng.integers(0, V, rng.integers(0, 50)), rng.integers(0, V, rng.integers(2, 20))
        monkeypatch.setattr(ngrams, "CHUNK", int(rng.integers(1, 12)))
        assert (baselines.kneser_ney(train.astype(IDS), val.astype(IDS), V, order)
                == baselines.kneser_ney_dense(train, val, V, order))


def test_the_5gram_memory_does_not_grow_with_the_text(big, monkeypatch):
    """The first, dense 5-gram took 90 bytes a character (360 MB for this 4 MB text); the
    bounded one holds a chunk's temporaries and its tables of distinct n-grams."""
    monkeypatch.setattr(ngrams, "CHUNK", 100_000)  # both texts in many chunks
    small = big.head(1_000_000)
    _, small_peak = _traced_peak(lambda: baselines.kneser_ney(
        small.train_ids, small.val_ids, small.vocab_size))
    _, peak = _traced_peak(lambda: baselines.kneser_ney(big.train_ids, big.val_ids,
                                                        big.vocab_size))
    assert peak < 1.5 * small_peak  # 4x the text, not 4x the memory (measured: 1.4x)


def test_the_novelty_index_from_ids_is_the_index_of_the_text(big, monkeypatch):
    monkeypatch.setattr(ngrams, "CHUNK", 100_000)
    ids = big.train_ids[:1_500_000]
    text = big.decode(ids)
    index, peak = _traced_peak(lambda: NgramIndex.from_ids(ids, big.chars))
    reference = NgramIndex(text)
    assert np.array_equal(index.keys, reference.keys) and index.base == reference.base
    assert np.array_equal(index.alphabet, reference.alphabet)
    assert len(index.keys) < len(text) / 2  # distinct 8-grams only
    assert peak < 8 * len(text)  # less than the uint64 key per position once kept (and sorted)
    sample = text[5000:5300] + "zq~" + text[9000:9100]
    assert index.novelty(sample) == reference.novelty(sample) == pytest.approx(10 / 396)
    assert training_index(big) is training_index(big)
    assert np.array_equal(training_index(big).keys, NgramIndex.from_ids(big.train_ids,
                                                                        big.chars).keys)


def test_a_corpus_rebuilt_from_its_encoding_is_the_same(big):
    for corpus in (big, Corpus("aaabbbcc~d" * 30, 0.1, "mapped", min_char_count=40),
                   RecordCorpus(["ab", "c", "def", "gh", "é"] * 7, 0.3, min_char_count=9)):
        settings, arrays = corpus.encoded()
        again = type(corpus).from_encoded(pickle.loads(pickle.dumps(settings)), arrays)
        for key in ("chars", "vocab_size", "checksum", "source_checksum", "unknown_chars",
                    "counts", "name", "val_fraction", "end_symbol", "length"):
            assert getattr(again, key) == getattr(corpus, key), key
        assert np.array_equal(again.train_ids, corpus.train_ids)
        assert np.array_equal(again.val_ids, corpus.val_ids)
        assert again.text == corpus.text and again.rarest() == corpus.rarest()
        assert again.head(10 ** 9) is again
    records = RecordCorpus(["ab", "c", "def", "gh"], 0.5)
    again = RecordCorpus.from_encoded(*records.encoded())
    assert again.records == records.records and again.n_train == records.n_train == 2
    assert list(again.val_bounds) == list(records.val_bounds)


def _shared_files():
    """rnnbench's shared-memory files in /dev/shm and the temporary folder (none expected)."""
    found = set()
    for folder in ("/dev/shm", tempfile.gettempdir()):
        if os.path.isdir(folder):
            found |= {f for f in os.listdir(folder) if f.startswith("rnnbench-shared")}
    return found


def test_workers_get_the_text_through_shared_memory(big):
    before = _shared_files()
    payloads, shared = worker_payloads([big, big])
    try:
        (payload,) = payloads.values()
        assert isinstance(payload, SharedCorpus)
        task = pickle.dumps(("run_id", None, payload, None))
        assert len(task) < 10_000 < len(big) // 100  # a few kB whatever the text's size
        # another process maps the same memory: the corpus, ids writable (Numba's usual type)
        code = textwrap.dedent("""
            import pickle, sys
            payload = pickle.loads(sys.stdin.buffer.read())[2]
            corpus = payload.build()
            ids = corpus.ids
            print(corpus.checksum, int(ids.sum()), ids.flags.writeable, ids.base is not None)
        """)
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        done = subprocess.run([sys.executable, "-c", code], input=task, capture_output=True,
                              env=env, timeout=60)
        assert done.stdout.decode().split() == [big.checksum, str(int(big.ids.sum())), "True",
                                                "True"], done.stderr
        corpus = _corpus(payload)
        assert corpus is _corpus(payload) and corpus.raw_text == big.raw_text
    finally:
        shared.close()
    assert _shared_files() == before  # nothing left in /dev/shm or /tmp
    # a remote dask scheduler's workers cannot map this machine's memory: they get the text
    payloads, shared = worker_payloads([big], remote=True)
    assert shared is None and isinstance(*payloads.values(), CorpusText)


def test_the_shared_text_goes_with_a_killed_parent(tmp_path):
    before = _shared_files()
    code = textwrap.dedent("""
        import os, sys
        from rnnbench.text.corpus import Corpus
        from rnnbench.experiments.shared import worker_payloads
        payloads, shared = worker_payloads([Corpus("some text " * 1000)])
        print(shared.path, flush=True)
        os.kill(os.getpid(), 9)
    """)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, env=env,
                          timeout=60)
    assert done.returncode == -9
    path = done.stdout.decode().strip()
    assert path and not os.path.exists(path)  # /proc/<pid>/fd/<fd>: gone with the process
    assert _shared_files() == before


GRID = """
name: nobase
data: pydoc
{key}base: {{updates: 20, hidden_size: 8, seq_length: 10, trace_every: 10, eval_every: 20,
        sample_every: 10, sample_length: 20, data_limit: 20000}}
"""


def test_a_grid_without_baselines_ends_with_its_report(tmp_path):
    grid = tmp_path / "g.yaml"
    grid.write_text(GRID.format(key="baselines: false\n"))
    out = tmp_path / "out"
    code, stdout, err = run_cli("run", grid, "--out", out, "--jobs", 1, "--quiet")
    assert code == 0, err
    assert pd.read_parquet(out / "baselines.parquet").empty
    report = (out / "report.md").read_text()
    assert "Baselines" not in report and (out / "report.html").exists()
    assert sorted(p.name for p in (out / "plots").glob("*.png"))
    assert pd.read_parquet(out / "runs.parquet")["status"].tolist() == ["ok"]
    # the run read its text from shared memory, typed as an ordinary (writable) uint16 array
    from rnnbench.kernels.loops import train_updates
    assert {(sig[4].dtype.name, sig[4].mutable) for sig in train_updates.signatures} == {
        ("uint16", True)}
    grid.write_text(GRID.format(key="baselines: 3\n"))
    code, _, err = run_cli("run", grid, "--out", tmp_path / "other", "--dry-run")
    assert code == 2 and "baselines: expected true or false, got int 3" in err


def test_no_baselines_on_the_command_line_keeps_earlier_ones(tmp_path):
    grid = tmp_path / "g.yaml"
    grid.write_text(GRID.format(key=""))
    out = tmp_path / "out"
    code, _, err = run_cli("run", grid, "--out", out, "--jobs", 1, "--quiet", "--no-report",
                           "--no-baselines")
    assert code == 0, err
    assert pd.read_parquet(out / "baselines.parquet").empty
    corpus = Corpus.load("pydoc").head(20000)
    earlier = baselines.baselines_table([corpus])
    assert len(earlier) == 4
    # rows already counted are reused when skipping; nothing new is counted
    assert baselines.baselines_table([corpus], earlier, compute=False).equals(earlier)
    assert baselines.baselines_table([Corpus.load("pydoc")], earlier, compute=False).empty


def test_a_vocabulary_beyond_uint16_is_refused_in_one_line():
    chars = [chr(c) for c in range(0x100, 0x100 + 70_000) if not 0xD800 <= c < 0xE000]
    text = "".join(chars)
    with pytest.raises(CorpusError, match=r"^t: 67,952 distinct characters, more than the 65,536 "
                                        r"a vocabulary may hold; .*--min-char-count"):
        Corpus(text, 0.1, "t")
    mapped = Corpus(text + text[:10], 0.1, "t", min_char_count=2)  # the rare ones: one symbol
    assert mapped.vocab_size == 11 and mapped.ids.dtype == IDS


def test_ids_outside_the_vocabulary_are_refused_before_the_kernels(small_model):
    with pytest.raises(ValueError, match=r"ids outside \[0, 103\)"):
        small_model.eval_loss([1, 2, 103])
    with pytest.raises(ValueError, match=r"ids outside"):
        small_model.eval_loss(np.array([5, -1, 2]))
    assert small_model.eval_loss(np.array([5, 1, 2], dtype=np.int64))[1] == 2


def test_a_shared_array_that_is_not_the_one_named_is_refused(big):
    from dataclasses import replace

    from rnnbench.experiments.shared import SharedArrayError
    _, shared = worker_payloads([big])
    try:
        ref = shared.put(np.arange(10, dtype=np.int64))
        assert list(ref.load()) == list(range(10))
        for bad, message in ((replace(ref, inode=ref.inode + 1), "not the shared array"),
                             (replace(ref, shape=(10**9,)), "not the shared array"),
                             (replace(ref, machine="elsewhere"), "on another machine"),
                             (replace(ref, path="/proc/1/fd/999999"), "cannot open")):
            with pytest.raises(SharedArrayError, match=message) as err:
                bad.load()
            assert "\n" not in str(err.value)
    finally:
        shared.close()
    with pytest.raises(SharedArrayError, match="cannot open|not the shared array"):
        ref.load()  # the parent closed it: gone
