import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import rnnbench
from rnnbench.config import ConfigError, RunConfig
from rnnbench.text.corpus import UNKNOWN, Corpus, CorpusError
from rnnbench.model.gradcheck import gradcheck
from rnnbench.model.model import Model, load_checkpoint
from rnnbench.text.corpus import RecordCorpus, prepare_corpus
from rnnbench.text.records import parse_records
from rnnbench.training.records import RecordTrainState, stream_blocks
from rnnbench.training.samples import start_text

from conftest import run_cli

NAMES = Path(__file__).resolve().parents[1] / "data" / "stdlib_modules.txt"
END = "\u2403"
TINY = dict(hidden_size=12, seq_length=6, sample_every=0, trace_every=20, eval_every=40)


# -- parsing ----------------------------------------------------------------------------------

def test_parse_lines_jsonl_and_csv():
    assert parse_records("ab\n\n c\r\nd\n", "lines") == ["ab", " c", "d"]
    jl = '{"text": "hi", "n": 1}\n\n{"text": "yo"}\n{"text": ""}\n'
    assert parse_records(jl, "jsonl:text") == ["hi", "yo"]
    csv_text = 'id,tweet\n1,"hello, world"\n2,"two\nlines"\n3,\n'
    assert parse_records(csv_text, "csv:tweet") == ["hello, world", "two\nlines"]


@pytest.mark.parametrize("text, spec, message", [
    ('{"a": "x"}\n', "jsonl:text", "f: line 1: no field 'text' \\(fields: a\\)"),
    ('{"text": "x"}\n{"text": \n', "jsonl:text", "f: line 2: not valid JSON"),
    ('["x"]\n', "jsonl:text", "f: line 1: expected a JSON object"),
    ('{"text": 3}\n', "jsonl:text", "field 'text' is not a string"),
    ("a,b\n1,2\n", "csv:tweet", "f: no CSV column 'tweet' \\(columns: a, b\\)"),
    ("\n \n", "lines", "f: no records found"),
    ("x\n", "tsv:a", "f: records: expected 'lines'"),
])
def test_parse_errors_are_one_line(text, spec, message):
    with pytest.raises(CorpusError, match=message) as err:
        parse_records(text, spec, "f")
    assert "\n" not in str(err.value)


def test_config_checks_the_spec():
    assert RunConfig.build({"records": "csv:text"}).records == "csv:text"
    for bad in ("line", "jsonl", "csv:", "jsonl:"):
        with pytest.raises(ConfigError, match=f"records: expected .*got '{bad}'"):
            RunConfig.build({"records": bad})


# -- the stream -------------------------------------------------------------------------------

def test_stream_layout_and_split_by_records():
    c = RecordCorpus(["ab", "c", "def", "gh"], val_fraction=0.5)
    assert c.end_symbol == END and c.text == f"{END}ab{END}c{END}def{END}gh{END}"
    assert c.decode(c.train_ids) == f"{END}ab{END}c{END}"
    assert c.decode(c.val_ids) == f"{END}def{END}gh{END}"
    assert list(c.train_bounds) == [0, 3, 5] and list(c.val_bounds) == [0, 4, 7]
    assert (c.n_train, c.n_val) == (2, 2)
    assert c.chars[c.end_id] == END


def test_end_symbol_avoids_the_text_and_data_limit_counts_records():
    c = RecordCorpus([f"a{END}", "b"], 0.0)
    assert c.end_symbol == "\x03"
    corpus = Corpus.from_text("one\ntwo\nthree\nfour\n", 0.0)
    head = prepare_corpus(corpus, RunConfig(records="lines", data_limit=2))
    assert head.records == ["one", "two"] and head.n_train == 2
    assert prepare_corpus(corpus, RunConfig(records="lines")).n_train == 4
    assert start_text("\n", head.chars, END) == start_text(None, head.chars, END) == END
    assert start_text("t", head.chars, END) == END + "t"


