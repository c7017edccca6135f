"""Speed against plain NumPy and PyTorch, measured in one process, as medians and ratios.

For each configuration the contenders take turns (numpy, torch, rnnbench, numpy, ...) so that
machine noise hits all of them alike; each figure is the median over repeats, and so is each
ratio. Every contender runs on one thread. The vanilla rows' NumPy contender is min-char-rnn
itself (rnnbench.reference.min_char_rnn, float64 even against a float32 model, as the goal asks); the other
cells' is rnnbench.reference.cells; PyTorch's is rnnbench.reference.torch.
"""
import time
from dataclasses import asdict, dataclass

import numpy as np

CONTENDERS = ("numpy", "torch", "rnnbench")


@dataclass(frozen=True)
class Config:
    """One benchmark row: a model and its batch shape."""

    cell: str
    hidden_size: int
    num_layers: int = 1
    dtype: str = "float64"
    batch_size: int = 1
    seq_length: int = 25

    @property
    def label(self):
        size = (f"{self.num_layers}x{self.hidden_size}" if self.num_layers > 1
                else str(self.hidden_size))
        shape = f" b{self.batch_size}" if self.batch_size > 1 else ""
        shape += f" s{self.seq_length}" if self.seq_length != 25 else ""
        return f"{self.cell} {size} {self.dtype.replace('float', 'f')}{shape}"

    def model(self, corpus):
        """The row's model on ``corpus``: tanh, seed 0, the same weights for every contender."""
        from ..model.model import Model
        return Model.create(self.cell, corpus.vocab_size, self.hidden_size, self.num_layers,
                            "tanh", self.dtype, seed=0, chars=corpus.chars)

    @property
    def updates_per_call(self):
        """Updates per call of the compiled loop when timing: enough that the call's Python
        overhead vanishes, few enough that a call of a large model stays short."""
        size = self.seq_length * self.batch_size * self.hidden_size * self.num_layers / 25
        return max(1, min(200, int(20000 / size)))


RNN100, RNN100_F32, RNN512 = Config("rnn", 100), Config("rnn", 100, dtype="float32"), \
    Config("rnn", 512)
LSTM128, LSTM128_F32, GRU128 = Config("lstm", 128), Config("lstm", 128, dtype="float32"), \
    Config("gru", 128)
TORCH_RNN = Config("lstm", 128, 2, "float32", 50, 50)  # torch-rnn's benchmark setting
BIG = [Config("lstm", 256, 1, "float64", 32), Config("lstm", 256, 1, "float32", 32)]
GOAL_ROWS = [RNN100, RNN100_F32, RNN512, LSTM128, LSTM128_F32, GRU128, TORCH_RNN, *BIG]
QUICK_ROWS = [RNN100, RNN100_F32, LSTM128, GRU128]
CELL_ROWS = [Config(c, h, n, d, b) for c in ("lstm", "gru") for h in (128, 256)
             for n in (1, 2) for d in ("float64", "float32") for b in (1, 32)]
SUITES = {"goals": GOAL_ROWS, "quick": QUICK_ROWS, "cells": CELL_ROWS,
          "vanilla": [RNN100, RNN100_F32]}

# (what, row, against, at least): the speed issue's goals that are ratios of two contenders
RATIO_GOALS = [("vanilla 100 f64 vs NumPy", RNN100, "numpy", 20.0),
               ("vanilla 100 f32 vs NumPy", RNN100_F32, "numpy", 40.0),
               ("vanilla 100 f64 vs PyTorch", RNN100, "torch", 25.0),
               ("vanilla 512 f64 vs NumPy", RNN512, "numpy", 10.0),
               ("LSTM 128 f64 vs PyTorch", LSTM128, "torch", 10.0),
               ("LSTM 128 f32 vs PyTorch", LSTM128_F32, "torch", 5.0),
               ("GRU 128 f64 vs PyTorch", GRU128, "torch", 8.0)]
TORCH_RNN_CHARS = 60_000  # torch-rnn's published chars/s on a 2015 Titan X GPU
PEAK_GOAL = 0.5           # useful GFLOP/s over the measured peak, at hidden >= 256
SCALING_GOAL, WARM_GOAL_S, COLD_GOAL_S = 1.85, 1.5, 20.0


