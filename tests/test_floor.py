"""The machine floor under an update (bench/floor.py): its arithmetic on hand-made machine
figures, the cache sizes read from sysfs, and how goals and the bench's output carry it."""
import pandas as pd
import pytest

from rnnbench.bench import configs, floor, goals, measure, output
from rnnbench.bench.flops import update_flops
from rnnbench.model.layout import parameter_count

CACHES = {"L1d": 32768, "L2": 1048576, "L3": 33554432}


def figures(caches=CACHES, read=None, peak=50.0, adagrad=1e-9):
    return dict(caches=caches, probe_bytes={}, peak_gflops={"float64": peak, "float32": 2 * peak},
                read_bytes_per_s=read or {"L1d": 2e11, "L2": 1e11, "L3": 5e10, "memory": 1e10},
                adagrad_s_per_param={"float64": adagrad, "float32": adagrad / 2})


def test_floor_parts_of_min_char_rnn():
    # rnn 100 f64, V 103, 25 steps: W_hh (80,000 bytes) is read 25 times forward and 24 back,
    # from L2 at 100 GB/s: 0.8 us each (its 20,000 flops at 50 GFLOP/s would take 0.4 us)
    f = floor.floor_us(configs.RNN100, 103, figures())
    assert f["floor_stream_from"] == "L2" and f["floor_stream_gbs"] == 100.0
    assert f["floor_stream_us"] == pytest.approx(49 * 0.8)
    # every other product at the peak: the update's 3,025,000 flops but the 49 step products'
    assert f["floor_products_us"] == pytest.approx((3_025_000 - 49 * 20_000) / 50e9 * 1e6)
    # AdaGrad: 30,803 parameters at 1 ns each
    assert parameter_count("rnn", 103, 100) == 30_803
    assert f["floor_adagrad_us"] == pytest.approx(30.803)
    assert f["floor_us"] == pytest.approx(39.2 + 40.9 + 30.803)


def test_a_step_product_is_never_faster_than_its_flops_at_peak():
    f = floor.floor_us(configs.RNN100, 103, figures(read={"L2": 1e15}))
    assert f["floor_stream_us"] == pytest.approx(49 * 0.4)
    with pytest.raises(ValueError, match="rnn 100 f64: no read bandwidth measured for L2"):
        floor.floor_us(configs.RNN100, 103, figures(read={"L1d": 1e11}))


@pytest.mark.parametrize("l1, where, us", [(32768, "L1d", 49 * 32768 / 2e11 * 1e6),
                                           (32767, "L2", 49 * 32768 / 1e11 * 1e6)])
def test_w_hh_streams_from_l1_only_when_it_fits(l1, where, us):
    cfg = configs.Config("rnn", 64)  # W_hh 64 x 64 float64: 32,768 bytes
    f = floor.floor_us(cfg, 103, figures(caches=dict(CACHES, L1d=l1), peak=1e6))
    assert f["floor_stream_from"] == where
    assert f["floor_stream_us"] == pytest.approx(us)


def test_at_batch_above_one_the_step_products_count_at_peak():
    cfg = configs.Config("lstm", 100, 2, batch_size=4)
    f = floor.floor_us(cfg, 103, figures())
    assert f["floor_stream_us"] == 0 and f["floor_stream_from"] is None
    assert f["floor_products_us"] == pytest.approx(update_flops("lstm", 103, 100, 2, 25, 4)
                                                   / 50e9 * 1e6)
    assert f["floor_adagrad_us"] == pytest.approx(parameter_count("lstm", 103, 100, 2) * 1e-3)


def test_where_a_working_set_lives_and_where_its_bandwidth_is_measured():
    assert floor.level_of(1, CACHES) == "L1d"
    assert floor.level_of(CACHES["L3"], CACHES) == "L3"
    assert floor.level_of(CACHES["L3"] + 1, CACHES) == "memory"
    assert floor.level_of(81920, {}) == "a 80 KB working set (caches not known)"
    assert floor.probe_bytes("L1d", CACHES, 0) == 16384
    assert floor.probe_bytes("L2", CACHES, 0) == 262144
    assert floor.probe_bytes("L2", {"L1d": 2**20, "L2": 2**21}, 0) == 2**21  # misses the L1
    assert floor.probe_bytes("memory", CACHES, 0) == 4 * CACHES["L3"]
    assert floor.probe_bytes(floor.level_of(81920, {}), {}, 81920) == 81920


