"""Strict input: grid values keep their YAML types, every value is storable, malformed records
files and hostile YAML are one line, and every numeric option has a range. Each refusal is
exit 2, one line on stderr, and leaves the working folder as it was."""
import json

import numpy as np
import pytest

import rnnbench
from conftest import run_cli
from rnnbench.config import ConfigError, RunConfig
from rnnbench.text.corpus import Corpus, CorpusError
from rnnbench.experiments.grid import GridError, load_grid

TINY = "base: {updates: 4, hidden_size: 8, sample_every: 0}\n"


def refused(tmp_path, *args, message):
    """Run the CLI in ``tmp_path``: exit 2, ``message`` on one line, nothing new there."""
    before = sorted(p.name for p in tmp_path.iterdir())
    code, out, err = run_cli(*args)
    assert code == 2, (code, out, err)
    assert message in err and err.count("\n") == 1 and "Traceback" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    return err


# -- grid files: types ---------------------------------------------------------------------

@pytest.mark.parametrize("line, message", [
    ("base: {hidden_size: true}", "base: hidden_size: Input should be a valid integer, not a "
     "boolean (got True)"),
    ("base: {learning_rate: on}", "base: learning_rate: Input should be a valid number, not a "
     "boolean (got True)"),
    ("base: {updates: yes}", "base: updates: Input should be a valid integer, not a boolean"),
    ("base: {hidden_size: '16'}", "base: hidden_size: Input should be a valid integer, not a "
     "string (got '16')"),
    ("base: {updates: 1e3}", "base: updates: Input should be a valid integer, not a float "
     "(got 1000.0)"),
    ("base: {learning_rate: '1e-3'}", "base: learning_rate: Input should be a valid number, "
     "not a string (got '1e-3')"),
    ("base: {hidden_size: 16.0}", "base: hidden_size: Input should be a valid integer, not a "
     "float (got 16.0)"),
    ("base: {dropout: .nan}", "base: dropout: Input should be a finite number"),
    ("base: {clip: .inf}", "base: clip: Input should be a finite number"),
    ("grid: {seq_length: [10, 'twenty']}", "grid.seq_length: Input should be a valid integer, "
     "not a string"),
    ("grid: {hidden_size: [8, false]}", "grid.hidden_size: Input should be a valid integer, "
     "not a boolean"),
    ("cases: [{momentum: 'off'}]", "cases[0]: momentum: Input should be a valid number, not a "
     "string"),
    ("base: {encoding: 5}", "base: encoding: Input should be a valid string (got 5)"),
    ("base: {records: [lines]}", "base: records: Input should be a valid string"),
    ("base: {optimizer: [adam]}", "base: optimizer: Input should be"),
    ("seeds: [0, true]", "seeds[1]: expected an integer >= 0, got bool True"),
    ("seeds: '3'", "seeds: expected an integer >= 1, got str '3'"),
    ("samples: {temperatures: [1], length: '40'}", "samples.length: expected an integer >= 1"),
    ("samples: {temperatures: [yes]}", "samples.temperatures[0]: expected a number > 0"),
])
def test_grid_values_are_not_coerced(tmp_path, monkeypatch, line, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "g.yaml").write_text(f"data: pydoc\n{line}\n")
    err = refused(tmp_path, "run", "g.yaml", "--jobs", "1", message="g.yaml: " + message)
    assert err.startswith("rnnbench: error: g.yaml: ")


def test_exponents_are_numbers_as_yaml_1_2_reads_them(tmp_path):
    """PyYAML (YAML 1.1) leaves 1e-3 and 1.0e30 strings; a grid reads them as the numbers
    people mean (YAML 1.2), while a quoted '1e-3' stays a string (refused above)."""
    (tmp_path / "g.yaml").write_text("data: pydoc\nbase: {hidden_size: 8, eps: 1e-6}\n"
                                     "grid: {learning_rate: [1e-3, 1.0e30, 2E+1, .5e-1]}\n")
    runs = load_grid(tmp_path / "g.yaml").runs
    assert [r.config.learning_rate for r in runs] == [1e-3, 1e30, 20.0, 0.05]
    assert runs[0].config.eps == 1e-6


