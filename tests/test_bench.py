"""The benchmark's plumbing and yardsticks (never its timings: those belong to `rnnbench bench`)."""
import json

import numpy as np
import pytest

from rnnbench.bench import configs, goals, machine, measure, output
from rnnbench.bench.flops import update_flops


def test_update_flops_counts_every_matrix_product():
    # min-char-rnn at hidden 100, vocabulary 103, 25 steps: per step W_hh h, W_hy h forward;
    # W_hh^T d (but at the first step: nothing flows past the chunk), dW_hh, W_hy^T dy, dW_hy
    # backward; 2 flops per multiply-add.
    per_step = 2 * (100 * 100 * 3 + 103 * 100 * 3)
    assert update_flops("rnn", 103, 100) == 25 * per_step - 2 * 100 * 100 == 3_025_000
    # 2-layer LSTM, batch 4: four gates, and the second layer's W_ih products as well.
    G, H, V, rows = 4, 8, 5, 7 * 4
    per_row = 2 * 3 * (G * H * H * 2 + G * H * H + V * H)
    first_step = 2 * 4 * G * H * H * 2  # W_hh^T d of 4 streams, each layer
    assert (update_flops("lstm", V, H, num_layers=2, seq_length=7, batch_size=4)
            == rows * per_row - first_step)


def test_measure_row_gives_each_contender_and_the_ratios(corpus):
    cfg = configs.Config("gru", 8, 2, "float32", 3, 5)
    peaks = {"float64": 50.0, "float32": 100.0}
    rows = measure.measure_row(corpus, cfg, repeats=2, seconds=0.02, peaks=peaks)
    by = {r["contender"]: r for r in rows}
    assert "numpy" in by and "rnnbench" in by
    mine = by["rnnbench"]
    assert mine["updates_per_s"] > 0 and mine["vs_numpy"] > 0
    assert mine["chars_per_s"] == pytest.approx(mine["updates_per_s"] * 15)
    assert mine["gflops"] == pytest.approx(mine["updates_per_s"] * mine["mflop_per_update"] / 1e3)
    assert mine["peak_fraction"] == pytest.approx(mine["gflops"] / 100.0)
    assert "vs_numpy" not in by["numpy"]
    assert ("torch" in by) == ("vs_torch" in mine)
    assert mine["config"] == "gru 2x8 f32 b3 s5"


def _row(cfg, contender, rate, **extra):
    flops = update_flops(cfg.cell, 103, cfg.hidden_size, cfg.num_layers, cfg.seq_length,
                         cfg.batch_size)
    return dict(vars(cfg), config=cfg.label, contender=contender, updates_per_s=rate,
                chars_per_s=rate * cfg.seq_length * cfg.batch_size, mflop_per_update=flops / 1e6,
                peak_fraction=rate * flops / 1e9 / 50.0, **extra)


