"""A default backtest on the shared data gives the same probabilities on one BLAS thread and on
two (the number of cores of the machine, and joblib's workers, which run one)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from threadpoolctl import threadpool_limits

from levercast.experiments.backtest.run import BacktestConfig, run_backtest


def test_default_backtest_is_the_same_on_one_blas_thread_and_on_two(shared_store):
    config = BacktestConfig(
        asset="BTC",
        start=datetime(2025, 3, 1, tzinfo=UTC),
        end=datetime(2025, 4, 30, 23, tzinfo=UTC),
        kinds=("touch", "close_above"),
        models=("gbm", "default"),
        engine="serial",
    )
    probs = {}
    for threads in (1, 2):
        with threadpool_limits(threads, user_api="blas"):
            probs[threads] = run_backtest(shared_store, config).forecasts["prob_default"]
    assert probs[1].notna().sum() > 1000
    np.testing.assert_array_equal(probs[1].to_numpy(), probs[2].to_numpy())
