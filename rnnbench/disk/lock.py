"""One writer per folder: an exclusive flock on a lock file, held while a command writes.

The kernel drops a flock when its process ends, however it ends (SIGKILL included), so a lock
left by a dead process never blocks the next one; the descriptor is not inherited by worker
processes (close-on-exec). The lock file names its holder (pid, host, command, start) so that
a second process can say who holds it. It is removed when released: a process that opened it
meanwhile finds its lock on a file no longer at that name, and tries again.
"""
import errno
import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path

from .writing import WriteError, write_error

POLL_S = 0.2


class FolderBusy(Exception):
    """Another process holds the folder's lock; the message names it (one line)."""


class FolderLock:
    """The lock of ``folder``, kept in the file ``path``; a context manager.

    ``wait``: wait for the holder to finish rather than raise FolderBusy (``on_wait(message)``
    is called once before waiting). ``hint``: what the FolderBusy message suggests.
    ``after_acquire()`` runs once the lock is held (e.g. to sweep a dead writer's temp files).
    Folders missing on the way to ``path`` are created, and removed again on release when
    they are still empty.
    """

    def __init__(self, path, folder, wait=False, on_wait=None, hint="", after_acquire=None):
        self.path, self.folder = Path(path), Path(folder)
        self.wait, self.on_wait, self.hint = wait, on_wait, hint
        self.after_acquire = after_acquire
        self.fd = None
        self._created = []

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()
        return False

    def acquire(self):
        waited = False
        while True:
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = None if waited else describe(read_holder(fd))
                message = f"{self.folder} is in use by {holder}"
                os.close(fd)
                if not self.wait:
                    raise FolderBusy(f"{message}{'; ' + self.hint if self.hint else ''}") from None
                if not waited and self.on_wait:
                    self.on_wait(f"{message}; waiting for it to finish (Ctrl-C to stop)")
                waited = True
                time.sleep(POLL_S)
                continue
            except BaseException:
                os.close(fd)
                raise
            if self._still_named(fd):
                break
            os.close(fd)  # its holder removed it as we opened it: take the new one
        self.fd = fd
        _write_holder(fd)
        if self.after_acquire:
            self.after_acquire()
        return self

    def release(self):
        if self.fd is None:
            return
        try:
            if self._still_named(self.fd):
                os.unlink(self.path)
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None
        self._remove_created()

    def _open(self):
        self._make_parents()
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise WriteError(exc.errno, f"cannot lock {self.folder}: {self.path} is a "
                                 f"symbolic link; remove it") from None
            raise write_error(self.folder, exc) from None

    def _make_parents(self):
        missing = []
        for parent in [self.path.parent, *self.path.parent.parents]:
            if parent.exists():
                break
            missing.append(parent)
        for parent in reversed(missing):
            try:
                parent.mkdir()
            except FileExistsError:
                continue
            except OSError as exc:
                self._remove_created()
                raise write_error(parent, exc) from None
            self._created.append(parent)

    def _remove_created(self):
        """Remove the folders this lock created, if nothing was written into them."""
        while self._created:
            try:
                self._created.pop().rmdir()
            except OSError:
                self._created.clear()

    def _still_named(self, fd):
        try:
            here = os.stat(self.path, follow_symlinks=False)
        except FileNotFoundError:
            return False
        mine = os.fstat(fd)
        return (here.st_dev, here.st_ino) == (mine.st_dev, mine.st_ino)


def _write_holder(fd):
    info = dict(pid=os.getpid(), host=socket.gethostname(), since=time.strftime("%H:%M:%S"),
                command=" ".join(["rnnbench", *sys.argv[1:]])[:200])
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode(), 0)


def read_holder(fd, tries=10):
    """The holder's description from an open lock file; None when it cannot be read (it may be
    writing it: a few tries, 50 ms apart)."""
    for _ in range(tries):
        try:
            info = json.loads(os.pread(fd, 4096, 0) or b"null")
        except (OSError, ValueError):
            info = None
        if isinstance(info, dict):
            return info
        time.sleep(0.05)
    return None


def describe(holder):
    """'rnnbench run x.yaml (pid 12, host h, since 10:02:03)' or 'another process'."""
    if not holder:
        return "another process"
    where = ", ".join(f"{k} {holder[k]}" for k in ("pid", "host", "since") if k in holder)
    return f"'{holder.get('command', 'rnnbench')}' ({where})"
