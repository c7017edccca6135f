import numpy as np
import pytest

from rnnbench.data import Corpus, CorpusError


def test_vocabulary_is_sorted_and_encoding_round_trips():
    c = Corpus.from_text("hello world", val_fraction=0.0)
    assert c.chars == sorted(set("hello world"))
    assert c.vocab_size == 8
    ids = c.encode("low")
    assert ids.dtype == np.int64
    assert c.decode(ids) == "low"
    assert c.decode(c.ids) == "hello world"


def test_validation_is_the_tail_fraction():
    c = Corpus.from_text("abcdefghij" * 10, val_fraction=0.2)
    assert len(c.train_ids) == 80 and len(c.val_ids) == 20
    assert c.decode(c.val_ids) == ("abcdefghij" * 10)[80:]


def test_unicode_characters_are_symbols():
    c = Corpus.from_text("naïve café — 日本語", val_fraction=0.0)
    assert "日" in c.chars and "—" in c.chars
    assert c.decode(c.encode("café")) == "café"


def test_unknown_character_is_a_clear_error():
    c = Corpus.from_text("abc", val_fraction=0.0)
    with pytest.raises(CorpusError, match="'z' is not in the vocabulary"):
        c.encode("abz")


def test_builtin_corpus_ships_with_the_package(corpus):
    assert corpus.name == "pydoc"
    assert len(corpus.text) > 400_000
    assert corpus.vocab_size == 103
    assert len(corpus.checksum) == 64


def test_from_file_reads_utf8_and_drops_bom(tmp_path):
    p = tmp_path / "t.txt"
    p.write_bytes("\ufeffhello".encode("utf-8"))
    c = Corpus.from_file(p, val_fraction=0.0)
    assert c.text == "hello"


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    (b"", "the file is empty"),
    (b"\xff\xfe\x00h\x00i", "binary"),
    (b"caf\xe9 latin-1", r"not UTF-8 text \(byte 0xe9 at offset 3\)"),
])
def test_bad_files_give_one_line_errors(tmp_path, content, message):
    p = tmp_path / "bad.txt"
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(CorpusError, match=message) as info:
        Corpus.from_file(p)
    assert "\n" not in str(info.value)
    assert str(p) in str(info.value)


def test_text_shorter_than_seq_length_plus_one_is_an_error():
    c = Corpus.from_text("short text", val_fraction=0.0)
    c.check_length(9)
    with pytest.raises(CorpusError, match="fewer than seq_length \\+ 1 = 26"):
        c.check_length(25)


def test_shakespeare_when_present(shakespeare_path):
    c = Corpus.from_file(shakespeare_path)
    assert c.vocab_size == 65
