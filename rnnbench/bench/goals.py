"""The speed issue's goals, each judged against what a bench run measured, with what bounds
it (the measured peak, the matrix products timed alone, the warm start of a worker)."""
from .configs import GRU128, LSTM128, LSTM128_F32, RNN100, RNN100_F32, RNN512, TORCH_RNN

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
