"""The compiled kernels as the Python layer calls them, reached through here so that a stale
on-disk cache is emptied before any of them is loaded.

Numba checks only the source file of the function being loaded, so a cached training loop
keeps calling the *old* version of a cell defined in another file after that file changes
(measured: 20% slower code from a stale cache after an edit to one cell). So a hash of every
kernel source is stored next to the cache, and the cache is emptied when the hash differs.
The kernels themselves do no I/O; this module does it, once, when it is first imported
(Numba reads a cache when a kernel is first called, not when it is imported).
"""
import hashlib
from pathlib import Path

from .kernels.dropout import dropout_key
from .kernels.loops import (Records, finish_update, part_gradient, record_eval_loss,
                            record_updates, train_updates)
from .kernels.network import eval_loss, loss_and_grads, loss_and_pattern
from .kernels.optim import Optimizer
from .kernels.sampling import sample
from .kernels.timing import (repeat_adagrad, repeat_dot, repeat_forward, repeat_gradient,
                             repeat_matvec, repeat_optimizer, repeat_softmax, repeat_sum)
from .kernels.workspace import LOGITS, workspace

__all__ = ["LOGITS", "Optimizer", "Records", "train_updates", "record_updates", "record_eval_loss",
           "part_gradient", "finish_update",
           "dropout_key", "eval_loss", "loss_and_grads", "loss_and_pattern", "workspace",
           "sample", "repeat_dot", "repeat_forward", "repeat_gradient", "repeat_matvec",
           "repeat_optimizer", "repeat_softmax", "repeat_adagrad", "repeat_sum", "cache_dir"]
KERNELS = Path(__file__).resolve().parent / "kernels"
STAMP = "rnnbench-kernels.sha256"


def sources_hash(root=KERNELS):
    """sha256 of every kernel source file (names and contents) below ``root``."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def cache_folders(root=KERNELS):
    """The folders where Numba caches the kernels beside their sources."""
    below = {p.parent / "__pycache__" for p in root.rglob("*/*.py")}
    return [root / "__pycache__"] + sorted(below)


def drop_stale_cache(folders=None):
    """Delete cached kernels compiled from other sources from ``folders`` (default: every
    kernel cache folder; the hash is kept in the first); returns how many files went."""
    folders = cache_folders() if folders is None else [Path(f) for f in folders]
    current = sources_hash()
    stamp = folders[0] / STAMP
    try:
        if stamp.read_text() == current:
            return 0
    except OSError:
        pass
    removed = 0
    for folder in folders:
        for pattern in ("*.nbi", "*.nbc"):
            for f in folder.glob(pattern):
                try:
                    f.unlink()
                    removed += 1
                except OSError:
                    pass
    try:
        folders[0].mkdir(exist_ok=True)
        stamp.write_text(current)
    except OSError:  # a read-only install: Numba then caches elsewhere or not at all
        pass
    return removed


def cache_dir():
    """Where this process reads and writes compiled kernels."""
    return train_updates._cache._cache_path


drop_stale_cache()