def test_min_char_count_counts_the_records_and_keeps_what_it_mapped():
    # the file's JSON keys and quotes are no record characters, "z" is rare in the records
    text = "".join(json.dumps({"text": t}) + "\n" for t in ("abab", "abz", "ba", "ab"))
    config = RunConfig(data="x", records="jsonl:text", min_char_count=2, val_fraction=0.0)
    corpus = prepare_corpus(Corpus.from_text(text, 0.0, "x", 2), config)
    assert corpus.unknown_chars == "z" and corpus.records == ["abab", "abz", "ba", "ab"]
    assert corpus.text == f"{END}abab{END}ab{UNKNOWN}{END}ba{END}ab{END}"
    assert corpus.chars == sorted("ab" + END + UNKNOWN)
    assert corpus.head(2).unknown_chars == "z" and corpus.head(2) is corpus.head(2)
    # the end symbol is never rare, however few the records
    few = RecordCorpus(["ab", "ab"], 0.0, min_char_count=5)
    assert few.text == END + UNKNOWN * 2 + END + UNKNOWN * 2 + END and few.unknown_chars == "ab"


def test_records_files_are_read_once_and_keep_unknown_chars(tmp_path, monkeypatch):
    path = tmp_path / "names.txt"
    path.write_text("anna\nbob\nada\nbo~b\nabba\n")
    built = []
    real_encode = Corpus._encode  # every corpus, plain or records, is encoded by it once

    def encode(self, *args, **kwargs):
        built.append(type(self).__name__)
        real_encode(self, *args, **kwargs)

    monkeypatch.setattr(Corpus, "_encode", encode)
    config = RunConfig(data=str(path), records="lines", min_char_count=2, updates=4,
                       hidden_size=4, seq_length=3, sample_every=0, trace_every=2,
                       eval_every=2)
    summary = rnnbench.train(config).summary
    assert built == ["RecordCorpus"] and summary["unknown_chars"] == "d~"
    grid = tmp_path / "g.yaml"
    grid.write_text(f"name: rec\ndata: {path}\nbase: {{records: lines, min_char_count: 2, "
                    f"updates: 4, hidden_size: 4, seq_length: 3, sample_every: 0, "
                    f"trace_every: 2, eval_every: 2}}\ngrid: {{batch_size: [1, 2]}}\n")
    code, _, err = run_cli("run", grid, "--jobs", 1, "--out", tmp_path / "out", "--quiet",
                           "--no-report")
    assert code == 0, err
    runs = pd.read_parquet(tmp_path / "out" / "runs.parquet")
    assert list(runs["unknown_chars"]) == ["d~", "d~"]


# -- the compiled loop ------------------------------------------------------------------------

def _state(corpus, cell="rnn", batch_size=1, seq_length=4, lr=0.1, layers=1, optimizer="adagrad",
           dropout=0.0):
    model = Model.create(cell, corpus.vocab_size, 8, layers, seed=1, init_scale=0.1,
                         chars=corpus.chars)
    return RecordTrainState(model, corpus, seq_length, lr, batch_size=batch_size,
                            optimizer=optimizer, dropout=dropout)


def _mirror_schedule(corpus, B, T, n_updates):
    """The chunks the loop should read, in plain Python: [(ids, targets)] of shape (T*B,)."""
    ids, blocks = corpus.train_ids, stream_blocks(corpus.n_train, B)
    bounds = corpus.train_bounds
    cur = [[lo, 0] for lo, _ in blocks]
    out = []
    for _ in range(n_updates):
        x = np.full((T, B), corpus.end_id)
        y = np.full((T, B), -1)
        for b in range(B):
            r, o = cur[b]
            start, stop = bounds[r] + o, bounds[r + 1]
            n = min(T, stop - start)
            x[:n, b], y[:n, b] = ids[start:start + n], ids[start + 1:start + n + 1]
            cur[b][1] += n
            if bounds[r] + cur[b][1] == stop:
                cur[b] = [r + 1 if r + 1 < blocks[b][1] else blocks[b][0], 0]
        out.append((x.reshape(-1), y.reshape(-1)))
    return out


