"""What makes a run folder, or a grid's tables, trustworthy: sizes and sha256 hashes.

A run's summary.json, written last, lists each file of the run with its size and sha256, and a
seal: the sha256 of the summary's own content, so that an edit is noticed (a checksum against
accidents and hand edits, not a signature: whoever can write the folder can recompute it). A
grid's root files (grid.json, baselines.parquet and the tables) are listed the same way in
manifest.json. Folders of rnnbench versions before these hashes have none: they count as
intact when their files read (``check_legacy``).
"""
import hashlib
import json
import os
import stat
import zipfile

import numpy as np

SUMMARY, CONFIG, TRACE, SAMPLES, CHECKPOINT, ERROR = (
    "summary.json", "config.json", "trace.parquet", "samples.parquet", "checkpoint.npz",
    "error.txt")
RUN_FILES = (CONFIG, TRACE, SAMPLES, CHECKPOINT, ERROR, SUMMARY)
STATUSES = ("ok", "diverged", "failed")
_FINISHED_FILES = (CONFIG, TRACE, SAMPLES, CHECKPOINT)
NEEDS = {"ok": _FINISHED_FILES, "diverged": _FINISHED_FILES, "failed": (CONFIG,)}
INTEGRITY = "integrity"
MANIFEST = "manifest.json"


class DamagedFile(ValueError):
    """A file whose content is not what was written; the message is one line."""


def to_json_bytes(obj):
    return (json.dumps(obj, indent=2, default=_json_default) + "\n").encode()


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"cannot store {type(obj).__name__} as JSON")


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
    doc = json.loads(json.dumps(doc, default=_json_default))  # the types it reads back as
    doc[INTEGRITY] = {} if files is None else {
        "files": {name: record(data) for name, data in files.items()}}
    doc[INTEGRITY]["seal"] = _seal(doc)
    return to_json_bytes(doc)


def _unseal(raw, what):
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
    if not isinstance(files, dict) or not all(_is_record(r) for r in files.values()):
        raise DamagedFile(f"{what}: its '{INTEGRITY}' entry is malformed")
    if integrity.get("seal") != _seal({**doc, INTEGRITY: integrity}):
        raise DamagedFile(f"{what} has been changed since it was written (its seal does not "
                          f"match)")
    return doc, integrity


def _is_record(r):
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


# -- run folders --------------------------------------------------------------------------------

def check_run_folder(folder):
    """The summary of the finished run in ``folder`` (without its integrity entry), None when
    it has none (never finished); DamagedFile when the folder is not intact."""
    path = os.path.join(folder, SUMMARY)
    if not os.path.lexists(path):
        return None
    summary, integrity = _unseal(read_regular(path, SUMMARY), SUMMARY)
    status = summary.get("status")
    if status not in STATUSES:
        raise DamagedFile(f"{SUMMARY} has no valid status (got {status!r})")
    if status != "failed" and not isinstance(summary.get("updates"), int):
        raise DamagedFile(f"{SUMMARY} of a finished run has no update count")
    if integrity is None:
        check_legacy(folder, status)
        return summary
    files = integrity.get("files", {})
    for name in NEEDS[status]:
        if name not in files:
            raise DamagedFile(f"{SUMMARY} does not list {name}")
    for name, rec in files.items():
        if name not in RUN_FILES:
            raise DamagedFile(f"{SUMMARY} lists an unknown file {name!r}")
        check_file(os.path.join(folder, name), name, [rec])
    return summary


def check_legacy(folder, status):
    """A run folder written before file hashes: intact when each file it needs reads."""
    import pyarrow.parquet as pq
    for name in NEEDS[status]:
        path = os.path.join(folder, name)
        data = read_regular(path, name)
        try:
            if name == CONFIG:
                if not isinstance(json.loads(data), dict):
                    raise ValueError("not a mapping")
            elif name == CHECKPOINT:
                with zipfile.ZipFile(path) as z:
                    if z.testzip() is not None:
                        raise ValueError("a member fails its CRC")
            else:
                pq.read_table(path)
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise DamagedFile(f"{name} does not read ({first_line(exc)})") from None


def first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# -- a grid's root files ------------------------------------------------------------------------

def read_manifest(root):
    """{name: [records]} of a grid's manifest.json ({} when there is none: a legacy folder);
    DamagedFile when it is not intact."""
    path = os.path.join(root, MANIFEST)
    if not os.path.lexists(path):
        return {}
    doc, integrity = _unseal(read_regular(path, path), path)
    files = doc.get("files") if integrity is not None else None
    if not isinstance(files, dict) or not all(
            isinstance(v, list) and v and all(_is_record(r) for r in v) for v in files.values()):
        raise DamagedFile(f"{path} is malformed")
    return files


def manifest_bytes(files):
    """A sealed manifest.json listing ``files`` ({name: [records]}: more than one while a file
    is being replaced, so that a kill in between leaves a file that matches)."""
    return sealed({"files": files})

