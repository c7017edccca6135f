"""Threads: a lone run gets the machine's cores where BLAS threads pay (batch >= 8 or hidden >=
512); a grid's workers and the benchmarks stay at one."""
import os

from threadpoolctl import threadpool_info

from rnnbench.config import RunConfig
from rnnbench.training import threads


def blas_counts():
    return {i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}


def config(**fields):
    return RunConfig.build(dict(updates=1, **fields))


def test_threads_where_they_pay():
    assert threads.blas_threads(config(hidden_size=100), cores=2) == 1
    assert threads.blas_threads(config(hidden_size=100, batch_size=7), cores=2) == 1
    assert threads.blas_threads(config(hidden_size=100, batch_size=8), cores=2) == 2
    assert threads.blas_threads(config(hidden_size=512), cores=4) == 4
    assert threads.blas_threads(config(hidden_size=512), cores=0) == 1


def test_a_lone_run_takes_the_cores_and_a_held_one_does_not():
    big = config(hidden_size=64, batch_size=32)
    with threads.run_threads(big, threads=2):
        assert set(blas_counts().values()) == {2}
    with threads.one_thread():
        with threads.run_threads(big, threads=2):  # a grid's worker, a benchmark
            assert set(blas_counts().values()) == {1}
    with threads.run_threads(config(hidden_size=64)):  # batch 1: one thread, no slow-down
        assert set(blas_counts().values()) == {1}


def test_the_usual_variables_cap_the_threads(monkeypatch):
    big = config(hidden_size=64, batch_size=32)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    assert threads.blas_threads(big) == 1
    monkeypatch.delenv("OPENBLAS_NUM_THREADS")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert threads.blas_threads(big) == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "")  # set but empty: no cap
    assert threads.blas_threads(big) == len(os.sched_getaffinity(0))