def test_chunks_follow_the_schedule_and_never_cross_a_record():
    records = ["abcdefghij", "k", "lmnop", "qr", "stuvwxy", "z", "abcd", "efghijklm", "no"]
    corpus = RecordCorpus(records, 0.0)
    B, T, n = 3, 4, 30
    run = _state(corpus, batch_size=B, seq_length=T)
    log = np.zeros((n, 2, T * B), dtype=np.int64)
    assert run.run(np.zeros(n), np.zeros(n), log) == n
    expected = _mirror_schedule(corpus, B, T, n)
    for k in range(n):
        assert np.array_equal(log[k, 0], expected[k][0]) and np.array_equal(log[k, 1], expected[k][1])
    assert list(run.target_counts[:n]) == [int((log[k, 1] >= 0).sum()) for k in range(n)]
    end = corpus.end_id
    pieces = {b: "" for b in range(B)}
    for k in range(n):
        x, y = log[k, 0].reshape(T, B), log[k, 1].reshape(T, B)
        for b in range(B):
            real = int((y[:, b] >= 0).sum())
            assert (y[real:, b] == -1).all() and (x[real:, b] == end).all()  # padding at the end
            assert (x[1:real, b] != end).all()        # an END inside would cross a record
            assert (y[:real - 1, b] != end).all()
            assert np.array_equal(x[1:real, b], y[:real - 1, b])
            if y[real - 1, b] == end:
                pieces[b] += corpus.decode(x[:real, b]) + "|"
            else:
                pieces[b] += corpus.decode(x[:real, b])
    # stream b reads its block of records in order, each whole, then wraps
    for b, (lo, hi) in enumerate(stream_blocks(len(records), B)):
        done = [p.lstrip(END) for p in pieces[b].split("|")[:-1]]
        block = records[lo:hi]
        assert done == (block * 10)[:len(done)] and len(done) > len(block)
    assert run.epoch >= 1


@pytest.mark.parametrize("cell, layers", [("rnn", 1), ("lstm", 2), ("gru", 2)])
def test_each_record_starts_from_a_zero_state(cell, layers):
    """With a learning rate of 0, a record's chunk losses add up to its loss from a zero state
    (Model.loss), wherever it sits in the file; records longer than T carry their state."""
    records = ["hello", "a", "tiny world", "abba", "dwell"]
    losses = {}
    for order in (records, records[::-1]):
        corpus = RecordCorpus(order, 0.0)
        run = _state(corpus, cell, seq_length=4, lr=0.0, layers=layers, optimizer="sgd")
        n = 12  # 2 + 1 + 3 + 2 + 2 chunks = one pass, then the first record again
        out = np.zeros(n)
        run.run(out, np.zeros(n))
        k = 0
        for r in order:
            chunks = math.ceil((len(r) + 1) / 4)
            losses.setdefault(r, []).append(out[k:k + chunks].sum())
            k += chunks
        assert out[10:12].sum() == pytest.approx(losses[order[0]][-1], rel=1e-13)
        model = run.model
        for r in order:
            ref = model.loss(END + r, r + END)
            assert losses[r][-1] == pytest.approx(ref, rel=1e-12)
    for r in records:
        assert losses[r][0] == pytest.approx(losses[r][1], rel=1e-12)


def test_validation_reads_each_record_from_zero():
    corpus = RecordCorpus(["abc", "ba", "cab", "abcabc", "b"], 0.6)
    run = _state(corpus, "lstm")
    total, n = run.val_loss(corpus)
    assert n == 4 + 7 + 2  # each record: its characters and its END
    ref = sum(run.model.loss(END + r, r + END) for r in ["cab", "abcabc", "b"])
    assert total == pytest.approx(ref, rel=1e-12)


