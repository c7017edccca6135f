"""The speed issue's goals (issue 17: against JAX, PyTorch and NumPy, one thread each), each
judged against what a bench run measured, with what bounds it (the measured peak, the matrix
products timed alone, the machine's floor under an update, the warm start of a worker)."""
from .configs import (GRU128, GRU128_F32, LSTM128, LSTM128_F32, LSTM256_B32_F32, PEERS, RNN100,
                      RNN100_F32, RNN512, TORCH_RNN)

FASTEST = "fastest peer"  # the faster of JAX (either form) and PyTorch
# (what, row, against, at least): the speed issue's goals that are ratios of rnnbench to a peer
RATIO_GOALS = [("rnn 100 f64 vs JAX whole-loop", RNN100, "jax loop", 3.0),
               ("rnn 100 f32 vs JAX whole-loop", RNN100_F32, "jax loop", 3.0),
               ("rnn 100 f64 vs NumPy min-char-rnn", RNN100, "numpy", 11.0),
               ("lstm 128 f64 vs JAX whole-loop", LSTM128, "jax loop", 2.5),
               ("lstm 128 f32 vs JAX whole-loop", LSTM128_F32, "jax loop", 2.5),
               ("gru 128 f64 vs JAX whole-loop", GRU128, "jax loop", 2.5),
               ("gru 128 f32 vs JAX whole-loop", GRU128_F32, "jax loop", 2.5),
               ("lstm 256 b32 f32 vs faster of JAX, PyTorch", LSTM256_B32_F32, FASTEST, 1.3),
               ("lstm 2x128 b50 s50 f32 vs faster of JAX, PyTorch", TORCH_RNN, FASTEST, 1.3),
               ("rnn 512 f64 vs NumPy", RNN512, "numpy", 8.0)]
TORCH_RNN_CHARS = 60_000  # torch-rnn's published chars/s on a 2015 Titan X GPU
PEAK_GOAL = 0.5           # useful GFLOP/s over the measured peak, at hidden >= 256
SCALING_GOAL, WARM_GOAL_S, COLD_GOAL_S = 1.85, 1.5, 20.0
THREADS_GOAL = 1.7  # a lone lstm 256 b32 f32 run on 2 cores against one thread


def ratio_key(peer):
    """The column of rnnbench's row that holds its median ratio to ``peer``: vs_jax_loop."""
    return "vs_" + peer.replace(" ", "_")


def _find(rows, cfg, contender):
    for r in rows:
        if r["config"] == cfg.label and r["contender"] == contender:
            return r
    return None


def _against(rows, cfg, mine, against):
    """(peer's row, rnnbench's ratio to it) for ``against``, a peer or FASTEST (the peer
    measured here whose ratio is the smallest); (None, None) when not measured."""
    peers = PEERS if against == FASTEST else (against,)
    if against == FASTEST:
        peers = [p for p in peers if p != "numpy"]
    found = [(mine[ratio_key(p)], _find(rows, cfg, p)) for p in peers
             if mine and ratio_key(p) in mine]
    if not found:
        return None, None
    value, other = min(found, key=lambda f: f[0])
    return other, value