def _timed(step_fn, seconds):
    """Call ``step_fn()`` (which returns updates done) until ``seconds`` pass: updates/s."""
    done, t0 = 0, time.perf_counter()
    while True:
        done += step_fn()
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds:
            return done / elapsed


def contenders(corpus, cfg, names=CONTENDERS):
    """{name: step function returning updates done} for one configuration, each warmed up."""
    from ..reference.min_char_rnn import ReferenceRNN
    from ..reference.cells import ReferenceNetwork
    from ..reference.torch import TorchNetwork, available
    from ..training.driver import TrainState

    model = cfg.model(corpus)
    T, B, data = cfg.seq_length, cfg.batch_size, corpus.train_ids
    steps = {}
    if "numpy" in names:
        ref = (ReferenceRNN(model.params, data, T) if cfg.cell == "rnn" and B == 1
               else ReferenceNetwork(model.copy(), data, T, batch_size=B))
        steps["numpy"] = lambda: (ref.step(), 1)[1]
    if "torch" in names and available():
        net = TorchNetwork(model.copy(), data, T, batch_size=B)
        steps["torch"] = lambda: (net.step(), 1)[1]
    if "rnnbench" in names:
        fast = TrainState(model.copy(), data, T, batch_size=B)
        scratch = np.zeros(cfg.updates_per_call)
        steps["rnnbench"] = lambda: fast.run(scratch, scratch)
    for step in steps.values():
        step()  # compile, load or warm up before timing
    return steps


def measure_row(corpus, cfg, repeats, seconds, peaks, names=CONTENDERS):
    """Rows (one per contender) of updates/s, chars/s, GFLOP/s, fraction of peak and ratios."""
    from .flops import update_flops

    steps = contenders(corpus, cfg, names)
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
        for other in ("numpy", "torch"):
            if other in rates and other != name:
                row[f"vs_{other}"] = float(np.median(r / np.array(rates[other])))
        rows.append(row)
    return rows


def startup_seconds(cold, repeats=3):
    """Wall time of ``rnnbench train --updates 1`` in a new process: median of ``repeats``
    with the kernel cache warm, or one run with an empty cache (NUMBA_CACHE_DIR elsewhere)."""
    import os
    import subprocess
    import sys
    import tempfile

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
    from ..config import RunConfig
    from ..text.corpus import Corpus
    from ..experiments.runner import CorpusText, run_all

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


def machine():
    """The CPU's name and the cores this process may use."""
    import platform

    from ..experiments.runner import default_jobs

    name = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name}, {default_jobs()} cores"


def blas():
    """Which BLAS the kernels' np.dot calls (SciPy's) and which of its kernels are in force:
    OPENBLAS_CORETYPE, when set, overrides the CPU's own choice."""
    import importlib
    import os

    from threadpoolctl import threadpool_info
    importlib.import_module("scipy.linalg")  # loads that library, so threadpoolctl sees it

    libs = [i for i in threadpool_info() if i["user_api"] == "blas"]
    lib = next((i for i in libs if "scipy" in i["filepath"].split("/")[-2]), libs[0] if libs
               else None)
    if lib is None:
        return "BLAS unknown"
    text = f"{lib['internal_api']} {lib['version']}"
    if lib.get("architecture"):
        text += f", {lib['architecture']} kernels"
    forced = os.environ.get("OPENBLAS_CORETYPE")
    if forced and lib["internal_api"] == "openblas":
        text += f" (OPENBLAS_CORETYPE={forced})"
    return text


def run_bench(suite="goals", repeats=3, seconds=1.0, corpus="pydoc", startup=True,
              scaling_updates=30000, profile=True, progress=None):
    """The benchmark: (rows, goals, info). ``rows``: one dict per configuration and contender;
    ``goals``: one dict per goal of the speed issue with what was measured; ``info``: machine,
    BLAS, peaks, the settings and (``profile``) where each configuration's update time goes."""
    from ..text.corpus import Corpus
    from .flops import peak_gflops
    from .profile import stage_profile
    from ..training.threads import one_thread
    from ..reference.torch import available

    data = Corpus.load(corpus, 0.1)
    peaks = {d: peak_gflops(d) for d in ("float64", "float32")}
    info = dict(machine=machine(), blas=blas(), peak_gflops_float64=peaks["float64"],
                peak_gflops_float32=peaks["float32"], torch=available(), suite=suite,
                repeats=repeats, seconds=seconds, vocab_size=data.vocab_size)
    rows = []
    with one_thread():
        for cfg in SUITES[suite]:
            new = measure_row(data, cfg, repeats, seconds, peaks)
            rows += new
            if progress is not None:
                progress("row", new)
        if profile:
            info["profile"] = [stage_profile(data, cfg) for cfg in SUITES[suite]]
            if progress is not None:
                progress("profile", info["profile"])
    extra = {}
    if startup:
        extra["warm_s"] = startup_seconds(cold=False)
        extra["cold_s"] = startup_seconds(cold=True) if suite != "quick" else None
        if scaling_updates:
            extra["jobs1_s"], extra["jobs2_s"] = scaling(scaling_updates)
        if progress is not None:
            progress("startup", extra)
    info.update(extra)
    return rows, goals(rows, info), info


