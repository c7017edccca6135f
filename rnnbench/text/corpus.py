"""Corpus: a text, its sorted character vocabulary, encoding, and the train/validation split."""
import codecs
from collections import Counter
from importlib import resources
from pathlib import Path

import numpy as np

from .charids import IDS, MAX_VOCAB, char_counts, codepoints, decode_ids, encode_text

BUILTIN = {
    "pydoc": ("pydoc_topics.txt",
              "Python's own help topics (pydoc_data.topics of CPython 3.11.7), 465 kB of English "
              "prose and code, PSF licence"),
}


PYTHON_PREFIX = "python:"
UNKNOWN = "\ufffd"  # Unicode's replacement character: what min_char_count maps rare ones to
NEWLINES = ("normalize", "keep")


class CorpusError(ValueError):
    """A text that cannot be used; the message is one line naming the file and the problem."""


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

    end_symbol = None  # plain text has no end-of-record symbol (see records.RecordCorpus)

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
            from .records import RecordCorpus
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


def load_text(spec, encoding="utf-8", newline="normalize"):
    """The text of a built-in corpus by name; ``python:<module>``, the source of a
    standard-library module (a text every Python ships, named alike on every machine, unlike
    its path); a downloaded text by name (``gutenberg:<id>``, ``tinyshakespeare``: a file in
    data/); or else a text file by path. ``encoding`` applies to text files only."""
    from .names import DATA_DIR, download_filename

    if spec.startswith(PYTHON_PREFIX):
        return read_text(stdlib_source(spec), "utf-8", newline)  # PEP 3120: source is UTF-8
    if spec in BUILTIN:
        text = resources.files("rnnbench.corpora").joinpath(BUILTIN[spec][0]).read_text("utf-8")
        return normalize_newlines(text, newline)
    if download_filename(spec):
        path = DATA_DIR / download_filename(spec)
        if not path.exists():
            raise CorpusError(f"{spec}: not downloaded yet ({path} is missing); run "
                              f"'rnnbench data get {spec}' in this folder")
        return read_text(path, encoding, newline)
    return read_text(spec, encoding, newline)


def read_text(path, encoding="utf-8", newline="normalize"):
    """The text of ``path`` (a leading byte-order mark dropped, line endings as ``newline``
    says), or a one-line CorpusError. Only a regular file within the text size limit is read
    (see rnnbench.disk.reading)."""
    from ..disk.reading import UnreadableFile, read_text_file
    path = Path(path)
    try:
        raw = read_text_file(path, "text")
    except UnreadableFile as exc:
        raise CorpusError(str(exc)) from None
    if not raw:
        raise CorpusError(f"{path}: the file is empty")
    codec = check_encoding(encoding)
    utf8 = codec == "utf-8"
    if utf8 and raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        wide = "UTF-32" if raw[:4] == b"\xff\xfe\0\0" else "UTF-16"
        raise CorpusError(f"{path}: looks like {wide} text (it starts with a {wide} byte-order "
                          f"mark); pass --encoding {wide.lower()}")
    if utf8 and b"\x00" in raw:
        guess = wide_encoding(raw)
        if guess:
            raise CorpusError(f"{path}: looks like {guess.upper()} text without a byte-order "
                              f"mark (NUL bytes in a regular pattern); pass --encoding {guess} "
                              f"(encoding: {guess} in a grid)")
        raise CorpusError(f"{path}: looks like a binary file (it contains NUL bytes), not text")
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        hint = ("; if it is in another encoding, pass it with --encoding (encoding: in a grid), "
                "e.g. --encoding latin-1" if utf8 else "; is --encoding right?")
        raise CorpusError(f"{path}: not {'UTF-8' if utf8 else encoding} text (byte "
                          f"0x{raw[exc.start]:02x} at offset {exc.start}){hint}") from None
    if not utf8 and "\x00" in text:
        raise CorpusError(f"{path}: looks like a binary file (it contains NUL characters as "
                          f"{encoding}), not text")
    text = normalize_newlines(text.removeprefix("\ufeff"), newline)
    if not text:
        raise CorpusError(f"{path}: the file is empty")
    return text


WIDE_ENCODINGS = ("utf-32-le", "utf-32-be", "utf-16-le", "utf-16-be")


def wide_encoding(raw, sample=1 << 16):
    """The UTF-16 or UTF-32 encoding (no byte-order mark) that ``raw`` holds, or None.

    Such text is mostly ASCII or Latin characters, whose high bytes are NUL at fixed offsets
    (every odd offset in UTF-16-LE). A candidate must decode the file's start without error,
    give no NUL character, and give printable text (whitespace included); binary data decoded
    as UTF-16 soon meets an unpaired surrogate or a NUL pair, and gives few ASCII characters.
    """
    import codecs
    head = raw[:sample]
    # little-endian text has its NUL (high) bytes at odd offsets, big-endian at even ones
    little = head[1::2].count(0) >= head[0::2].count(0)
    for name in sorted(WIDE_ENCODINGS, key=lambda e: e.endswith("-le") != little):
        try:
            text = codecs.getincrementaldecoder(name)().decode(head, final=len(raw) <= sample)
        except UnicodeDecodeError:
            continue
        printable = sum(c.isprintable() or c.isspace() for c in text)
        ascii_ = sum(c < "\x80" for c in text)  # newlines, spaces, digits: text has some
        if (text and "\x00" not in text and printable >= 0.95 * len(text)
                and ascii_ >= 0.05 * len(text)):
            return name
    return None


def check_encoding(encoding):
    """Python's name of the text encoding ``encoding`` ('utf-8', 'iso8859-1'), or CorpusError."""
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        raise CorpusError(f"encoding: unknown text encoding {encoding!r} (e.g. utf-8, latin-1, "
                          f"cp1252, utf-16)") from None
    if not getattr(info, "_is_text_encoding", True):  # base64, zlib: bytes to bytes
        raise CorpusError(f"encoding: {encoding!r} is not a text encoding")
    return info.name


def normalize_newlines(text, newline="normalize"):
    """Windows (\\r\\n) and old Mac (\\r) line endings as \\n, unless ``newline`` is 'keep'."""
    if newline == "keep":
        return text
    if newline != "normalize":
        raise CorpusError(f"newline: expected one of {', '.join(NEWLINES)}, got {newline!r}")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def stdlib_source(spec):
    """The .py file of the standard-library module that ``python:<module>`` names."""
    import importlib.util
    import sysconfig

    module = spec[len(PYTHON_PREFIX):]
    try:
        found = importlib.util.find_spec(module) if module else None
    except (ImportError, ValueError):
        found = None
    origin = Path(found.origin) if found is not None and found.origin else None
    paths = sysconfig.get_paths()
    stdlib = Path(paths["stdlib"]).resolve()
    installed = {Path(paths[k]).resolve() for k in ("purelib", "platlib")}  # may sit in stdlib
    where = origin.resolve().parents if origin is not None else ()
    if origin is None or origin.suffix != ".py" or stdlib not in where or installed & set(where):
        raise CorpusError(f"{spec}: no standard-library module {module!r} with Python source")
    return origin