def _sysfs(root, entries):
    for i, values in enumerate(entries):
        d = root / f"index{i}"
        d.mkdir(parents=True)
        for name, value in zip(("level", "type", "size"), values):
            if value is not None:
                (d / name).write_text(value + "\n")
    return root


def test_cache_sizes_from_sysfs(tmp_path):
    root = _sysfs(tmp_path / "a", [("1", "Data", "48K"), ("1", "Instruction", "32K"),
                                   ("2", "Unified", "1024K"), ("3", "Unified", "32M")])
    assert floor.cache_sizes(root) == {"L1d": 49152, "L2": 2**20, "L3": 2**25}
    assert floor.cache_sizes(tmp_path / "missing") == {}
    # no L1 size: nothing is placed (a gap would put every working set in the wrong level)
    root = _sysfs(tmp_path / "b", [("1", "Data", None), ("2", "Unified", "1024K")])
    assert floor.cache_sizes(root) == {}
    root = _sysfs(tmp_path / "c", [("1", "Data", "32K"), ("2", "Unified", "lots"),
                                   ("3", "Unified", "32M")])
    assert floor.cache_sizes(root) == {"L1d": 32768}
    assert [floor.parse_size(s) for s in ("512", "2M", "1G", "0K", "", "K", "-1K")] == \
        [512, 2**21, 2**30, None, None, None, None]


def _row(cfg, contender, rate, **extra):
    return dict(dict(vars(cfg), config=cfg.label, contender=contender, updates_per_s=rate,
                     mflop_per_update=3.025, peak_fraction=0.5), **extra)


PROFILE = [dict(config="rnn 100 f64", update_us=130.0, products_us=90.0, floor_us=100.0,
                floor_stream_us=39.2, floor_products_us=40.9, floor_adagrad_us=19.9,
                floor_stream_from="L2", floor_stream_gbs=100.0),
           dict(config="lstm 256 f32 b32", update_us=22000.0, products_us=18000.0,
                floor_us=12500.0, floor_stream_us=0.0, floor_products_us=12400.0,
                floor_adagrad_us=100.0, floor_stream_from=None, floor_stream_gbs=None)]


def test_goal_notes_carry_the_floor():
    big = configs.LSTM256_B32_F32
    rows = [_row(configs.RNN100, "jax loop", 500.0), _row(configs.RNN100, "numpy", 1000.0),
            _row(configs.RNN100, "rnnbench", 7000.0, vs_jax_loop=14.0, vs_numpy=7.0),
            _row(big, "torch", 40.0), _row(big, "rnnbench", 45.0, vs_torch=1.1)]
    info = dict(peak_gflops_float64=50.0, peak_gflops_float32=100.0, profile=PROFILE)
    g = {x["goal"]: x for x in goals.goals(rows, info)}
    # floor 100 us: 10,000 updates/s at most, 20x JAX's 500 and 10x NumPy's 1,000
    jax = g["rnn 100 f64 vs JAX whole-loop"]
    assert jax["note"].endswith("floor 100 us on this machine (W_hh streamed from L2 at 100 "
                                "GB/s: 39 us; products at peak: 41 us; AdaGrad: 20 us): "
                                "at most 20.0x")
    assert "at most 22.2x on this BLAS" in jax["note"]  # the products alone, kept
    assert jax["floor_at_most"] == pytest.approx(20.0)
    assert g["rnn 100 f64 vs NumPy min-char-rnn"]["floor_at_most"] == pytest.approx(10.0)
    # batch 32: no W_hh part; 80 updates/s at most, 2x PyTorch's 40
    assert g["lstm 256 b32 f32 vs faster of JAX, PyTorch"]["note"].endswith(
        "floor 12500 us on this machine (products at peak: 12400 us; AdaGrad: 100 us): "
        "at most 2.0x")
    assert g["rnn 100 f32 vs JAX whole-loop"]["floor_at_most"] is None  # not profiled
    # a profile without the floor (an older bench's) keeps its note as it was
    info["profile"] = [dict(config="rnn 100 f64", update_us=130.0, products_us=90.0)]
    old = {x["goal"]: x for x in goals.goals(rows, info)}["rnn 100 f64 vs JAX whole-loop"]
    assert "floor" not in old["note"] and old["floor_at_most"] is None


