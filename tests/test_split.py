"""A batch split over threads (training/split.py): one part is the unsplit loop bit for bit;
several parts are the unsplit batch up to the order of some sums (the same dropout masks, the
loss averaged over the whole batch); the bits depend on the parts alone, not on the threads;
a lone run splits, a held one does not, and a split run resumes exactly, on any thread count."""
import os

import numpy as np
import pytest

from rnnbench.compiled import dropout_key
from rnnbench.experiments.run_folder import save_run
from rnnbench.experiments.sources import read_resume
from rnnbench.kernels.dropout import fill_mask
from rnnbench.model.model import Model, load_checkpoint
from rnnbench.text.corpus import Corpus
from rnnbench.training import threads
from rnnbench.training.driver import train
from rnnbench.training.split import SplitTrainState, part_bounds
from rnnbench.training.state import TrainState
from test_resume import assert_same_run

CORPUS = Corpus.load("pydoc")
DATA = CORPUS.train_ids[:1000]  # 4 streams of 250: the 70-update runs below wrap twice


def state(cls, B=4, dropout=0.3, lr=0.1, **kw):
    model = Model.create("lstm", CORPUS.vocab_size, 8, 2, "tanh", "float64", 3)
    return cls(model, DATA, 10, lr, batch_size=B, dropout=dropout, seed=5, **kw)


def run(st, chunks=(30, 40)):
    """Losses and smooth losses of the chunks' updates."""
    out = []
    for n in chunks:
        losses, smooths = np.zeros(n), np.zeros(n)
        done = st.run(losses, smooths)
        out.append((losses[:done], smooths[:done]))
    return [np.concatenate(x) for x in zip(*out)]


def test_one_part_is_the_unsplit_loop_bit_for_bit():
    a, b = state(TrainState), state(SplitTrainState, parts=1)
    for x, y in zip(run(a), run(b)):
        assert x.tobytes() == y.tobytes()
    assert a.model.theta.tobytes() == b.model.theta.tobytes()
    assert a.h.tobytes() == b.h.tobytes() and a.smooth == b.smooth
    assert a.counters.tolist() == b.counters.tolist() and a.epoch == b.epoch == 2
    for name, arr in a.arrays().items():
        assert np.asarray(arr).tobytes() == np.asarray(b.arrays()[name]).tobytes(), name