def test_an_int_is_a_fine_float_and_numpy_scalars_are_numbers(tmp_path):
    (tmp_path / "g.yaml").write_text("data: pydoc\nbase: {learning_rate: 1, clip: 5, "
                                     "hidden_size: 8}\n")
    config = load_grid(tmp_path / "g.yaml").runs[0].config
    assert config.learning_rate == 1.0 and type(config.learning_rate) is float
    c = RunConfig(hidden_size=np.int64(8), learning_rate=np.float32(0.5), dropout=np.int64(0))
    assert type(c.hidden_size) is int and c.hidden_size == 8 and c.learning_rate == 0.5
    assert RunConfig.model_validate_json(c.model_dump_json()) == c  # config.json round trip


@pytest.mark.parametrize("values, message", [
    (dict(hidden_size="16"), "hidden_size: Input should be a valid integer, not a string"),
    (dict(updates=True), "updates: Input should be a valid integer, not a boolean"),
    (dict(learning_rate="0.1"), "learning_rate: Input should be a valid number, not a string"),
    (dict(hidden_size=10**32), "hidden_size: Input should be less than or equal to 16777216"),
    (dict(updates=2**63), "updates: Input should be less than or equal to 9223372036854775807"),
    (dict(seed=2**32), "seed: Input should be less than 4294967296"),
    (dict(num_layers=10**6), "num_layers: Input should be less than or equal to 1024"),
    (dict(temperature=1e-9), "temperature: Input should be greater than or equal to 0.001"),
])
def test_python_api_is_as_strict(values, message):
    """train() and RunConfig refuse what a grid file would, before anything is read."""
    with pytest.raises(ConfigError, match="^" + message.replace("(", r"\(")):
        rnnbench.train(**values)
    with pytest.raises(ConfigError):
        RunConfig.build(values)


# -- grid files: values that cannot be stored, and sizes ------------------------------------

@pytest.mark.parametrize("line, message", [
    ("base: {hidden_size: 100000000000000000000000000000000}",
     "base: hidden_size: Input should be less than or equal to 16777216 (got "
     "100000000000000000000000000000000)"),
    ("base: {updates: 9223372036854775808}", "base: updates: Input should be less than or "
     "equal to 9223372036854775807"),
    ("grid: {data_limit: [0, 99999999999999999999]}", "grid.data_limit: Input should be less "
     "than or equal to"),
    ("seeds: [4294967296]", "seeds[0]: expected an integer <= 4,294,967,295"),
    ("seeds: 1000000000", "seeds: expected an integer <= 100,000"),
    ("samples: {temperatures: [1], seed: 4294967296}", "samples.seed: expected an integer <= "
     "4,294,967,295"),
    ("samples: {temperatures: [1], length: 100000000}", "samples.length: expected an integer "
     "<= 1,000,000"),
    ("samples: {temperatures: [1.0e-9]}", "samples.temperatures[0]: expected a number > 0 "
     "(from 0.001 to 1000)"),
    ("grid: {hidden_size: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], seq_length: [1, 2, 3, 4, 5, 6, 7, 8, "
     "9, 10], updates: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}\nseeds: 101",
     "grid: 101,000 runs (cases x grid values x seeds), more than 100,000"),
])
def test_values_that_cannot_be_stored_are_refused_when_read(tmp_path, monkeypatch, line, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "g.yaml").write_text(f"data: pydoc\n{line}\n")
    refused(tmp_path, "run", "g.yaml", "--jobs", "1", message="g.yaml: " + message)


def test_alias_bombs_recursion_and_deep_nesting_are_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    laughs = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    laughs += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    cases = {
        "billion laughs": ("description: x\nx-anchors:\n" + "".join(
            f"  {line}\n" for line in laughs) + "cases: [{hidden_size: *a8}]\n",
            "more than 100,000 values once its aliases are expanded"),
        "recursive alias": ("grid: &g {hidden_size: [8], x: *g}\n", "a value contains itself"),
        "deep nesting": ("base: " + "[" * 20000 + "]" * 20000 + "\n", "nested too deeply"),
        "too big": ("description: '" + "x" * (2**20) + "'\n", "g.yaml: 1,048,592 bytes, more "
                    "than the 1 MB a grid file may have"),
        "not UTF-8": ("description: caf\udce9\n", "cannot read the grid file"),
    }
    for name, (text, message) in cases.items():
        path = tmp_path / "g.yaml"
        path.write_bytes(text.encode("utf-8", "surrogateescape"))
        if name != "deep nesting":  # (PyYAML takes 2 s to fail on it: once is enough)
            with pytest.raises(GridError, match="^g.yaml: ") as err:
                load_grid("g.yaml")
            assert message in str(err.value) and "\n" not in str(err.value), name
        refused(tmp_path, "run", "g.yaml", message=message)