def test_the_bench_prints_and_writes_the_floor(tmp_path, monkeypatch, capsys):
    from rnnbench.cli import main

    rows = [_row(configs.RNN100, "jax loop", 500.0, chars_per_s=12500.0, gflops=1.5,
                 peak_fraction=0.03),
            _row(configs.RNN100, "rnnbench", 7000.0, vs_jax_loop=14.0, chars_per_s=175000.0,
                 gflops=21.0, peak_fraction=0.42)]
    fig = dict(figures(), probe_bytes={"L2": 262144}, read_bytes_per_s={"L2": 1e11})
    info = dict(machine="test machine", blas="openblas", peak_gflops_float64=50.0,
                peak_gflops_float32=100.0, torch=False, repeats=1, seconds=0.1, floor=fig,
                profile=[dict(PROFILE[0], forward_us=40.0, softmax_us=5.0, backward_us=60.0,
                              optimizer_us=25.0, products_share=90 / 130)])
    monkeypatch.setattr(measure, "run_bench", lambda *a, **k: (rows, goals.goals(rows, info),
                                                                 info))
    assert main(["bench", "--suite", "vanilla", "--no-startup", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "floor: caches L1d 32 KB, L2 1024 KB, L3 32768 KB; reads 100 GB/s from L2 (a 256 " \
        "KB sum)" in out
    # the vanilla suite shows the goals it measured, and only those
    assert "rnn 100 f64 vs JAX whole-loop" in out and "at most 20.0x" in out
    assert "lstm 128" not in out and "warm start" not in out
    line = output.format_profile(info["profile"][0])
    assert line.endswith(f"{100.0:>10.1f}{10_000:>13,}")
    goal_table = pd.read_parquet(tmp_path / "goals.parquet").set_index("goal")
    assert goal_table.loc["rnn 100 f64 vs JAX whole-loop", "floor_at_most"] == 20.0
    assert goal_table["floor_at_most"].isna().sum() == len(goal_table) - 1
    profile = pd.read_parquet(tmp_path / "profile.parquet")
    assert profile.loc[0, "floor_stream_from"] == "L2" and profile.loc[0, "floor_us"] == 100.0


def test_machine_floor_measures_each_level_and_dtype_once():
    cfgs = [configs.Config("rnn", 8, seq_length=5), configs.Config("rnn", 8, dtype="float32"),
            configs.Config("rnn", 64), configs.Config("lstm", 8, batch_size=3)]
    # W_hh: 512 and 256 bytes (in a 4 KB L1), 32 KB (past it: memory); batch 3 reads none
    fig = floor.machine_floor(cfgs, {"float64": 50.0, "float32": 100.0},
                              caches={"L1d": 4096}, target_s=0.001, repeats=1)
    assert fig["probe_bytes"] == {"L1d": 2048, "memory": 16384}
    assert set(fig["read_bytes_per_s"]) == {"L1d", "memory"}
    assert all(v > 0 for v in fig["read_bytes_per_s"].values())
    assert set(fig["adagrad_s_per_param"]) == {"float64", "float32"}
    assert all(v > 0 for v in fig["adagrad_s_per_param"].values())
    assert floor.floor_us(cfgs[2], 103, fig)["floor_stream_from"] == "memory"
    assert "L1d" in output.format_floor(fig)
