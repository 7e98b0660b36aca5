"""Run a grid of independent tasks serially, on threads, with joblib, or on a Dask cluster.

Results are identical whichever engine runs them: tasks carry their own seeds and results come
back in task order. One exception measured: a 12-month ``default`` backtest with ``joblib`` gave
366 of 142,155 probabilities 1 ulp (<= 2.2e-16) away from ``serial``, the other probabilities
equal (arrays rebuilt in a worker probably take another SIMD path in numpy's exp/log). The
``threads`` engine runs tasks side by side in this process (``n_jobs`` threads, by default one
per core the process may use: ``usable_cores``): the same
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

__all__ = [
    "ENGINES",
    "Progress",
    "counted",
    "no_progress",
    "one_blas_thread",
    "run_grid",
    "usable_cores",
]

T = TypeVar("T")
R = TypeVar("R")
Engine = Literal["serial", "threads", "joblib", "dask"]
ENGINES: tuple[str, ...] = ("serial", "threads", "joblib", "dask")
# ``progress(done, total, label)``: how long jobs report their steps (``total`` None: not known
# yet); the CLI draws it as a bar on stderr (``experiments.cli.progress``).
Progress = Callable[[int, int | None, str], None]


def no_progress(done: int, total: int | None, label: str) -> None:
    """The default ``Progress``: nothing."""


def counted(progress: Progress) -> Progress:
    """``progress`` for a job of steps some of which are counted: an uncounted step
    (``total`` None) after a counted one keeps the count shown (``13/13 refits`` then
    ``13/13 scores``) instead of starting over."""
    shown: list[int | None] = [0, None]

    def tick(done: int, total: int | None, label: str) -> None:
        if total is None and shown[1] is not None:
            done, total = int(shown[0] or 0), shown[1]
        shown[:] = [done, total]
        progress(done, total, label)

    return tick


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity and a container's CPU quota
    (``joblib.cpu_count``, which reads both), at least 1."""
    from joblib import cpu_count

    return max(1, int(cpu_count()))


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
    n_jobs: int | None = None,
    address: str | None = None,
    progress: bool = True,
    on_done: Callable[[int, int], None] | None = None,
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
        Threads, or local workers for joblib and a local Dask cluster; default one per usable
        core (``usable_cores``), at most one per task. The results do not depend on it.
    address
        Dask scheduler address; default ``$LEVERCAST_DASK_SCHEDULER`` or a local cluster.
    progress
        Print progress lines on stderr.
    on_done
        Called as ``on_done(done, total)`` each time a task finishes (from the thread that
        finished it with ``threads``; after all of them with ``joblib``).
    """
    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {list(ENGINES)}; found {engine!r}")
    if n_jobs is not None and n_jobs < 1:
        raise ConfigError(f"n_jobs must be >= 1; found {n_jobs}")
    jobs = n_jobs if n_jobs is not None else max(1, min(usable_cores(), len(tasks)))
    started = time.perf_counter()
    total = len(tasks)
    finished = on_done or (lambda done, total: None)
    if engine == "serial":
        out = []
        for i, task in enumerate(tasks, 1):
            out.append(func(task))
            finished(i, total)
            if i == total or i % max(1, total // 10) == 0:
                _progress(i, total, started, progress)
        return out
    if engine == "threads":
        return _run_threads(
            func, tasks, jobs=jobs, started=started, progress=progress, on_done=finished
        )
    if engine == "joblib":
        from joblib import Parallel, delayed

        results: list[R] = list(
            Parallel(n_jobs=jobs, verbose=5 if progress else 0)(delayed(func)(t) for t in tasks)
        )
        finished(total, total)
        _progress(total, total, started, progress)
        return results
    return _run_dask(
        func,
        tasks,
        n_jobs=jobs,
        address=address,
        started=started,
        progress=progress,
        on_done=finished,
    )


def _run_threads(
    func: Callable[[T], R],
    tasks: Sequence[T],
    *,
    jobs: int,
    started: float,
    progress: bool,
    on_done: Callable[[int, int], None],
) -> list[R]:
    """The tasks on ``jobs`` threads of this process; results in task order, ``on_done`` as each
    finishes (in whatever order they finish)."""
    import threading
    from concurrent.futures import Future, ThreadPoolExecutor

    total = len(tasks)
    lock = threading.Lock()
    done = 0

    def count(_: Future[R]) -> None:
        nonlocal done
        with lock:
            done += 1
            n = done
            on_done(n, total)
        if n == total or n % max(1, total // 10) == 0:
            _progress(n, total, started, progress)

    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="levercast-grid") as pool:
        futures = [pool.submit(func, task) for task in tasks]
        for future in futures:
            future.add_done_callback(count)
        return [future.result() for future in futures]  # in task order; the first error raises


def _run_dask(
    func: Callable[[Any], R],
    tasks: Sequence[Any],
    *,
    n_jobs: int,
    address: str | None,
    started: float,
    progress: bool,
    on_done: Callable[[int, int], None],
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
            on_done(done, len(futures))
            if done == len(futures) or done % max(1, len(futures) // 10) == 0:
                _progress(done, len(futures), started, progress)
        return list(client.gather(futures))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
