"""What every pool of a grid's runs offers and shares, and what happens when a worker dies.

A pool runs tasks ``(run_id, config, payload, samples)`` through a task function (the runner's
``run_one``) and yields, for each, the Outcome it returns or a ``Lost`` (its worker died under
it: the run is then recorded failed with the cause, and the grid goes on). Three kinds: this
process (``--jobs 1``) and loky worker processes on this machine (loky_pool.py), and a dask
cluster (dask_pool.py); runner.open_pool chooses.
"""
import os
import shutil
import signal
import tempfile
import time
from collections import deque
from dataclasses import dataclass

import psutil

from ..variants import CELLS

MARKERS_PREFIX = "rnnbench-workers-"  # + the parent's pid: folders of the workers' markers


@dataclass
class Lost:
    """A task whose worker died while running it; ``cause`` goes into the run's summary."""

    task: tuple
    cause: str


class GridPoolError(Exception):
    """The pool itself cannot go on (no scheduler, the cluster lost); ``status``: exit code."""

    def __init__(self, message, status=1):
        super().__init__(message)
        self.status = status


def death_cause(exitcode):
    """What a worker's exit code says: 'worker killed by signal 9; out of memory?' ..."""
    if exitcode is None:
        return "worker died"
    if exitcode >= 0:
        return f"worker exited with status {exitcode}"
    if -exitcode == signal.SIGKILL:  # what the kernel's OOM killer sends
        return f"worker killed by signal {-exitcode}; out of memory?"
    try:
        name = f" ({signal.Signals(-exitcode).name})"
    except ValueError:
        name = ""
    return f"worker killed by signal {-exitcode}{name}"


# rough rates of one core for cost(): matrix products, element-wise work per activation
# (exp, tanh, their derivatives), the optimizer per parameter, and a call's fixed part
PRODUCT_FLOPS_S, ELEMENT_S, PARAMETER_S, UPDATE_S = 40e9, 5e-9, 0.5e-9, 5e-6


def cost(config, vocab_size=100):
    """Seconds a run of ``config`` should take to train on one core, roughly: its updates
    times the cost of one update of its shape (the matrix products of forward, BPTT and the
    weight gradients; the element-wise work of each step; the optimizer). It orders a grid's
    runs (longest first) and weighs them in the progress bar's estimate of the time left."""
    c, H, L, V = config, config.hidden_size, config.num_layers, vocab_size
    G = CELLS[c.cell].n_gates
    rows = c.seq_length * c.batch_size
    # per row, multiply-adds: W_hh h, W_hh^T d and dW_hh of each layer, W_ih x, dW_ih and
    # dL/dx above the first, and the output layer's three
    macs = rows * (3 * G * H * H * L + 3 * G * H * H * (L - 1) + 3 * V * H)
    params = G * H * (H + 1) * L + G * H * (V + H * (L - 1)) + V * (H + 1)
    per_update = (2 * macs / PRODUCT_FLOPS_S + rows * (G * H * L + V) * ELEMENT_S
                  + params * PARAMETER_S + UPDATE_S)
    return c.updates * per_update


def longest_first(tasks):
    return deque(sorted(tasks, key=lambda t: -cost(t[1])))


def default_jobs():
    """The cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def plan_jobs(requested, todo, cores, where="cores"):
    """(workers to use, a note or None): ``requested`` (None: one per core) lowered to the
    runs to do and to ``cores`` (this machine's, or a dask cluster's: ``where``)."""
    want = requested or cores
    jobs = max(1, min(want, todo, cores))
    if requested is None or jobs >= requested:
        return jobs, None
    why = [f"{todo} run{'s' if todo != 1 else ''} to do"] if todo < requested else []
    why += [f"{cores} {where}"] if cores < requested else []
    return jobs, f"--jobs {requested} reduced to {jobs} ({', '.join(why)})"


class Pool:
    """What every pool offers: ``run(fn, tasks)`` (yields fn(*task) or a Lost per task),
    ``describe()`` (where: "on 2 local workers"),
    and ``close()``, which kills its workers (a shutdown never waits on one); as a context
    manager, it is closed on exit."""

    jobs = 1

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def markers_folder():
    """A new temp folder for the workers' markers ("" when none can be made: deaths then go
    unattributed, runs still run). Folders left by an rnnbench that was SIGKILLed (its pid,
    in the name, is gone) are removed first."""
    root = tempfile.gettempdir()
    try:
        for name in os.listdir(root):
            pid = name.split("-")[2] if name.startswith(MARKERS_PREFIX) else ""
            if pid.isdigit() and not psutil.pid_exists(int(pid)):
                shutil.rmtree(os.path.join(root, name), ignore_errors=True)
        return tempfile.mkdtemp(prefix=f"{MARKERS_PREFIX}{os.getpid()}-")
    except OSError:
        return ""


def kill_processes(pids, timeout=5.0):
    """SIGKILL those of ``pids`` that are this process's children, and their descendants
    (a pid that is no longer our child was reused: left alone); wait until they are gone."""
    procs = []
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            if proc.ppid() == os.getpid():
                procs += proc.children(recursive=True) + [proc]
        except psutil.Error:
            pass
    for proc in procs:
        try:
            proc.kill()
        except psutil.Error:
            pass
    # wait until each is a zombie or gone; reaping it is its owner's job (loky's, a nanny's),
    # which reads its exit status
    deadline = time.monotonic() + timeout
    while procs and time.monotonic() < deadline:
        procs = [p for p in procs if _alive(p)]
        time.sleep(0.02 if procs else 0)


def _alive(proc):
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
