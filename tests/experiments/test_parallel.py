from __future__ import annotations

import statistics

import numpy as np
import pytest

from levercast.experiments.parallel import one_blas_thread, run_grid
from levercast.features.errors import ConfigError

# Worker processes import the task function by module path, and test modules are not
# importable under --import-mode=importlib: use a stdlib function over seeded samples.
simulate = statistics.fmean
TASKS = [list(np.random.default_rng(seed).normal(0, 1, 2000)) for seed in range(12)]


def test_serial_threads_and_joblib_give_identical_results():
    serial = run_grid(simulate, TASKS, engine="serial", progress=False)
    parallel = run_grid(simulate, TASKS, engine="joblib", n_jobs=2, progress=False)
    assert serial == parallel
    assert run_grid(simulate, TASKS, engine="threads", n_jobs=3, progress=False) == serial
    assert abs(serial[1]) < 0.1


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_dask_local_cluster_gives_identical_results():
    pytest.importorskip("dask.distributed")
    serial = run_grid(simulate, TASKS, engine="serial", progress=False)
    distributed = run_grid(simulate, TASKS, engine="dask", n_jobs=2, progress=False)
    assert serial == distributed


def test_threads_keep_task_order_and_raise_a_task_error():
    import time

    def slow_first(i: int) -> int:
        time.sleep(0.05 if i == 0 else 0.0)  # the first task finishes last
        if i == 5:
            raise ValueError("task 5 failed")
        return i * i

    assert run_grid(slow_first, range(5), engine="threads", progress=False) == [0, 1, 4, 9, 16]
    with pytest.raises(ValueError, match="task 5 failed"):
        run_grid(slow_first, range(8), engine="threads", progress=False)


def test_unknown_engine_is_named():
    with pytest.raises(ConfigError, match=r"engine must be one of .* found 'ray'"):
        run_grid(simulate, TASKS, engine="ray")


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_backtest_grid_identical_serial_joblib_and_dask(synthetic_data):
    """A grid of real backtests gives the same results whichever engine runs it."""
    pytest.importorskip("dask.distributed")
    from levercast.experiments.backtest.run import backtest_task

    tasks = [
        {"data": str(synthetic_data), "asset": "BTC", "start": "2024-01-03T00:00Z",
         "end": "2024-01-20T00:00Z", "kinds": (kind,), "horizons": ("1h", "24h"),
         "models": ("gbm",), "seed": 0}
        for kind in ("touch", "close_above", "move")
    ]  # fmt: skip
    serial = run_grid(backtest_task, tasks, engine="serial", progress=False)
    assert all(r["n_forecasts"] > 0 for r in serial)
    assert run_grid(backtest_task, tasks, engine="joblib", progress=False) == serial
    assert run_grid(backtest_task, tasks, engine="dask", progress=False) == serial


def test_map_sweep_grid_identical_serial_and_joblib(synthetic_data):
    """A liquidation-map parameter sweep runs as grid tasks with identical results."""
    from levercast.experiments.studies.liquidation_map.fit import map_sweep_task
    from levercast.features.liqmap.map import LiqMapParams

    base = LiqMapParams.default()
    tasks = [
        {"data": str(synthetic_data), "asset": "BTC", "start": "2024-01-10T00:00Z",
         "end": "2024-01-20T00:00Z",
         "params": {"half_lives_hours": tuple(h * scale for h in base.half_lives_hours)}}
        for scale in (0.5, 1.0, 2.0)
    ]  # fmt: skip
    serial = run_grid(map_sweep_task, tasks, engine="serial", progress=False)
    assert [r["hours"] > 0 for r in serial] == [True] * 3
    assert run_grid(map_sweep_task, tasks, engine="joblib", progress=False) == serial
    assert run_grid(map_sweep_task, tasks, engine="threads", progress=False) == serial


def test_a_store_travels_to_joblib_workers(synthetic_data):
    """A walk-forward segment carries its ``Store``: it pickles as its directory (its lock and
    cached frames stay behind) and reads its tables again in the worker."""
    import operator

    from levercast.features.dataset.store import Store

    store = Store(synthetic_data)
    store.read("candles")  # cached frames and the views' lock do not stop the pickling
    tasks = [store, store]
    assert run_grid(operator.methodcaller("tables"), tasks, engine="joblib", progress=False) == [
        store.tables(),
        store.tables(),
    ]


def test_one_blas_thread_gives_the_one_thread_product_on_two_and_restores_the_threads():
    """A reduction that OpenBLAS splits across two threads (``X.T @ w``, 200,000 rows) comes
    out as on one thread inside ``one_blas_thread``, even under an outer two-thread setting;
    every BLAS library (numpy's and scipy's) is on one thread inside and as before after."""
    import scipy.linalg  # noqa: F401  both OpenBLAS builds loaded, as in an evaluation
    from threadpoolctl import threadpool_info, threadpool_limits

    rng = np.random.default_rng(0)
    X, w = rng.normal(size=(200_000, 12)), rng.random(200_000)
    with threadpool_limits(limits=1, user_api="blas"):
        one = X.T @ w
    with threadpool_limits(limits=2, user_api="blas"):
        two = X.T @ w
        if np.array_equal(one, two):
            pytest.skip("BLAS gives the same sums on two threads here (one core?)")
        before = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
        with one_blas_thread():
            inside = X.T @ w
            threads = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
        after = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    assert np.array_equal(inside, one)
    assert len(threads) >= 2 and set(threads) == {1}
    assert after == before


@pytest.mark.parametrize("engine", ["serial", "threads", "joblib"])
def test_on_done_counts_every_finished_task(engine):
    calls: list[tuple[int, int]] = []
    out = run_grid(
        simulate, TASKS, engine=engine, progress=False, on_done=lambda d, t: calls.append((d, t))
    )
    assert out == run_grid(simulate, TASKS, engine="serial", progress=False)
    assert calls[-1] == (len(TASKS), len(TASKS))
    if engine != "joblib":  # joblib reports once, when every task is back
        assert sorted(calls) == [(i, len(TASKS)) for i in range(1, len(TASKS) + 1)]


_THREADS_USED = """
import os, sys, threading, time
os.sched_setaffinity(0, {cores})
from levercast.experiments.parallel import run_grid, usable_cores
def name(_):
    time.sleep(0.05)
    return threading.current_thread().name
names = run_grid(name, range(6), engine="threads", progress=False)
print(usable_cores(), len(set(names)))
"""


@pytest.mark.skipif(
    not hasattr(__import__("os"), "sched_setaffinity"), reason="no CPU affinity here"
)
def test_threads_default_to_one_per_usable_core():
    """``n_jobs`` left out: as many threads as cores the process may run on (its affinity)."""
    import os
    import subprocess
    import sys

    cores = sorted(os.sched_getaffinity(0))
    for allowed in ({cores[0]}, set(cores[:2])):
        code = _THREADS_USED.format(cores=allowed)
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        usable, threads = map(int, done.stdout.split())
        assert usable == len(allowed)
        assert threads == len(allowed)
