"""Hostile files: devices, named pipes, sockets and oversized files are refused before they are
read; checkpoints are read by their known members only, each checked before its data; the text
a checkpoint names is read only if it is a regular file, for a checksum recorded by the run.

Whatever could block (a FIFO) or read without end (/dev/zero) runs in a child process with a
timeout and an address-space limit, so that a regression fails the test instead of hanging or
exhausting the machine."""
import io
import json
import os
import resource
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli
from rnnbench.model.checkpoint import CheckpointError
from rnnbench.config import RunConfig
from rnnbench.text.corpus import Corpus, CorpusError
from rnnbench.model.model import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]


def refused(folder, *args, message, code=2):
    before = sorted(p.name for p in Path(folder).iterdir())
    got, out, err = run_cli(*args)
    assert got == code and message in err and err.count("\n") == 1, (got, out, err)
    assert sorted(p.name for p in Path(folder).iterdir()) == before
    return err


def save_checkpoint(path, model, data="pydoc", checksum=None, **info):
    """A checkpoint as save_run writes one: optimizer slot, state, counters, config, summary."""
    arrays = dict(mem=np.abs(model.theta), h=np.zeros((1, 1, model.hidden_size)),
                  counters=np.array([0, 5, 0]), smooth=np.array(1.5))
    config = RunConfig(data=data, hidden_size=model.hidden_size).model_dump()
    summary = {"corpus_checksum": checksum, "final_val_loss_per_char": 2.5}
    model.save(path, arrays, {"config": config, "summary": summary, **info})
    return path


# -- a child process for whatever could block or never end ---------------------------------

CHILD = r"""
import json, os, sys
sys.path.insert(0, os.path.join(sys.argv[1], "tests"))
from conftest import run_cli
results = {}
for name, args in json.loads(sys.argv[2]).items():
    results[name] = run_cli(*args)
import rnnbench.disk.reading as reading
from rnnbench.text.loading import CorpusError, read_text
real_stat = os.stat
reading.os.stat = lambda path, *a, **k: real_stat("regular.txt") if str(path) == "fifo.txt" \
    else real_stat(path, *a, **k)  # the FIFO looks regular until it is opened
try:
    read_text("fifo.txt")
    results["swapped after stat"] = [0, "", "read"]
except CorpusError as exc:
    results["swapped after stat"] = [2, "", str(exc) + "\n"]
print(json.dumps(results))
"""


def run_child(tmp_path, cases, env=None):
    def limit():  # a regression reading /dev/zero stops at 3 GB, not at the machine's end
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
    env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    proc = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), json.dumps(cases)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180,
                          preexec_fn=limit)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1])


