"""Run a grid of independent tasks serially, on threads, with joblib, or on a Dask cluster.

Results are identical whichever engine runs them: tasks carry their own seeds and results come
back in task order. One exception measured: a 12-month ``default`` backtest with ``joblib`` gave
366 of 142,155 probabilities 1 ulp (<= 2.2e-16) away from ``serial``, the other probabilities
equal (arrays rebuilt in a worker probably take another SIMD path in numpy's exp/log). The
``threads`` engine runs tasks side by side in this process (``n_jobs`` threads): the same
arrays and the same code paths as ``serial``, bit for bit, and worth it for tasks that spend
their time where the GIL is released (LightGBM, numpy, pyarrow): the walk-forward refits of a
backtest (12 months of BTC with ``default``: 30.6-36.1 s against 35.2-38.6 s serial on 2 cores
in the same hour, identical JSON).

Progress goes to stderr. ``LEVERCAST_DASK_SCHEDULER`` (or ``address=``) points the ``dask`` engine
at an existing cluster; without it a local cluster of ``n_jobs`` single-threaded workers is
started and stopped. Dask is an optional extra (``pip install levercast[dask]``); joblib ships
with scikit-learn.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal, TypeVar

from levercast.features.errors import ConfigError

__all__ = ["ENGINES", "one_blas_thread", "run_grid"]

T = TypeVar("T")
R = TypeVar("R")
Engine = Literal["serial", "threads", "joblib", "dask"]
ENGINES: tuple[str, ...] = ("serial", "threads", "joblib", "dask")


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS on one thread inside the block, as it was after it: the same numbers on any number
    of cores.

    OpenBLAS splits a product above a few thousand values across its threads and adds the
    partial sums in an order that depends on how many there are, so the evaluation (the
    market-aware model's Newton steps, the recalibration, the bootstrap's products) moved in
    its last digits with the core count: 6 values of ``evaluate --model default --json`` came
    out ~1e-16 apart with ``OPENBLAS_NUM_THREADS=1`` and without. The products are small; one
    thread costs nothing measurable there (``benchmarks/README.md``). Only the BLAS libraries
    loaded when the block starts are limited (``threadpoolctl``), so scipy's own is loaded
    first. LightGBM's OpenMP threads are not BLAS and are not limited.
    """
    import scipy.linalg  # noqa: F401  loads scipy's bundled OpenBLAS so that it is limited too
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _progress(done: int, total: int, started: float, enabled: bool) -> None:
    if enabled:
        elapsed = time.perf_counter() - started
        print(f"grid: {done}/{total} tasks done ({elapsed:.1f} s)", file=sys.stderr, flush=True)


def run_grid(
    func: Callable[[T], R],
    tasks: Sequence[T],
    *,
    engine: str = "serial",
    n_jobs: int = 2,
    address: str | None = None,
    progress: bool = True,
) -> list[R]:
    """Apply ``func`` to every task and return the results in task order.

    Parameters
    ----------
    func
        A picklable, module-level function of one task.
    tasks
        Picklable task descriptions (each carries its own seed).
    engine
        ``serial``, ``threads`` (this process), ``joblib`` (loky processes) or ``dask``
        (distributed).
    n_jobs
        Threads, or local workers for joblib and a local Dask cluster.
    address
        Dask scheduler address; default ``$LEVERCAST_DASK_SCHEDULER`` or a local cluster.
    progress
        Print progress lines on stderr.
    """
    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {list(ENGINES)}; found {engine!r}")
    if n_jobs < 1:
        raise ConfigError(f"n_jobs must be >= 1; found {n_jobs}")
    started = time.perf_counter()
    total = len(tasks)
    if engine == "serial":
        out = []
        for i, task in enumerate(tasks, 1):
            out.append(func(task))
            if i == total or i % max(1, total // 10) == 0:
                _progress(i, total, started, progress)
        return out
    if engine == "threads":
        from concurrent.futures import ThreadPoolExecutor

        out = []
        with ThreadPoolExecutor(max_workers=n_jobs, thread_name_prefix="levercast-grid") as pool:
            for i, result in enumerate(pool.map(func, tasks), 1):  # in task order
                out.append(result)
                if i == total or i % max(1, total // 10) == 0:
                    _progress(i, total, started, progress)
        return out
    if engine == "joblib":
        from joblib import Parallel, delayed

        results: list[R] = list(
            Parallel(n_jobs=n_jobs, verbose=5 if progress else 0)(delayed(func)(t) for t in tasks)
        )
        _progress(total, total, started, progress)
        return results
    return _run_dask(
        func, tasks, n_jobs=n_jobs, address=address, started=started, progress=progress
    )


def _run_dask(
    func: Callable[[Any], R],
    tasks: Sequence[Any],
    *,
    n_jobs: int,
    address: str | None,
    started: float,
    progress: bool,
) -> list[R]:
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as e:
        raise ConfigError(
            "engine 'dask' needs the optional extra: pip install 'levercast[dask]'"
        ) from e
    address = address or os.environ.get("LEVERCAST_DASK_SCHEDULER")
    cluster = None
    if address:
        client = Client(address)
    else:
        cluster = LocalCluster(
            n_workers=n_jobs, threads_per_worker=1, dashboard_address=":0", processes=True
        )
        client = Client(cluster)
    try:
        futures = client.map(func, list(tasks), pure=False)
        for done, _future in enumerate(as_completed(futures), 1):
            if done == len(futures) or done % max(1, len(futures) // 10) == 0:
                _progress(done, len(futures), started, progress)
        return list(client.gather(futures))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
