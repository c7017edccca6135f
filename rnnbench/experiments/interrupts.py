"""SIGTERM handled as Ctrl-C is: the grid stops, the runs finished so far are kept and the
tables written; the exit status says which signal it was (130 for SIGINT, 143 for SIGTERM)."""
import signal
import threading
from contextlib import contextmanager


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread where Ctrl-C raises KeyboardInterrupt."""


def exit_status(exc):
    """128 + the signal number, as a shell reports a process ended by that signal."""
    return 128 + (signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)


def _raise_terminated(signum, frame):
    raise Terminated()


def _in_main_thread():
    return threading.current_thread() is threading.main_thread()


@contextmanager
def sigterm_interrupts():
    """Within the block, SIGTERM raises Terminated (a KeyboardInterrupt) in the main thread."""
    if not _in_main_thread() or signal.getsignal(signal.SIGTERM) == signal.SIG_IGN:
        yield  # handlers can only be set from the main thread; an ignored SIGTERM stays so
        return
    old = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


@contextmanager
def held_back(interrupted=False):
    """Within the block (the cleanup after a grid: kill workers, write tables) Ctrl-C and
    SIGTERM are noted, not raised, so that a second signal cannot cut the tables short. One
    that came during the block is raised after it, unless ``interrupted`` already."""
    if not _in_main_thread():
        yield
        return
    caught = []
    handlers = {s: signal.signal(s, lambda signum, frame: caught.append(signum))
                for s in (signal.SIGINT, signal.SIGTERM)
                if signal.getsignal(s) != signal.SIG_IGN}  # (nohup's Ctrl-C stays ignored)
    try:
        yield
    finally:
        for s, handler in handlers.items():
            signal.signal(s, handler)
    if caught and not interrupted:
        raise Terminated() if caught[0] == signal.SIGTERM else KeyboardInterrupt()


@contextmanager
def signals_prevail():
    """Within the block, a Ctrl-C (or SIGTERM) stops the program even where an error hides it.
    Numba compiles through ctypes callbacks, which print and drop an exception raised inside
    them, KeyboardInterrupt included, and the compile then fails with an error of its own
    ("no compiled object yet"): an exception leaving the block after a signal came is raised
    as the signal's KeyboardInterrupt (Terminated for SIGTERM)."""
    if not _in_main_thread():
        yield
        return
    came = []

    def noting(old):
        def handler(signum, frame):
            came.append(signum)
            old(signum, frame)
        return handler
    handlers = {s: signal.signal(s, noting(h)) for s in (signal.SIGINT, signal.SIGTERM)
                for h in [signal.getsignal(s)] if callable(h)}  # ignored or default: as they are
    try:
        yield
    except Exception as exc:
        if not came:
            raise
        raise (Terminated() if came[0] == signal.SIGTERM else KeyboardInterrupt()) from exc
    finally:
        for s, handler in handlers.items():
            signal.signal(s, handler)