def test_goals_are_judged_against_their_targets():
    rows = [_row(configs.RNN100, "numpy", 1000.0),
            _row(configs.RNN100, "rnnbench", 12000.0, vs_numpy=12.0, vs_torch=24.0,
                 vs_jax_loop=2.9),
            _row(configs.BIG[0], "rnnbench", 100.0)]
    info = dict(peak_gflops_float64=70.0, peak_gflops_float32=140.0, jobs1_s=20.0, jobs2_s=10.0,
                warm_s=0.8, cold_s=25.0, threads_row="lstm 256 f32 b32", threads_cores=2,
                threads_one_per_s=60.0, threads_all_per_s=99.0)
    g = {x["goal"]: x for x in goals.goals(rows, info)}
    threads = g["lstm 256 f32 b32, all cores vs one thread"]
    assert threads["value"] == pytest.approx(1.65) and threads["met"] is False
    assert threads["note"] == "2 BLAS threads: 99.0 vs 60.0 updates/s"
    # with a profile of that row: products 80% of the update, on 2 cores at most
    # 1 / (0.2 + 0.4) = 1.67x (Amdahl)
    info["profile"] = [dict(config="lstm 256 f32 b32", update_us=20000.0, products_us=16000.0,
                            products_share=0.8)]
    threads = {x["goal"]: x for x in goals.goals(rows, info)}[threads["goal"]]
    assert threads["note"].endswith("its matrix products are 80% of it, so at most 1.67x")
    # the batch split over threads instead: the whole update in parallel, no Amdahl bound
    split = {x["goal"]: x for x in goals.goals(rows, dict(info, threads_parts=2))}
    assert split[threads["goal"]]["note"] == ("the batch split into 2 parts, a thread each: "
                                              "99.0 vs 60.0 updates/s")
    assert g["rnn 100 f64 vs NumPy min-char-rnn"]["met"] is True
    assert "23.14x" not in g["rnn 100 f64 vs NumPy min-char-rnn"]["note"]
    # the ceiling: 70 GFLOP/s / 3.025 MFLOP = 23,140 updates/s, 23.1x the reference's 1,000
    assert "23.1x" in g["rnn 100 f64 vs NumPy min-char-rnn"]["note"]
    assert g["rnn 100 f64 vs JAX whole-loop"]["met"] is False  # 2.9x < 3x
    assert g["lstm 128 f64 vs JAX whole-loop"]["met"] is None  # not measured
    assert g["8 equal runs, --jobs 2 vs --jobs 1"]["value"] == 2.0
    assert g["8 equal runs, --jobs 2 vs --jobs 1"]["note"] == "20.0 s vs 10.0 s"
    assert g["warm start: train --updates 1"]["met"] is True
    assert g["cold start: train --updates 1"]["met"] is False
    peak = g["useful GFLOP/s / peak at hidden >= 256"]
    assert peak["value"] == pytest.approx(rows[2]["peak_fraction"])
    assert all(output.format_goal(x) for x in g.values())


def test_the_big_rows_are_judged_against_the_fastest_peer():
    cfg = configs.LSTM256_B32_F32
    rows = [_row(cfg, "torch", 40.0), _row(cfg, "jax update", 70.0), _row(cfg, "jax loop", 80.0),
            _row(cfg, "numpy", 5.0),
            _row(cfg, "rnnbench", 100.0, vs_numpy=20.0, vs_torch=2.5, vs_jax_update=1.43,
                 vs_jax_loop=1.25)]
    g = {x["goal"]: x for x in goals.goals(rows, dict(peak_gflops_float32=140.0))}
    big = g["lstm 256 b32 f32 vs faster of JAX, PyTorch"]
    assert big["value"] == 1.25 and big["met"] is False and "vs jax loop" in big["note"]
    del rows[-1]["vs_jax_loop"], rows[-1]["vs_jax_update"]  # JAX not installed: PyTorch's
    g = {x["goal"]: x for x in goals.goals(rows, dict(peak_gflops_float32=140.0))}
    assert g["lstm 256 b32 f32 vs faster of JAX, PyTorch"]["value"] == 2.5
    assert g["lstm 2x128 b50 s50 f32 vs faster of JAX, PyTorch"]["met"] is None


def test_goal_notes_give_the_bound_of_the_matrix_products():
    rows = [_row(configs.RNN100, "numpy", 1000.0), _row(configs.RNN100, "jax loop", 500.0),
            _row(configs.RNN100, "rnnbench", 9000.0, vs_numpy=9.0, vs_jax_loop=18.0)]
    info = dict(peak_gflops_float64=70.0, peak_gflops_float32=140.0,
                profile=[dict(config="rnn 100 f64", update_us=111.0, products_us=50.0)])
    g = {x["goal"]: x for x in goals.goals(rows, info)}
    # products alone: 20,000 updates/s at most, 20x NumPy's 1,000 and 40x JAX's 500
    assert "50 of 111 us: at most 20.0x" in g["rnn 100 f64 vs NumPy min-char-rnn"]["note"]
    assert "at most 40.0x" in g["rnn 100 f64 vs JAX whole-loop"]["note"]
    assert "at most" not in g["rnn 100 f32 vs JAX whole-loop"]["note"]  # no profile of that row