def test_pipes_devices_and_sockets_are_refused_without_reading(tmp_path, small_model):
    os.mkfifo(tmp_path / "fifo.txt")
    (tmp_path / "regular.txt").write_text("a regular text\n" * 10)
    os.symlink(tmp_path / "fifo.txt", tmp_path / "link.txt")
    os.symlink("/dev/zero", tmp_path / "zero.txt")
    os.mkfifo(tmp_path / "g.yaml")
    (tmp_path / "g2.yaml").write_text("data: [pydoc, fifo.txt]\n")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock.txt"))
    # run folders and a grid folder whose files are pipes
    (tmp_path / "pipe-ckpt").mkdir()
    os.mkfifo(tmp_path / "pipe-ckpt" / "checkpoint.npz")
    (tmp_path / "pipe-summary").mkdir()
    save_checkpoint(tmp_path / "pipe-summary" / "checkpoint.npz", small_model)
    os.mkfifo(tmp_path / "pipe-summary" / "summary.json")
    (tmp_path / "pipe-text").mkdir()
    save_checkpoint(tmp_path / "pipe-text" / "checkpoint.npz", small_model, data="fifo.txt",
                    checksum="0" * 64)
    (tmp_path / "pipe-runs").mkdir()
    os.mkfifo(tmp_path / "pipe-runs" / "runs.parquet")
    (tmp_path / "data").mkdir()
    os.mkfifo(tmp_path / "data" / "gutenberg-1.txt")
    os.symlink("/dev/urandom", tmp_path / "data" / "random.txt")
    cases = {
        "fifo": ["train", "--data", "fifo.txt", "--updates", "1"],
        "link to fifo": ["train", "--data", "link.txt", "--updates", "1"],
        "/dev/zero": ["train", "--data", "/dev/zero", "--updates", "1"],
        "/dev/urandom": ["data", "info", "/dev/urandom"],
        "link to /dev/zero": ["gradcheck", "--data", "zero.txt"],
        "/dev/null": ["train", "--data", "/dev/null", "--updates", "1"],
        "socket": ["train", "--data", "sock.txt", "--updates", "1"],
        "directory": ["train", "--data", "data", "--updates", "1"],
        "records fifo": ["train", "--data", "fifo.txt", "--records", "lines"],
        "grid fifo": ["run", "g.yaml"],
        "grid text fifo": ["run", "g2.yaml", "--dry-run"],
        "checkpoint fifo": ["sample", "pipe-ckpt"],
        "summary fifo": ["sample", "pipe-summary"],
        "training text fifo": ["sample", "pipe-text", "--length", "20"],
        "runs table fifo": ["sample", "pipe-runs", "--best"],
        "downloaded fifo": ["data", "get", "gutenberg:1"],
        "data list": ["data", "list"],
    }
    got = run_child(tmp_path, cases)
    sock.close()
    expected = {
        "fifo": "fifo.txt: a named pipe (FIFO), not a regular file; rnnbench reads a text only "
                "from a regular file",
        "link to fifo": "link.txt: a named pipe (FIFO)",
        "/dev/zero": "/dev/zero: a character device, not a regular file",
        "/dev/urandom": "/dev/urandom: a character device",
        "link to /dev/zero": "zero.txt: a character device",
        "/dev/null": "/dev/null: a character device",
        "socket": "sock.txt: a socket, not a regular file",
        "directory": "data: a directory, not a regular file",
        "records fifo": "fifo.txt: a named pipe (FIFO)",
        "grid fifo": "g.yaml: a named pipe (FIFO), not a regular file; rnnbench reads a grid "
                     "file only from a regular file",
        "grid text fifo": "g2.yaml: grid.data: fifo.txt: a named pipe (FIFO)",
        "checkpoint fifo": "checkpoint.npz: a named pipe (FIFO)",
        "summary fifo": "summary.json: a named pipe (FIFO), not a regular file; rnnbench reads "
                        "a run summary only",
        "runs table fifo": "runs.parquet: a named pipe (FIFO)",
        "downloaded fifo": "gutenberg-1.txt: a named pipe (FIFO)",
        "swapped after stat": "fifo.txt: a named pipe (FIFO), not a regular file",
    }
    for name, message in expected.items():
        code, _, err = got[name]
        assert code == 2 and message in err and err.count("\n") == 1, (name, got[name])
    code, out, err = got["training text fifo"]  # the sample is drawn, novelty is not measured
    assert code == 0 and len(out) > 20
    assert "novelty: not measured: its training text cannot be read (fifo.txt: a named pipe" \
        in err
    code, out, _ = got["data list"]
    assert code == 0 and "gutenberg:1" in out and "a named pipe (FIFO)" in out
    assert "random.txt" in out and "a character device" in out
    assert not (tmp_path / "results").exists()


