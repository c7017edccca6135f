"""``rnnbench compare RESULTS_A RESULTS_B [...] --out DIR``: the runs of several results folders
in one set of tables, plots and a report, with the same statistics as a grid's."""
import sys
from pathlib import Path

from .options import UsageError


def add_parser(sub):
    p = sub.add_parser("compare", help="several results folders side by side: one set of "
                       "tables, plots and report",
                       description="Put the runs of several results folders in one set of "
                       "tables (runs, trace, samples, configs), plots and a report, matching "
                       "configurations on their config fields (a field one grid did not "
                       "record takes its default; runs of different texts are different "
                       "configurations). Exit status: 0 when written, 2 for invalid input, "
                       "1 when a file cannot be read or written.")
    p.add_argument("results", type=Path, nargs="+", help="results folders, e.g. "
                   "results/task3_lstm results/task2_activations")
    p.add_argument("--out", type=Path, required=True, help="folder for the comparison's "
                   "tables, plots and report (new, or an earlier comparison's)")
    p.add_argument("--wait", action="store_true", help="if another rnnbench writes --out, wait "
                   "for it to finish (default: exit 2, naming it)")


def cmd_compare(args):
    from ..experiments.compare import CompareError, check_out, read_results
    from ..experiments.results import ResultsDir
    from .grid import draw

    try:
        check_out(args.out, args.results)
        for folder in args.results:
            if not folder.is_dir():
                raise CompareError(f"compare: {folder} is not a folder")
        tables = read_results(args.results)  # all read before anything is written
    except CompareError as exc:
        raise UsageError(f"rnnbench: {exc}") from None
    args.out.mkdir(parents=True, exist_ok=True)
    results = ResultsDir(args.out)
    args.hold(results.lock(wait=args.wait))
    results.write_comparison(*tables)
    for path in draw(args.out, report=True):
        print(path)
    print(f"compared {len(args.results)} results folders in {args.out}", file=sys.stderr)
    return 0
