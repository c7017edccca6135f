"""The rnnbench command line: ``main`` parses the arguments, runs the command and turns errors
into one line and an exit status (2: invalid input or usage; 1: a run or I/O failed).

Each command lives in its own module (train, sample, gradcheck, bench and warmup, run / plot /
report, compare, data), which adds its parser and imports the working parts of rnnbench only inside
the command, so that ``rnnbench --help`` starts without Numba or pandas.
"""
import contextlib
import os
import sys

from ..experiments.interrupts import signals_prevail
from . import bench, compare, data, gradcheck, grid, sample, train
from .options import EXIT_INVALID, Parser, UsageError

COMMANDS = {"train": train.cmd_train, "sample": sample.cmd_sample,
            "gradcheck": gradcheck.cmd_gradcheck, "bench": bench.cmd_bench,
            "warmup": bench.cmd_warmup, "run": grid.cmd_run, "data": data.cmd_data,
            "plot": grid.cmd_plot, "report": grid.cmd_report, "compare": compare.cmd_compare}


def build_parser():
    parser = Parser(prog="rnnbench", description="Fast character-level RNN experiments.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for add in (train.add_parser, sample.add_parser, gradcheck.add_parser, bench.add_parser,
                grid.add_parser, data.add_parser, grid.add_view_parsers, compare.add_parser):
        add(sub)
    return parser


# commands whose process ends as soon as they return (see _leave); not those that start
# worker processes, whose pools shut down at exit
QUICK_EXIT = {"train"}


def main(argv=None):
    program = argv is None  # the rnnbench program itself (not a call from Python)
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = build_parser().parse_args(argv)
        # a Ctrl-C during a compile (any command's first call of a kernel) ends in "interrupted"
        with signals_prevail(), contextlib.ExitStack() as held:
            args.hold = held.enter_context  # what a command holds until it returns: locks
            code = COMMANDS[args.command](args)
        if program and args.command in QUICK_EXIT:
            _leave(code)
        return code
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print("rnnbench: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 -- user-facing errors become one line
        from ..config import ConfigError  # imported when an error needs them: start-up time
        from ..disk.lock import FolderBusy
        from ..text.loading import CorpusError
        if isinstance(exc, (ConfigError, CorpusError, ValueError, FileNotFoundError, FolderBusy)):
            print(f"rnnbench: error: {exc}", file=sys.stderr)
            return EXIT_INVALID
        if isinstance(exc, OSError):  # I/O that failed; a WriteError names the path
            plain = exc.filename and exc.strerror and type(exc).__str__ is OSError.__str__
            print(f"rnnbench: error: {f'{exc.filename}: {exc.strerror}' if plain else exc}",
                  file=sys.stderr)
            return 1
        raise


def _leave(code):
    """End the process now, with ``code``: its files are written and closed, its locks
    released; what Python would do after (free every module, and Numba's compiled code) takes
    half a second of ``train`` and changes nothing on disk."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (| head) or stream: nothing to keep
            pass
    os._exit(code or 0)


if __name__ == "__main__":
    sys.exit(main())