# -- masked targets: padding gives exactly the shorter chunk's gradient -----------------------

@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_padding_gives_the_gradient_of_the_shorter_chunk(cell):
    rng = np.random.default_rng(0)
    model = Model.create(cell, 7, 9, 2, seed=2, init_scale=0.3)
    x, y = rng.integers(0, 7, 8), rng.integers(0, 7, 8)
    xp, yp = x.copy(), y.copy()
    xp[5:], yp[5:] = 0, -1
    h0 = rng.standard_normal(model.state_shape) * 0.5
    loss_p, g_p, _ = model.loss_and_grads(xp, yp, h0)
    loss_s, g_s, _ = model.loss_and_grads(x[:5], y[:5], h0)
    assert loss_p == pytest.approx(loss_s, rel=1e-14)
    for name in g_s:
        np.testing.assert_allclose(g_p[name], g_s[name], rtol=1e-12, atol=1e-15, err_msg=name)
    # two streams, one padded: the mean of the two single-stream gradients
    x2, y2 = rng.integers(0, 7, 8), rng.integers(0, 7, 8)
    loss_b, g_b, _ = model.loss_and_grads(np.stack([x2, xp]), np.stack([y2, yp]))
    loss_1, g_1, _ = model.loss_and_grads(x2, y2)
    loss_2, g_2, _ = model.loss_and_grads(x[:5], y[:5])
    assert loss_b == pytest.approx((loss_1 + loss_2) / 2, rel=1e-13)
    for name in g_b:
        np.testing.assert_allclose(g_b[name], (g_1[name] + g_2[name]) / 2, rtol=1e-11,
                                   atol=1e-15, err_msg=name)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_gradient_check_passes_on_a_padded_chunk(cell):
    rng = np.random.default_rng(1)
    model = Model.create(cell, 5, 4, 1, seed=3, init_scale=0.3)
    xs, ys = rng.integers(0, 5, (2, 6)), rng.integers(0, 5, (2, 6))
    xs[1, 3:], ys[1, 3:] = 0, -1
    result = gradcheck(model, xs, ys, threshold=1e-7)
    assert result.passed, result.max_rel_error


# -- training ---------------------------------------------------------------------------------

def test_training_on_records_learns(tmp_path):
    corpus = Corpus.load(str(NAMES))
    r = rnnbench.train(corpus=corpus, records="lines", hidden_size=24, seq_length=12,
                       updates=800, trace_every=100, eval_every=400, sample_every=400,
                       sample_length=30)
    t, s = r.trace, r.summary
    first, last = t["loss_per_char"].iloc[0], t["loss_per_char"].iloc[-1]
    assert last < first - 0.5, (first, last)
    assert s["status"] == "ok" and s["train_records"] + s["val_records"] == 305
    assert np.isfinite(s["final_val_loss_per_char"])
    assert (np.diff(t["chars_seen"]) > 0).all() and t["chars_seen"].iloc[-1] < 800 * 12
    assert t["epoch"].iloc[-1] >= 2
    # samples start a record (fed the end symbol, which no sample shows) and end with it
    assert (r.samples["prime"] == "").all()
    assert not r.samples["text"].str.contains(END, regex=False).any()
    assert r.model.end_symbol == END
    r.model.save(tmp_path / "m.npz")
    assert load_checkpoint(tmp_path / "m.npz")[0].end_symbol == END


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_every_cell_with_layers_dropout_and_batch(cell):
    corpus = Corpus.load(str(NAMES))
    cfg = dict(TINY, cell=cell, num_layers=2, dropout=0.2, batch_size=4, updates=80,
               records="lines")
    a = rnnbench.train(corpus=corpus, **cfg)
    b = rnnbench.train(corpus=corpus, **cfg)
    assert a.summary["status"] == "ok"
    assert np.array_equal(a.model.theta, b.model.theta)
    assert a.trace[["loss", "val_loss_per_char"]].equals(b.trace[["loss", "val_loss_per_char"]])
    assert a.optimizer_state["cursors"].shape == (4, 3)


