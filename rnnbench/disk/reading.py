"""Reading the files a user or another file names: regular files only, bounded, never blocking.

A path can name a device (/dev/zero never ends), a named pipe (opening one for reading blocks
until a writer comes), a socket or a directory. Every file rnnbench reads on someone's word
(texts, grid files, records, checkpoints, run summaries) is stat'ed first and refused unless it
is a regular file no larger than its limit; it is then opened with O_NONBLOCK (a file swapped
for a pipe in between cannot block the open) and checked again on the open descriptor.
"""
import os
import stat
from pathlib import Path

ENV_MAX_TEXT_MB = "RNNBENCH_MAX_TEXT_MB"
# The largest text rnnbench reads unless told otherwise: enwik8, the usual large character-level
# corpus, is 100 MB, and a 100 MB text trains in about a gigabyte; four times that in a file a
# user names by mistake (a disk image, a log) would take several gigabytes before any check.
DEFAULT_MAX_TEXT_MB = 256
MB = 2**20


class UnreadableFile(ValueError):
    """A path that is not a readable regular file within its size limit; one line."""


KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
         (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
         (stat.S_ISBLK, "a block device"))


def kind(mode):
    """What a non-regular file is, in words."""
    return next((name for test, name in KINDS if test(mode)), "not a regular file")


def text_limit():
    """The size limit of a text in bytes: RNNBENCH_MAX_TEXT_MB megabytes, 256 by default."""
    value = os.environ.get(ENV_MAX_TEXT_MB, "").strip()
    if not value:
        return DEFAULT_MAX_TEXT_MB * MB
    try:
        megabytes = int(value)
    except ValueError:
        megabytes = 0
    if megabytes < 1:
        raise UnreadableFile(f"{ENV_MAX_TEXT_MB}: expected a whole number of megabytes >= 1, "
                             f"got {value!r}")
    return megabytes * MB


def _refuse(path, what, mode):
    raise UnreadableFile(f"{path}: {kind(mode)}, not a regular file; rnnbench reads a {what} "
                         f"only from a regular file")


def _too_big(path, what, size, limit, hint):
    raise UnreadableFile(f"{path}: {_size(size)}, more than the {_size(limit)} a {what} may "
                         f"have{hint}")


def _size(n):
    if n and n % MB == 0:
        return f"{n // MB:,} MB"
    return f"{n:,} bytes" if n < 10 * MB else f"{n / MB:,.1f} MB"


def open_regular(path, what="file", limit=None, hint=""):
    """A binary file object of ``path``, a regular file of at most ``limit`` bytes (None: any
    size), or a one-line UnreadableFile. Symbolic links are followed to what they name."""
    path = Path(path)
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            _refuse(path, what, st.st_mode)
        if limit is not None and st.st_size > limit:
            _too_big(path, what, st.st_size, limit, hint)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise UnreadableFile(f"{path}: no such file") from None
    except (NotADirectoryError, PermissionError, OSError) as exc:
        raise UnreadableFile(f"{path}: cannot read the {what} ({_reason(exc)})") from None
    try:
        st = os.fstat(fd)  # what was opened, whatever the path names now
        if not stat.S_ISREG(st.st_mode):
            _refuse(path, what, st.st_mode)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path, what="file", limit=None, hint=""):
    """The bytes of the regular file ``path``, at most ``limit`` of them (a file that grew past
    it while read is refused too), or a one-line UnreadableFile."""
    with open_regular(path, what, limit, hint) as f:
        try:
            data = f.read() if limit is None else f.read(limit + 1)
        except OSError as exc:
            raise UnreadableFile(f"{path}: cannot read the {what} ({_reason(exc)})") from None
    if limit is not None and len(data) > limit:
        _too_big(path, what, len(data), limit, hint)
    return data


def read_text_file(path, what="text", hint=""):
    """The bytes of a text file, within the text size limit (RNNBENCH_MAX_TEXT_MB)."""
    limit = text_limit()
    hint = hint or (f"; set {ENV_MAX_TEXT_MB} (now {limit // MB}) to read a bigger one")
    return read_bytes(path, what, limit, hint)


def _reason(exc):
    return exc.strerror or str(exc) or type(exc).__name__
