"""The backtest labels its frame with ``label_frame`` exactly as ``label_contracts`` labels the
``Contract`` objects of each spot venue's rows on that venue."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from levercast.experiments.backtest.run import BacktestConfig, run_backtest
from levercast.experiments.labels.outcomes import label_contracts
from levercast.features.dataset.store import Store
from levercast.models.learned.contract_grid import GRID_KINDS, to_contracts
from tests.conftest import make_dataset


def test_backtest_outcomes_and_dropped_reasons_match_label_contracts(tmp_path):
    store = Store(make_dataset(tmp_path / "data", seed=4, hours=24 * 20))
    config = BacktestConfig(
        asset="BTC",
        start="2024-01-09T00:00Z",
        end="2024-01-21T00:00Z",  # windows beyond the data end are dropped with a reason
        kinds=GRID_KINDS,
        horizons=("1h", "24h", "7d"),
        models=("gbm",),
    )
    result = run_backtest(store, config)
    frame = result.forecasts
    expected = np.full(len(frame), np.nan)
    reasons: Counter[str] = Counter()
    for venue, rows in frame.groupby("spot_venue"):
        outcomes = label_contracts(store, to_contracts(rows), venue=str(venue))
        for i, o in zip(rows.index, outcomes, strict=True):
            if o.value is None:
                reasons[o.reason or f"window not covered by {venue} bars"] += 1
            else:
                expected[frame.index.get_loc(i)] = o.value
    np.testing.assert_array_equal(frame["outcome"].to_numpy(), expected)
    assert result.dropped == dict(sorted(reasons.items())) and sum(reasons.values()) > 0
    assert (frame["scored"] == pd.notna(expected)).all()