# -- records files ---------------------------------------------------------------------------

@pytest.mark.parametrize("spec, text, message", [
    ("csv:text", 'id,text\n1,"hello\n2,world\n3,again\n',
     "f.txt: line 2: bad CSV (a quoted field is never closed)"),
    ("csv:text", "id,text\n1,hello\n2,two,three\n3,x\n", "f.txt: line 3: 3 CSV fields, the "
     "header has 2"),
    ("csv:text", 'id,text\n1,"a\nb"\n2\n', "f.txt: line 4: 1 CSV fields, the header has 2"),
    ("csv:text", 'id,text\n1,"a"b\n', "f.txt: line 2: bad CSV (',' expected after '\"')"),
    ("csv:text", "text,id,text\n1,2,3\n", "f.txt: line 1: the CSV column 'text' appears 2 "
     "times"),
    ("jsonl:text", '{"text": "a"}\n' + "[" * 100000 + "\n", "f.txt: line 2: JSON nested too "
     "deeply"),
    ("jsonl:text", '{"text": "a"}\n\n{"text": "b", "n": 1' + "0" * 5000 + "}\n",
     "f.txt: line 3: not usable JSON (Exceeds the limit (4300 digits)"),
])
def test_malformed_records_are_one_line_with_file_and_line(tmp_path, monkeypatch, spec, text,
                                                           message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "f.txt").write_text(text)
    with pytest.raises(CorpusError, match="^f.txt: line"):
        Corpus.from_config(RunConfig(data="f.txt", records=spec))
    refused(tmp_path, "train", "--data", "f.txt", "--records", spec, "--updates", "1",
            message=message)
    (tmp_path / "g.yaml").write_text(f"data: f.txt\nbase: {{records: '{spec}'}}\n")
    refused(tmp_path, "run", "g.yaml", message="g.yaml: data: " + message)


def test_well_formed_csv_keeps_its_records():
    from rnnbench.text.records import parse_records
    text = 'id,text\r\n1,"hello, world"\r\n\r\n2,"two\r\nlines"\r\n3,\r\n4,"say ""hi"""\r\n'
    assert parse_records(text, "csv:text") == ["hello, world", "two\r\nlines", 'say "hi"']


# -- text encodings ------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_wide_text_without_a_bom_gets_an_encoding_hint(tmp_path, monkeypatch, encoding):
    monkeypatch.chdir(tmp_path)
    text = "First Citizen:\nBefore we proceed any further, hear me speak. Ça va?\n" * 20
    (tmp_path / "t.txt").write_bytes(text.encode(encoding))
    refused(tmp_path, "train", "--data", "t.txt", message=f"t.txt: looks like "
            f"{encoding.upper()} text without a byte-order mark (NUL bytes in a regular "
            f"pattern); pass --encoding {encoding}")
    assert Corpus.load("t.txt", encoding=encoding).text == text


def test_binary_data_is_not_called_text(tmp_path):
    rng = np.random.default_rng(0)
    for name, raw in (("nul", b"ab\x00\x01cd" * 3), ("random", rng.bytes(4096) + b"\x00"),
                      ("zeros", bytes(1000))):
        (tmp_path / name).write_bytes(raw)
        with pytest.raises(CorpusError, match="looks like a binary file"):
            Corpus.load(str(tmp_path / name))


