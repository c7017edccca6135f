"""Records mode: a file of short texts (names, tweets, lines) trained one record at a time.

A records file is parsed into a list of strings and laid out as one stream
``END r1 END r2 END ... END``: the END before a record is both the previous record's end and
this record's start symbol, so input END predicts a record's first character (every character
of a record is a target, and sampling can start from END with no prime) and the END after it
is predicted too. The validation split takes the tail fraction of *records*, not characters.
"""
import csv
import hashlib
import io
import json

import numpy as np

from .corpus import Corpus, CorpusError, normalize_newlines

# U+2403 SYMBOL FOR END OF TEXT prints visibly in samples; the fallbacks are control characters.
END_CANDIDATES = ("\u2403", "\x03", "\x04", "\x1e", "\x1f")
SPEC_HELP = "'lines', 'jsonl:<field>' or 'csv:<column>'"


def check_spec(spec):
    """``spec`` as (kind, key), or ValueError: 'lines' | 'jsonl:<field>' | 'csv:<column>'."""
    kind, sep, key = str(spec).partition(":")
    if (kind == "lines" and not sep) or (kind in ("jsonl", "csv") and key):
        return kind, key
    raise ValueError(f"expected {SPEC_HELP}")


def parse_records(text, spec, name="<text>"):
    """The records of ``text`` as a list of strings, or a one-line CorpusError naming ``name``.

    lines: every non-empty line; jsonl:<field>: one JSON object per non-empty line, its string
    ``field``; csv:<column>: the ``column`` of each row after the header (empty cells skipped).
    """
    try:
        kind, key = check_spec(spec)
    except ValueError as exc:
        raise CorpusError(f"{name}: records: {exc}, got {spec!r}") from None
    lines = normalize_newlines(text).split("\n")
    if kind == "lines":
        records = [line for line in lines if line.strip()]
    elif kind == "jsonl":
        records = _jsonl(lines, key, name)
    else:
        records = _csv(text, key, name)
    if not records:
        raise CorpusError(f"{name}: no records found (records: {spec})")
    return records


def _jsonl(lines, field, name):
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CorpusError(f"{name}: line {number}: not valid JSON ({exc.msg})") from None
        except RecursionError:
            raise CorpusError(f"{name}: line {number}: JSON nested too deeply") from None
        except ValueError as exc:  # e.g. an integer of more than 4300 digits
            raise CorpusError(f"{name}: line {number}: not usable JSON "
                              f"({str(exc).split(';')[0]})") from None
        if not isinstance(obj, dict):
            raise CorpusError(f"{name}: line {number}: expected a JSON object, got "
                              f"{type(obj).__name__}")
        if field not in obj:
            raise CorpusError(f"{name}: line {number}: no field {field!r} (fields: "
                              f"{_names(obj)})")
        value = obj[field]
        if not isinstance(value, str):
            raise CorpusError(f"{name}: line {number}: field {field!r} is not a string")
        if value:
            records.append(value)
    return records


def _names(keys, limit=20):
    keys = [str(k) for k in keys]
    more = f", ... ({len(keys)} in all)" if len(keys) > limit else ""
    return (", ".join(keys[:limit]) or "none") + more


def _csv(text, column, name):
    """The ``column`` of every row; strict about quoting (a quote never closed is an error,
    not a record that swallows the rest of the file) and about the number of fields."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    start = 1  # the line a row starts on: a quoted field may span lines
    try:
        header = next(reader, None) or []
        if column not in header:
            raise CorpusError(f"{name}: no CSV column {column!r} (columns: {_names(header)})")
        if header.count(column) > 1:
            raise CorpusError(f"{name}: line 1: the CSV column {column!r} appears "
                              f"{header.count(column)} times in the header")
        at = header.index(column)
        records = []
        start = reader.line_num + 1
        for row in reader:
            if row and len(row) != len(header):
                raise CorpusError(f"{name}: line {start}: {len(row)} CSV fields, the header "
                                  f"has {len(header)}")
            if row and row[at]:
                records.append(row[at])
            start = reader.line_num + 1
        return records
    except csv.Error as exc:
        problem = str(exc)
        if problem == "unexpected end of data":
            problem = "a quoted field is never closed"
        raise CorpusError(f"{name}: line {start}: bad CSV ({problem})") from None


def end_symbol_for(records):
    """The first candidate END character that no record contains."""
    for c in END_CANDIDATES:
        if not any(c in r for r in records):  # no set per record: millions of records fit
            return c
    raise CorpusError("no free end-of-record symbol: the records use "
                      + ", ".join(repr(c) for c in END_CANDIDATES))


def _stream(records, end, group=4096):
    """The stream END r1 END r2 ... END, as strings of ``group`` records at a time."""
    yield end
    for i in range(0, len(records), group):
        yield end.join(records[i:i + group]) + end


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
        self._encode(lambda: _stream(records, end), int(lengths.sum()) + 1, val_fraction, name,
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
