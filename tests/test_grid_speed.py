"""A grid's wall clock: kernels compiled once, in the parent, before the runs start (with a line
that says so), and a progress bar whose time left follows the runs' sizes, not their count."""
import io
import textwrap

import pytest

from conftest import run_cli
from rnnbench.config import RunConfig
from rnnbench.experiments import pool, runner
from rnnbench.training import warmup

GRID = """
name: sizes
data: pydoc
base: {updates: 60, trace_every: 20, eval_every: 60, sample_every: 0}
grid:
  hidden_size: [4, 8]
  dtype: [float32]
"""


def test_prepare_kernels_compiles_only_what_the_cache_lacks(monkeypatch):
    calls, said = [], []
    monkeypatch.setattr(warmup, "warmup", lambda dtypes, gradient_check, records, split:
                        calls.append((dtypes, gradient_check, split)))
    monkeypatch.setattr(warmup, "kernels_cached", lambda dtypes, records: True)
    assert warmup.prepare_kernels({"float64"}, said.append) == 0.0
    assert calls == [] and said == []
    monkeypatch.setattr(warmup, "kernels_cached", lambda dtypes, records: False)
    warmup.prepare_kernels({"float64", "float32", "float64"}, said.append)
    # a grid never checks gradients, and its workers never split a batch
    assert calls == [(("float32", "float64"), False, False)]
    assert said[0].startswith("compiling kernels (first run after install)")
    assert said[1].startswith("compiling kernels (first run after install): ")
    assert said[1].endswith(" s")


def test_kernels_cached_reads_numbas_index():
    warmup.warmup(("float64",), gradient_check=False, records=True, split=False)
    assert warmup.kernels_cached(("float64",)) and warmup.kernels_cached(("float64",), True)
    assert not warmup.kernels_cached(("float16",))  # never compiled


def test_a_grid_compiles_before_its_first_run_and_says_so(tmp_path, monkeypatch):
    path = tmp_path / "sizes.yaml"
    path.write_text(textwrap.dedent(GRID))
    events = []
    real_run_one = runner.run_one

    def prepare(dtypes, say, records):
        events.append(("prepare", sorted(dtypes)))
        say("compiling kernels (first run after install): 9 s")
    monkeypatch.setattr(runner, "prepare_kernels", prepare)
    monkeypatch.setattr(runner, "run_one",
                        lambda *task: events.append(("run", task[0])) or real_run_one(*task))
    code, out, err = run_cli("run", path, "--jobs", "1", "--out", tmp_path / "out",
                             "--no-report")
    assert code == 0, out + err
    assert events[0] == ("prepare", ["float32"])
    assert [e[0] for e in events[1:]] == ["run", "run"]
    assert "compiling kernels (first run after install): 9 s" in out


def test_the_bar_moves_by_the_runs_sizes():
    small = RunConfig.build(dict(hidden_size=8, updates=100))
    big = RunConfig.build(dict(hidden_size=256, updates=100))
    costs = {"a": pool.cost(small), "b": pool.cost(big)}
    assert costs["b"] > 10 * costs["a"]
    # an update of batch 32 costs nearly 32 of batch 1; updates scale it exactly
    b32 = RunConfig.build(dict(hidden_size=256, updates=100, batch_size=32))
    assert 20 * costs["b"] < pool.cost(b32) < 32 * costs["b"]
    assert pool.cost(big.model_copy(update=dict(updates=300))) == pytest.approx(3 * costs["b"])
    shown = io.StringIO()
    bar = runner.SizedBar({"long": 3600.0}, jobs=2, file=shown)  # an hour of one core's work
    bar.refresh()
    assert "0/1 runs [00:00<30:00]" in shown.getvalue()  # before any run ends: the model's
    bar.close()
    shown = io.StringIO()
    bar = runner.SizedBar(costs, file=shown)
    bar.finished("b")
    assert bar.n == pytest.approx(costs["b"]) and bar.runs == 1
    assert bar.n / bar.total > 0.9  # the big run is nearly all the work
    bar.refresh()
    assert "1/2 runs" in shown.getvalue() and " 9" in shown.getvalue()  # 9x%
    bar.close()


@pytest.mark.parametrize("sizes, alone", [("[4]", True), ("[4, 8]", False)])
def test_only_a_grid_of_one_run_takes_more_threads(tmp_path, monkeypatch, sizes, alone):
    """A grid's numbers must not depend on how many of its runs were left to do (BLAS threads
    change the order of some sums): only a grid of one run is alone on the machine."""
    from rnnbench.training.threads import lone_cores

    path = tmp_path / "g.yaml"
    path.write_text(GRID.replace("[4, 8]", sizes).replace("[float32]", "[float64]")
                    .replace("sample_every: 0", "sample_every: 0, batch_size: 8"))
    seen = []
    real_run_one = runner.run_one
    monkeypatch.setattr(runner, "run_one",
                        lambda *task: seen.append((task[1], task[5])) or real_run_one(*task))
    code, out, err = run_cli("run", path, "--jobs", "1", "--out", tmp_path / "out",
                             "--no-report")
    assert code == 0, out + err
    assert [threads for _, threads in seen] == [lone_cores(c) if alone else 1 for c, _ in seen]
