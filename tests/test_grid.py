"""Grid files: expansion into runs, run ids, and every kind of invalid input (exit 2, nothing
written)."""
import textwrap

import pytest

from conftest import run_cli
from rnnbench.text.corpus import Corpus
from rnnbench.experiments.grid import GridError, load_grid, run_id

VALID = """
name: g
data: pydoc
base: {updates: 10, hidden_size: 8}
grid:
  hidden_size: [8, 12]
  learning_rate: [0.1, 0.05]
seeds: 2
"""


def write(tmp_path, text, name="g.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_product_times_seeds_in_a_fixed_order(tmp_path):
    grid = load_grid(write(tmp_path, VALID))
    assert grid.name == "g" and grid.swept == ["hidden_size", "learning_rate"]
    got = [(r.config.hidden_size, r.config.learning_rate, r.config.seed) for r in grid.runs]
    assert got == [(8, 0.1, 0), (8, 0.1, 1), (8, 0.05, 0), (8, 0.05, 1),
                   (12, 0.1, 0), (12, 0.1, 1), (12, 0.05, 0), (12, 0.05, 1)]
    assert all(r.config.updates == 10 for r in grid.runs)
    assert grid.runs[2].label == "hidden_size=8, learning_rate=0.05"
    assert len({r.run_id for r in grid.runs}) == 8
    # the id depends on the config and the text only: stable across loads, not on the order
    again = load_grid(write(tmp_path, VALID.replace("[0.1, 0.05]", "[0.05, 0.1]"), "h.yaml"))
    assert {r.run_id for r in again.runs} == {r.run_id for r in grid.runs}


def test_run_id_changes_with_config_text_and_samples(tmp_path):
    grid = load_grid(write(tmp_path, VALID))
    spec = grid.runs[0]
    checksum = grid.corpora[spec.corpus_key].checksum
    assert run_id(spec.config, checksum) == spec.run_id
    assert run_id(spec.config.replace(updates=11), checksum) != spec.run_id
    assert run_id(spec.config, "0" * 64) != spec.run_id
    assert run_id(spec.config, checksum, {"temperatures": [1.0]}) != spec.run_id
    assert run_id(spec.config.replace(min_char_count=1), checksum) != spec.run_id


def test_run_ids_from_before_the_text_fields_still_hold():
    from rnnbench.config import RunConfig
    # rnnbench at 40a7199 (before encoding, newline and min_char_count) gave this id
    assert run_id(RunConfig(), "0" * 64) == "b50a39a9d34c"


def test_cases_data_list_and_explicit_seeds(tmp_path):
    grid = load_grid(write(tmp_path, """
        data: [pydoc, "python:argparse"]
        base: {updates: 10, hidden_size: 8}
        cases:
          - {learning_rate: 0.1}
          - {learning_rate: 0.05, seq_length: 10}
        seeds: [7, 9]
        samples: {temperatures: [0.5, 1]}
        plot: {hue: data}
        """))
    assert grid.name == "g" and grid.swept == ["case", "data"]
    assert len(grid.runs) == 8 and {r.config.seed for r in grid.runs} == {7, 9}
    assert grid.runs[0].case == "learning_rate=0.1"
    assert grid.runs[0].label == "learning_rate=0.1, data=pydoc"
    assert grid.samples == {"temperatures": [0.5, 1.0], "prime": "\n", "length": 300, "seed": 0}
    assert {key[:2] for key in grid.corpora} == {("pydoc", 0.1), ("python:argparse", 0.1)}


def test_python_module_sources_are_texts():
    corpus = Corpus.load("python:argparse", 0.1)
    assert "ArgumentParser" in corpus.text and corpus.name == "python:argparse"
    for bad in ("python:numpy", "python:sys", "python:no_such_module"):
        with pytest.raises(ValueError, match="no standard-library module"):
            Corpus.load(bad, 0.1)


BAD = [
    ("nmae: x\n", "g.yaml: nmae: unknown key 'nmae' (did you mean 'name'?)"),
    ("base: {hiden_size: 8}\n", "base: unknown key 'hiden_size' (did you mean 'hidden_size'?)"),
    ("grid: {hidden_size: 8}\n", "grid.hidden_size: expected a list of values, got int 8"),
    ("grid: {hidden_size: []}\n", "grid.hidden_size: the list is empty"),
    ("grid: {learning_rate: [0.1, -1]}\n", "grid.learning_rate: Input should be greater than 0"),
    ("base: {hidden_size: ten}\n", "base: hidden_size: Input should be a valid integer"),
    ("base: [1, 2]\n", "base: expected a mapping, got list"),
    ("data: /no/such/text.txt\n", "data: /no/such/text.txt: no such file"),
    ("data: [pydoc, /no/such.txt]\n", "grid.data: /no/such.txt: no such file"),
    ("data: []\n", "data: the list is empty"),
    ("seeds: 0\n", "seeds: expected an integer >= 1, got int 0"),
    ("seeds: [1, 1]\n", "seeds: a seed is listed twice"),
    ("grid: {seed: [1, 2]}\n", "grid.seed: list seeds with the top-level 'seeds' key"),
    ("name: a b\n", "name: use letters, digits"),
    ("base: {updates: 1}\nbase: {updates: 2}\n", "invalid YAML (line 2, column 1): duplicate key"),
    ("grid: {hidden_size: [8, 8]}\n", "grid.hidden_size: a value is listed twice"),
    ("grid: {hidden_size: [8\n", "invalid YAML"),
    ("- 1\n", "expected a mapping of keys"),
    ("base: {data_limit: 20, seq_length: 25}\n", "fewer than seq_length + 1 = 26"),
    ("base: {data_limit: 300, batch_size: 8, seq_length: 40}\n",
     "270 characters (8 streams of 33), fewer than seq_length + 1 = 41"),
    ("grid: {hidden_size: [8]}\ncases: [{hidden_size: 9}]\n",
     "cases[0].hidden_size: also swept in 'grid'"),
    ("cases: [{learning_rate: 0}]\n", "cases[0]: learning_rate: Input should be greater than 0"),
    ("cases: [{cell: lstm, dropout: 1.5}]\n", "dropout"),
    ("samples: {temperatures: [1], prime: '\u263a'}\n", "samples.prime: characters not in"),
    ("samples: {temperatures: [0]}\n", "samples.temperatures[0]: expected a number > 0"),
    ("samples: {length: 5}\n", "samples: needs 'temperatures'"),
    ("grid: {hidden_size: [8, 9]}\nplot: {hue: seq_length}\n",
     "plot.hue: 'seq_length' is not a swept field (swept: hidden_size)"),
]


@pytest.mark.parametrize("text, message", BAD)
def test_invalid_grid_is_one_line_exit_2_nothing_written(tmp_path, monkeypatch, text, message):
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, text)
    with pytest.raises(GridError, match="^g.yaml: ") as err:
        load_grid("g.yaml")
    assert message in str(err.value) and "\n" not in str(err.value)
    code, _, stderr = run_cli("run", path, "--jobs", "1")
    assert code == 2 and message in stderr and stderr.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.yaml"]


def test_missing_grid_file_and_bad_options(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, stderr = run_cli("run", "nope.yaml")
    assert code == 2 and "nope.yaml: no such grid file" in stderr
    write(tmp_path, VALID)
    code, _, stderr = run_cli("run", "g.yaml", "--jobs", "0")
    assert code == 2 and "--jobs must be >= 1" in stderr
    code, _, stderr = run_cli("run", "g.yaml", "--scheduler", "tcp://x:1")
    assert code == 2 and "--scheduler needs --backend dask" in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.yaml"]