# -- numeric options -----------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["sample", "run", "--seed", "99999999999999999999"], "--seed must be <= 4294967295"),
    (["sample", "run", "--seed", "-1"], "--seed must be >= 0, got -1"),
    (["sample", "run", "--seed", "4294967295", "--count", "2"], "--seed + --count - 1 must be "
     "< 4294967296"),
    (["sample", "run", "--length", "1000000000"], "--length must be <= 1000000, got 1000000000"),
    (["sample", "run", "--length", "-5"], "--length must be >= 0"),
    (["sample", "run", "--count", "100000"], "--count must be <= 1000"),
    (["sample", "run", "--length", "1000000", "--count", "20"], "--length x --count x "
     "temperatures is 20,000,000 characters, more than 10,000,000"),
    (["sample", "run", "--top-k", "99999999999999999999"], "--top-k must be <= 2147483647"),
    (["sample", "run", "--temperature", "nan"], "--temperature must be > 0, got nan"),
    (["sample", "run", "--temperature", "inf"], "--temperature must be from 0.001 to 1000"),
    (["sample", "run", "--temperature", "1e-300"], "--temperature must be from 0.001 to 1000"),
    (["sample", "run", "--length", "ten"], "argument --length: invalid int value: 'ten'"),
    (["gradcheck", "--step", "0"], "gradcheck: --step must be > 0, got 0"),
    (["gradcheck", "--step", "nan"], "--step must be a finite number, got 'nan'"),
    (["gradcheck", "--step=-1e-2"], "--step must be > 0"),
    (["gradcheck", "--step", "5"], "--step must be <= 1, got 5"),
    (["gradcheck", "--threshold", "-1"], "--threshold must be > 0, got -1"),
    (["gradcheck", "--threshold", "inf"], "--threshold must be a finite number"),
    (["gradcheck", "--hidden-size", "99999999999999999999"], "hidden_size: Input should be "
     "less than or equal to 16777216"),
    (["bench", "--repeats", "0"], "bench: --repeats must be >= 1, got 0"),
    (["bench", "--repeats", "1000"], "--repeats must be <= 100"),
    (["bench", "--seconds", "inf"], "--seconds must be a finite number"),
    (["bench", "--seconds", "0"], "--seconds must be > 0"),
    (["data", "get", "gutenberg:1", "--timeout", "0"], "--timeout must be > 0, got 0"),
    (["data", "get", "gutenberg:1", "--timeout", "nan"], "--timeout must be a finite number"),
    (["data", "get", "gutenberg:1", "--timeout", "1e9"], "--timeout must be <= 3600"),
    (["data", "get", "gutenberg:1", "--deadline", "-1"], "--deadline must be > 0"),
    (["run", "g.yaml", "--jobs", "0"], "--jobs must be >= 1, got 0"),
    (["run", "g.yaml", "--jobs", "99999999999999999999"], "--jobs must be <= 4096"),
    (["train", "--updates", "-1"], "updates: Input should be greater than or equal to 0"),
    (["train", "--updates", "99999999999999999999"], "updates: Input should be less than or "
     "equal to 9223372036854775807"),
    (["train", "--learning-rate", "inf"], "learning_rate: Input should be a finite number"),
    (["train", "--dropout", "nan"], "dropout: Input should be a finite number"),
    (["train", "--seed", "4294967296"], "seed: Input should be less than 4294967296"),
    (["train", "--temperature", "0"], "temperature: Input should be greater than or equal to "
     "0.001"),
    (["train", "--sample-length", "100000000"], "sample_length: Input should be less than or "
     "equal to 1000000"),
    (["data", "info", "pydoc", "--val-fraction", "nan"], "val_fraction: Input should be a "
     "finite number"),
    (["data", "info", "pydoc", "--min-char-count", "-1"], "min_char_count: Input should be "
     "greater than or equal to 0"),
])
def test_every_numeric_option_has_a_range(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "g.yaml").write_text("data: pydoc\n" + TINY)
    refused(tmp_path, *args, message=message)


def test_sampling_api_checks_its_settings(small_model):
    from rnnbench.experiments.sources import SampleError, Source, draw
    source = Source(".", small_model, None)
    for kwargs, message in ((dict(seed=2**32), "--seed must be <="),
                            (dict(length=10**9), "--length must be <="),
                            (dict(temperatures=[True]), "--temperature must be a number"),
                            (dict(count=2.5), "--count must be an integer")):
        settings = {**dict(prime="a", length=5, temperatures=[1.0]), **kwargs}
        with pytest.raises(SampleError, match=message):
            draw(source, **settings)
    with pytest.raises(ValueError, match="seed must be >= 0 and < 2\\*\\*32"):
        small_model.sample("a", 5, seed=2**32)
    with pytest.raises(ValueError, match="step must be > 0 and <= 1"):
        from rnnbench.model.gradcheck import gradcheck
        gradcheck(small_model, [0, 1], [1, 2], step=float("nan"))


def test_json_of_a_checked_config_is_plain(tmp_path):
    """What RunConfig accepted is what config.json holds: Python ints and floats."""
    config = RunConfig.build(dict(hidden_size=np.int32(8), learning_rate=np.int64(1)))
    assert json.loads(config.model_dump_json())["learning_rate"] == 1.0
