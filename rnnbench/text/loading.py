"""Reading texts: a built-in text, a standard-library module's source, a downloaded text or a
file; its encoding (UTF-8 with or without a byte-order mark, or one named), its line endings.
Errors are one line naming the file (CorpusError)."""
import codecs
import importlib.util
import sysconfig
from importlib import resources
from pathlib import Path

from ..disk.reading import UnreadableFile, read_text_file
from .names import DATA_DIR, download_filename

BUILTIN = {
    "pydoc": ("pydoc_topics.txt",
              "Python's own help topics (pydoc_data.topics of CPython 3.11.7), 465 kB of English "
              "prose and code, PSF licence"),
}
PYTHON_PREFIX = "python:"
NEWLINES = ("normalize", "keep")


class CorpusError(ValueError):
    """A text that cannot be used; the message is one line naming the file and the problem."""


def load_text(spec, encoding="utf-8", newline="normalize"):
    """The text of a built-in corpus by name; ``python:<module>``, the source of a
    standard-library module (a text every Python ships, named alike on every machine, unlike
    its path); a downloaded text by name (``gutenberg:<id>``, ``tinyshakespeare``: a file in
    data/); or else a text file by path. ``encoding`` applies to text files only."""
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
