"""What every command shares: one-line usage errors (exit status 2), ranged number options, and
RunConfig's fields as --dashed-options. Nothing here imports Numba or pandas."""
import argparse
import math
import re
import typing

from ..config import RunConfig

EXIT_INVALID = 2



class UsageError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message):
        # "argument --jobs: must be >= 1, got 0" reads better as "--jobs must be >= 1, got 0"
        message = re.sub(r"^argument (-[\w-]+)(?:/-[\w-]+)*: must be", r"\1 must be", message)
        raise UsageError(f"{self.prog}: {message}")


def ranged(kind, low, high, low_open=False):
    """An argparse type: a ``kind`` (int or float, finite) from ``low`` to ``high`` (``low``
    itself excluded when ``low_open``); anything else is a one-line usage error, exit 2."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be {'an integer' if kind is int else 'a number'}, got {text!r}") from None
        if kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        if value < low or (low_open and value == low):
            raise argparse.ArgumentTypeError(f"must be {'>' if low_open else '>='} {low}, got "
                                             f"{text}")
        if value > high:
            raise argparse.ArgumentTypeError(f"must be <= {high}, got {text}")
        return value
    parse.__name__ = kind.__name__  # argparse names the type in its own messages
    return parse


def field_options(parser, config_cls, names=None, defaults=None):
    """One --dashed-option per RunConfig field (or those ``names``), typed, default in the help
    (``defaults``: a command's own, in place of RunConfig's)."""
    defaults = defaults or {}
    for name, info in config_cls.model_fields.items():
        if names is not None and name not in names:
            continue
        flag = "--" + name.replace("_", "-")
        ann = info.annotation
        if typing.get_origin(ann) is typing.Union:  # Optional[X]: None means "per optimizer"
            ann = next(a for a in typing.get_args(ann) if a is not type(None))
        if typing.get_origin(ann) is typing.Annotated:  # config.Int, config.Float
            ann = typing.get_args(ann)[0]
        kwargs = dict(dest=name, default=defaults.get(name),
                      help=f"{info.description} (default: {defaults.get(name, info.default)})")
        if typing.get_origin(ann) is typing.Literal:
            kwargs["choices"] = list(typing.get_args(ann))
        elif ann in (int, float):
            kwargs["type"] = ann
            kwargs["metavar"] = ann.__name__.upper()
        parser.add_argument(flag, **kwargs)


def config_of(args, **changes):
    """The RunConfig of the options given (RunConfig's checks and messages), with ``changes``."""
    values = {k: v for k, v in vars(args).items() if k in RunConfig.model_fields and v is not None}
    return RunConfig.build({**changes, **values})
