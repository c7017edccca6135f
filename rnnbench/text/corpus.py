"""Corpus: a text, its sorted character vocabulary, encoding, and the train/validation split;
RecordCorpus: the same over the records of a records file, split by records."""
import hashlib
from collections import Counter

import numpy as np

from .charids import IDS, MAX_VOCAB, char_counts, codepoints, decode_ids, encode_text
from .loading import CorpusError, load_text, read_text
from .records import end_symbol_for, parse_records, stream_of

UNKNOWN = "\ufffd"  # Unicode's replacement character: what min_char_count maps rare ones to


class Corpus:
    """A text split into a training head and a validation tail, encoded over a sorted vocabulary.

    The vocabulary is the sorted set of characters of the whole text (min-char-rnn's
    ``list(set(data))`` order changes between Python processes, so its ids are not reproducible).
    With ``min_char_count`` above 1, characters seen fewer times than that (but none in
    ``keep``) become UNKNOWN, which is then always in the vocabulary, and ``encode`` maps
    characters it does not know to it.

    The text is kept once, as given (``raw_text``), and encoded as ``ids`` (uint16: 2 bytes a
    character), counted and encoded a chunk at a time, so a 100 MB text costs about 300 MB.
    ``text`` (after min_char_count) is ``raw_text`` itself when nothing was mapped, else decoded
    on request.
    """

    end_symbol = None  # plain text has no end-of-record symbol (see RecordCorpus)

    def __init__(self, text, val_fraction=0.1, name="<text>", min_char_count=0, keep=""):
        if not text:
            raise CorpusError(f"{name}: the text is empty")
        self._raw_text = text  # before min_char_count: what head() and source() start from
        self._encode(lambda: (text,), len(text), val_fraction, name, min_char_count, keep)

    def _encode(self, pieces, length, val_fraction, name, min_char_count, keep):
        """Vocabulary, ids, checksum and split of the text of ``length`` characters that
        ``pieces()`` yields in order (called twice: counted, then encoded)."""
        if not 0 <= val_fraction < 1:
            raise CorpusError(f"val_fraction must be in [0, 1), got {val_fraction}")
        self.name = name
        self.min_char_count = min_char_count
        self._heads = {}
        points, counts = char_counts(pieces())
        chars = [chr(c) for c in points]
        rare = {c for c, n in zip(chars, counts.tolist())
                if n < min_char_count and c not in keep}
        self.unknown_chars = "".join(sorted(rare - {UNKNOWN}))
        self.counts = Counter(dict(zip(chars, counts.tolist())))
        if rare:
            mapped = sum(self.counts.pop(c) for c in rare)
            self.counts[UNKNOWN] = self.counts.get(UNKNOWN, 0) + mapped
        self.chars = sorted(set(self.counts) | ({UNKNOWN} if min_char_count > 1 else set()))
        if len(self.chars) > MAX_VOCAB:
            raise CorpusError(f"{name}: {len(self.chars):,} distinct characters, more than the "
                              f"{MAX_VOCAB:,} a vocabulary may hold; map the rare ones to one "
                              f"symbol with min_char_count (e.g. --min-char-count 5)")
        self._setup(val_fraction)
        # code point -> id, the rare ones to UNKNOWN's
        lut = np.zeros(int(points[-1]) + 1, dtype=IDS)
        lut[points] = [self._index[UNKNOWN if c in rare else c] for c in chars]
        self._mapped = {ord(c): UNKNOWN for c in rare}
        ids, self.checksum = encode_text(pieces(), length, lut, self._mapped)
        self.source_checksum = self.checksum  # what a grid's run ids name (see RecordCorpus)
        self._split(ids)

    def _setup(self, val_fraction):
        """What follows from the vocabulary: its size, the id of each character."""
        self.val_fraction = val_fraction
        self.vocab_size = len(self.chars)
        self._index = {c: i for i, c in enumerate(self.chars)}
        self._points = np.array([ord(c) for c in self.chars], dtype=np.uint32)

    def _split(self, ids):
        """The encoded text and its training head and validation tail (views of ``ids``)."""
        self.ids = ids
        self.length = len(ids)
        n_val = int(len(ids) * self.val_fraction)
        self.train_ids = ids[:len(ids) - n_val]
        self.val_ids = ids[len(ids) - n_val:]

    def __len__(self):
        """Characters of the text (of the stream, in records mode)."""
        return self.length

    @property
    def raw_text(self):
        """The text as given, before min_char_count: kept as given, or (a corpus rebuilt from
        its encoding in a worker process) decoded when nothing was mapped."""
        if self._raw_text is None:
            if self._mapped:
                raise CorpusError(f"{self.name}: the text before min_char_count is not kept "
                                  f"here (a corpus rebuilt from its encoding)")
            return self.decode(self.ids)
        return self._raw_text

    @property
    def text(self):
        """The text after min_char_count: ``raw_text`` when nothing was mapped."""
        if self._raw_text is not None and not self._mapped:
            return self._raw_text
        return self.decode(self.ids)

    # -- a corpus without its text: what a grid's workers receive ------------------------------

    SHARED_FIELDS = ("name", "min_char_count", "val_fraction", "chars", "counts",
                     "unknown_chars", "checksum", "source_checksum", "_mapped")

    def encoded(self):
        """(settings, arrays) that rebuild this corpus without its text (``from_encoded``):
        small settings, and the encoded arrays, which a grid shares with its workers."""
        settings = {k: getattr(self, k) for k in self.SHARED_FIELDS}
        return settings, {"ids": self.ids}

    @classmethod
    def from_encoded(cls, settings, arrays):
        """The corpus ``encoded()`` described, over ``arrays`` as given (no copy)."""
        corpus = cls.__new__(cls)
        corpus.__dict__.update(settings, _raw_text=None, _heads={})
        corpus._setup(settings["val_fraction"])
        corpus._rebuild(arrays)
        return corpus

    def _rebuild(self, arrays):
        self._split(arrays["ids"])

    @classmethod
    def from_text(cls, text, val_fraction=0.1, name="<text>", min_char_count=0):
        return cls(text, val_fraction, name, min_char_count)

    @classmethod
    def from_file(cls, path, val_fraction=0.1, encoding="utf-8", newline="normalize",
                  min_char_count=0):
        return cls(read_text(path, encoding, newline), val_fraction, str(path), min_char_count)

    @classmethod
    def load(cls, spec, val_fraction=0.1, encoding="utf-8", newline="normalize",
             min_char_count=0):
        """The text ``spec`` names (see ``load_text``) as a Corpus named ``spec``."""
        return cls(load_text(spec, encoding, newline), val_fraction, spec, min_char_count)

    @classmethod
    def from_config(cls, config):
        """The corpus a RunConfig names, read, mapped and (records mode) parsed as it says,
        before data_limit: a records file becomes a RecordCorpus directly, built once."""
        text = load_text(config.data, config.encoding, config.newline)
        if config.records:
            return RecordCorpus.parse(text, config.records, config.val_fraction, config.data,
                                      config.min_char_count)
        return cls(text, config.val_fraction, config.data, config.min_char_count)

    def source(self):
        """The arguments that build this corpus again (its text before min_char_count, not
        its encoded arrays): what a grid sends to its worker processes."""
        return self.raw_text, self.val_fraction, self.name, self.min_char_count

    def head(self, n):
        """The corpus made of the first ``n`` characters only (all of them when n is 0 or more
        than the text holds), with its own vocabulary and split: for overfitting a tiny slice."""
        return self._head(n, self.length, lambda: Corpus(
            self.raw_text[:n], self.val_fraction, f"{self.name}[:{n}]", self.min_char_count))

    def _head(self, n, size, build):
        """self when n is 0 or at least ``size``, else ``build()``, once per n: the runs of a
        grid that share a text and a data_limit share their head."""
        if not n or n >= size:
            return self
        if n not in self._heads:
            self._heads[n] = build()
        return self._heads[n]

    def encode(self, text):
        """Character ids of ``text`` as an int64 array; unknown characters are an error, or
        UNKNOWN's id when min_char_count is on."""
        points = codepoints(text)
        ids = np.minimum(np.searchsorted(self._points, points), self.vocab_size - 1)
        unknown = self._points[ids] != points
        if unknown.any():
            if not (UNKNOWN in self._index and self.min_char_count > 1):
                first = chr(points[np.argmax(unknown)])
                raise CorpusError(f"character {first!r} is not in the vocabulary of "
                                  f"{self.name}")
            ids[unknown] = self._index[UNKNOWN]
        return ids.astype(np.int64)

    def decode(self, ids):
        return decode_ids(self._points, ids)

    def rarest(self, n=10):
        """The ``n`` rarest characters of the text as (character, count), rarest first."""
        return sorted(self.counts.items(), key=lambda item: (item[1], item[0]))[:n]

    def vocabulary_report(self, n=10):
        """One line: vocabulary size, the rarest characters, what min_char_count mapped."""
        rare = ", ".join(f"{c!r} {k}" for c, k in self.rarest(n))
        line = f"vocabulary {self.vocab_size} characters; rarest: {rare}"
        if self.min_char_count > 1:
            line += (f"; {len(self.unknown_chars)} characters seen fewer than "
                     f"{self.min_char_count} times mapped to {UNKNOWN!r} "
                     f"({self.counts.get(UNKNOWN, 0)} occurrences)")
        return line

    def check_length(self, seq_length, batch_size=1):
        """Each of the batch_size streams the training part is cut into must hold at least one
        chunk of seq_length + 1 characters."""
        stream_length(len(self.train_ids), seq_length, batch_size, self.name)

    def __repr__(self):
        return (f"Corpus({self.name!r}, {self.length} chars, vocab {self.vocab_size}, "
                f"train {len(self.train_ids)}, val {len(self.val_ids)})")