@pytest.mark.parametrize("batch", [1, 3])
def test_matrix_products_are_the_products_the_kernels_compute(batch):
    """Each product's operands multiply to its output shape, and the forms follow the batch."""
    from rnnbench.bench.flops import matrix_products
    from rnnbench.bench.profile import product_operands

    products = matrix_products("gru", 7, 5, 2, 4, batch)
    forms = {what: form for what, form, *_ in products}
    assert forms["W_hh h (layer 1)"] == ("mv" if batch == 1 else "abt")
    assert forms["W_hh^T d (layer 0)"] == ("vm" if batch == 1 else "ab")
    assert len(products) == 3 + 3 + 6  # output layer, first layer, a layer above it
    rng = np.random.default_rng(0)
    for _, form, m, n, k, _ in products:
        a, b, out = product_operands(form, m, n, k, "float64", rng)
        assert np.dot(a, b).shape == out.shape


def test_products_us_adds_each_product_times_its_count(monkeypatch):
    from rnnbench.bench import profile as stage_profile
    from rnnbench.bench.flops import matrix_products

    calls = []
    monkeypatch.setattr(stage_profile, "per_call_us", lambda fn, a, b, out: calls.append(1) or 2.0)
    total = stage_profile.products_us("lstm", 9, 6, 2, 5, 1, "float64")
    products = matrix_products("lstm", 9, 6, 2, 5, 1)
    assert total == 2.0 * sum(p[-1] for p in products)
    assert len(calls) == len({p[1:5] for p in products})  # each distinct shape timed once


def test_stage_profile_times_every_stage(corpus):
    from rnnbench.bench.profile import STAGES, stage_profile

    p = stage_profile(corpus, configs.Config("rnn", 8, seq_length=5))
    assert p["config"] == "rnn 8 f64 s5"
    assert all(np.isfinite(p[f"{s}_us"]) and p[f"{s}_us"] > 0 for s in STAGES)
    assert p["update_us"] > 0 and p["products_us"] > 0
    assert p["products_share"] == pytest.approx(p["products_us"] / p["update_us"])
    assert output.format_profile(p).startswith("rnn 8 f64 s5")


