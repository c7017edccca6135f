"""Speed against plain NumPy, PyTorch and JAX, measured in one process, as medians and ratios.

For each configuration the contenders take turns (numpy, torch, jax update, jax loop, rnnbench,
numpy, ...) so that machine noise hits all of them alike; each figure is the median over
repeats, and so is each ratio. Every contender runs on one thread. The vanilla rows' NumPy
contender is min-char-rnn itself (reference/min_char_rnn.py, float64 even against a float32
model, as the goal asks); the other cells' is reference/cells.py; PyTorch's is
reference/torch.py, JAX's reference/jax.py, its backend held to one thread (contenders.py).
"""
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict

import numpy as np
from threadpoolctl import threadpool_limits

from ..config import RunConfig
from ..experiments.runner import run_all
from ..experiments.shared import CorpusText
from ..reference.jax import available as jax_available
from ..reference.jax import describe, hold_to_one_thread
from ..reference.torch import available
from ..text.corpus import Corpus
from ..training.split import SplitTrainState
from ..training.state import TrainState
from ..training.threads import blas_threads, lone_cores, one_thread, split_parts
from .configs import CONTENDERS, LSTM256_B32_F32 as THREADS_ROW, PEERS, SUITES
from .contenders import contenders
from .floor import floor_us, machine_floor
from .flops import peak_gflops, update_flops
from .goals import goals, ratio_key
from .machine import blas, keep_freed_memory, machine
from .profile import stage_profile


def _timed(step_fn, seconds):
    """Call ``step_fn()`` (which returns updates done) until ``seconds`` pass: updates/s."""
    done, t0 = 0, time.perf_counter()
    while True:
        done += step_fn()
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds:
            return done / elapsed


def measure_row(corpus, cfg, repeats, seconds, peaks, names=CONTENDERS):
    """Rows (one per contender) of updates/s, chars/s, GFLOP/s, fraction of peak, rnnbench's
    ratios to each peer (``vs_jax_loop``...) and each peer's agreement with rnnbench's first
    losses (``first_losses_rdiff``)."""
    steps, agreement = contenders(corpus, cfg, names)
    rates = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            rates[name].append(_timed(step, seconds))
    flops = update_flops(cfg.cell, corpus.vocab_size, cfg.hidden_size, cfg.num_layers,
                         cfg.seq_length, cfg.batch_size)
    rows = []
    for name, r in rates.items():
        r = np.array(r)
        med = float(np.median(r))
        row = dict(asdict(cfg), config=cfg.label, contender=name, vocab_size=corpus.vocab_size,
                   repeats=repeats, updates_per_s=med, min=float(r.min()), max=float(r.max()),
                   chars_per_s=med * cfg.seq_length * cfg.batch_size,
                   mflop_per_update=flops / 1e6, gflops=med * flops / 1e9,
                   peak_fraction=med * flops / 1e9 / peaks[cfg.dtype])
        if name in agreement:
            row["first_losses_rdiff"] = agreement[name]
        for other in PEERS:
            if other in rates and name == "rnnbench":
                row[ratio_key(other)] = float(np.median(r / np.array(rates[other])))
        rows.append(row)
    return rows


