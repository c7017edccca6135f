"""A train run's own plots and report: written by ``train``, redrawn by ``plot RUN`` and
``report RUN`` from the tables alone, every training sample in order, the best checkpoint's
passage, a long trace thinned for drawing only, a stopped run shown as stopped."""
import json

import numpy as np
import pandas as pd

from conftest import run_cli
from rnnbench.views.plots.run import MAX_POINTS, thinned

CLI = ("--hidden-size", "8", "--data-limit", "20000", "--trace-every", "50", "--eval-every",
       "200", "--sample-every", "250", "--sample-length", "30")


def test_train_writes_its_report_and_plot_and_report_redraw_it(tmp_path):
    out = tmp_path / "run"
    code, stdout, stderr = run_cli("train", *CLI, "--updates", "1000", "--out", out, "--quiet")
    assert code == 0, stderr
    assert f"report: {out / 'report.html'}" in stdout
    names = ["smooth_loss.png", "loss_vs_updates.png", "loss_vs_chars.png"]
    assert sorted(p.name for p in (out / "plots").iterdir()) == sorted(names)
    md = (out / "report.md").read_text()
    for words in ("## Results", "## Speed", "## Plots", "## A passage from the best checkpoint",
                  "## Training samples", "## Config", "baseline: bigram", "best.npz"):
        assert words in md, words
    samples = pd.read_parquet(out / "samples.parquet")
    training = samples[samples["kind"] == "training"]
    assert list(training["update"]) == [0, 250, 500, 750, 1000]
    rows = [line for line in md.splitlines() if line.startswith("| ") and " | " in line]
    shown = [r.split(" | ")[0].strip("| ").replace(",", "") for r in rows]
    assert [s for s in shown if s.isdigit()][-5:] == ["0", "250", "500", "750", "1000"]
    passage = samples[samples["kind"] == "best_passage"]
    summary = json.loads((out / "summary.json").read_text())
    assert len(passage) == 1 and len(passage["text"].iloc[0]) == 1000
    assert passage["update"].iloc[0] == summary["best_checkpoint_update"]
    assert passage["text"].iloc[0] in md
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3  # self-contained
    for name in names + ["report.md", "report.html"]:
        (out / "plots" / name if name.endswith(".png") else out / name).unlink()
    code, stdout, _ = run_cli("plot", out)
    assert code == 0 and sorted(p.name for p in (out / "plots").iterdir()) == sorted(names)
    assert not (out / "report.md").exists()
    code, _, _ = run_cli("report", out)
    assert code == 0 and (out / "report.md").read_text() == md
    # a folder with its report in it is still a run folder: it continues and replaces the run
    code, _, stderr = run_cli("train", "--resume", out, "--updates", "1200", "--quiet",
                              "--no-report")
    assert code == 0, stderr
    assert not (out / "report.md").exists()  # the folder is replaced whole: no stale report


def test_a_stopped_run_reports_as_stopped(tmp_path):
    from rnnbench.experiments.run_folder import save_run
    from rnnbench.training.driver import train
    from rnnbench.views.report.run import write_run_report
    calls = []
    result = train(hidden_size=8, data_limit=20000, updates=1000, trace_every=50,
                   should_stop=lambda: calls.append(1) or len(calls) == 4)
    save_run(result, tmp_path / "r")
    write_run_report(tmp_path / "r")
    md = (tmp_path / "r" / "report.md").read_text()
    assert "Stopped part-way" in md and "200 of 1,000 updates" in md
    assert "None: the run has no passage yet" in md


def test_a_long_trace_is_thinned_for_drawing_only():
    n = 50_000
    trace = pd.DataFrame({"update": np.arange(1, n + 1) * 100, "loss_per_char": 1.0,
                          "val_loss_per_char": np.where(np.arange(n) % 997 == 0, 2.0, np.nan)})
    drawn = thinned(trace)
    assert len(drawn) <= MAX_POINTS + trace["val_loss_per_char"].notna().sum() + 1
    assert drawn["val_loss_per_char"].notna().sum() == trace["val_loss_per_char"].notna().sum()
    assert drawn["update"].iloc[-1] == trace["update"].iloc[-1]
    assert thinned(trace.iloc[:100]) is not None and len(thinned(trace.iloc[:100])) == 100


def test_plot_and_report_of_what_is_not_a_run_say_so(tmp_path):
    (tmp_path / "x").mkdir()
    code, _, stderr = run_cli("report", tmp_path / "x")
    assert code == 2 and len(stderr.strip().splitlines()) == 1


def test_load_run_gives_tables_and_the_last_or_best_model(tmp_path):
    import rnnbench
    out = tmp_path / "run"
    assert run_cli("train", *CLI, "--updates", "600", "--out", out, "--quiet",
                   "--no-report")[0] == 0
    last, best = rnnbench.load_run(out), rnnbench.load_run(out, checkpoint="best")
    assert last.config.updates == 600 and last.summary["status"] == "ok"
    assert len(last.trace) == 12 and list(last.validation["update"]) == [200, 400, 600]
    assert last.validation["val_loss_per_char"].notna().all()
    summary = last.summary
    assert best.model.theta.tobytes() != last.model.theta.tobytes() or \
        summary["best_checkpoint_update"] == 600
    from rnnbench.model.model import load_checkpoint
    assert best.model.theta.tobytes() == load_checkpoint(out / "best.npz")[0].theta.tobytes()
    assert not last.baselines.empty
    result = rnnbench.train(hidden_size=8, data_limit=20000, updates=300, eval_every=100)
    assert list(result.validation["update"]) == [100, 200, 300]
    try:
        rnnbench.load_run(out, checkpoint="worst")
    except ValueError as exc:
        assert "last, best" in str(exc)
    else:
        raise AssertionError("an unknown checkpoint was accepted")


def test_sample_chooses_the_last_or_the_best_checkpoint(tmp_path):
    out = tmp_path / "run"
    assert run_cli("train", *CLI, "--updates", "400", "--out", out, "--quiet",
                   "--no-report")[0] == 0
    args = ("sample", out, "--length", "60", "--seed", "3", "--from-zero")
    code, last, _ = run_cli(*args)
    code2, best, stderr = run_cli(*args, "--checkpoint", "best")
    assert code == code2 == 0, stderr
    summary = json.loads((out / "summary.json").read_text())
    assert (last == best) == (summary["best_checkpoint_update"] == 400)
    from rnnbench.model.model import load_checkpoint
    assert load_checkpoint(out / "best.npz")[1]["h"].shape == (1, 1, 8)  # its state then
    code, text, _ = run_cli("sample", out, "--checkpoint", "best", "--length", "30")
    assert code == 0 and len(text) == 31 + 1  # the prime (a newline), 30 characters, newline
    (out / "best.npz").unlink()
    code, _, stderr = run_cli("sample", out, "--checkpoint", "best")
    assert code == 2 and "no best.npz" in stderr