def test_blas_names_the_library_and_a_forced_kernel(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    text = machine.blas()
    assert text.startswith("openblas") or text.startswith("mkl") or text == "BLAS unknown"
    if text.startswith("openblas"):
        assert "(OPENBLAS_CORETYPE=Haswell)" in text


def test_save_bench_writes_tables_and_plot(tmp_path):
    import pandas as pd
    rows = [_row(configs.RNN100, "numpy", 1000.0),
            _row(configs.RNN100, "rnnbench", 9000.0, vs_numpy=9.0)]
    for r in rows:
        r["gflops"] = r["updates_per_s"] * r["mflop_per_update"] / 1e3
    info = dict(machine="test machine", blas="openblas 0.3", peak_gflops_float64=70.0,
                peak_gflops_float32=140.0, torch=False, repeats=3, seconds=1.0,
                profile=[dict(config="rnn 100 f64", update_us=100.0, products_us=60.0)])
    output.save_bench(rows, goals.goals(rows, info), info, tmp_path)
    frame = pd.read_parquet(tmp_path / "bench.parquet")
    assert list(frame["contender"]) == ["numpy", "rnnbench"]
    assert pd.read_parquet(tmp_path / "goals.parquet")["value"].dtype == np.float64
    assert json.loads((tmp_path / "info.json").read_text())["machine"] == "test machine"
    assert (tmp_path / "bench.png").read_bytes()[:4] == b"\x89PNG"
    assert "not installed" in output.format_info(info)
    assert "openblas 0.3" in output.format_info(info)
    assert pd.read_parquet(tmp_path / "profile.parquet")["products_us"].tolist() == [60.0]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_torch_contender_trains_the_same_model(corpus, cell):
    """The PyTorch yardstick computes rnnbench's loss from the same weights and text."""
    pytest.importorskip("torch")
    from rnnbench.model.model import Model
    from rnnbench.reference.torch import TorchNetwork
    from rnnbench.training.state import TrainState

    model = Model.create(cell, corpus.vocab_size, 12, 2, seed=1, chars=corpus.chars)
    net = TorchNetwork(model.copy(), corpus.train_ids, 9, batch_size=2)
    mine = TrainState(model.copy(), corpus.train_ids, 9, batch_size=2)
    losses = np.zeros(3)
    mine.run(losses, np.zeros(3))
    theirs = [net.step() for _ in range(3)]
    # AdaGrad as min-char-rnn writes it (eps inside the square root): the same steps
    assert theirs == pytest.approx(list(losses), rel=1e-10)


def test_warmup_reports_the_cache(capsys):
    """The suite's one real `rnnbench warmup`: it holds (compiled or loaded) every kernel it
    promises in each dtype; alone here it compiles the float32 gradient and split kernels."""
    from rnnbench import compiled
    from rnnbench.cli import main
    assert main(["warmup"]) == 0
    out = capsys.readouterr().out
    assert "float64: " in out and "float32: " in out and "kernel cache: " in out
    both = {"float64", "float32"}
    promised = dict(train_updates=both, eval_loss=both, sample=both, loss_and_grads=both,
                    part_gradient=both, finish_update=both, loss_and_pattern={"float64"})
    for name, dtypes in promised.items():
        held = {str(sig[0].dtype) for sig in getattr(compiled, name).signatures}
        assert dtypes <= held, (name, held)


def test_a_peer_that_trains_something_else_is_refused(corpus, monkeypatch):
    from rnnbench.bench import contenders as c
    from rnnbench.reference import min_char_rnn

    cfg = configs.Config("rnn", 8, seq_length=5)
    steps, agreement = c.contenders(corpus, cfg, ("numpy", "rnnbench"))
    assert set(steps) == {"numpy", "rnnbench"} and agreement["numpy"] < 1e-9
    real = min_char_rnn.ReferenceRNN.step

    def off_by_a_little(self):  # one learning-rate slip after the first update
        if self.n == 1:
            self.learning_rate *= 1.001
        return real(self)
    monkeypatch.setattr(min_char_rnn.ReferenceRNN, "step", off_by_a_little)
    with pytest.raises(c.ContenderMismatch, match="numpy contender's first 3 losses"):
        c.contenders(corpus, cfg, ("numpy", "rnnbench"))


def test_a_mismatch_stops_the_bench_with_one_line(tmp_path, monkeypatch, capsys):
    from rnnbench.bench import contenders as c
    from rnnbench.cli import main

    def mismatch(*args, **kwargs):
        raise c.ContenderMismatch("rnn 100 f64: the torch contender's first 3 losses differ")
    monkeypatch.setattr(measure, "run_bench", mismatch)
    assert main(["bench", "--quick", "--out", str(tmp_path / "b")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "error: rnn 100 f64: the torch contender's first 3 losses differ"
    assert not (tmp_path / "b" / "bench.parquet").exists()


def test_run_bench_runs_its_parts_in_turn_and_the_threads_row(monkeypatch):
    """run_bench's own flow, with each row's contenders stubbed (test_measure_row runs them)
    and a tiny threads row, measured for real as a lone run (split or BLAS threads)."""
    from rnnbench.training import threads
    rows = []
    monkeypatch.setattr(measure, "measure_row", lambda data, cfg, *a: rows.append(cfg) or [])
    monkeypatch.setattr(measure, "peak_gflops", lambda dtype: 50.0)
    monkeypatch.setattr(measure, "SUITES", dict(measure.SUITES, tiny=[configs.RNN100]))
    tiny = configs.Config("rnn", 8, 1, "float64", 16)
    monkeypatch.setattr(measure, "THREADS_ROW", tiny)
    monkeypatch.setattr(threads, "usable_cores", lambda: 2)
    got, goal_rows, info = measure.run_bench("tiny", repeats=1, seconds=0.05, startup=False,
                                             profile=False)
    assert rows == [configs.RNN100] and got == [] and goal_rows
    assert info["threads_row"] == tiny.label and info["threads_parts"] == 2
    assert info["threads_cores"] == 2
    assert info["threads_one_per_s"] > 0 and info["threads_all_per_s"] > 0
