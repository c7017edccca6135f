"""Arrays handed to worker processes without a pickled copy each: one anonymous memory file.

The parent writes each array once into a memfd (Linux: a file in memory with no name in any
folder), keeps its descriptor open while the grid runs, and sends workers a small reference;
a worker maps the file through ``/proc/<parent pid>/fd/<fd>`` copy-on-write. The mapping is
private and writable, so Numba sees an ordinary array (a read-only one is a different type: one
more compile), yet no page is copied, since nothing writes. Nothing is left in /dev/shm or /tmp:
the memory goes when the parent closes its descriptor and the last worker unmaps it, even when
the parent is killed. Where memfd or /proc is missing, a temporary file (deleted on close)
takes its place.

A grid's worker gets its corpus as a SharedCorpus: the corpus's small settings and references to
its encoded arrays, a few kB pickled whatever the size of the text (or, where workers cannot
reach this machine's memory, as a CorpusText: the text itself).
"""
import mmap
import os
import socket
import tempfile
import uuid
from dataclasses import dataclass

import numpy as np

ALIGN = 64


class SharedArrayError(OSError):
    """A shared array that this process cannot reach; one line."""


def _boot_id():
    """This machine's boot id (Linux), or its host name: /proc paths mean nothing elsewhere."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return socket.gethostname()


@dataclass(frozen=True)
class SharedArray:
    """A picklable reference (a few hundred bytes) to one array in a SharedArrays file."""

    path: str        # /proc/<pid>/fd/<fd>, or the temporary file
    inode: int       # of that file, so a reused pid or descriptor is noticed
    machine: str     # _boot_id() of the parent
    offset: int
    dtype: str
    shape: tuple

    def load(self):
        """The array, mapped copy-on-write (writable; shared pages until written)."""
        if self.machine != _boot_id():
            raise SharedArrayError(f"{self.path}: shared by a process on another machine")
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError as exc:
            raise SharedArrayError(f"{self.path}: cannot open the shared array of the grid's "
                                   f"process ({exc.strerror})") from None
        try:
            st = os.fstat(fd)
            count = int(np.prod(self.shape))
            size = self.offset + count * np.dtype(self.dtype).itemsize
            if st.st_ino != self.inode or st.st_size < size:
                raise SharedArrayError(f"{self.path}: not the shared array it names (the grid's "
                                       f"process has ended?)")
            if count == 0:
                return np.zeros(self.shape, self.dtype)
            # mmap cannot start at an offset that is not a page multiple: map from 0
            buffer = mmap.mmap(fd, size, access=mmap.ACCESS_COPY)
        finally:
            os.close(fd)
        return np.frombuffer(buffer, self.dtype, count, self.offset).reshape(self.shape)


class SharedArrays:
    """The parent's side: ``put`` arrays, send the references, ``close`` when the workers are done
    (a context manager)."""

    def __init__(self):
        self.size = 0
        self.temp_path = None
        if hasattr(os, "memfd_create") and os.path.isdir(f"/proc/{os.getpid()}/fd"):
            self.fd = os.memfd_create("rnnbench-shared", os.MFD_CLOEXEC)
            self.path = f"/proc/{os.getpid()}/fd/{self.fd}"
        else:
            self.fd, self.temp_path = tempfile.mkstemp(prefix="rnnbench-shared-", suffix=".bin")
            self.path = self.temp_path
        self.inode = os.fstat(self.fd).st_ino
        self.machine = _boot_id()
        self.token = uuid.uuid4().hex  # descriptors and inodes are reused: this never is

    def put(self, array):
        """Copy ``array`` into the file once (written, not mapped: the parent keeps no mapped
        copy); returns its SharedArray."""
        array = np.ascontiguousarray(array)
        offset = -(-self.size // ALIGN) * ALIGN
        view = memoryview(array.reshape(-1).view(np.uint8))
        os.lseek(self.fd, offset, os.SEEK_SET)
        written = 0
        while written < len(view):  # a write may take less than asked
            written += os.write(self.fd, view[written:written + (1 << 26)])
        self.size = offset + len(view)
        os.ftruncate(self.fd, max(self.size, 1))  # an empty array still has a file to open
        return SharedArray(self.path, self.inode, self.machine, offset, array.dtype.str,
                           array.shape)

    def close(self):
        if getattr(self, "fd", None) is not None:
            os.close(self.fd)
            self.fd = None
        if getattr(self, "temp_path", None) is not None:
            try:
                os.unlink(self.temp_path)
            except FileNotFoundError:
                pass
            self.temp_path = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        self.close()


@dataclass(frozen=True)
class CorpusText:
    """What a worker needs to rebuild a Corpus from its text: its class and ``source()``.
    Pickled with every task, so used only where workers cannot reach this machine's memory (a
    remote dask scheduler) and by the benchmarks' small texts."""

    kind: type
    args: tuple

    @classmethod
    def of(cls, corpus):
        return cls(type(corpus), corpus.source())

    def build(self):
        return self.kind(*self.args)


@dataclass(frozen=True, eq=False)
class SharedCorpus:
    """What a worker needs to rebuild a Corpus without its text: the class, the small settings
    of ``Corpus.encoded()`` and references to its encoded arrays in shared memory (a few kB
    pickled, whatever the size of the text). Equal by ``token``: one per corpus and grid."""

    kind: type
    settings: dict
    arrays: dict     # name -> shared.SharedArray
    token: str

    @classmethod
    def of(cls, corpus, shared):
        settings, arrays = corpus.encoded()
        refs = {name: shared.put(a) for name, a in arrays.items()}
        return cls(type(corpus), settings, refs, f"{shared.token}:{refs['ids'].offset}")

    def build(self):
        return self.kind.from_encoded(self.settings,
                                      {name: ref.load() for name, ref in self.arrays.items()})

    def __eq__(self, other):
        return isinstance(other, SharedCorpus) and other.token == self.token

    def __hash__(self):
        return hash(self.token)


def worker_payloads(corpora, remote=False):
    """({id(corpus): payload}, SharedArrays or None) for the corpora a grid's runs train on:
    each corpus's encoded arrays copied once into shared memory, which the caller closes when
    the runs are done; a remote dask scheduler's workers get the text (CorpusText) instead."""
    corpora = {id(c): c for c in corpora}  # runs that share a corpus share its payload
    if remote:
        return {key: CorpusText.of(c) for key, c in corpora.items()}, None
    shared = SharedArrays()
    return {key: SharedCorpus.of(c, shared) for key, c in corpora.items()}, shared
