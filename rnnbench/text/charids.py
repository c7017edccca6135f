"""Characters as ids, a chunk of text at a time: code points, their counts, uint16 ids and back.

A text is converted CHUNK characters at a time, so the temporaries stay a few MB whatever its
size; what is kept is 2 bytes a character (IDS).
"""
import hashlib

import numpy as np

IDS = np.uint16  # encoded text: 2 bytes a character, vocabularies of up to 65,536 symbols
MAX_VOCAB = int(np.iinfo(IDS).max) + 1
CHUNK = 1 << 20  # characters converted at a time


def codepoints(text):
    """The code points of ``text`` as uint32 (a lone surrogate as itself)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _chunks(pieces):
    """The strings of ``pieces`` cut into CHUNK characters at most."""
    for piece in pieces:
        for i in range(0, len(piece), CHUNK):
            yield piece[i:i + CHUNK]


def char_counts(pieces):
    """(sorted code points, their counts) of the text that the strings ``pieces`` make."""
    total = np.zeros(0, dtype=np.int64)
    for part in _chunks(pieces):
        counts = np.bincount(codepoints(part))
        if len(counts) > len(total):
            total = np.concatenate([total, np.zeros(len(counts) - len(total), np.int64)])
        total[:len(counts)] += counts
    present = np.flatnonzero(total)
    return present.astype(np.uint32), total[present]


def encode_text(pieces, length, table, mapped=None):
    """(IDS array of the ``length`` characters the strings ``pieces`` make, sha256 of their
    UTF-8 after ``mapped``): ``table`` is indexed by code point; ``mapped`` ({code point:
    character}, str.translate's) rewrites characters before hashing, as the table does before
    encoding."""
    digest = hashlib.sha256()
    ids = np.empty(length, dtype=IDS)
    at = 0
    for part in _chunks(pieces):
        ids[at:at + len(part)] = table[codepoints(part)]
        at += len(part)
        digest.update((part.translate(mapped) if mapped else part)
                      .encode("utf-8", "surrogatepass"))
    assert at == length, (at, length)
    return ids, digest.hexdigest()


def decode_ids(points, ids):
    """The text of ``ids`` (a list or an array) over the code points ``points``."""
    ids = np.asarray(ids)
    if ids.size == 0:
        return ""
    return "".join(points[ids[i:i + CHUNK]].tobytes().decode("utf-32-le", "surrogatepass")
                   for i in range(0, len(ids), CHUNK))


def as_ids(ids, vocab_size, what="ids"):
    """``ids`` as the kernels read text: a contiguous IDS array (no copy when it is one),
    checked to lie in [0, vocab_size)."""
    ids = np.asarray(ids)
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(f"{what} holds ids outside [0, {vocab_size})")
    return np.ascontiguousarray(ids, dtype=IDS)
