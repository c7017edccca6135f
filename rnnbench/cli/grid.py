"""``rnnbench run`` (a grid of runs in parallel), ``rnnbench plot`` and ``rnnbench report`` (its
plots and report again, from the tables alone).

The parts of rnnbench a command uses are imported inside it (as in every cli module), so
that ``rnnbench --help`` imports neither Numba nor pandas."""
import contextlib
import sys
from pathlib import Path

from .options import UsageError, ranged

MAX_JOBS = 4096  # a sane ceiling; the runner lowers --jobs to the runs and cores it has


def add_parser(sub):
    p = sub.add_parser("run", help="run a grid of experiments in parallel (a YAML file)",
                       description="Run every run of a grid file, in parallel, skipping those "
                       "already finished in the results folder; then write the tables, plots "
                       "and report. Exit status: 0 when every run finished (ok or diverged), "
                       "1 when a run failed (its worker died, too) or the dask scheduler "
                       "cannot be reached, 2 for invalid input, 130 when interrupted "
                       "(Ctrl-C), 143 when terminated (SIGTERM).")
    p.add_argument("grid", type=Path, help="grid file, e.g. grids/task4.yaml")
    p.add_argument("--jobs", type=ranged(int, 1, MAX_JOBS), default=None, help="runs at "
                   "once, one process and one core each (default: every core; never more than "
                   "the runs to do or the cores; 1 with loky: in this process)")
    p.add_argument("--backend", choices=["loky", "dask"], default="loky",
                   help="loky processes on this machine (default) or a dask cluster")
    p.add_argument("--scheduler", default=None, help="dask scheduler address, e.g. "
                   "tcp://host:8786 (default: a local cluster of --jobs workers)")
    p.add_argument("--connect-timeout", type=float, default=10.0, metavar="SECONDS",
                   help="how long to wait for the --scheduler to answer (default: 10)")
    p.add_argument("--out", type=Path, default=None, help="results folder (default: "
                   "results/<grid name>/)")
    p.add_argument("--dry-run", action="store_true", help="list the runs and which are done; "
                   "run nothing, write nothing")
    p.add_argument("--force", action="store_true", help="redo runs that are already finished")
    p.add_argument("--wait", action="store_true", help="if another rnnbench writes the results "
                   "folder, wait for it to finish (default: exit 2, naming it)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or per-run lines")
    p.add_argument("--no-report", action="store_true", help="write the tables only (draw the "
                   "plots and report later with 'rnnbench report DIR')")
    p.add_argument("--no-baselines", action="store_true", help="skip the count-based baselines "
                   "(as 'baselines: false' in the grid file; earlier ones are kept)")


def add_view_parsers(sub):
    for name, what in (("plot", "the plots (plots/*.png)"),
                       ("report", "report.md and report.html (and the plots)")):
        p = sub.add_parser(name, help=f"draw {what} of a grid's results folder or of a run "
                           f"folder again", description=f"Write {what} from the tables of a "
                           f"results folder, or of one run's folder (rnnbench train).")
        p.add_argument("results", type=Path, help="results folder, e.g. results/task4, or a run "
                       "folder")

def cmd_run(args):
    from ..experiments.interrupts import exit_status, sigterm_interrupts

    try:
        with sigterm_interrupts():  # SIGTERM stops a grid as Ctrl-C does
            return _run_command(args)
    except KeyboardInterrupt as exc:  # before the runs started (once started: run_grid's)
        print("rnnbench: interrupted; the runs finished so far are kept", file=sys.stderr)
        return exit_status(exc)