def goals(rows, info):
    """Each goal of the speed issue: target, measured value and whether it is met (None when
    this run did not measure it), with what bounds it in the note."""
    out = []
    for what, cfg, against, target in RATIO_GOALS:
        r = _find(rows, cfg, "rnnbench")
        other, value = _against(rows, cfg, r, against)
        notes = [f"vs {other['contender']}"] if other and against == FASTEST else []
        if r and other and other["contender"] == "numpy" and cfg.batch_size == 1:
            ceiling = info[f"peak_gflops_{cfg.dtype}"] * 1e9 / (r["mflop_per_update"] * 1e6)
            notes.append(f"at the measured peak {ceiling / other['updates_per_s']:.1f}x")
        prof = next((p for p in info.get("profile", ()) if p["config"] == cfg.label), None)
        floor = None
        if prof and other:
            bound = 1e6 / prof["products_us"] / other["updates_per_s"]
            notes.append(f"its matrix products alone take {prof['products_us']:.0f} of "
                         f"{prof['update_us']:.0f} us: at most {bound:.1f}x on this BLAS")
            if prof.get("floor_us"):
                floor = 1e6 / prof["floor_us"] / other["updates_per_s"]
                notes.append(floor_note(prof, floor))
        out.append(dict(goal=what, target=f">= {target:g}x", value=value, unit="x",
                        met=None if value is None else value >= target,
                        note="; ".join(notes), floor_at_most=floor))
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
    one, every = info.get("threads_one_per_s"), info.get("threads_all_per_s")
    out.append(dict(goal=f"{info.get('threads_row', 'lstm 256 f32 b32')}, all cores vs one "
                    "thread", target=f">= {THREADS_GOAL}x", value=every / one if one and every
                    else None, unit="x", met=None if not (one and every)
                    else every / one >= THREADS_GOAL,
                    note=_threads_note(info, one, every)))
    j1, j2 = info.get("jobs1_s"), info.get("jobs2_s")
    out.append(dict(goal="8 equal runs, --jobs 2 vs --jobs 1", target=f">= {SCALING_GOAL}x",
                    value=j1 / j2 if j1 and j2 else None, unit="x",
                    met=None if not (j1 and j2) else j1 / j2 >= SCALING_GOAL,
                    note=_scaling_note(j1, j2)))
    for key, what, limit in (("warm_s", "warm start", WARM_GOAL_S),
                             ("cold_s", "cold start", COLD_GOAL_S)):
        v = info.get(key)
        out.append(dict(goal=f"{what}: train --updates 1", target=f"<= {limit:g} s", value=v,
                        unit="s", met=None if v is None else v <= limit, note=""))
    return out


def floor_note(prof, at_most):
    """The machine's floor under a profiled row's update (floor.floor_us), its parts, and the
    ratio to a peer it allows at most."""
    parts = [f"products at peak: {prof['floor_products_us']:.0f} us",
             f"AdaGrad: {prof['floor_adagrad_us']:.0f} us"]
    if prof.get("floor_stream_from"):
        parts.insert(0, f"W_hh streamed from {prof['floor_stream_from']} at "
                     f"{prof['floor_stream_gbs']:.0f} GB/s: {prof['floor_stream_us']:.0f} us")
    return (f"floor {prof['floor_us']:.0f} us on this machine ({'; '.join(parts)}): "
            f"at most {at_most:.1f}x")


def _threads_note(info, one, every):
    """The two speeds, and how the cores were used: the batch split into parts, one thread
    each (the whole update runs in parallel); or BLAS threads, with Amdahl's bound: only the
    matrix products run on them, so with the products' share p of the one-thread update (the
    profile's), n cores give at most 1 / (1 - p + p / n)."""
    if not (one and every):
        return ""
    cores = info["threads_cores"]
    if info.get("threads_parts", 1) > 1:
        return (f"the batch split into {info['threads_parts']} parts, a thread each: "
                f"{every:,.1f} vs {one:,.1f} updates/s")
    note = f"{cores} BLAS threads: {every:,.1f} vs {one:,.1f} updates/s"
    prof = next((p for p in info.get("profile", ())
                 if p["config"] == info.get("threads_row")), None)
    if prof:
        share = min(1.0, prof["products_share"])
        note += (f"; the rest of the update stays on one thread: its matrix products are "
                 f"{share:.0%} of it, so at most {1 / (1 - share + share / cores):.2f}x")
    return note


def _scaling_note(j1, j2):
    """The two times. (No bound from the warm start: the workers start and import the runs'
    code as the pool opens, beside the parent's preparation, not before their first run.)"""
    return f"{j1:.1f} s vs {j2:.1f} s" if j1 and j2 else ""
