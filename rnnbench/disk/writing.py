"""Files and folders written so that a reader, or a process killed at any moment, never sees
half of one, and so that no symbolic link is ever written through.

A file goes to a temporary name of its own (``.<name>.<pid>.<token>.tmp``, opened with
O_CREAT|O_EXCL|O_NOFOLLOW, so it is new and ours), is fsynced, then renamed over the target:
rename replaces a link planted at the target, never the file it points to. A folder (a run) is
written whole into a temporary folder beside it, which then takes its place in one step
(Linux's renameat2 RENAME_EXCHANGE swaps the two; the old one is then removed). A process
removes only the temporary files it created, or those left by a process that is dead.
"""
import ctypes
import errno
import io
import json
import os
import re
import secrets
import shutil
from pathlib import Path

import numpy as np

# .<name>.<pid>.<token>.tmp: the pid tells whether the writer is still alive
TEMP_PATTERN = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.(?P<token>[0-9a-f]{8})\.tmp$")
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


class WriteError(OSError):
    """A file or folder that could not be written: one line naming the path and the cause."""

    def __str__(self):
        return self.strerror


def write_error(path, exc):
    """The WriteError of ``exc`` (an OSError) met while writing ``path``."""
    return WriteError(exc.errno, f"cannot write {path}: {exc.strerror or exc}")


def temp_path(path):
    """A new temporary name beside ``path``, unique to this process and call."""
    path = Path(path)
    return path.with_name(f".{path.name[:180]}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def atomic_write_bytes(path, data):
    """Write ``data`` as the file ``path``: a temporary file, fsynced, renamed into place."""
    path = Path(path)
    tmp = temp_path(path)
    try:
        _write_new(tmp, data)
        os.replace(tmp, path)
    except BaseException as exc:  # a kill by signal aside, nothing of ours stays behind
        discard(tmp)
        if isinstance(exc, OSError):
            raise write_error(path, exc) from None
        raise
    fsync_dir(path.parent)


def atomic_write_json(path, obj):
    atomic_write_bytes(path, to_json_bytes(obj))


def atomic_write_parquet(path, df):
    atomic_write_bytes(path, parquet_bytes(df))


def to_json_bytes(obj):
    """``obj`` as indented JSON text (NumPy scalars as numbers), as bytes."""
    return (json.dumps(obj, indent=2, default=json_default) + "\n").encode()


def json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"cannot store {type(obj).__name__} as JSON")


def parquet_bytes(df):
    """A table as the bytes of a parquet file (built in memory: nothing is written if it
    cannot be stored)."""
    buffer = io.BytesIO()
    df.to_parquet(buffer, index=False)
    return buffer.getvalue()


def write_folder(folder, files):
    """Write ``files`` (name -> bytes, written in that order) as the folder ``folder``, whole.

    They go into a new temporary folder beside it, which then takes the folder's place in one
    step; an existing ``folder`` (or a link or file at its name) is swapped out and removed. A
    kill at any moment leaves the old folder or the new one at ``folder``, never a mix (on
    systems without RENAME_EXCHANGE there is a moment with neither, see ``_swap``).
    """
    folder = Path(folder)
    staging = temp_path(folder)
    try:
        os.mkdir(staging)
    except OSError as exc:
        raise write_error(folder, exc) from None
    try:
        for name, data in files.items():
            _write_new(staging / name, data)
        fsync_dir(staging)
        _swap(staging, folder)  # staging now holds the old folder, if there was one
        fsync_dir(folder.parent)
    except BaseException as exc:
        discard(staging)
        if isinstance(exc, OSError):
            raise write_error(folder, exc) from None
        raise
    discard(staging)  # the old folder; if it cannot go now, a later sweep_temps removes it
    return folder


def probe_writable(path):
    """Raise WriteError unless a new folder holding a file can be written where ``path`` is
    (read-only file system, permissions, a full disk); leaves nothing behind."""
    probe = temp_path(path)
    try:
        os.mkdir(probe)
        try:
            _write_new(Path(probe) / "probe", b"\0" * 4096)
        finally:
            discard(probe)
    except OSError as exc:
        raise write_error(path, exc) from None


def _write_new(path, data):
    fd = os.open(path, _NEW_FILE, 0o666)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _swap(new, target):
    """Put the folder ``new`` at ``target``; what was at ``target`` ends up at ``new``."""
    try:
        os.lstat(target)
    except FileNotFoundError:
        os.rename(new, target)
        return
    if _exchange(new, target):
        return
    # No RENAME_EXCHANGE here (not Linux, or a file system without it): move the old folder
    # aside first; a kill between the two renames leaves it under the temporary name.
    aside = temp_path(target)
    os.rename(target, aside)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(aside, target)
        raise
    os.rename(aside, new)


def _exchange(a, b):
    """Swap the names ``a`` and ``b`` atomically; False where the system cannot."""
    if _renameat2 is None:
        return False
    if _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _load_renameat2():
    try:
        return ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None


_renameat2 = _load_renameat2()


def fsync_dir(path):
    """Make a rename in the folder ``path`` durable (where the system allows it)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove(path):
    """Remove the file, link or folder ``path`` (never what a link points to); no error if it is
    gone."""
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    except FileNotFoundError:
        pass


def discard(path):
    """``remove``, ignoring errors: for temporary files on the way out of a failure."""
    try:
        remove(path)
    except OSError:
        pass


def sweep_temps(folder, name=None):
    """Remove the temporary files and folders in ``folder`` (those of ``name`` only, if given)
    left by processes that are dead; returns how many. Call it while holding the folder's lock:
    a live writer's temporary files are never touched."""
    removed = 0
    try:
        entries = os.listdir(folder)
    except OSError:
        return 0
    for entry in entries:
        m = TEMP_PATTERN.match(entry)
        if m is None or (name is not None and m["name"] != name) or pid_alive(int(m["pid"])):
            continue
        discard(Path(folder) / entry)
        removed += 1
    return removed


def pid_alive(pid):
    """Whether a process ``pid`` exists on this machine (a reused pid counts as alive)."""
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True
