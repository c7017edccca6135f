"""Corpus: a text, its sorted character vocabulary, encoding, and the train/validation split."""
import hashlib
from importlib import resources
from pathlib import Path

import numpy as np

BUILTIN = {
    "pydoc": ("pydoc_topics.txt",
              "Python's own help topics (pydoc_data.topics of CPython 3.11.7), 465 kB of English "
              "prose and code, PSF licence"),
}


PYTHON_PREFIX = "python:"


class CorpusError(ValueError):
    """A text that cannot be used; the message is one line naming the file and the problem."""


class Corpus:
    """A text split into a training head and a validation tail, encoded over a sorted vocabulary.

    The vocabulary is the sorted set of characters of the whole text (min-char-rnn's
    ``list(set(data))`` order changes between Python processes, so its ids are not reproducible).
    """

    def __init__(self, text, val_fraction=0.1, name="<text>"):
        if not 0 <= val_fraction < 1:
            raise CorpusError(f"val_fraction must be in [0, 1), got {val_fraction}")
        if not text:
            raise CorpusError(f"{name}: the text is empty")
        self.name = name
        self.text = text
        self.chars = sorted(set(text))
        self.vocab_size = len(self.chars)
        self._index = {c: i for i, c in enumerate(self.chars)}
        self.ids = self.encode(text)
        n_val = int(len(text) * val_fraction)
        self.val_fraction = val_fraction
        self.train_ids = self.ids[:len(text) - n_val]
        self.val_ids = self.ids[len(text) - n_val:]
        self.checksum = hashlib.sha256(text.encode("utf-8")).hexdigest()

    @classmethod
    def from_text(cls, text, val_fraction=0.1, name="<text>"):
        return cls(text, val_fraction, name)

    @classmethod
    def from_file(cls, path, val_fraction=0.1):
        return cls(read_text(path), val_fraction, str(path))

    @classmethod
    def load(cls, spec, val_fraction=0.1):
        """A built-in corpus by name; ``python:<module>``, the source of a standard-library
        module (a text every Python ships, named alike on every machine, unlike its path); or
        else a text file by path."""
        if spec.startswith(PYTHON_PREFIX):
            return cls(read_text(stdlib_source(spec)), val_fraction, spec)
        if spec in BUILTIN:
            filename = BUILTIN[spec][0]
            text = resources.files("rnnbench.corpora").joinpath(filename).read_text("utf-8")
            return cls(text, val_fraction, spec)
        return cls.from_file(spec, val_fraction)

    def head(self, n):
        """The corpus made of the first ``n`` characters only (all of them when n is 0 or more
        than the text holds), with its own vocabulary and split: for overfitting a tiny slice."""
        if not n or n >= len(self.text):
            return self
        return Corpus(self.text[:n], self.val_fraction, f"{self.name}[:{n}]")

    def encode(self, text):
        """Character ids of ``text`` as an int64 array; unknown characters are an error."""
        try:
            return np.fromiter((self._index[c] for c in text), dtype=np.int64, count=len(text))
        except KeyError as exc:
            raise CorpusError(f"character {exc.args[0]!r} is not in the vocabulary of "
                              f"{self.name}") from None

    def decode(self, ids):
        return "".join(self.chars[i] for i in ids)

    def check_length(self, seq_length):
        """The training part must hold at least one chunk of seq_length + 1 characters."""
        if len(self.train_ids) < seq_length + 1:
            raise CorpusError(
                f"{self.name}: the training text has {len(self.train_ids)} characters, fewer than "
                f"seq_length + 1 = {seq_length + 1}")

    def __repr__(self):
        return (f"Corpus({self.name!r}, {len(self.text)} chars, vocab {self.vocab_size}, "
                f"train {len(self.train_ids)}, val {len(self.val_ids)})")


def read_text(path):
    """The UTF-8 text of ``path`` (a leading byte-order mark dropped), or a one-line CorpusError."""
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"{path}: no such file")
    if path.is_dir():
        raise CorpusError(f"{path}: is a directory, not a text file")
    raw = path.read_bytes()
    if not raw:
        raise CorpusError(f"{path}: the file is empty")
    if b"\x00" in raw:
        raise CorpusError(f"{path}: looks like a binary file (it contains NUL bytes), not text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
                          f"{exc.start})") from None
    text = text.removeprefix("\ufeff")
    if not text:
        raise CorpusError(f"{path}: the file is empty")
    return text


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
