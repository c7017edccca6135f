"""Records mode: a file of short texts (names, tweets, lines) trained one record at a time.

A records file is parsed into a list of strings and laid out as one stream
``END r1 END r2 END ... END``: the END before a record is both the previous record's end and
this record's start symbol, so input END predicts a record's first character (every character
of a record is a target, and sampling can start from END with no prime) and the END after it
is predicted too. The validation split takes the tail fraction of *records*, not characters.

This module reads a records file; the encoded stream is corpus.RecordCorpus.
"""
import csv
import io
import json

from .loading import CorpusError, normalize_newlines

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


def stream_of(records, end, group=4096):
    """The stream END r1 END r2 ... END, as strings of ``group`` records at a time."""
    yield end
    for i in range(0, len(records), group):
        yield end.join(records[i:i + group]) + end


RECORD_SUFFIXES = {".jsonl": "jsonl:<field>", ".json": "jsonl:<field>", ".csv": "csv:<column>"}


def records_hint(path, records):
    """A one-line warning when a file whose name says it holds records (.jsonl, .json, .csv)
    is read as plain text (no ``records``): training would learn its JSON or CSV syntax."""
    suffix = str(path).lower().rpartition(".")[2]
    spec = RECORD_SUFFIXES.get("." + suffix)
    if records is not None or spec is None or "." not in str(path):
        return None
    return (f"rnnbench: warning: {path} is read as plain text, JSON or CSV syntax and all; to "
            f"train on one field per record add --records {spec} (or 'records:' in a grid)")