def test_more_streams_than_records_is_an_error():
    corpus = Corpus.from_text("a\nb\nc\n", 0.0)
    with pytest.raises(CorpusError, match="2 training records, fewer than batch_size = 3"):
        rnnbench.train(corpus=corpus, records="lines", batch_size=3, updates=1, data_limit=2)
    with pytest.raises(CorpusError, match="no CSV column"):
        rnnbench.train(corpus=corpus, records="csv:x", updates=1)


def test_cli_train_and_sample_in_records_mode(tmp_path):
    out = tmp_path / "run"
    code, stdout, err = run_cli("train", "--data", NAMES, "--records", "lines", "--updates", 200,
                                "--hidden-size", 16, "--quiet", "--out", out)
    assert code == 0, err
    assert "records, end symbol" in stdout
    assert json.loads((out / "config.json").read_text())["records"] == "lines"
    assert load_checkpoint(out / "checkpoint.npz")[0].end_symbol == END
    code, stdout, err = run_cli("sample", out, "--length", 20)
    assert code == 0, err
    code, _, err = run_cli("train", "--data", NAMES, "--records", "json", "--quiet")
    assert code == 2 and "records: expected" in err


def test_grid_with_records_runs_and_reports(tmp_path):
    grid = tmp_path / "g.yaml"
    grid.write_text(f"name: rec\ndata: {NAMES}\nbase: {{records: lines, hidden_size: 10, "
                    f"seq_length: 8, updates: 60, trace_every: 20, eval_every: 60, "
                    f"sample_every: 0, data_limit: 100}}\ngrid: {{cell: [rnn, gru]}}\n"
                    f"samples: {{temperatures: [0.5, 1.0], length: 30}}\n")
    out = tmp_path / "out"
    code, stdout, err = run_cli("run", grid, "--jobs", 1, "--out", out, "--quiet")
    assert code == 0, err
    runs = pd.read_parquet(out / "runs.parquet")
    assert list(runs["status"]) == ["ok", "ok"]
    assert set(runs["train_records"]) == {90}
    samples = pd.read_parquet(out / "samples.parquet")
    assert (samples["kind"] == "final").sum() == 4
    assert "A passage from the best configuration" in (out / "report.md").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"data: {NAMES}\nbase: {{records: 'csv:name'}}\n")
    code, _, err = run_cli("run", bad, "--dry-run")
    assert code == 2 and "no CSV column 'name'" in err


def test_jsonl_and_csv_records_train():
    tweets = ["just setting up", "hello world", "records mode works", "a", "bc de"]
    jsonl = "".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(tweets))
    csv_text = "id,text\n" + "".join(f'{i},"{t}"\n' for i, t in enumerate(tweets))
    for text, spec in ((jsonl, "jsonl:text"), (csv_text, "csv:text")):
        r = rnnbench.train(corpus=Corpus.from_text(text, 0.2), records=spec, updates=40, **TINY)
        assert r.summary["status"] == "ok" and r.summary["train_records"] == 4
        assert r.summary["corpus"] == f"<text> [records {spec}]"


def test_plain_run_ids_ignore_the_unset_records_field():
    from rnnbench.experiments.grid import run_id
    config = RunConfig()
    assert "records" in config.model_dump()
    assert run_id(config, "0" * 64) != run_id(config.replace(records="lines"), "0" * 64)
    assert run_id(config, "0" * 64) == "b50a39a9d34c"  # the id before records mode existed


def test_smooth_loss_starts_at_the_uniform_loss_of_a_mean_chunk():
    corpus = RecordCorpus(["abcdefghij", "k"], 0.0)  # 11 + 2 targets in 3 + 1 chunks of T = 4
    run = _state(corpus, seq_length=4)
    assert run.smooth == pytest.approx(math.log(corpus.vocab_size) * 13 / 4)
