"""A grid file read as YAML: a regular file of at most a megabyte, safe types only, no key
given twice, and no alias trick that makes a small file expand past what a grid can mean."""
import re

import yaml

from ..config import short_repr
from ..disk.reading import UnreadableFile, read_bytes


class GridError(ValueError):
    """An invalid grid file; the message is one line naming the file and the key."""


class _StrictLoader(yaml.SafeLoader):
    """safe_load that refuses a key given twice in one mapping (plain YAML keeps the last)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{key}'", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


# PyYAML resolves floats by YAML 1.1, which needs a dot and a signed exponent: 1e-3 and 1.0e30
# would stay strings, and strict types would then refuse them. YAML 1.2 reads both as numbers;
# a quoted "1e-3" is still a string.
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."))


GRID_LIMIT = 2**20      # bytes: a grid file is a page of YAML
MAX_VALUES = 100_000    # values in the document once aliases are expanded


def read_yaml(path):
    """(text, mapping) of the grid file at ``path``, or a one-line GridError."""

    try:
        raw = read_bytes(path, "grid file", GRID_LIMIT)
    except UnreadableFile as exc:
        message = str(exc)
        if message.endswith(": no such file"):
            message = f"{path}: no such grid file"
        raise GridError(message) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GridError(f"{path}: cannot read the grid file ({exc})") from None
    try:
        doc = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 -- a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise GridError(f"{path}: invalid YAML{where}: {problem}") from None
    except RecursionError:
        raise GridError(f"{path}: invalid YAML: nested too deeply") from None
    if not isinstance(doc, dict):
        raise GridError(f"{path}: expected a mapping of keys (name, data, base, grid, ...), got "
                        f"{kind(doc)}")
    _check_size(path, doc)
    return text, doc


def _check_size(path, doc):
    """Refuse a document that refers to itself or that its aliases (*name) expand past
    MAX_VALUES values (a 'billion laughs' file): everything after this walks it in full."""
    sizes, open_ = {}, set()

    def size(node):
        if not isinstance(node, (list, dict)):
            return 1
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_:
            raise GridError(f"{path}: invalid YAML: a value contains itself (a recursive "
                            f"alias)")
        open_.add(key)
        children = list(node.items()) if isinstance(node, dict) else node
        total = 1
        for child in children:
            total += sum(map(size, child)) if isinstance(node, dict) else size(child)
            if total > MAX_VALUES:
                raise GridError(f"{path}: invalid YAML: more than {MAX_VALUES:,} values once "
                                f"its aliases are expanded")
        open_.discard(key)
        sizes[key] = total
        return total

    try:
        size(doc)
    except RecursionError:
        raise GridError(f"{path}: invalid YAML: nested too deeply") from None


def kind(value):
    """A value's type and short repr, for messages: 'int 8', 'nothing'."""
    return "nothing" if value is None else f"{type(value).__name__} {short_repr(value)}"
