import json
import subprocess
import sys

import pandas as pd
import pytest

from conftest import run_cli


def test_help_imports_no_numba():
    code = ("import sys\nfrom rnnbench.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "try:\n    main(['train', '--help'])\nexcept SystemExit:\n    pass\n"
            "assert 'numba' not in sys.modules and 'pandas' not in sys.modules, 'heavy import'\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "--hidden-size" in out.stdout and "--learning-rate" in out.stdout


def test_every_config_field_is_a_train_option():
    from rnnbench.cli import build_parser
    from rnnbench.config import RunConfig
    sub = build_parser()._subparsers._group_actions[0].choices["train"]
    flags = {s for a in sub._actions for s in a.option_strings}
    for name in RunConfig.model_fields:
        assert "--" + name.replace("_", "-") in flags


def test_train_writes_a_run_folder_and_sample_reads_it(tmp_path):
    out = tmp_path / "run"
    code, stdout, _ = run_cli("train", "--hidden-size", "16", "--updates", "300",
                              "--sample-every", "100", "--eval-every", "100", "--out", out,
                              "--quiet")
    assert code == 0
    assert f"run folder: {out}" in stdout and "updates/s" in stdout
    for name in ("config.json", "summary.json", "trace.parquet", "samples.parquet",
                 "checkpoint.npz"):
        assert (out / name).exists()
    assert json.loads((out / "config.json").read_text())["hidden_size"] == 16
    assert len(pd.read_parquet(out / "trace.parquet")) == 3
    samples = pd.read_parquet(out / "samples.parquet")
    assert list(samples["kind"]) == ["training"] * 4 + ["best_passage", "passage"]
    assert list(samples["update"])[:4] == [0, 100, 200, 300]
    assert list(samples["update"])[-1] == 300 and len(samples["text"].iloc[-1]) == 1000

    args = ("sample", out, "--prime", "The ", "--temperature", "0.7", "--length", "80",
            "--seed", "1")
    code, first, _ = run_cli(*args)
    assert code == 0 and first.startswith("The ") and len(first) == 4 + 80 + 1
    assert run_cli(*args)[1] == first
    assert run_cli(*args[:-1], "2")[1] != first


def test_default_run_folder_is_printed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, stdout, _ = run_cli("train", "--hidden-size", "8", "--updates", "10", "--quiet",
                              "--no-report")
    assert code == 0
    folders = list((tmp_path / "results").iterdir())
    assert len(folders) == 1 and str(folders[0].relative_to(tmp_path)) in stdout


@pytest.mark.parametrize("args, message", [
    (["train", "--learning-rate", "-1"], "learning_rate"),
    (["train", "--hiden-size", "5"], "unrecognized arguments: --hiden-size"),
    (["train", "--cell", "lstn", "--updates", "1"], "invalid choice: 'lstn'"),
    (["train", "--dropout", "1", "--updates", "1"], "dropout"),
    (["train", "--data", "/no/such/file.txt"], "/no/such/file.txt: no such file"),
    (["train", "--seq-length", "1000000", "--updates", "1"], "fewer than seq_length"),
    (["sample", "/no/such/run"], "no checkpoint found"),
    (["train", "--hidden-size", "ten"], "invalid int value"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    code, _, stderr = run_cli(*args)
    assert code == 2
    assert message in stderr
    assert stderr.count("\n") == 1
    assert not (tmp_path / "results").exists()


def test_prime_outside_vocabulary(tmp_path):
    out = tmp_path / "run"
    assert run_cli("train", "--hidden-size", "8", "--updates", "5", "--out", out, "--quiet",
                   "--no-report")[0] == 0
    code, _, stderr = run_cli("sample", out, "--prime", "日本")
    assert code == 2 and "not in the model's vocabulary" in stderr


def test_non_utf8_data(tmp_path):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("café au lait".encode("latin-1") * 10)
    code, _, stderr = run_cli("train", "--data", bad, "--quiet")
    assert code == 2 and "not UTF-8" in stderr


def test_diverged_run_keeps_its_tables_and_exits_1(tmp_path):
    out = tmp_path / "run"
    code, _, stderr = run_cli("train", "--hidden-size", "8", "--updates", "50",
                              "--learning-rate", "1e308", "--out", out, "--quiet")
    assert code == 1 and "diverged" in stderr
    assert json.loads((out / "summary.json").read_text())["status"] == "diverged"