def _run_command(args):
    from ..experiments.grid import load_grid
    from ..experiments.results import ResultsDir

    grid = load_grid(args.grid)
    if args.scheduler and args.backend != "dask":
        raise UsageError("rnnbench: --scheduler needs --backend dask")
    if not 0 < args.connect_timeout < float("inf"):
        raise UsageError(f"rnnbench: --connect-timeout must be > 0 seconds, got "
                         f"{args.connect_timeout}")
    out = args.out or Path("results") / grid.name
    if out.exists() and not out.is_dir():
        raise UsageError(f"rnnbench: {out} is a file, not a results folder; choose another --out")
    grid.baselines = grid.baselines and not args.no_baselines
    results = ResultsDir(out)
    if not args.dry_run:  # one writer per results folder until this command returns
        args.hold(results.lock(wait=args.wait))
    statuses, todo = results.plan(grid.runs, args.force)
    if args.dry_run:
        _print_dry_run(grid, out, statuses, todo)
        return 0
    if args.backend == "dask":
        import importlib.util
        if importlib.util.find_spec("distributed") is None:
            raise UsageError("rnnbench: --backend dask needs dask.distributed: pip install "
                             "'rnnbench[dask]'")
    from ..experiments.pool import GridPoolError, default_jobs, plan_jobs
    from ..experiments.runner import open_pool, run_grid
    from ..training.resources import check_grid_jobs

    if todo and not args.scheduler:  # a remote cluster's memory is not ours to check
        check_grid_jobs(grid, todo, 1 if args.jobs == 1 else
                        plan_jobs(args.jobs, len(todo), default_jobs())[0])
    try:
        # a dask scheduler is reached (or refused) here, before anything is written
        pool, note = open_pool(args.backend, args.jobs, len(todo), args.scheduler,
                               args.connect_timeout)
        if note:
            print(f"rnnbench: note: {note}", file=sys.stderr)
        on = f" {pool.describe()}" if pool else ""
        print(f"grid {grid.name}: {len(grid.runs)} runs, {len(grid.runs) - len(todo)} "
              f"already finished, {len(todo)} to run{on}; results in {out}")
        with pool or contextlib.nullcontext():  # closed (workers killed) however it ends
            done = run_grid(grid, results, todo, pool, progress=not args.quiet)
    except GridPoolError as exc:
        print(exc, file=sys.stderr)
        return exc.status
    if not done.interrupted and not args.no_report:
        draw(out, report=True)
    if done.interrupted:
        print(f"rnnbench: interrupted; {len(done.statuses)} runs finished now are kept in "
              f"{out}; run the same command again to do the rest", file=sys.stderr)
        return done.interrupted
    counts = ", ".join(f"{done.count(s)} {s}" for s in ("ok", "diverged", "failed"))
    wrote = "tables" if args.no_report else "tables, plots and report"
    print(f"done: {counts} (and {done.skipped} finished before); {wrote} in {out}")
    for label, seed, error in done.failed:
        print(f"rnnbench: failed: {label}, seed={seed}: {error}", file=sys.stderr)
    return 1 if done.failed else 0


def _print_dry_run(grid, out, statuses, todo):
    from ..experiments.results import FINISHED

    print(f"grid {grid.name} ({grid.path}): {len(grid.runs)} runs; swept: "
          f"{', '.join(grid.swept) or 'nothing'}; results folder {out}")
    to_run = {spec.run_id for spec in todo}
    for i, spec in enumerate(grid.runs, 1):
        status = statuses[spec.run_id]
        state = "to run" if spec.run_id in to_run else "done"
        note = f" ({status})" if status else ""
        print(f"{i:4d}  {spec.run_id}  {state + note:<18s} {spec.label}, seed={spec.config.seed}")
    finished = sum(status in FINISHED for status in statuses.values())
    print(f"{finished} of {len(grid.runs)} finished; {len(todo)} would run")


def draw(out, report):
    """Plots (and the report) of the results folder ``out``, from its tables; their paths."""
    from ..analysis.tables import analyse_tables
    from ..experiments.results import load_tables
    from ..views.plots.draw import helper_plots, make_plots, plot_helper
    from ..views.report.content import write_report

    with plot_helper() as helper:  # a second process draws the slowest plots meanwhile
        tables = load_tables(out)  # read and analysed once for the plots and the report
        away = helper_plots(helper, out, tables)
        analysis = analyse_tables(tables[0], tables[1], tables[2])
        paths = make_plots(out, tables, analysis, away)
    if report:
        paths += write_report(out, tables, analysis)
    return paths


def _draw_folder(out, report):
    """``draw``, or for a run folder (rnnbench train) its own plots and report."""
    from ..experiments.results import is_grid_folder
    from ..experiments.run_folder import is_run_folder, load_run_tables
    from ..views.plots.run import make_run_plots
    from ..views.report.run import write_run_report

    if not is_grid_folder(out) and is_run_folder(out):
        return write_run_report(out) if report else make_run_plots(out, load_run_tables(out))
    return draw(out, report)


def cmd_plot(args):
    for path in _draw_folder(args.results, report=False):
        print(path)
    return 0


def cmd_report(args):
    for path in _draw_folder(args.results, report=True):
        print(path)
    return 0