@pytest.mark.parametrize("parts", [2, 4])
def test_parts_are_the_unsplit_batch_up_to_rounding(parts):
    a, b = state(TrainState), state(SplitTrainState, parts=parts)
    (la, sa), (lb, sb) = run(a), run(b)
    np.testing.assert_allclose(lb, la, rtol=1e-12)
    np.testing.assert_allclose(sb, sa, rtol=1e-12)
    np.testing.assert_allclose(b.model.theta, a.model.theta, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(b.h, a.h, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(b.mem, a.mem, rtol=1e-10, atol=1e-12)
    assert a.counters.tolist() == b.counters.tolist()
    # and not by accident: the dropout masks matter (other masks move the losses by far more)
    c = state(TrainState)
    c.seed = 6
    assert np.max(np.abs(run(c)[0] - la)) > 1e-3


def test_a_part_draws_its_rows_of_the_whole_batchs_masks():
    T, B, H, key = 3, 6, 5, np.uint64(dropout_key(7, 11))
    whole = np.empty((T * B, H))
    fill_mask(whole, key, 1, 0.4, B, B, 0)
    for first, n in part_bounds(B, 3):
        part = np.empty((T * n, H))
        fill_mask(part, key, 1, 0.4, n, B, first)
        rows = [t * B + first + b for t in range(T) for b in range(n)]
        assert part.tobytes() == whole[rows].tobytes()


def test_the_bits_depend_on_the_parts_not_on_the_threads():
    ref = state(SplitTrainState, parts=4, threads=1)
    run(ref)
    for n in (2, 3, 4):
        st = state(SplitTrainState, parts=4, threads=n)
        run(st)
        assert st.model.theta.tobytes() == ref.model.theta.tobytes(), n
        assert st.h.tobytes() == ref.h.tobytes(), n


def test_a_non_finite_loss_stops_where_the_unsplit_loop_stops():
    a, b = state(TrainState), state(SplitTrainState, parts=2)
    for st in (a, b):
        run(st, (20,))
        st.model.theta[-1] = np.inf  # an output bias: the next loss is not finite
    before = [(st.model.theta.copy(), st.h.copy(), st.mem.copy()) for st in (a, b)]
    (la, sa), (lb, sb) = run(a, (30,)), run(b, (30,))
    assert len(la) == len(lb) == 1 and not np.isfinite(lb[0]) and not np.isfinite(sb[0])
    assert a.counters.tolist() == b.counters.tolist() == [200, 20, 0]  # not counted
    for st, arrays in zip((a, b), before):  # and nothing else changed
        for x, y in zip((st.model.theta, st.h, st.mem), arrays):
            assert x.tobytes() == y.tobytes()


def test_bad_splits_are_refused():
    for B, parts in ((4, 5), (6, 4), (4, 0)):
        with pytest.raises(ValueError, match=f"parts: {parts} parts must split the batch of "
                                             f"{B} streams evenly"):
            state(SplitTrainState, B=B, parts=parts)


SPLIT = dict(cell="lstm", hidden_size=8, num_layers=2, dropout=0.3, batch_size=16,
             seq_length=10, data_limit=20000, updates=300, trace_every=20, eval_every=100,
             sample_every=150, sample_length=20)


def test_a_lone_run_splits_and_resumes_exactly_on_any_thread_count(tmp_path, monkeypatch):
    monkeypatch.setattr(threads, "usable_cores", lambda: 2)  # a 2-core machine, whatever this is
    whole = tmp_path / "whole"
    save_run(train(SPLIT), whole)
    assert load_checkpoint(os.path.join(whole, "checkpoint.npz"))[2]["loop"]["parts"] == 2
    with threads.one_thread():  # a grid's worker: the whole batch on one thread
        held = train(SPLIT)
    assert held.loop["parts"] == 1

    legs = tmp_path / "legs"
    asked = []
    first = train(SPLIT, should_stop=lambda: asked.append(1) or len(asked) == 4)
    assert first.summary["status"] == "stopped"
    save_run(first, legs)
    with threads.one_thread():  # continued where it shares the machine: still two parts
        resume = read_resume(legs)
        result = train(resume.config, resume=resume)
    assert result.loop["parts"] == 2
    save_run(result, legs)
    assert_same_run(whole, legs)


def test_a_checkpoint_whose_parts_do_not_split_its_batch_is_refused(tmp_path, monkeypatch):
    """The parts a checkpoint records are read as they are only if they split its batch: a
    forged or damaged number is one line, not a traceback or another run's numbers."""
    from rnnbench.experiments import sources
    monkeypatch.setattr(threads, "usable_cores", lambda: 2)
    save_run(train(dict(SPLIT, num_layers=1, dropout=0.0, updates=20)), tmp_path / "run")
    assert read_resume(tmp_path / "run").loop["parts"] == 2
    real = sources.load_checkpoint
    for bad in (3, 0, -2, 32, None, "2", 2.0, True):
        def forged(path, bad=bad):
            model, arrays, info = real(path)
            return model, arrays, dict(info, loop=dict(info["loop"], parts=bad))
        monkeypatch.setattr(sources, "load_checkpoint", forged)
        with pytest.raises(ValueError, match=r"run: damaged, cannot resume \(its checkpoint "
                                             rf"splits a batch of 16 into {bad!r} parts\)$"):
            read_resume(tmp_path / "run")


def test_the_memory_estimate_counts_the_parts_copies():
    from rnnbench.config import RunConfig
    from rnnbench.model.layout import parameter_count, state_rows
    from rnnbench.training.resources import run_memory
    config = RunConfig.build(dict(SPLIT, batch_size=32))
    one, two = (run_memory(config, CORPUS, saving=False, parts=p) for p in (1, 2))
    weights = parameter_count("lstm", CORPUS.vocab_size, 8, 2) * 8
    state = state_rows("lstm", 2) * 32 * 8 * 8
    assert two.parts["parameters"] - one.parts["parameters"] == 2 * weights + 2 * state
    assert "1 more weights and gradient for the split batch" in two.notes["parameters"]


def test_the_closing_line_says_the_batch_was_split():
    from rnnbench.cli.train import _speed_line
    s = dict(wall_s=2.0, train_s=1.5, updates=300, chars_seen=120000, updates_per_s=200.0)
    assert _speed_line(s, 2).endswith("(training alone 1.5 s: 200 updates/s; the batch split "
                                      "over 2 threads)")
    assert _speed_line(s).endswith("(training alone 1.5 s: 200 updates/s)")


def test_a_call_of_no_updates_compiles_and_changes_nothing():
    from rnnbench.compiled import finish_update, part_gradient
    st = state(SplitTrainState, parts=2)
    before = (st.model.theta.copy(), st.h.copy(), st.counters.copy(), st.smooth)
    assert st.run(np.zeros(0), np.zeros(0)) == 0
    assert part_gradient.signatures and finish_update.signatures
    after = (st.model.theta, st.h, st.counters, st.smooth)
    assert all(np.array_equal(x, y) for x, y in zip(before, after))


def test_a_grid_of_one_run_splits_in_its_worker(tmp_path):
    """The grid's worker starts with one thread per library (its environment says 1); the
    only run of a grid still gets the cores its parent counted (threads.granted_cores)."""
    from conftest import run_cli
    grid = tmp_path / "one.yaml"
    grid.write_text("base: {cell: lstm, hidden_size: 8, batch_size: 16, updates: 60, "
                    "eval_every: 60, sample_every: 0, data_limit: 20000}\n")
    code, out, err = run_cli("run", grid, "--out", tmp_path / "out", "--no-report")
    assert code == 0, out + err
    assert "1 local worker" in out  # not this process (that is --jobs 1)
    [folder] = (tmp_path / "out" / "runs").iterdir()
    info = load_checkpoint(os.path.join(folder, "checkpoint.npz"))[2]
    assert info["loop"]["parts"] == min(2, len(os.sched_getaffinity(0)))
