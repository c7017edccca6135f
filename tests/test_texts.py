"""Texts from the command line and in grids: encodings, line endings, rare characters, names."""
import json
import math
import textwrap

import pandas as pd
import pytest

from conftest import run_cli
from rnnbench.text.corpus import UNKNOWN
from rnnbench.experiments.grid import GridError, load_grid
from rnnbench.views.plots.common import baselines_for

PROSE = "The quick brown fox jumps over the lazy dog. Ça coûte 5 €!\r\n" * 20


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A current directory with a CRLF text, a Latin-1 text and a 'downloaded' book in data/."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "crlf.txt").write_bytes(PROSE.encode("utf-8"))
    (tmp_path / "latin1.txt").write_bytes(PROSE.replace(" €", "").encode("latin-1"))
    (tmp_path / "data" / "gutenberg-11.txt").write_text("Alice was beginning to get very "
                                                       "tired of sitting by her sister. " * 20)
    return tmp_path


def _train(*args):
    # --no-report: the plots cost a second a run, and these tests read the text (test_run_report
    # draws a run's report)
    return run_cli("train", "--hidden-size", "8", "--updates", "20", "--seq-length", "10",
                   "--sample-every", "0", "--quiet", "--no-report", *args)


def test_train_on_crlf_text_normalises_unless_kept(project):
    code, stdout, stderr = _train("--data", "crlf.txt", "--out", "a")
    assert code == 0, stderr
    assert "vocabulary 35 characters; rarest: '\\n' 20, '!' 20" in stdout
    config = json.loads((project / "a" / "config.json").read_text())
    assert config["newline"] == "normalize" and config["encoding"] == "utf-8"
    code, stdout, _ = _train("--data", "crlf.txt", "--newline", "keep", "--out", "b")
    assert code == 0 and "vocabulary 36 characters; rarest: '\\n' 20, '\\r' 20" in stdout


def test_train_on_latin1_needs_the_encoding(project):
    code, _, stderr = _train("--data", "latin1.txt", "--out", "a")
    assert code == 2 and stderr.count("\n") == 1
    assert "latin1.txt: not UTF-8 text (byte 0xc7 at offset 45)" in stderr
    assert "pass it with --encoding" in stderr and not (project / "a").exists()
    code, stdout, _ = _train("--data", "latin1.txt", "--encoding", "latin-1", "--out", "a")
    assert code == 0 and "vocabulary 34 characters" in stdout
    code, _, stderr = _train("--data", "latin1.txt", "--encoding", "latin-9x")
    assert code == 2 and "encoding: unknown text encoding 'latin-9x'" in stderr


def test_min_char_count_is_reported_and_stored(project):
    code, stdout, _ = _train("--data", "crlf.txt", "--min-char-count", "21", "--out", "a")
    assert code == 0
    assert ("vocabulary 10 characters; rarest: 'a' 40, 'c' 40" in stdout
            and f"26 characters seen fewer than 21 times mapped to {UNKNOWN!r}" in stdout)
    summary = json.loads((project / "a" / "summary.json").read_text())
    assert summary["vocab_size"] == 10 and summary["unknown_chars"] == "\n!.5TbdfgijklmnpqsvwxyzÇû€"
    assert summary["rarest_chars"] == "achrtueo " + UNKNOWN


def test_data_info(project):
    code, stdout, _ = run_cli("data", "info", "gutenberg:11")
    assert code == 0
    assert stdout.startswith("gutenberg:11: 1,280 characters, 1,152 train / 128 validation")
    assert "vocabulary 21 characters" in stdout and "5gram" in stdout and "bits" in stdout
    code, _, stderr = run_cli("data", "info", "gutenberg:12")
    assert code == 2 and "rnnbench data get gutenberg:12" in stderr


GRID = """
name: texts
data: [pydoc, gutenberg:11, crlf.txt]
base: {updates: 20, hidden_size: 8, seq_length: 10, sample_every: 0, eval_every: 10,
       trace_every: 10, data_limit: 1200}
grid:
  min_char_count: [0, 3]
"""


def test_grid_data_takes_names_paths_and_lists(project):
    (project / "g.yaml").write_text(textwrap.dedent(GRID))
    grid = load_grid(project / "g.yaml")
    assert len(grid.runs) == 6 and grid.swept == ["data", "min_char_count"]
    assert {c.name for c in grid.corpora.values()} == {"pydoc", "gutenberg:11", "crlf.txt"}
    code, stdout, stderr = run_cli("run", "g.yaml", "--jobs", "1", "--quiet", "--no-report")
    assert code == 0, stderr
    runs = pd.read_parquet(project / "results" / "texts" / "runs.parquet")
    assert (runs["status"] == "ok").all()
    crlf = runs[runs["data"] == "crlf.txt"].set_index("min_char_count")
    assert crlf.loc[3, "vocab_size"] == crlf.loc[0, "vocab_size"] + 1  # U+FFFD, never seen
    baselines = pd.read_parquet(project / "results" / "texts" / "baselines.parquet")
    assert len(baselines) == 6 * 4 and set(baselines["baseline"]) >= {"5gram"}
    same_text = runs[runs["data"] == "crlf.txt"]  # one checksum, two vocabularies
    uniform = [baselines_for(baselines, same_text[same_text["min_char_count"] == n])["uniform"]
               for n in (0, 3)]
    assert uniform == pytest.approx([math.log(35), math.log(36)])


def test_grid_runs_keep_the_characters_min_char_count_mapped(project):
    (project / "rare.txt").write_text("abcabc" * 20 + "~!")
    (project / "g.yaml").write_text("name: rare\ndata: rare.txt\nbase: {updates: 4, "
                                    "hidden_size: 4, seq_length: 5, sample_every: 0, "
                                    "min_char_count: 2}\ngrid: {batch_size: [1, 2]}\n")
    code, _, stderr = run_cli("run", "g.yaml", "--jobs", "1", "--quiet", "--no-report")
    assert code == 0, stderr
    runs = pd.read_parquet(project / "results" / "rare" / "runs.parquet")
    assert list(runs["unknown_chars"]) == ["!~", "!~"]


def test_grid_names_a_missing_download(project):
    (project / "g.yaml").write_text("data: [pydoc, gutenberg:12]\n")
    with pytest.raises(GridError, match=r"g.yaml: grid.data: gutenberg:12: not downloaded yet "
                                        r".*rnnbench data get gutenberg:12"):
        load_grid(project / "g.yaml")