def missing_chars(text, chars):
    """The characters of ``text`` not in ``chars``, sorted, as one string ('' when none)."""
    return "".join(sorted({c for c in text if c not in chars}))


def stream_length(n, seq_length, batch_size=1, name=None):
    """The length of each of the batch_size streams that n training ids are cut into, or a
    CorpusError when one cannot hold a chunk of seq_length + 1 (what an update reads)."""
    part = n // batch_size
    if part < seq_length + 1:
        streams = f" ({batch_size} streams of {part})" if batch_size > 1 else ""
        raise CorpusError(f"{name + ': ' if name else ''}the training text has {n} characters"
                          f"{streams}, fewer than seq_length + 1 = {seq_length + 1}")
    return part


class RecordCorpus(Corpus):
    """A Corpus over the stream END r1 END r2 ... END, split by records.

    ``records`` are as parsed; min_char_count maps their rare characters (never END) in the
    stream. ``train_bounds`` / ``val_bounds`` (int64, n + 1 each) are the offsets of the ENDs in
    ``train_ids`` / ``val_ids``: record i's inputs are ids[b[i]:b[i + 1]] and its targets
    ids[b[i] + 1:b[i + 1] + 1]. The two parts share the END between them.
    """

    def __init__(self, records, val_fraction=0.1, name="<records>", spec="lines", end=None,
                 min_char_count=0):
        records = list(records)
        if not records:
            raise CorpusError(f"{name}: no records")
        end = end or end_symbol_for(records)
        if any(end in r for r in records):
            raise CorpusError(f"{name}: the end symbol {end!r} occurs in a record")
        self._raw_text = None  # the stream is its records joined: encoded, never built
        lengths = np.fromiter(map(len, records), np.int64, len(records)) + 1
        self._encode(lambda: stream_of(records, end), int(lengths.sum()) + 1, val_fraction, name,
                     min_char_count, keep=end)
        self.records, self.spec, self.end_symbol = records, spec, end
        self._split_records(self.ids, np.concatenate([[0], np.cumsum(lengths)]))

    def _split_records(self, ids, bounds):
        """Training and validation streams, split by records, and their END offsets."""
        self.end_id = self.chars.index(self.end_symbol)
        self.n_records = len(bounds) - 1
        n_train = self.n_records - int(self.n_records * self.val_fraction)
        cut = int(bounds[n_train])
        self.train_ids, self.val_ids = ids[:cut + 1], ids[cut:]
        self.train_bounds, self.val_bounds = bounds[:n_train + 1], bounds[n_train:] - cut
        self.n_train, self.n_val = n_train, self.n_records - n_train
        self.bounds = bounds

    SHARED_FIELDS = Corpus.SHARED_FIELDS + ("spec", "end_symbol")

    def encoded(self):
        settings, arrays = super().encoded()
        return settings, dict(arrays, bounds=self.bounds)

    def _rebuild(self, arrays):
        super()._rebuild(arrays)
        self._records = None
        self._split_records(arrays["ids"], arrays["bounds"])

    @property
    def records(self):
        """The records as parsed (a corpus rebuilt from its encoding decodes them, after
        min_char_count)."""
        if self._records is None:
            b, text = self.bounds, self.decode(self.ids)
            self._records = [text[b[i] + 1:b[i + 1]] for i in range(self.n_records)]
        return self._records

    @records.setter
    def records(self, value):
        self._records = value

    @classmethod
    def parse(cls, text, spec, val_fraction=0.1, name="<text>", min_char_count=0):
        """The records of the file text ``text``; run ids keep naming that text's checksum."""
        corpus = cls(parse_records(text, spec, name), val_fraction, f"{name} [records {spec}]",
                     spec, min_char_count=min_char_count)
        corpus.source_checksum = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return corpus

    def source(self):
        """As Corpus.source: the records as parsed, and the settings."""
        return (tuple(self.records), self.val_fraction, self.name, self.spec, self.end_symbol,
                self.min_char_count)

    def head(self, n):
        """The first ``n`` records only (data_limit counts records in records mode)."""
        return self._head(n, self.n_records, lambda: RecordCorpus(
            self.records[:n], self.val_fraction, f"{self.name}[:{n}]", self.spec,
            self.end_symbol, self.min_char_count))

    def check_length(self, seq_length=None, batch_size=1):
        """Records need no minimum length, but every training stream needs a record."""
        if self.n_train < batch_size:
            raise CorpusError(f"{self.name}: {self.n_train} training records, fewer than "
                              f"batch_size = {batch_size}")

    def __repr__(self):
        return (f"RecordCorpus({self.name!r}, {self.n_records} records, end "
                f"{self.end_symbol!r}, vocab {self.vocab_size}, train {self.n_train}, "
                f"val {self.n_val})")


def prepare_corpus(corpus, config):
    """The corpus a run trains on: ``corpus`` (records parsed from its text when the config
    asks and Corpus.from_config has not), then ``config.data_limit`` (characters, or records
    in records mode)."""
    spec = getattr(config, "records", None)
    if isinstance(corpus, RecordCorpus):
        if spec != corpus.spec:
            raise CorpusError(f"{corpus.name}: a records corpus ({corpus.spec}) but the config "
                              f"has records: {spec}")
    elif spec:
        corpus = RecordCorpus.parse(corpus.raw_text, spec, corpus.val_fraction, corpus.name,
                                    corpus.min_char_count)
    return corpus.head(config.data_limit)
