"""Reading a checkpoint.npz safely: known members only, each checked before its data is read.

A checkpoint is a zip archive of .npy members (Model.save). A damaged or hostile one could
hold a pickled object, a member whose header announces gigabytes (a few megabytes of zeros
compress to that), or a description that does not match its weights. So the members are read
by name: first the small JSON ones (meta: the model; info: config and summary), then every
array's .npy header alone, whose dtype and shape must be what the model's layout says, and the
arrays' data only once all of them passed and their total fits in memory. Members with other
names are never read.
"""
import json
import math
import zipfile

import numpy as np
import psutil

from ..config import MAX_DIM, MAX_LAYERS
from ..disk.reading import UnreadableFile, open_regular
from ..variants import ACTIVATIONS, CELLS, SLOT_NAMES
from .layout import param_layout, state_rows

JSON_MEMBERS = {"meta": 2**26, "info": 2**26}  # bytes of text each may hold
# what training states' arrays() add, and the driver's kept per-update losses (exact resume)
STATE = ("h", "counters", "smooth", "cursors", "recent_counts", "total_targets", "recent")
ARRAY_MEMBERS = ("theta",) + tuple("x_" + name for name in SLOT_NAMES + STATE)
DTYPES = ("float32", "float64")
MAX_MEMBERS = 1000


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message is one line naming the file."""


def read_checkpoint(path):
    """(meta dict, theta, extra arrays by name, info dict) of the checkpoint at ``path``."""
    try:
        f = open_regular(path, "checkpoint")
    except UnreadableFile as exc:
        raise CheckpointError(str(exc)) from None
    with f:
        try:
            _check_members(f, path)
            with zipfile.ZipFile(f) as archive:
                return _read(archive, path)
        except CheckpointError:
            raise
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError,
                KeyError, NotImplementedError, RuntimeError) as exc:
            raise CheckpointError(f"{path}: not a readable checkpoint ({_first_line(exc)})"
                                  ) from None


def _check_members(f, path):
    """Refuse an archive of more than MAX_MEMBERS members before zipfile lists them all
    (a small file can list a million empty ones)."""
    end = zipfile._EndRecData(f)  # the end-of-archive record zipfile itself reads first
    if end is None:
        raise CheckpointError(f"{path}: not a checkpoint (not an .npz archive)")
    if end[zipfile._ECD_ENTRIES_TOTAL] > MAX_MEMBERS:
        raise CheckpointError(f"{path}: not a checkpoint ({end[zipfile._ECD_ENTRIES_TOTAL]:,} "
                              f"members; a checkpoint has at most a dozen)")
    f.seek(0)


def _first_line(exc):
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def _read(archive, path):
    members = {info.filename: info for info in archive.infolist()}
    for name in ("theta", "meta", "info"):
        if name + ".npy" not in members:
            raise CheckpointError(f"{path}: not a checkpoint (no {name!r} member)")
    meta = _check_meta(_json(archive, members, "meta", path), path)
    info = _json(archive, members, "info", path)
    if not isinstance(info, dict):
        raise CheckpointError(f"{path}: info: expected a JSON object")
    for key in ("config", "summary"):
        if not isinstance(info.get(key, {}), (dict, type(None))):
            raise CheckpointError(f"{path}: info.{key}: expected a JSON object")
    expected = _expected_arrays(meta, info)
    headers = {}
    for name in ARRAY_MEMBERS:
        if name + ".npy" in members:
            headers[name] = _header(archive, members[name + ".npy"], path)
            _check_header(name, headers[name], expected[name], members[name + ".npy"], path)
    total = sum(_nbytes(*headers[name][:2]) for name in headers)
    _check_memory(total, path)
    arrays = {name: _array(archive, members[name + ".npy"]) for name in headers}
    theta = arrays.pop("theta")
    return meta, theta, {name[2:]: a for name, a in arrays.items()}, info


def _json(archive, members, name, path):
    """The JSON text that the 0-d unicode array ``name`` holds, parsed."""
    dtype, shape = _header(archive, members[name + ".npy"], path)[:2]
    if dtype.kind != "U" or shape != () or dtype.itemsize > JSON_MEMBERS[name]:
        raise CheckpointError(f"{path}: {name}: expected a JSON text, got an array of "
                              f"{dtype} x {shape}")
    try:
        return json.loads(str(_array(archive, members[name + ".npy"])))
    except (ValueError, RecursionError) as exc:
        raise CheckpointError(f"{path}: {name}: not valid JSON ({_first_line(exc)})") from None


def _header(archive, member, path):
    """(dtype, shape, fortran_order) of a .npy member, reading its header only."""
    with archive.open(member) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise CheckpointError(f"{path}: {member.filename}: unsupported .npy version "
                                  f"{version}")
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise CheckpointError(f"{path}: {member.filename}: holds objects or records "
                              f"({dtype}), not numbers; refused")
    return dtype, shape, fortran


def _nbytes(dtype, shape):
    return math.prod(shape) * dtype.itemsize


def _check_header(name, header, expected, member, path):
    """The member must have the expected dtype kind and size and a shape that fits; it must
    also hold all of its data (an archive cannot announce more than it stores)."""
    dtype, shape, _ = header
    kinds, shape_ok = expected
    if dtype.kind + str(dtype.itemsize) not in kinds or not shape_ok(shape):
        raise CheckpointError(f"{path}: {name}: an array of {dtype} x {shape} does not fit the "
                              f"model the checkpoint describes")
    if member.file_size < _nbytes(dtype, shape):
        raise CheckpointError(f"{path}: {name}: the member holds {member.file_size:,} bytes, "
                              f"less than its {_nbytes(dtype, shape):,} bytes of data")


def _expected_arrays(meta, info):
    """{member: (allowed dtype kind + itemsize, shape test)} from the model's layout."""
    layout = param_layout(meta["cell"], meta["vocab_size"], meta["hidden_size"],
                          meta["num_layers"])
    size = sum(math.prod(shape) for _, shape in layout)
    H = meta["hidden_size"]
    rows = state_rows(meta["cell"], meta["num_layers"])
    floats = {"f" + str(np.dtype(meta["dtype"]).itemsize)}
    config = info.get("config") or {}
    batch = config.get("batch_size")
    streams = batch if isinstance(batch, int) and not isinstance(batch, bool) else None

    def batch_ok(b):
        return 1 <= b <= MAX_DIM and (streams is None or b == streams)

    out = {"theta": (floats, lambda s: s == (size,)),
           "x_h": (floats, lambda s: len(s) == 3 and s[0] == rows and s[2] == H
                   and batch_ok(s[1])),
           "x_counters": ({"i8"}, lambda s: s == (3,)),
           "x_smooth": ({"f4", "f8"}, lambda s: s == ()),
           "x_cursors": ({"i8"}, lambda s: len(s) == 2 and s[1] == 3 and batch_ok(s[0])),
           "x_recent": ({"f8"}, lambda s: len(s) == 1 and s[0] <= MAX_DIM),
           "x_recent_counts": ({"i8"}, lambda s: len(s) == 1 and s[0] <= MAX_DIM),
           "x_total_targets": ({"i8"}, lambda s: s == ())}
    for slot in SLOT_NAMES:
        out["x_" + slot] = out["theta"]
    return out