def startup_seconds(cold, repeats=3):
    """Wall time of ``rnnbench train --updates 1`` in a new process: median of ``repeats``
    with the kernel cache warm, or one run with an empty cache (NUMBA_CACHE_DIR elsewhere)."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ)
        if cold:
            env["NUMBA_CACHE_DIR"] = os.path.join(tmp, "numba-cache")
            repeats = 1
        times = []
        for k in range(repeats + (0 if cold else 1)):
            cmd = [sys.executable, "-m", "rnnbench", "train", "--updates", "1", "--quiet",
                   "--out", os.path.join(tmp, f"run{k}")]
            t0 = time.perf_counter()
            subprocess.run(cmd, env=env, check=True, capture_output=True)
            times.append(time.perf_counter() - t0)
        return float(np.median(times if cold else times[1:]))  # warm: the first run warms


def scaling(updates, runs=8):
    """(seconds with --jobs 1, seconds with --jobs 2) for a grid of ``runs`` equal runs."""
    corpus = CorpusText.of(Corpus.load("pydoc"))
    config = RunConfig.build(dict(updates=updates, eval_every=updates, sample_every=0))
    tasks = [(f"run{k}", config, corpus, None) for k in range(runs)]
    times = []
    for jobs in (1, 2):
        t0 = time.perf_counter()
        statuses = [o.status for o in run_all(tasks, jobs)]
        times.append(time.perf_counter() - t0)
        if statuses != ["ok"] * runs:
            raise RuntimeError(f"scaling runs did not all finish: {statuses}")
    return tuple(times)


def thread_scaling(corpus, cfg, repeats, seconds):
    """(rnnbench's updates/s of ``cfg`` on one thread, as a lone run on every core, its parts,
    its BLAS threads), medians of interleaved repeats: what a lone run gains from its batch
    split over threads (threads.split_parts) or else from BLAS threads (run_threads)."""
    parts, blas = split_parts(cfg), blas_threads(cfg)
    one = TrainState(cfg.model(corpus), corpus.train_ids, cfg.seq_length,
                     batch_size=cfg.batch_size)
    every = one if parts == 1 else SplitTrainState(
        cfg.model(corpus), corpus.train_ids, cfg.seq_length, batch_size=cfg.batch_size,
        parts=parts)
    scratch = np.zeros(cfg.updates_per_call)
    with threadpool_limits(1, user_api="blas"):  # compiled, or loaded from the cache
        one.run(scratch, scratch)
        every.run(scratch, scratch)
    cases = [(one, 1, []), (every, blas, [])]
    for _ in range(repeats):
        for st, limit, rates in cases:
            with threadpool_limits(limit, user_api="blas"):
                rates.append(_timed(lambda: st.run(scratch, scratch), seconds))
    return float(np.median(cases[0][2])), float(np.median(cases[1][2])), parts, blas


def run_bench(suite="goals", repeats=3, seconds=1.0, corpus="pydoc", startup=True,
              scaling_updates=30000, profile=True, progress=None, keep_freed=True):
    """The benchmark: (rows, goals, info). ``rows``: one dict per configuration and contender;
    ``goals``: one dict per goal of the speed issue with what was measured; ``info``: machine,
    BLAS, JAX's kernels, the allocator, peaks, the settings and (``profile``) where each
    configuration's update time goes, with the machine's floor under it (floor.py).
    ``keep_freed``: glibc keeps freed memory for every contender alike
    (machine.keep_freed_memory), so no large temporary page-faults anew."""
    if jax_available():
        hold_to_one_thread()  # before anything else touches JAX
    allocator = keep_freed_memory() if keep_freed else "glibc's defaults"
    data = Corpus.load(corpus, 0.1)
    peaks = {d: peak_gflops(d) for d in ("float64", "float32")}
    info = dict(machine=machine(), blas=blas(), peak_gflops_float64=peaks["float64"],
                peak_gflops_float32=peaks["float32"], torch=available(),
                jax=describe() if jax_available() else None, allocator=allocator, suite=suite,
                repeats=repeats, seconds=seconds, vocab_size=data.vocab_size)
    rows = []
    with one_thread():
        for cfg in SUITES[suite]:
            new = measure_row(data, cfg, repeats, seconds, peaks)
            rows += new
            if progress is not None:
                progress("row", new)
        if profile:  # the floor's machine figures once for every row, then each row's
            info["floor"] = machine_floor(SUITES[suite], peaks)
            info["profile"] = [dict(stage_profile(data, cfg),
                                    **floor_us(cfg, data.vocab_size, info["floor"]))
                               for cfg in SUITES[suite]]
            if progress is not None:
                progress("profile", info["profile"])
    extra = {}
    if suite != "quick" and lone_cores(THREADS_ROW) > 1:
        one, every, parts, threads = thread_scaling(data, THREADS_ROW, repeats, seconds)
        extra.update(threads_row=THREADS_ROW.label, threads_cores=max(parts, threads),
                     threads_parts=parts, threads_one_per_s=one, threads_all_per_s=every)
    if startup:
        extra["warm_s"] = startup_seconds(cold=False)
        extra["cold_s"] = startup_seconds(cold=True) if suite != "quick" else None
        if scaling_updates:
            extra["jobs1_s"], extra["jobs2_s"] = scaling(scaling_updates)
        if progress is not None:
            progress("startup", extra)
    info.update(extra)
    return rows, goals(rows, info), info
