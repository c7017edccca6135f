"""The texts rnnbench can name: built-ins, downloads kept in data/, and what data/ holds.

data/ is the folder of that name in the current directory (the project's data/ when rnnbench
runs from the project root). A download ``gutenberg:<id>`` is kept as data/gutenberg-<id>.txt
and ``tinyshakespeare`` as data/tinyshakespeare.txt, each beside a ``<file>.sha256`` in
sha256sum's format, so ``sha256sum -c`` checks it too.
"""
import hashlib
import re
from pathlib import Path

from ..disk.reading import UnreadableFile, open_regular, read_bytes, read_text_file

DATA_DIR = Path("data")
GUTENBERG = re.compile(r"^gutenberg:(\d+)$")
TINYSHAKESPEARE = "tinyshakespeare"


def download_filename(spec):
    """The data/ file name of a downloadable text's name, or None when ``spec`` names none."""
    match = GUTENBERG.match(spec)
    if match:
        return f"gutenberg-{int(match.group(1))}.txt"
    if spec == TINYSHAKESPEARE:
        return f"{TINYSHAKESPEARE}.txt"
    return None


def download_name(filename):
    """The inverse of download_filename: 'gutenberg-11.txt' -> 'gutenberg:11', else None."""
    match = re.match(r"^gutenberg-(\d+)\.txt$", filename)
    if match:
        return f"gutenberg:{match.group(1)}"
    return TINYSHAKESPEARE if filename == f"{TINYSHAKESPEARE}.txt" else None


def sha256_file(path):
    """The sha256 of a regular file, read in blocks (any size), or UnreadableFile."""
    digest = hashlib.sha256()
    with open_regular(path, "text") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sidecar(path):
    path = Path(path)
    return path.with_name(path.name + ".sha256")


def sidecar_line(path, digest):
    return f"{digest}  {Path(path).name}\n"


def recorded_sha256(path):
    """The checksum recorded beside ``path`` when it was stored, or None."""
    try:
        return read_bytes(sidecar(path), "checksum file", 4096).decode("ascii").split()[0]
    except (UnreadableFile, UnicodeDecodeError, IndexError):
        return None


def data_texts(folder=DATA_DIR):
    """One dict per text file in ``folder``: name, path, bytes, characters, sha256, state.
    A .txt that is not a regular file (a pipe, a device) is listed as such, never read."""
    folder = Path(folder)
    rows = []
    for path in sorted(folder.glob("*.txt")) if folder.is_dir() else []:
        row = dict(name=download_name(path.name) or str(path), path=path, bytes=None,
                   chars=None, sha256=None)
        try:
            raw = read_text_file(path)
        except UnreadableFile as exc:
            rows.append(dict(row, state=str(exc).removeprefix(f"{path}: ")))
            continue
        digest = hashlib.sha256(raw).hexdigest()
        try:
            chars = len(raw.decode("utf-8").removeprefix("\ufeff"))
        except UnicodeDecodeError:
            chars = None
        recorded = recorded_sha256(path)
        state = ("unchecked" if recorded is None else
                 "verified" if recorded == digest else "CHANGED since download")
        rows.append(dict(row, bytes=len(raw), chars=chars, sha256=digest, state=state))
    return rows
