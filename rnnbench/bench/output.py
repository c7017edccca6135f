"""What a bench run prints and writes: its table rows, goals, profile and machine line, and the
files bench.parquet, goals.parquet, profile.parquet, info.json and bench.png."""
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 -- after choosing the backend
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from ..disk.writing import atomic_write_bytes, atomic_write_json, atomic_write_parquet  # noqa: E402
from .configs import CONTENDERS  # noqa: E402
from .goals import PEAK_GOAL, ratio_key  # noqa: E402


RATIO_HEADS = {"numpy": "vs numpy", "torch": "vs torch", "jax update": "vs jax upd",
               "jax loop": "vs jax loop"}
HEADER = (f"{'configuration':<24}{'contender':>11}{'upd/s':>10}{'chars/s':>11}{'GFLOP/s':>9}"
          f"{'of peak':>8}" + "".join(f"{h:>12}" for h in RATIO_HEADS.values()))


def format_row(r):
    """One contender's row: its speed, and rnnbench's ratio (median) to each peer."""
    ratios = "".join(f"{r[ratio_key(p)]:>11.2f}x" if ratio_key(p) in r else f"{'':>12}"
                     for p in RATIO_HEADS)
    return (f"{r['config']:<24}{r['contender']:>11}{r['updates_per_s']:>10,.0f}"
            f"{r['chars_per_s']:>11,.0f}{r['gflops']:>9.1f}{r['peak_fraction']:>8.0%}"
            + ratios)


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
    return f"{g['goal']:<50}{g['target']:>10}{shown:>16}  {verdict:<8}{g['note']}"


def format_info(info):
    return (f"{info['machine']}; {info['blas']}; one thread per contender; peak "
            f"{info['peak_gflops_float64']:.0f} GFLOP/s float64, "
            f"{info['peak_gflops_float32']:.0f} float32 (n=1024 matrix product); medians of "
            f"{info['repeats']} interleaved repeats of {info['seconds']:g} s"
            + ("" if info["torch"] else "; PyTorch not installed: its rows are skipped")
            + f"\nJAX: {info.get('jax') or 'not installed: its rows are skipped'}"
            + f"\nallocator: {info.get('allocator', 'not stated')}"
            + (f"\n{format_floor(info['floor'])}" if info.get("floor") else ""))


def format_floor(figures):
    """One line on what the floors rest on (bench/floor.py's machine_floor)."""
    reads = ", ".join(f"{bw / 1e9:.0f} GB/s from {where} (a "
                      f"{figures['probe_bytes'][where] / 1024:.0f} KB sum)"
                      for where, bw in figures["read_bytes_per_s"].items())
    sizes = ", ".join(f"{name} {size / 1024:.0f} KB" for name, size in figures["caches"].items())
    adagrad = ", ".join(f"{s * 1e9:.2f} ns in {d}" for d, s in
                        figures["adagrad_s_per_param"].items())
    return (f"floor: caches {sizes or 'not known'}; reads {reads or 'not needed'}; "
            f"AdaGrad per parameter {adagrad}; other products at the peak; element-wise work "
            "left out (the floor errs low)")


PROFILE_HEADER = (f"{'configuration':<24}" + "".join(f"{h:>10}" for h in (
    "update", "forward", "softmax", "backward", "optimizer", "products")) + f"{'share':>7}"
    f"{'bound upd/s':>13}{'floor':>10}{'floor upd/s':>13}")


def format_profile(p):
    """One row of where the time goes: microseconds per update of each stage, of the matrix
    products alone, their share, the rate the products alone would allow, and the machine's
    floor under the update (bench/floor.py) with the rate it allows."""
    floor = (f"{p['floor_us']:>10.1f}{1e6 / p['floor_us']:>13,.0f}" if p.get("floor_us")
             else "")
    return (f"{p['config']:<24}" + "".join(f"{p[k + '_us']:>10.1f}" for k in (
        "update", "forward", "softmax", "backward", "optimizer", "products"))
        + f"{p['products_share']:>7.0%}{1e6 / p['products_us']:>13,.0f}" + floor)


def save_bench(rows, goal_rows, info, out):
    """bench.parquet (rows), goals.parquet, info.json, profile.parquet (when profiled) and
    bench.png in ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(rows)
    atomic_write_parquet(out / "bench.parquet", frame)
    goal_frame = pd.DataFrame(goal_rows)
    atomic_write_parquet(out / "goals.parquet", goal_frame.astype(
        {k: float for k in ("value", "floor_at_most") if k in goal_frame}))
    atomic_write_json(out / "info.json", info)
    if info.get("profile"):
        atomic_write_parquet(out / "profile.parquet", pd.DataFrame(info["profile"]))
    plot_bench(frame, info, out / "bench.png")
    return out


def plot_bench(frame, info, path):
    """Updates/s of each contender per configuration (log scale), and rnnbench's GFLOP/s as a
    fraction of the machine's peak."""
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
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
