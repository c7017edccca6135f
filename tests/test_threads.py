"""Threads: a lone run gets the machine's cores where they pay (its batch split into parts of
>= 8 streams at hidden <= 128; else BLAS threads at batch >= 8 or hidden >= 512); a grid's
workers and the benchmarks stay at one."""
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


def test_a_batch_of_16_or_more_splits_instead_of_blas_threads():
    def plan(cores, **fields):
        c = config(**fields)
        return (threads.split_parts(c, cores), threads.blas_threads(c, cores),
                threads.lone_cores(c, cores))
    assert plan(2, batch_size=15) == (1, 2, 2)        # parts of 7: BLAS threads instead
    assert plan(2, batch_size=16) == (2, 1, 2)
    assert plan(1, batch_size=32) == (1, 1, 1)
    assert plan(4, batch_size=32) == (4, 1, 4)
    assert plan(4, batch_size=24) == (3, 1, 3)        # at least 8 streams a part
    assert plan(8, batch_size=50) == (5, 1, 5)        # parts of one size: 5 x 10
    assert plan(2, batch_size=17) == (1, 2, 2)        # no even split: BLAS threads
    assert plan(2, batch_size=32, hidden_size=128) == (2, 1, 2)
    assert plan(2, batch_size=32, hidden_size=129) == (1, 2, 2)  # products dominate: BLAS
    assert plan(2, batch_size=32, hidden_size=512) == (1, 2, 2)
    assert plan(2, batch_size=32, records="lines") == (1, 2, 2)  # records: their own lengths
    assert plan(2, hidden_size=100) == (1, 1, 1)


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
    assert threads.lone_cores(big) == 1
    monkeypatch.delenv("OPENBLAS_NUM_THREADS")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert threads.lone_cores(big) == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "")  # set but empty: no cap
    assert threads.lone_cores(big) == min(len(os.sched_getaffinity(0)), 32 // threads.MIN_PART)
