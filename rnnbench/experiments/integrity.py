"""Sizes and sha256 hashes that make a file trustworthy: recorded when it is written, checked
when it is read.

A JSON document is *sealed*: it carries the sha256 of its own content, so that an edit is
noticed (a checksum against accidents and hand edits, not a signature: whoever can write the
folder can recompute it), and it may list other files with their size and sha256. A run's
summary.json lists the files of its run (run_folder.py), a grid's manifest.json the files of
its results folder (results.py).
"""
import hashlib
import json
import os
import stat

from ..disk.writing import json_default, to_json_bytes

INTEGRITY = "integrity"


class DamagedFile(ValueError):
    """A file whose content is not what was written; the message is one line."""


def record(data):
    """What is recorded of a file's content: its size and sha256."""
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _seal(doc):
    """sha256 of ``doc`` as canonical JSON, without the seal itself."""
    body = {k: v for k, v in doc.items() if k != INTEGRITY}
    body[INTEGRITY] = {k: v for k, v in doc.get(INTEGRITY, {}).items() if k != "seal"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


def sealed(doc, files=None):
    """``doc`` (a JSON-able dict) with its seal and, given ``files`` (name -> bytes), their
    records: the bytes of a JSON file."""
    doc = json.loads(json.dumps(doc, default=json_default))  # the types it reads back as
    doc[INTEGRITY] = {} if files is None else {
        "files": {name: record(data) for name, data in files.items()}}
    doc[INTEGRITY]["seal"] = _seal(doc)
    return to_json_bytes(doc)


def unseal(raw, what):
    """(doc without its integrity entry, that entry) of the sealed JSON ``raw``; (doc, None)
    when it has none (a legacy file). Raises DamagedFile."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise DamagedFile(f"{what} is not valid JSON") from None
    if not isinstance(doc, dict):
        raise DamagedFile(f"{what} holds {_kind(doc)}, not a mapping")
    integrity = doc.pop(INTEGRITY, None)
    if integrity is None:
        return doc, None
    files = integrity.get("files", {}) if isinstance(integrity, dict) else None
    if not isinstance(files, dict) or not all(is_record(r) for r in files.values()):
        raise DamagedFile(f"{what}: its '{INTEGRITY}' entry is malformed")
    if integrity.get("seal") != _seal({**doc, INTEGRITY: integrity}):
        raise DamagedFile(f"{what} has been changed since it was written (its seal does not "
                          f"match)")
    return doc, integrity


def is_record(r):
    return (isinstance(r, dict) and isinstance(r.get("bytes"), int)
            and isinstance(r.get("sha256"), str))


def _kind(value):
    if isinstance(value, list):
        return "an empty list" if not value else "a list"
    return "null" if value is None else f"a {type(value).__name__}"


def read_regular(path, what):
    """The bytes of the regular file ``path``; DamagedFile when it is missing, a link or not a
    regular file, or cannot be read."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise DamagedFile(f"{what} is missing") from None
    except OSError as exc:
        raise DamagedFile(f"{what} cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a symbolic link" if stat.S_ISLNK(info.st_mode) else "not a regular file"
        raise DamagedFile(f"{what} is {kind}")
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise DamagedFile(f"{what} cannot be read ({exc.strerror})") from None


def check_file(path, what, records):
    """Raise DamagedFile unless the file ``path`` has the size and hash of one of ``records``."""
    data = read_regular(path, what)
    if any(r == record(data) for r in records):
        return
    sizes = sorted({r["bytes"] for r in records})
    if len(data) not in sizes:  # truncated, or another file
        raise DamagedFile(f"{what} has {len(data):,} bytes, not the "
                          f"{' or '.join(f'{n:,}' for n in sizes)} recorded")
    raise DamagedFile(f"{what} has changed since it was written (its sha256 differs)")


def first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