def _find(rows, cfg, contender):
    for r in rows:
        if r["config"] == cfg.label and r["contender"] == contender:
            return r
    return None


def goals(rows, info):
    """Each goal of the speed issue: target, measured value and whether it is met (None when
    this run did not measure it)."""
    out = []
    for what, cfg, against, target in RATIO_GOALS:
        r = _find(rows, cfg, "rnnbench")
        value = r.get(f"vs_{against}") if r else None
        notes, other = [], _find(rows, cfg, against)
        if r and other and against == "numpy" and cfg.batch_size == 1:
            ceiling = info[f"peak_gflops_{cfg.dtype}"] * 1e9 / (r["mflop_per_update"] * 1e6)
            notes.append(f"at the measured peak {ceiling / other['updates_per_s']:.1f}x")
        prof = next((p for p in info.get("profile", ()) if p["config"] == cfg.label), None)
        if prof and other:
            bound = 1e6 / prof["products_us"] / other["updates_per_s"]
            notes.append(f"its matrix products alone take {prof['products_us']:.0f} of "
                         f"{prof['update_us']:.0f} us: at most {bound:.1f}x on this BLAS")
        note = "; ".join(notes)
        out.append(dict(goal=what, target=f">= {target:g}x", value=value, unit="x",
                        met=None if value is None else value >= target, note=note))
    r = _find(rows, TORCH_RNN, "rnnbench")
    out.append(dict(goal="LSTM 2x128 b50 s50 f32 chars/s", target="report",
                    value=r["chars_per_s"] if r else None, unit="chars/s", met=None,
                    note=f"torch-rnn: ~{TORCH_RNN_CHARS:,} chars/s on a 2015 Titan X GPU"))
    big = [r for r in rows if r["contender"] == "rnnbench" and r["hidden_size"] >= 256]
    best = max(big, key=lambda r: r["peak_fraction"], default=None)
    out.append(dict(goal="useful GFLOP/s / peak at hidden >= 256", target=f">= {PEAK_GOAL:.0%}",
                    value=best["peak_fraction"] if best else None, unit="of peak",
                    met=None if best is None else best["peak_fraction"] >= PEAK_GOAL,
                    note=f"best row: {best['config']}" if best else ""))
    j1, j2 = info.get("jobs1_s"), info.get("jobs2_s")
    out.append(dict(goal="8 equal runs, --jobs 2 vs --jobs 1", target=f">= {SCALING_GOAL}x",
                    value=j1 / j2 if j1 and j2 else None, unit="x",
                    met=None if not (j1 and j2) else j1 / j2 >= SCALING_GOAL,
                    note=_scaling_note(j1, j2, info.get("warm_s"))))
    for key, what, limit in (("warm_s", "warm start", WARM_GOAL_S),
                             ("cold_s", "cold start", COLD_GOAL_S)):
        v = info.get(key)
        out.append(dict(goal=f"{what}: train --updates 1", target=f"<= {limit:g} s", value=v,
                        unit="s", met=None if v is None else v <= limit, note=""))
    return out


def _scaling_note(j1, j2, warm):
    """The two times, and the ratio left when each of the two workers first pays a warm start
    (imports, cached kernels) that --jobs 1, running in this process, does not."""
    if not (j1 and j2):
        return ""
    note = f"{j1:.1f} s vs {j2:.1f} s"
    if warm:
        note += (f"; with one warm start ({warm:.2f} s) per worker at most "
                 f"{j1 / (j1 / 2 + warm):.2f}x")
    return note


