"""Faults of a grid's processes: a worker that dies (SIGKILL, as the OOM killer does), the
parent stopped by SIGTERM, Ctrl-C or SIGKILL, an unreachable dask scheduler, --jobs above
what there is to do. Each test checks what is on disk and which processes are alive.

The runs are tiny (hidden 8, a few thousand updates); a test finds which worker holds which
run in the workers' markers folder (rnnbench.experiments.workers: <TMPDIR>/rnnbench-workers-*/<pid>), so
each subprocess gets a TMPDIR of its own."""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from pathlib import Path

import pandas as pd
import psutil
import pytest

from conftest import run_cli

ROOT = Path(__file__).resolve().parents[1]
FINISHED = "runs/[!.]*/summary.json"  # run folders (a dot: a folder being written)


def finished(out):
    """The summaries of the finished runs in ``out``: a run's checkpoint (a folder of status
    "stopped", written while it trains) is no finished run."""
    summaries = []
    for path in sorted(out.glob(FINISHED)):
        try:
            summary = json.loads(path.read_text())
        except (OSError, ValueError):  # being replaced right now
            continue
        if summary.get("status") != "stopped":
            summaries.append(summary)
    return summaries

WAIT = 90  # seconds: the longest any step may take on a loaded machine (a hang fails)
GONE = 5   # seconds within which every process of a finished rnnbench must be gone

# four short runs: two workers each hold one while the test kills one of them
GRID = """
name: faults
data: TEXT
base: {hidden_size: 8, updates: 4000, trace_every: 500, eval_every: 2000,
       sample_every: 2000, sample_length: 20}
grid:
  learning_rate: [0.1, 0.05]
seeds: 2
"""
# one long run and two short ones: the short ones finish while the long one still runs
SIGNAL_GRID = """
name: signals
data: TEXT
base: {hidden_size: 8, trace_every: 1000, eval_every: 5000, sample_every: 0}
grid:
  updates: [400000, 300, 400]
"""


