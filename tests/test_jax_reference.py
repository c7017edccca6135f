"""The JAX contender (rnnbench/reference/jax.py) against rnnbench's own training, in both forms,
for every cell with batch 1 and 3 and one and two layers; its thread control in a fresh
process. Skipped when JAX is not installed."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("jax")

from rnnbench.reference import jax as jr  # noqa: E402
from rnnbench.text.loading import CorpusError  # noqa: E402
from rnnbench.model.model import Model  # noqa: E402
from rnnbench.training.state import TrainState  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
T, H, PART, UPDATES = 5, 12, 23, 10  # streams of 23 ids: the pointer wraps at updates 4 and 8
# (cell, batch, layers, form): form 1 for each cell with batch 1 and 3 and one and two layers;
# form 2, whose own code (the wrap rule and the carry inside the jit) is the same for every cell,
# on three of them that still cover each cell, batch and depth. Each is one compiled program.
FLOAT64_CASES = [("rnn", 1, 1, "update"), ("rnn", 3, 2, "update"), ("lstm", 1, 2, "update"),
                 ("lstm", 3, 1, "update"), ("gru", 1, 2, "update"), ("gru", 3, 1, "update"),
                 ("rnn", 3, 2, "loop"), ("lstm", 1, 2, "loop"), ("gru", 3, 1, "loop")]
FLOAT32_CASES = [("rnn", 1, 1, "loop"), ("lstm", 3, 2, "loop"), ("gru", 1, 1, "update")]
# float32 carries 7 digits, summed in another order (rnnbench adds the loss in float64, with
# its own exp); AdaGrad then turns ulp-sized differences of tiny gradients into differences of
# its normalised steps. Measured: losses within 4e-7 relative, weights and state within 1.1e-5
# after ten updates.
FLOAT32_LOSS_RTOL, FLOAT32_ATOL = 1e-5, 3e-4


@pytest.fixture(scope="module", autouse=True)
def compilation_cache(request):
    """JAX's persistent compilation cache in pytest's cache folder: a warm suite loads the
    programs compiled here (about 2 s each on a busy machine) instead of compiling them."""
    import jax
    try:
        folder = str(request.config.cache.mkdir("jax-compilation-cache"))
    except (AttributeError, OSError):  # no cache plugin, or a read-only checkout
        yield
        return
    keys = ("jax_compilation_cache_dir", "jax_persistent_cache_min_compile_time_secs",
            "jax_persistent_cache_min_entry_size_bytes")
    old = {k: getattr(jax.config, k) for k in keys}
    for k, v in zip(keys, (folder, 0.0, 0)):
        jax.config.update(k, v)
    yield
    for k, v in old.items():
        jax.config.update(k, v)


def case(corpus, cell, batch, layers, dtype):
    """A model with weights large enough for its gates to saturate, random biases (so the gate
    order and each bias are exercised from the first update), and B streams of PART ids."""
    rng = np.random.default_rng(7)
    model = Model.create(cell, corpus.vocab_size, H, layers, "tanh", dtype, seed=5,
                         init_scale=0.3)
    for name, p in model.params.items():
        if name.startswith("b"):
            p[...] = rng.standard_normal(p.shape) * 0.3
    return model, corpus.train_ids[1000:1000 + batch * PART]


def rnnbench_run(model, data, batch):
    ts = TrainState(model.copy(), data, T, batch_size=batch)
    losses = np.zeros(UPDATES)
    assert ts.run(losses, np.zeros(UPDATES)) == UPDATES
    return losses, ts


def jax_run(form, model, data, batch):
    """UPDATES updates: form 1 as one step then a run; form 2 as two runs of the same size
    (one compiled program), so both carry pointer and state across calls."""
    if form == "update":
        j = jr.JaxUpdate(model.copy(), data, T, batch_size=batch)
        first = j.step()
        assert j.run(UPDATES - 1) == UPDATES - 1
        losses = [first, *j.losses()]
    else:
        j = jr.JaxLoop(model.copy(), data, T, batch_size=batch)
        losses = []
        for _ in range(2):
            assert j.run(UPDATES // 2) == UPDATES // 2
            losses += list(j.losses())
    return np.array(losses), j


def check_agreement(corpus, form, cell, batch, layers, dtype, loss_rtol, weight_atol):
    model, data = case(corpus, cell, batch, layers, dtype)
    want, ts = rnnbench_run(model, data, batch)
    assert ts.epoch == 2  # both wraps (pointer to 0, zero state) happened
    got, j = jax_run(form, model, data, batch)
    np.testing.assert_allclose(got, want, rtol=loss_rtol)
    assert (j.p, j.n) == (ts.counters[0], ts.counters[1])
    np.testing.assert_allclose(j.parameters(), ts.model.theta, rtol=0, atol=weight_atol)
    np.testing.assert_allclose(j.hidden_state(), ts.h, rtol=0, atol=weight_atol)
    assert not np.allclose(j.parameters(), model.theta)  # it trained
    kernels = j.product_kernels()  # of the program that ran: read from JAX's cache
    assert set(kernels) <= {"YNNPACK", "XNNPACK", "oneDNN", "Eigen", "XLA codegen"}
    assert sum(kernels.values()) >= 4  # at least W_hh h, W_hy h and their gradients


@pytest.mark.parametrize("cell, batch, layers, form", FLOAT64_CASES)
def test_float64_agrees_with_rnnbench(corpus, cell, batch, layers, form):
    # measured: losses within 2e-15 relative, weights and state within 4e-13
    check_agreement(corpus, form, cell, batch, layers, "float64", 1e-10, 1e-10)


@pytest.mark.parametrize("cell, batch, layers, form", FLOAT32_CASES)
def test_float32_agrees_with_rnnbench(corpus, cell, batch, layers, form):
    check_agreement(corpus, form, cell, batch, layers, "float32", FLOAT32_LOSS_RTOL,
                    FLOAT32_ATOL)


def test_the_float32_tolerances_would_catch_a_real_difference(corpus):
    """rnnbench itself with the learning rate off by 1% falls outside them."""
    model, data = case(corpus, "lstm", 3, 2, "float32")
    want, ts = rnnbench_run(model, data, 3)
    other = TrainState(model.copy(), data, T, learning_rate=0.101, batch_size=3)
    got = np.zeros(UPDATES)
    other.run(got, np.zeros(UPDATES))
    assert got[0] == want[0]  # the same weights give the same first loss
    assert np.max(np.abs(got - want) / want) > FLOAT32_LOSS_RTOL
    assert np.max(np.abs(other.model.theta - ts.model.theta)) > FLOAT32_ATOL


def test_bad_input_is_refused_before_anything_compiles(corpus):
    model = Model.create("rnn", corpus.vocab_size, H)
    ids = np.asarray(corpus.train_ids[:30], dtype=np.int64)
    with pytest.raises(ValueError, match=r"ids outside \[0, "):
        jr.JaxUpdate(model, np.r_[ids, corpus.vocab_size], T)
    with pytest.raises(ValueError, match="ids outside"):
        jr.JaxLoop(model, np.r_[-1, ids], T)
    with pytest.raises(ValueError, match="1-D array of character ids"):
        jr.JaxLoop(model, np.zeros((3, 30), np.int64), T)
    with pytest.raises(ValueError, match="1-D array of character ids"):
        jr.JaxLoop(model, np.zeros(30), T)
    with pytest.raises(CorpusError, match="fewer than seq_length"):
        jr.JaxUpdate(model, corpus.train_ids[:3 * T], T, batch_size=3)
    j = jr.JaxUpdate(model, corpus.train_ids[:40], T)
    for bad in (-1, 2.5, True, "3"):
        with pytest.raises(ValueError, match="integer >= 0"):
            j.run(bad)
    assert j.n == 0  # nothing ran


def test_product_kernels_reads_the_compiled_program():
    text = textwrap.dedent("""\
        %fused_computation (p0: f32[2,3], p1: f32[3,4]) -> f32[2,4] {
          ROOT %dot_general.0 = f32[2,4]{1,0} dot(%p0, %p1), lhs_contracting_dims={1}
        }

        %fused_computation.1 (p0: f32[4]) -> f32[] {
          ROOT %reduce = f32[] reduce(%p0)
        }

        %fused_computation.2 (p0: f32[2,3], p1: f32[3]) -> f32[2] {
          ROOT %dot.3 = f32[2]{0} dot(%p0, %p1), lhs_contracting_dims={1}
        }

        ENTRY %main.9 (a: f32[2,3], b: f32[3,4], v: f32[3]) -> f32[2,4] {
          %ynn_fusion = f32[2,4]{1,0} fusion(%a, %b), kind=kCustom, calls=%fused_computation, backend_config={"fusion_config":{"kind":"__ynn_fusion"}}
          %ynn_fusion.1 = f32[] fusion(%x), kind=kCustom, calls=%fused_computation.1, backend_config={"fusion_config":{"kind":"__ynn_fusion"}}
          %loop_fusion = f32[2]{0} fusion(%a, %v), kind=kLoop, calls=%fused_computation.2
          %dot.7 = f32[2,4]{1,0} dot(%a, %b), lhs_contracting_dims={1}, rhs_contracting_dims={0}
          ROOT %dot.8 = f32[2]{0} dot(%a, %v), lhs_contracting_dims={1}, rhs_contracting_dims={0}
        }
        """)
    assert jr.product_kernels(text) == {"YNNPACK": 1, "Eigen": 2, "XLA codegen": 1}


THREAD_PROBE = """
import json, os, sys, threading, time
if sys.argv[1] == "started-before":
    import jax
    jax.devices()