HEADER = (f"{'configuration':<24}{'contender':>10}{'upd/s':>10}{'chars/s':>11}{'GFLOP/s':>9}"
          f"{'of peak':>8}{'vs numpy':>10}{'vs torch':>10}")


def format_row(r):
    ratio = {k: (f"{r[k]:.1f}x" if k in r else "") for k in ("vs_numpy", "vs_torch")}
    return (f"{r['config']:<24}{r['contender']:>10}{r['updates_per_s']:>10,.0f}"
            f"{r['chars_per_s']:>11,.0f}{r['gflops']:>9.1f}{r['peak_fraction']:>8.0%}"
            f"{ratio['vs_numpy']:>10}{ratio['vs_torch']:>10}")


def format_goal(g):
    v = g["value"]
    if v is None:
        shown = "not measured"
    elif g["unit"] == "x":
        shown = f"{v:.2f}x"  # two decimals: 4.98x must not read as a met 5.0x
    elif g["unit"] == "of peak":
        shown = f"{v:.0%}"
    elif g["unit"] == "s":
        shown = f"{v:.2f} s"
    else:
        shown = f"{v:,.0f} {g['unit']}"
    verdict = {True: "met", False: "NOT met", None: ""}[g["met"]]
    return f"{g['goal']:<42}{g['target']:>10}{shown:>16}  {verdict:<8}{g['note']}"


def format_info(info):
    return (f"{info['machine']}; {info['blas']}; one thread per contender; peak "
            f"{info['peak_gflops_float64']:.0f} GFLOP/s float64, "
            f"{info['peak_gflops_float32']:.0f} float32 (n=1024 matrix product); medians of "
            f"{info['repeats']} interleaved repeats of {info['seconds']:g} s"
            + ("" if info["torch"] else "; PyTorch not installed: its rows are skipped"))


PROFILE_HEADER = (f"{'configuration':<24}" + "".join(f"{h:>10}" for h in (
    "update", "forward", "softmax", "backward", "optimizer", "products")) + f"{'share':>7}"
    f"{'bound upd/s':>13}")


def format_profile(p):
    """One row of where the time goes: microseconds per update of each stage, of the matrix
    products alone, their share, and the rate the products alone would allow."""
    return (f"{p['config']:<24}" + "".join(f"{p[k + '_us']:>10.1f}" for k in (
        "update", "forward", "softmax", "backward", "optimizer", "products"))
        + f"{p['products_share']:>7.0%}{1e6 / p['products_us']:>13,.0f}")


def save_bench(rows, goal_rows, info, out):
    """bench.parquet (rows), goals.parquet, info.json, profile.parquet (when profiled) and
    bench.png in ``out``."""
    from pathlib import Path

    import pandas as pd

    from ..experiments.run_folder import atomic_write_json, atomic_write_parquet

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(rows)
    atomic_write_parquet(out / "bench.parquet", frame)
    atomic_write_parquet(out / "goals.parquet", pd.DataFrame(goal_rows).astype({"value": float}))
    atomic_write_json(out / "info.json", info)
    if info.get("profile"):
        atomic_write_parquet(out / "profile.parquet", pd.DataFrame(info["profile"]))
    plot_bench(frame, info, out / "bench.png")
    return out


def plot_bench(frame, info, path):
    """Updates/s of each contender per configuration (log scale), and rnnbench's GFLOP/s as a
    fraction of the machine's peak."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    from ..experiments.run_folder import atomic_write_bytes

    sns.set_theme(style="whitegrid")
    order = list(dict.fromkeys(frame["config"]))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 0.5 * len(order) + 2),
                                   gridspec_kw={"width_ratios": [2, 1]}, sharey=True)
    sns.barplot(frame, y="config", x="updates_per_s", hue="contender", order=order,
                hue_order=[c for c in CONTENDERS if c in set(frame["contender"])], ax=ax1,
                orient="h")
    ax1.set_xscale("log")
    ax1.set(xlabel="updates per second (log scale)", ylabel="")
    mine = frame[frame["contender"] == "rnnbench"]
    sns.barplot(mine, y="config", x="peak_fraction", order=order, ax=ax2, color="C2",
                orient="h")
    ax2.axvline(PEAK_GOAL, color="black", lw=1, ls="--")
    ax2.set(xlabel="rnnbench GFLOP/s / measured peak", ylabel="", xlim=(0, 1))
    fig.suptitle(info["machine"], fontsize=10)
    fig.tight_layout()
    import io
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
