import numpy as np
import pytest

from rnnbench.text.corpus import UNKNOWN, Corpus, CorpusError


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
    (b"ab\x00\x01cd", "binary"),
    (b"\xff\xfe\x00h\x00i", "UTF-16 text .*--encoding utf-16"),
    (b"caf\xe9 latin-1", r"not UTF-8 text \(byte 0xe9 at offset 3\).*--encoding latin-1"),
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


def test_non_latin_text_is_one_symbol_per_character(tmp_path):
    text = "Καλημέρα κόσμε\n日本語のテキスト\n🐍🎉 emoji\n"
    p = tmp_path / "t.txt"
    p.write_text(text, encoding="utf-8")
    c = Corpus.from_file(p, val_fraction=0.0)
    assert c.text == text and len(c.ids) == len(text) == 33
    assert {"Κ", "έ", "日", "の", "🐍", "🎉"} <= set(c.chars)
    assert c.decode(c.encode("🐍日Κ")) == "🐍日Κ"


@pytest.mark.parametrize("newline, expected", [("normalize", "a\nb\nc\n"),
                                               ("keep", "a\r\nb\rc\r\n")])
def test_line_endings_normalised_unless_kept(tmp_path, newline, expected):
    p = tmp_path / "crlf.txt"
    p.write_bytes(b"\xef\xbb\xbfa\r\nb\rc\r\n")
    assert Corpus.from_file(p, 0.0, newline=newline).text == expected


def test_other_encodings_on_request(tmp_path):
    p = tmp_path / "latin1.txt"
    p.write_bytes("café crème\r\n".encode("latin-1"))
    assert Corpus.from_file(p, 0.0, encoding="latin-1").text == "café crème\n"
    p.write_bytes("Grüße".encode("utf-16"))
    assert Corpus.from_file(p, 0.0, encoding="utf-16").text == "Grüße"
    with pytest.raises(CorpusError, match="unknown text encoding 'latin-9x'"):
        Corpus.from_file(p, 0.0, encoding="latin-9x")
    p.write_bytes(b"\x81 is not cp1252")
    with pytest.raises(CorpusError, match=r"not cp1252 text \(byte 0x81 at offset 0\)"):
        Corpus.from_file(p, 0.0, encoding="cp1252")


def test_min_char_count_maps_rare_characters_to_one_symbol():
    c = Corpus.from_text("aaabbbcc~d", val_fraction=0.0, min_char_count=2)
    assert c.chars == sorted("abc" + UNKNOWN) and c.unknown_chars == "d~"
    assert c.text == "aaabbbcc" + UNKNOWN * 2
    assert c.decode(c.encode("abz!")) == "ab" + UNKNOWN * 2
    assert c.rarest(2) == [("c", 2), (UNKNOWN, 2)]
    assert "vocabulary 4 characters; rarest: 'c' 2" in c.vocabulary_report()
    assert "2 characters seen fewer than 2 times mapped to '\ufffd' (2 occurrences)" in (
        c.vocabulary_report())
    assert c.head(5).chars == ["a", "b", UNKNOWN]
    head = c.head(9)  # "c" is seen twice here too, "~" once: still mapped, and still named
    assert head.text == "aaabbbcc" + UNKNOWN and head.unknown_chars == "~"
    assert c.head(9) is head  # built once: the runs of a grid share it
    off = Corpus.from_text("aaabbbcc~d", val_fraction=0.0, min_char_count=1)
    assert off.chars == sorted("abcd~") and off.unknown_chars == ""


def test_downloaded_names_read_data_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CorpusError, match=r"gutenberg:11: not downloaded yet .*rnnbench data "
                                          r"get gutenberg:11"):
        Corpus.load("gutenberg:11")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "gutenberg-11.txt").write_bytes(b"Alice\r\n")
    assert Corpus.load("gutenberg:11").text == "Alice\n"
    assert Corpus.load("gutenberg:11").name == "gutenberg:11"
