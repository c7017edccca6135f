"""Baselines, plots and the report, drawn from a results folder's tables alone."""
import math
import shutil
import textwrap

import numpy as np
import pandas as pd
import pytest

from conftest import run_cli
from rnnbench.baselines import baselines_table, bigram, unigram, uniform
from rnnbench.data import Corpus

GRID = """
name: drawn
description: Two fields swept; one of them diverges.
data: pydoc
base: {updates: 600, trace_every: 100, eval_every: 300, sample_every: 300, sample_length: 30}
grid:
  hidden_size: [8, 12]
  learning_rate: [0.1, 1.0e+308]
seeds: 2
samples: {temperatures: [0.5, 1.0], prime: "The ", length: 40}
"""


def test_baselines_by_hand():
    # train "abab", val "abba": targets b, b, a of contexts a, b, b
    train, val, V = np.array([0, 1, 0, 1]), np.array([0, 1, 1, 0]), 3
    assert uniform(train, val, V) == pytest.approx(math.log(3))
    p = {0: 3 / 7, 1: 3 / 7, 2: 1 / 7}  # (count + 1) / (4 + 3)
    assert unigram(train, val, V) == pytest.approx(-np.mean(np.log([p[1], p[1], p[0]])))
    # pairs in train: ab, ba, ab -> p(b|a) = 3/5, p(b|b) = 1/4, p(a|b) = 2/4
    assert bigram(train, val, V) == pytest.approx(-np.mean(np.log([3 / 5, 1 / 4, 2 / 4])))


def test_baselines_table_reuses_cached_rows():
    corpus = Corpus.from_text("hello world, hello there. " * 40, 0.1, name="t")
    table = baselines_table([corpus, corpus])
    assert list(table["baseline"]) == ["uniform", "unigram", "bigram", "5gram"]
    loss = dict(zip(table["baseline"], table["loss_per_char"]))
    assert loss["uniform"] > loss["unigram"] > loss["bigram"] > loss["5gram"]
    fake = table.assign(loss_per_char=[9.0, 8.0, 7.0, 6.0])
    assert list(baselines_table([corpus], cached=fake)["loss_per_char"]) == [9.0, 8.0, 7.0, 6.0]
    other = Corpus.from_text("something else entirely " * 40, 0.1, name="u")
    assert len(baselines_table([other], cached=fake)) == 4
    fewer_symbols = fake.assign(vocab_size=corpus.vocab_size - 1)
    assert list(baselines_table([corpus], cached=fewer_symbols)["loss_per_char"]) != [9.0] * 4


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("drawn")
    grid = root / "drawn.yaml"
    grid.write_text(textwrap.dedent(GRID))
    code, stdout, _ = run_cli("run", grid, "--jobs", "1", "--out", root / "out", "--quiet")
    assert code == 0, stdout
    return root / "out"


PLOTS = ["loss_vs_updates.png", "loss_vs_chars.png", "final_val_loss.png", "speed.png"]


def test_run_draws_plots_and_report(results):
    for name in PLOTS:
        data = (results / "plots" / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 10_000
    assert (results / "report.md").exists() and (results / "report.html").exists()


def test_plot_and_report_commands_redraw_from_the_tables(results, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(results, copy)
    shutil.rmtree(copy / "plots")
    for name in ("report.md", "report.html"):
        (copy / name).unlink()
    code, stdout, _ = run_cli("plot", copy)
    assert code == 0 and sorted(p.name for p in (copy / "plots").iterdir()) == sorted(PLOTS)
    assert not (copy / "report.md").exists()
    code, stdout, _ = run_cli("report", copy)
    assert code == 0 and "report.html" in stdout
    assert (copy / "report.md").read_text() == (results / "report.md").read_text()


def test_report_content(results):
    md = (results / "report.md").read_text()
    runs = pd.read_parquet(results / "runs.parquet")
    best = runs[runs["status"] == "ok"].sort_values("final_val_loss_per_char").iloc[0]
    for heading in ("# Grid drawn", "## What was run", "## Baselines", "## Plots",
                    "## Best configurations", "## Diverged and failed runs",
                    "## A passage from the best model", "## Temperature",
                    "## Samples over training"):
        assert heading in md
    assert "8 of 8 runs finished (4 ok, 4 diverged)" in md
    assert f"1,000 characters from run {best['run_id']}" in md
    assert "--- update 0, novelty 1.00 ---" in md and "![Final validation loss](plots/final_val_loss.png)" in md
    html = (results / "report.html").read_text()
    assert html.count("src='data:image/png;base64,") == len(PLOTS)
    assert "src='plots/" not in html and "<th>novelty</th>" in html


def test_report_temperature_section_shows_one_model_side_by_side(results):
    md = (results / "report.md").read_text()
    section = md[md.index("## Temperature"):md.index("## Samples over training")]
    runs = pd.read_parquet(results / "runs.parquet")
    samples = pd.read_parquet(results / "samples.parquet")
    final = samples[samples["kind"] == "final"]
    assert set(final["novelty_n"]) == {8} and final["novelty"].between(0, 1).all()
    best = runs[runs["status"] == "ok"].sort_values("final_val_loss_per_char").iloc[0]
    assert f"The final model of run {best['run_id']}" in section
    table = section[section.index("| temperature | sample | novelty |"):].split("\n\n")[0]
    rows = table.splitlines()[2:]
    mine = final[final["run_id"] == best["run_id"]].sort_values("temperature")
    assert [r.split(" | ")[0] for r in rows] == ["| 0.5", "| 1"]
    assert [r.rsplit(" | ", 1)[1] for r in rows] == [f"{v:.2f} |" for v in mine["novelty"]]
    assert "| temperature | mean novelty | min | max |" in section
    assert section.count("<details>") == 3  # the other ok runs, folded
    html = (results / "report.html").read_text()
    assert "<h2>Temperature</h2>" in html and "<td><pre>The " in html


def test_sample_best_picks_the_lowest_final_validation_loss(results):
    runs = pd.read_parquet(results / "runs.parquet")
    best = runs[runs["status"] == "ok"].sort_values("final_val_loss_per_char").iloc[0]
    code, out, err = run_cli("sample", results, "--best", "--prime", "The ", "--length", "40",
                             "--temperature", "0.5", "1.0")
    assert code == 0 and f"best run: {best['run_id']}" in err
    assert out.count("--- temperature ") == 2


def test_plot_of_a_folder_without_tables(tmp_path):
    code, _, stderr = run_cli("plot", tmp_path)
    assert code == 2 and "not a grid results folder" in stderr


def test_report_passage_from_a_batched_run(tmp_path):
    # the checkpoint holds one state per stream; the passage continues stream 0's
    grid = tmp_path / "batched.yaml"
    grid.write_text("name: batched\ndata: pydoc\nbase: {updates: 50, batch_size: 3, "
                    "hidden_size: 8, eval_every: 50, sample_every: 0}\n")
    code, stdout, _ = run_cli("run", grid, "--jobs", "1", "--out", tmp_path / "out", "--quiet")
    assert code == 0, stdout
    md = (tmp_path / "out" / "report.md").read_text()
    assert "## A passage from the best model" in md and "1,000 characters from run" in md