def test_size_limit_and_how_to_raise_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with open(tmp_path / "huge.txt", "wb") as f:  # sparse: refused by its size, never read
        f.truncate(300 * 2**20)
    refused(tmp_path, "train", "--data", "huge.txt", message="huge.txt: 300 MB, more than "
            "the 256 MB a text may have; set RNNBENCH_MAX_TEXT_MB (now 256) to read a bigger one")
    (tmp_path / "two.txt").write_text("abcdefgh\n" * (2 * 2**20 // 9 + 1))
    monkeypatch.setenv("RNNBENCH_MAX_TEXT_MB", "1")
    with pytest.raises(CorpusError, match="two.txt: 2,097,153 bytes, more than the 1 MB"):
        Corpus.load("two.txt")
    monkeypatch.setenv("RNNBENCH_MAX_TEXT_MB", "3")
    assert len(Corpus.load("two.txt").text) == 2_097_153
    for bad in ("0", "lots", "-5", "1.5"):
        monkeypatch.setenv("RNNBENCH_MAX_TEXT_MB", bad)
        refused(tmp_path, "data", "info", "two.txt", message="RNNBENCH_MAX_TEXT_MB: expected a "
                f"whole number of megabytes >= 1, got '{bad}'")


# -- checkpoints ------------------------------------------------------------------------------

def npy(array=None, header=None, data=b""):
    """The bytes of an .npy member: an array, or a hand-made header and (short) data."""
    f = io.BytesIO()
    if array is not None:
        np.lib.format.write_array(f, np.asarray(array), allow_pickle=True)
    else:
        np.lib.format.write_array_header_1_0(f, header)
        f.write(data)
    return f.getvalue()


def rewrite(src, dst, drop=(), compress=False, **members):
    """A copy of the checkpoint ``src`` with members replaced or added (name -> .npy bytes)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(
            dst, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as zout:
        for item in zin.infolist():
            name = item.filename[:-4]
            if name not in members and name not in drop:
                zout.writestr(item.filename, zin.read(item))
        for name, raw in members.items():
            zout.writestr(name + ".npy", raw)
    return dst


@pytest.fixture
def checkpoint(tmp_path, small_model, corpus):
    return save_checkpoint(tmp_path / "good.npz", small_model, checksum=corpus.checksum)


def meta_with(model, **changes):
    return npy(np.array(json.dumps({**model.meta(), **changes})))


def test_unknown_members_are_never_read(tmp_path, checkpoint, small_model, monkeypatch):
    """An unused member announcing 8 TB (and holding nothing) costs nothing: it is not read."""
    huge = dict(descr="<f8", fortran_order=False, shape=(10**12,))
    path = rewrite(checkpoint, tmp_path / "extra.npz", junk=npy(header=huge),
                   x_unknown=npy(header=huge), x_zeros=npy(np.zeros(10**6)))
    read = []
    real = np.lib.format.read_array
    monkeypatch.setattr(np.lib.format, "read_array", lambda f, **kw: read.append(f.name) or
                        real(f, **kw))
    model, arrays, info = load_checkpoint(path)
    assert np.array_equal(model.theta, small_model.theta)
    assert sorted(arrays) == ["counters", "h", "mem", "smooth"]
    assert "junk.npy" not in read and "x_zeros.npy" not in read
    assert info["config"]["hidden_size"] == 16


def test_a_big_unused_array_does_not_cost_its_size(tmp_path, checkpoint):
    """The issue's case in small: 80 MB of zeros compressed into a checkpoint of under 1 MB;
    sampling from it stays far below 80 MB of peak memory (measured in a child process)."""
    path = rewrite(checkpoint, tmp_path / "zeros.npz", compress=True,
                   x_unused=npy(np.zeros(10**7)))
    assert path.stat().st_size < 2**20
    code = ("import resource, sys\nfrom rnnbench.model.model import load_checkpoint\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "load_checkpoint(sys.argv[1])\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) < 40_000  # kB: half the array, far above the checkpoint's 0.1 MB


@pytest.mark.parametrize("change, message", [
    (dict(x_mem=npy(np.arange(3.0))), "x_mem: an array of float64 x (3,) does not fit the "
     "model"),
    (dict(x_mem=npy(header=dict(descr="<f8", fortran_order=False, shape=(10**12,)))),
     "x_mem: an array of float64 x (1000000000000,) does not fit"),
    (dict(x_h=npy(np.array([{"a": 1}], dtype=object))), "x_h.npy: holds objects or records "
     "(object), not numbers; refused"),
    (dict(theta=npy(np.zeros(10, dtype=np.float32))), "theta: an array of float32 x (10,)"),
    (dict(x_counters=npy(np.zeros(3))), "x_counters: an array of float64 x (3,) does not fit"),
    (dict(x_h=npy(np.zeros((1, 3, 16)))), "x_h: an array of float64 x (1, 3, 16) does not fit"),
    (dict(x_cursors=npy(np.zeros((5, 3), dtype=np.int64))), "x_cursors: an array of int64"),
    ("truncated theta", "theta: the member holds"),
    (dict(meta=npy(np.array(json.dumps({"cell": "rnn"})))), "meta.activation: expected one of"),
    ("meta hidden_size true", "meta.hidden_size: expected an integer from 1 to 16777216, got "
     "True"),
    ("meta hidden_size huge", "meta.hidden_size: expected an integer from 1 to 16777216"),
    ("meta chars repeated", "meta.chars: expected 103 distinct characters"),
    (dict(meta=npy(np.array("[" * 100000))), "meta: not valid JSON"),
    (dict(meta=npy(header=dict(descr="<U100000000", fortran_order=False, shape=()))),
     "meta: expected a JSON text, got an array of <U100000000 x ()"),
    (dict(info=npy(np.array("[]"))), "info: expected a JSON object"),
    (dict(info=npy(np.array('{"config": [1]}'))), "info.config: expected a JSON object"),
    ("no meta", "not a checkpoint (no 'meta' member)"),
    ("many members", "not a checkpoint (2,000 members; a checkpoint has at most a dozen)"),
    ("npy file", "not a checkpoint (not an .npz archive)"),
    ("pickle file", "not a checkpoint (not an .npz archive)"),
])
def test_hostile_checkpoints_are_one_line(tmp_path, checkpoint, small_model, change, message):
    path = tmp_path / "bad.npz"
    theta_size = small_model.theta.size
    if change == "truncated theta":
        raw = npy(small_model.theta)[:-800]
        with zipfile.ZipFile(checkpoint) as z, zipfile.ZipFile(path, "w") as out:
            for item in z.infolist():
                out.writestr(item, raw if item.filename == "theta.npy" else z.read(item))
    elif change.__class__ is str and change.startswith("meta "):
        fields = {"meta hidden_size true": dict(hidden_size=True),
                  "meta hidden_size huge": dict(hidden_size=10**9),
                  "meta chars repeated": dict(chars=["a"] * small_model.vocab_size)}[change]
        rewrite(checkpoint, path, meta=meta_with(small_model, **fields))
    elif change == "no meta":
        rewrite(checkpoint, path, drop=("meta",))
    elif change == "many members":
        with zipfile.ZipFile(path, "w") as z:
            for i in range(2000):
                z.writestr(f"m{i}", b"")
    elif change == "npy file":
        path.write_bytes(npy(np.zeros(theta_size)))
    elif change == "pickle file":
        import pickle
        path.write_bytes(pickle.dumps({"theta": np.zeros(3)}))
    else:
        rewrite(checkpoint, path, **change)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    assert message in str(err.value) and "\n" not in str(err.value)
    run = tmp_path / "run"
    run.mkdir()
    path.rename(run / "checkpoint.npz")
    refused(tmp_path, "sample", run, message=message)


def test_arrays_too_big_for_memory_are_refused_before_reading(checkpoint, monkeypatch):
    import psutil
    from collections import namedtuple
    mem = namedtuple("mem", "available")
    monkeypatch.setattr(psutil, "virtual_memory", lambda: mem(10_000))
    with pytest.raises(CheckpointError, match="its arrays need 0.0 GB, more than the 0.0 GB of "
                       "memory available"):
        load_checkpoint(checkpoint)


def test_save_refuses_what_load_would_refuse(tmp_path, small_model):
    with pytest.raises(ValueError, match="cannot save the array 'notes'"):
        small_model.save(tmp_path / "m.npz", {"notes": np.zeros(3)})
    with pytest.raises(ValueError, match="cannot save the array 'mem': float64 x \\(3,\\)"):
        small_model.save(tmp_path / "m.npz", {"mem": np.zeros(3)})
    assert not list(tmp_path.iterdir())


# -- the text a checkpoint names ----------------------------------------------------------

def test_novelty_reads_only_a_regular_file_with_the_recorded_checksum(tmp_path, small_model,
                                                                      corpus):
    def note(run):
        code, out, err = run_cli("sample", run, "--length", "30")
        assert code == 0 and len(out) > 30, err
        return err
    cases = {"zero": dict(data="/dev/zero", checksum=corpus.checksum),
             "nosum": dict(data="pydoc", checksum=None),
             "other": dict(data="python:argparse", checksum=corpus.checksum),
             "good": dict(data="pydoc", checksum=corpus.checksum)}
    for name, kwargs in cases.items():
        (tmp_path / name).mkdir()
        save_checkpoint(tmp_path / name / "checkpoint.npz", small_model, **kwargs)
    assert "novelty: not measured: its training text cannot be read (/dev/zero: a character " \
        "device, not a regular file" in note(tmp_path / "zero")
    assert "novelty: not measured: the run recorded no checksum of its training text" in \
        note(tmp_path / "nosum")
    assert "its training text python:argparse has changed since the run" in \
        note(tmp_path / "other")
    assert "not measured" not in note(tmp_path / "good")


@pytest.mark.parametrize("summary, message", [
    ("[]", "summary.json: not a run summary (a JSON list, not an object)"),
    ("{", "summary.json: not a run summary (not valid JSON"),
    ("[" * 100000, "summary.json: not a run summary (not valid JSON"),
])
def test_damaged_summary_is_one_line(tmp_path, small_model, summary, message):
    run = tmp_path / "run"
    run.mkdir()
    save_checkpoint(run / "checkpoint.npz", small_model)
    (run / "summary.json").write_text(summary)
    refused(tmp_path, "sample", run, message=message)


def test_odd_summary_values_do_not_break_json_output(tmp_path, small_model):
    run = tmp_path / "run"
    run.mkdir()
    save_checkpoint(run / "checkpoint.npz", small_model)
    (run / "summary.json").write_text('{"final_val_loss_per_char": "low", "corpus": [1]}')
    code, out, err = run_cli("sample", run, "--json", "--length", "10")
    assert code == 0, err
    doc = json.loads(out)["run"]
    assert doc["final_val_loss_per_char"] is None and doc["corpus"] is None


def test_damaged_runs_table_is_one_line(tmp_path):
    (tmp_path / "runs.parquet").write_bytes(b"PAR1 not really")
    refused(tmp_path, "sample", tmp_path, "--best", message="runs.parquet: cannot read the "
            "runs table")


def test_a_runs_table_cannot_point_outside_its_runs(tmp_path):
    import pandas as pd
    pd.DataFrame(dict(run_id=["../../elsewhere"], status=["ok"], final_val_loss_per_char=[1.0])
                 ).to_parquet(tmp_path / "runs.parquet")
    refused(tmp_path, "sample", tmp_path, "--best", message="runs.parquet: not a run id: "
            "'../../elsewhere'")