from rnnbench.reference import jax as jr
held = jr.hold_to_one_thread()
import jax, jax.numpy as jnp
a = jnp.ones((768, 768), "float32") / 768
f = jax.jit(lambda a: jax.lax.fori_loop(0, 6, lambda i, b: jnp.tanh(b @ a), a))
f(a).block_until_ready()
main, stop, samples = threading.get_native_id(), [], []

def sample():
    # how many of JAX's threads are running or ready to run, sampled every half millisecond
    while not stop:
        n = 0
        for tid in os.listdir("/proc/self/task"):
            if int(tid) in (main, threading.get_native_id()):
                continue
            try:
                n += open(f"/proc/self/task/{tid}/stat").read().rsplit(")", 1)[1].split()[0] == "R"
            except OSError:
                pass
        samples.append(n)
        time.sleep(0.0005)

t = threading.Thread(target=sample)
t.start()
t0 = time.perf_counter()
while time.perf_counter() - t0 < 0.5:
    f(a).block_until_ready()
stop.append(1)
t.join()
masks = {tuple(sorted(os.sched_getaffinity(int(tid)))) for tid in os.listdir("/proc/self/task")}
print(json.dumps(dict(held=held, parallel=sum(n >= 2 for n in samples) / len(samples),
                      masks=sorted(masks), allowed=sorted(os.sched_getaffinity(0)),
                      describe=jr.describe())))
"""


def probe(mode):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", THREAD_PROBE, mode], env=env, check=True,
                         capture_output=True, text=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity call")
def test_jax_computes_on_one_thread_that_may_run_on_any_core():
    got = probe("held")
    assert got["held"] is True
    assert got["parallel"] < 0.1  # measured 0.001-0.02
    assert got["masks"] == [got["allowed"]]  # no thread left pinned to the CPU used at startup
    assert "one thread" in got["describe"] and "Eigen" in got["describe"]
    if len(got["allowed"]) < 2:
        pytest.skip("one CPU: the contrast below needs two")
    # the probe can tell: a backend started before holding it uses more threads at once
    other = probe("started-before")
    assert other["held"] is False and "NOT held" in other["describe"]
    assert other["parallel"] > 0.2  # measured 0.5-0.9 on two cores


def test_importing_the_module_does_not_import_jax():
    code = ("import sys; from rnnbench.reference import jax as jr; "
            "print(jr.available(), 'jax' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(ROOT)),
                         check=True, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["True", "False"]