def _check_meta(meta, path):
    """The model description: known names, sizes within RunConfig's bounds, a vocabulary of
    distinct single characters."""
    def fail(key, problem):
        raise CheckpointError(f"{path}: meta.{key}: {problem}")

    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: meta: expected a JSON object")
    for key, choices in (("cell", CELLS), ("activation", ACTIVATIONS), ("dtype", DTYPES)):
        if meta.get(key) not in choices:
            fail(key, f"expected one of {', '.join(choices)}, got {meta.get(key)!r}")
    for key, high in (("vocab_size", MAX_DIM), ("hidden_size", MAX_DIM),
                      ("num_layers", MAX_LAYERS)):
        value = meta.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
            fail(key, f"expected an integer from 1 to {high}, got {value!r}")
    chars = meta.get("chars")
    if chars is not None:
        if (not isinstance(chars, list) or len(chars) != meta["vocab_size"]
                or not all(isinstance(c, str) and len(c) == 1 for c in chars)
                or len(set(chars)) != len(chars)):
            fail("chars", f"expected {meta['vocab_size']} distinct characters")
    end = meta.get("end_symbol")
    if end is not None and (chars is None or end not in chars):
        fail("end_symbol", "expected one of the vocabulary's characters")
    return meta


def _check_memory(nbytes, path):
    available = psutil.virtual_memory().available
    if nbytes > available:
        raise CheckpointError(f"{path}: its arrays need {nbytes / 2**30:,.1f} GB, more than the "
                              f"{available / 2**30:,.1f} GB of memory available")


def _array(archive, member):
    with archive.open(member) as f:
        array = np.lib.format.read_array(f, allow_pickle=False)
    if not array.dtype.isnative:  # written on a machine of the other byte order
        array = array.astype(array.dtype.newbyteorder("="))
    return array


def check_extras(model, arrays):
    """Raise ValueError unless every extra array ``Model.save`` is given is one that
    ``read_checkpoint`` reads back: a known name with the shape the model's layout gives."""
    meta = dict(model.meta())
    expected = _expected_arrays(meta, {})
    for name, array in (arrays or {}).items():
        key = "x_" + name
        if key not in expected:
            raise ValueError(f"cannot save the array {name!r} in a checkpoint (known: "
                             f"{', '.join(SLOT_NAMES + STATE)})")
        dtype = np.asarray(array).dtype
        kinds, shape_ok = expected[key]
        if dtype.kind + str(dtype.itemsize) not in kinds or not shape_ok(np.shape(array)):
            raise ValueError(f"cannot save the array {name!r}: {dtype} x {np.shape(array)} "
                             f"does not fit the model")