@pytest.fixture(scope="module")
def grids(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fault-grids")
    # 40 kB of the built-in text: quick to read, count and sample against
    pydoc = (ROOT / "rnnbench" / "corpora" / "pydoc_topics.txt").read_text(encoding="utf-8")
    (folder / "text.txt").write_text(pydoc[:40_000], encoding="utf-8")
    # the kernels these runs use, compiled (or loaded) once here: run alone on a cold cache,
    # every worker would compile them for itself, each time, for longer than the waits allow
    import rnnbench
    rnnbench.train(rnnbench.RunConfig(data=str(folder / "text.txt"), hidden_size=8,
                                      updates=20, eval_every=10, sample_every=10,
                                      sample_length=5))
    for name, grid in (("faults", GRID), ("signals", SIGNAL_GRID)):
        (folder / f"{name}.yaml").write_text(grid.replace("TEXT", str(folder / "text.txt")))
    return folder


class Rnnbench:
    """``python -m rnnbench ARGS`` in a session of its own (a group Ctrl-C reaches), with a
    TMPDIR of its own, recording every descendant it ever had."""

    def __init__(self, tmp, *args):
        self.tmp = tmp / f"tmp-{time.monotonic_ns()}"
        self.tmp.mkdir()
        env = dict(os.environ, PYTHONPATH=str(ROOT), TMPDIR=str(self.tmp))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rnnbench", *map(str, args)], cwd=ROOT, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True, preexec_fn=_default_ctrl_c)
        self.seen = {}  # pid -> psutil.Process of every descendant seen
        self.deadline = time.monotonic() + WAIT

    def look(self):
        try:
            for child in psutil.Process(self.proc.pid).children(recursive=True):
                self.seen.setdefault(child.pid, child)
        except psutil.Error:
            pass

    def markers(self):
        """{worker pid: the run it holds} from the workers' markers folder."""
        held = {}
        for path in self.tmp.glob("rnnbench-workers-*/*"):
            if path.name.isdigit():
                try:
                    held[int(path.name)] = path.read_text()
                except OSError:
                    pass
        return held

    def wait_for(self, condition, what):
        """Poll (recording descendants) until ``condition()`` is true."""
        while not condition():
            assert self.proc.poll() is None, f"rnnbench ended before {what}: " \
                                             f"{self.proc.communicate()}"
            assert time.monotonic() < self.deadline, f"timed out waiting for {what}"
            self.look()
            time.sleep(0.02)
        self.look()

    def finish(self):
        """(exit status, stdout, stderr); no descendant may outlive it by GONE seconds."""
        try:
            out, err = self.proc.communicate(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            pytest.fail(f"rnnbench hung:\n{out}\n{err}")
        assert_all_gone(self.seen.values())
        return self.proc.returncode, out, err


def _default_ctrl_c():  # a pytest started with Ctrl-C ignored must not pass that on
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def assert_all_gone(procs, timeout=GONE):
    deadline = time.monotonic() + timeout
    alive = list(procs)
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if _running(p)]
        time.sleep(0.05)
    assert not alive, f"outlived rnnbench: {[(p.pid, _cmdline(p)) for p in alive]}"


def _running(proc):
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _cmdline(proc):
    try:
        return " ".join(proc.cmdline())[:100]
    except psutil.Error:
        return "?"


def no_markers_left(run):
    assert not list(run.tmp.glob("rnnbench-workers-*")), "markers folder left behind"


def runs_table(out):
    return pd.read_parquet(Path(out) / "runs.parquet").set_index("run_id")


# -- a worker killed (what the OOM killer does) --------------------------------------------

def test_killed_worker_fails_its_run_and_only_it(grids, tmp_path):
    """SIGKILL of one loky worker mid-grid: its run is failed with the cause, the innocent run
    in flight is started again on a new worker, the other runs end ok, exit 1; the run that
    always dies names itself again; a rerun does it; the tables equal an undisturbed grid's."""
    grid, out = grids / "faults.yaml", tmp_path / "out"
    run = Rnnbench(tmp_path, "run", grid, "--jobs", "12", "--out", out, "--no-report")
    run.wait_for(lambda: len(set(run.markers().values())) == 2, "two runs in flight")
    held = run.markers()
    victim = min(held)
    target, innocent = held[victim], next(r for p, r in held.items() if p != victim)
    os.kill(victim, signal.SIGKILL)
    # the innocent run starts again on a new worker
    run.wait_for(lambda: any(r == innocent and p not in held
                             for p, r in run.markers().items()), "the innocent run again")
    code, stdout, stderr = run.finish()
    assert code == 1, stderr
    assert "Traceback" not in stderr
    assert f"--jobs 12 reduced to {min(4, len(os.sched_getaffinity(0)))}" in stderr
    runs = runs_table(out)
    assert len(runs) == 4 and (runs["status"] == "ok").sum() == 3
    assert runs.loc[target, "status"] == "failed"
    assert runs.loc[target, "error"] == "worker killed by signal 9; out of memory?"
    assert runs.loc[innocent, "status"] == "ok"
    label = f"learning_rate={runs.loc[target, 'learning_rate']:g}, seed={runs.loc[target, 'seed']}"
    assert f"rnnbench: failed: {label}: worker killed by signal 9; out of memory?" in stderr
    assert "out of memory?" in (out / "runs" / target / "error.txt").read_text()
    no_markers_left(run)

    # a run that dies every time: the rerun runs it alone (still in a worker), fails it again
    # and names it; the finished runs are left as they are
    before = {p: p.stat().st_mtime_ns for p in out.glob(FINISHED)
              if p.parent.name != target}
    again = Rnnbench(tmp_path, "run", grid, "--jobs", "2", "--out", out, "--no-report")
    again.wait_for(lambda: target in again.markers().values(), "the run again")
    os.kill(next(p for p, r in again.markers().items() if r == target), signal.SIGKILL)
    code, stdout, stderr = again.finish()
    assert code == 1 and "3 already finished, 1 to run on 1 local worker" in stdout
    assert f"rnnbench: failed: {label}: worker killed by signal 9" in stderr
    assert {p: p.stat().st_mtime_ns for p in before} == before

    # left alone, it finishes: every run once in the tables, each with its whole trace (here,
    # --jobs 1: a worker's start would cost seconds, and this step is about the tables)
    code, stdout, _ = run_cli("run", grid, "--jobs", "1", "--out", out, "--no-report")
    assert code == 0 and "3 already finished, 1 to run in this process" in stdout
    assert (runs_table(out)["status"] == "ok").all()
    trace = pd.read_parquet(out / "trace.parquet")
    assert trace.groupby("run_id").size().to_dict() == {r: 4000 // 500 for r in runs.index}


# -- the parent stopped ----------------------------------------------------------------------

def _start_signal_grid(tmp_path, grids, *extra):
    out = tmp_path / "out"
    run = Rnnbench(tmp_path, "run", grids / "signals.yaml", "--jobs", "2", "--out", out,
                   "--no-report", *extra)
    # both short runs done, the long one in flight on a worker
    run.wait_for(lambda: len(finished(out)) == 2
                 and len(run.markers()) >= 1, "two finished runs")
    return run, out


@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_and_ctrl_c_keep_finished_runs(grids, tmp_path, signum, status):
    """SIGTERM is Ctrl-C: the finished runs are kept and the tables written, exit 143 (130);
    no worker or helper process survives, nothing waits for the busy worker."""
    run, out = _start_signal_grid(tmp_path, grids)
    assert len(run.seen) >= 2  # the workers (and loky's helpers) exist
    if signum == signal.SIGINT:
        os.killpg(run.proc.pid, signum)  # a terminal's Ctrl-C: the whole process group
    else:
        os.kill(run.proc.pid, signum)
    code, _, stderr = run.finish()
    assert code == status, stderr
    assert "interrupted; 2 runs finished now are kept" in stderr and "Traceback" not in stderr
    runs = runs_table(out)
    assert len(runs) == 2 and (runs["status"] == "ok").all()
    assert (runs["updates"] < 1000).all()  # the two short ones; the long one is not there
    assert not (out / "report.md").exists()
    no_markers_left(run)


def test_sigkill_of_the_parent_leaves_no_process(grids, tmp_path):
    """SIGKILL of rnnbench (no cleanup possible): its workers see their parent gone and
    exit, and loky's helpers go with them. (A local dask cluster's workers exit as their
    nanny's pipe closes, which dask does itself.)"""
    run, out = _start_signal_grid(tmp_path, grids)
    os.kill(run.proc.pid, signal.SIGKILL)
    code, _, _ = run.finish()
    assert code == -signal.SIGKILL
    no_markers_left(run)  # the workers remove their markers on the way out
    assert [s["status"] for s in finished(out)] == ["ok", "ok"]


def test_dask_killed_worker_then_ctrl_c(grids, tmp_path):
    """On a local dask cluster: the run whose worker is SIGKILLed is failed with the cause at
    once (no retry), the grid goes on; then Ctrl-C stops it at once: the tables hold the
    failed run and the finished ones, exit 130, no process left, no dask traceback."""
    pytest.importorskip("dask.distributed")
    from rnnbench.experiments.grid import load_grid

    path = grids / "dask.yaml"
    path.write_text((grids / "signals.yaml").read_text().replace("[400000,", "[400000, 3000,"))
    updates = {r.run_id: r.config.updates for r in load_grid(path).runs}
    out = tmp_path / "out"
    run = Rnnbench(tmp_path, "run", path, "--backend", "dask", "--jobs", "2", "--out", out,
                   "--no-report")
    run.wait_for(lambda: len(set(run.markers().values())) == 2, "two runs in flight")
    victim, target = next((p, r) for p, r in run.markers().items() if updates[r] == 3000)
    os.kill(victim, signal.SIGKILL)
    run.wait_for(lambda: len(finished(out)) == 3, "three runs done")
    os.killpg(run.proc.pid, signal.SIGINT)
    code, stdout, stderr = run.finish()
    assert code == 130, stderr
    for noise in ("Traceback", "KilledWorker", "KeyboardInterrupt", "distributed."):
        assert noise not in stderr
    runs = runs_table(out)
    assert runs.loc[target, "error"] == "worker killed by signal 9; out of memory?"
    assert f"{target}  updates=3000, seed=0: failed: worker killed by signal 9" in stdout
    assert sorted(runs.loc[runs["status"] == "ok", "updates"]) == [300, 400]
    no_markers_left(run)


# -- the dask scheduler ----------------------------------------------------------------------

def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeScheduler:
    """A TCP server on 127.0.0.1 that accepts and then stays silent or talks nonsense."""

    def __init__(self, reply):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.address = f"tcp://127.0.0.1:{self.server.getsockname()[1]}"
        self.reply, self.conns = reply, []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.conns.append(conn)
            if self.reply:
                conn.sendall(self.reply)

    def close(self):
        for c in self.conns + [self.server]:
            c.close()


@pytest.mark.parametrize("peer", ["closed", "silent", "http"])
def test_unreachable_scheduler_is_one_line_and_writes_nothing(grids, tmp_path, peer):
    pytest.importorskip("dask.distributed")
    fake = None
    if peer == "closed":
        address = f"tcp://127.0.0.1:{_free_port()}"
    else:
        fake = FakeScheduler(b"" if peer == "silent" else
                             b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n" * 50)
        address = fake.address
    out = tmp_path / "never"
    # the peers that never answer are waited for the whole timeout: a short one; the one that
    # answers garbage gets time to be read, however loaded the machine
    timeout = "1" if peer == "http" else "0.3"
    t0 = time.monotonic()
    try:
        code, stdout, stderr = run_cli("run", grids / "faults.yaml", "--backend", "dask",
                                       "--scheduler", address, "--connect-timeout", timeout,
                                       "--out", out)
    finally:
        if fake:
            fake.close()
    assert code == 1
    assert len(stderr.strip().splitlines()) == 1 and address in stderr
    assert (f"no answer within {timeout} s" in stderr if peer != "http"
            else "did not answer as a dask scheduler" in stderr)
    assert not out.exists() and stdout == ""
    assert time.monotonic() - t0 < WAIT / 3  # a bound against hangs, not a timing


@pytest.mark.parametrize("address", ["foo://host:1", "no-port"])
def test_a_malformed_scheduler_address_is_exit_2(grids, tmp_path, address):
    pytest.importorskip("dask.distributed")
    code, _, stderr = run_cli("run", grids / "faults.yaml", "--backend", "dask", "--scheduler",
                              address, "--out", tmp_path / "never")
    assert code == 2 and len(stderr.strip().splitlines()) == 1 and address in stderr
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf"])
def test_connect_timeout_must_be_positive(grids, value):
    code, _, stderr = run_cli("run", grids / "faults.yaml", "--connect-timeout", value)
    assert code == 2 and "--connect-timeout must be > 0" in stderr


# -- the pieces --------------------------------------------------------------------------------

def test_plan_jobs():
    from rnnbench.experiments.pool import plan_jobs
    assert plan_jobs(12, 2, 2) == (2, "--jobs 12 reduced to 2 (2 runs to do, 2 cores)")
    assert plan_jobs(12, 40, 4) == (4, "--jobs 12 reduced to 4 (4 cores)")
    assert plan_jobs(3, 1, 8) == (1, "--jobs 3 reduced to 1 (1 run to do)")
    assert plan_jobs(None, 3, 8) == (3, None)  # the default (every core) is not a request
    assert plan_jobs(2, 5, 8) == (2, None)
    assert plan_jobs(6, 10, 4, "cores in the cluster")[1].endswith("(4 cores in the cluster)")


def test_death_cause():
    from rnnbench.experiments.pool import death_cause
    assert death_cause(-9) == "worker killed by signal 9; out of memory?"
    assert death_cause(-11) == "worker killed by signal 11 (SIGSEGV)"
    assert death_cause(3) == "worker exited with status 3"
    assert death_cause(None) == "worker died"


def test_local_pool_names_the_run_that_kills_its_worker(corpus, tmp_path, monkeypatch):
    """At the pool's level, with a run whose worker dies by itself as it starts (a payload
    that raises SIGKILL where the worker rebuilds its corpus): the pool yields a Lost with the
    cause for it, and an Outcome for every other run; no worker is left, nor its folder."""
    from rnnbench.config import RunConfig
    from rnnbench.experiments.loky_pool import LocalPool
    from rnnbench.experiments.pool import Lost
    from rnnbench.experiments.runner import Outcome, run_one
    from rnnbench.experiments.shared import CorpusText

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    config = RunConfig.build(dict(hidden_size=8, updates=400, eval_every=400, sample_every=0))
    good = CorpusText.of(corpus)
    poison = CorpusText(signal.raise_signal, (signal.SIGKILL,))
    tasks = [("run0", config, good, None), ("dies", config, poison, None),
             ("run1", config, good, None)]
    pool, items, workers = LocalPool(2), [], set()
    with pool:
        for item in pool.run(run_one, tasks):
            items.append(item)
            if pool.executor is not None:  # the workers of every executor it used
                workers |= {psutil.Process(p) for p in list(pool.executor._processes)}
    assert workers
    lost = [i for i in items if isinstance(i, Lost)]
    assert [(i.task[0], i.cause) for i in lost] == [("dies", "worker killed by signal 9; "
                                                             "out of memory?")]
    assert sorted(i.run_id for i in items if isinstance(i, Outcome)) == ["run0", "run1"]
    assert all(i.status == "ok" for i in items if isinstance(i, Outcome))
    assert_all_gone(workers)
    assert not list(tmp_path.glob("rnnbench-workers-*"))


def test_workers_start_with_the_pool_and_import_the_runs_code(monkeypatch):
    """LocalPool.start starts the workers at once, and each imports the runs' code as it
    starts (a module that cannot be imported is passed over: its run reports it)."""
    from rnnbench.experiments import loky_pool

    monkeypatch.setattr(loky_pool, "RUNS_CODE",
                        ("rnnbench._absent_", "rnnbench.experiments.runner"))
    with loky_pool.LocalPool(1).start() as pool:
        assert len(pool.executor._processes) == 1  # started before any run was given
        # eval: a builtin, so unpickling the task imports nothing of rnnbench
        imported = pool.executor.submit(eval, "__import__('sys').modules.keys() & {"
                                        "'rnnbench.experiments.runner', 'pandas', 'numba'}")
        assert imported.result(timeout=60) == {"rnnbench.experiments.runner", "pandas", "numba"}


def test_a_break_nobody_is_found_to_blame_for_reruns_once_then_fails(tmp_path):
    """A worker that died idle (its marker names a run already done): the runs in flight are
    innocent as far as anyone can tell, run again once, failed at the second such break."""
    from rnnbench.experiments.loky_pool import LocalPool

    class Broken:  # what _after_break needs of a broken executor
        _processes = {}

        def shutdown(self, wait, kill_workers):
            pass

    pool = LocalPool(2)
    pool.markers = str(tmp_path)
    (tmp_path / "123").write_text("done-before")
    tasks, strikes = [("a", None, None, None), ("b", None, None, None)], Counter()
    for attempt in (1, 2):
        executor, queue = Broken(), deque()
        pool._dead[executor] = {123: -9}
        lost = list(pool._after_break(executor, list(tasks), queue, strikes))
        if attempt == 1:
            assert lost == [] and list(queue) == tasks
    assert not queue and sorted((x.task[0], x.cause) for x in lost) == [
        (t, "the worker pool broke 2 times while it ran, no run was found to blame (last: "
            "worker killed by signal 9; out of memory?)") for t in ("a", "b")]


def test_what_a_dask_error_says(tmp_path):
    """A remote worker killed (dask gave up after its retries) or any other error of the
    cluster: a failed run with the cause in one line; a task that was only queued on a local
    worker that died while running another run is to run again (None)."""
    pytest.importorskip("dask.distributed")
    from types import SimpleNamespace

    from distributed import KilledWorker

    from rnnbench.experiments.dask_pool import DaskPool

    pool, task = DaskPool("tcp://10.0.0.1:8786"), ("r1", None, None, None)
    lost = pool._lost(task, KilledWorker("k", SimpleNamespace(address="tcp://10.0.0.5:4"), 3))
    assert lost.cause == ("dask worker killed (4 workers died running it, the last "
                          "tcp://10.0.0.5:4); out of memory?")
    assert pool._lost(task, ModuleNotFoundError("No module named\n'rnnbench'")).cause == \
        "ModuleNotFoundError: No module named 'rnnbench'"
    pool.markers = str(tmp_path)
    (tmp_path / "77").write_text("r2")  # the dead local worker was running r2, not r1
    pool._procs["tcp://127.0.0.1:5"] = SimpleNamespace(pid=77, exitcode=-9)
    dead = KilledWorker("k", SimpleNamespace(address="tcp://127.0.0.1:5"), 0)
    assert pool._lost(task, dead) is None
    assert pool._lost(("r2",) + task[1:], dead).cause == \
        "worker killed by signal 9; out of memory?"


def _swallowing_callback():
    """What a ctypes callback of Numba's compiler does with a signal that lands inside it: the
    KeyboardInterrupt is printed and dropped, and the compile fails with an error of its own."""
    try:
        signal.raise_signal(signal.SIGINT)
    except KeyboardInterrupt:
        pass
    raise RuntimeError("no compiled object yet")


def test_a_ctrl_c_hidden_by_an_error_still_interrupts():
    from rnnbench.experiments.interrupts import signals_prevail

    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt) as caught:
        with signals_prevail():
            _swallowing_callback()
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert signal.getsignal(signal.SIGINT) is before  # the handler is given back
    with pytest.raises(RuntimeError):  # an error with no signal stays what it is
        with signals_prevail():
            raise RuntimeError("a real error")
