"""rnnbench compare: several results folders in one set of tables, plots and report; and
configs.parquet beside a grid's tables."""
import json
import textwrap

import numpy as np
import pandas as pd
import pytest

from conftest import run_cli
from rnnbench.analysis.stats import configs_table
from rnnbench.analysis.tables import with_defaults

BASE = "base: {updates: 60, hidden_size: 8, trace_every: 20, eval_every: 30, sample_every: 30}"
GRIDS = {
    # a: two hidden sizes on pydoc, seeds 0 and 1
    "a": f"name: a\ndata: pydoc\n{BASE}\ngrid: {{learning_rate: [0.1, 0.05]}}\nseeds: 2\n",
    # b: the same first configuration with two more seeds, and another text of its own; it
    # records less often (what a run records does not split a configuration)
    "b": f"name: b\ndata: [pydoc, 'python:argparse']\n"
         f"base: {{updates: 60, hidden_size: 8, trace_every: 30, eval_every: 60, "
         f"sample_every: 0, learning_rate: 0.1}}\nseeds: [2, 3]\n",
}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    out = {}
    for name, text in GRIDS.items():
        grid = root / f"{name}.yaml"
        grid.write_text(textwrap.dedent(text))
        code, stdout, stderr = run_cli("run", grid, "--jobs", "1", "--out", root / name,
                                       "--quiet", "--no-report")
        assert code == 0, stderr
        out[name] = root / name
    return root, out


def test_a_grid_writes_configs_parquet_from_its_runs(folders):
    _, f = folders
    runs = pd.read_parquet(f["a"] / "runs.parquet")
    configs = pd.read_parquet(f["a"] / "configs.parquet")
    manifest = json.loads((f["a"] / "manifest.json").read_text())
    assert "configs.parquet" in json.dumps(manifest)
    assert len(configs) == 2 and list(configs["rank"]) == [1, 2]
    for _, row in configs.iterrows():
        mine = runs[runs["learning_rate"] == row["learning_rate"]]
        x = mine["final_val_loss_per_char"].to_numpy(float)
        assert row["n"] == 2 and row["final_val_mean"] == pytest.approx(x.mean())
        assert row["final_val_sd"] == pytest.approx(x.std(ddof=1))
        assert row["seeds"] == "0, 1"
    assert configs["final_val_mean"].is_monotonic_increasing
    assert configs.loc[0, "vs_best"] == "best" and np.isfinite(configs.loc[1, "p_holm"])


def test_compare_matches_configurations_across_grids(folders):
    root, f = folders
    out = root / "both"
    code, stdout, stderr = run_cli("compare", f["a"], f["b"], "--out", out)
    assert code == 0, stderr
    runs = pd.read_parquet(out / "runs.parquet")
    configs = pd.read_parquet(out / "configs.parquet")
    assert len(runs) == 8 and set(runs["results"]) == {"a", "b"}
    # pydoc lr 0.1 ran in both grids (seeds 0, 1 in a; 2, 3 in b): one configuration of 4
    # seeds; argparse is a configuration of its own (another text, another checksum)
    assert sorted(configs["n"]) == [2, 2, 4]
    four = configs[configs["n"] == 4].iloc[0]
    assert four["learning_rate"] == 0.1 and four["data"] == "pydoc"
    assert four["seeds"] == "0, 1, 2, 3"
    # the same statistics as one grid's: configs_table of the combined runs table
    again = configs_table(with_defaults(runs))
    assert list(again["final_val_mean"]) == pytest.approx(list(configs["final_val_mean"]))
    md = (out / "report.md").read_text()
    assert md.startswith("# Comparison a vs b") and "## Which settings are best" in md
    assert "data=python:argparse" in md.replace("\\_", "_") and "corpus_checksum" not in md
    for name in ("final_val_loss.png", "effects.png", "loss_vs_chars.png"):
        assert (out / "plots" / name).read_bytes().startswith(b"\x89PNG")
    info = json.loads((out / "grid.json").read_text())
    assert info["swept"] == ["learning_rate", "data"] and info["n_runs"] == 8
    # a comparison reads back as a grid's results do (what plot and report read)
    from rnnbench.experiments.results import load_tables
    assert load_tables(out)[0]["kind"] == "Comparison"


def test_compare_refuses_what_it_cannot_do(folders):
    root, f = folders
    cases = [((f["a"],), "at least two"), ((f["a"], f["a"]), "named twice"),
             ((f["a"], root / "missing"), "is not a folder")]
    for folders_, message in cases:
        code, _, stderr = run_cli("compare", *folders_, "--out", root / "x")
        assert code == 2 and message in stderr, stderr
    code, _, stderr = run_cli("compare", f["a"], f["b"], "--out", f["a"])
    assert code == 2 and "holds a grid's runs" in stderr
    (root / "file").write_text("x")
    code, _, stderr = run_cli("compare", f["a"], f["b"], "--out", root / "file")
    assert code == 2 and "is a file" in stderr
    before = sorted(p.name for p in f["a"].iterdir())
    code, _, stderr = run_cli("compare", f["a"], root, "--out", root / "y")
    assert code == 2 and "not a grid results folder" in stderr
    assert sorted(p.name for p in f["a"].iterdir()) == before  # nothing written into inputs
    assert not (root / "x").exists() and not (root / "y").exists()  # nor an empty --out


def test_a_field_a_grid_did_not_record_takes_its_default():
    old = pd.DataFrame(dict(run_id=["r0"], status=["ok"], seed=[0], hidden_size=[8],
                            dropout=[np.nan], final_val_loss_per_char=[2.0]))
    filled = with_defaults(old)
    assert filled.loc[0, "dropout"] == 0.0 and filled.loc[0, "cell"] == "rnn"
    assert filled.loc[0, "hidden_size"] == 8 and filled.loc[0, "records"] is None
