"""Training sets: labels from the frame reader, and what walk-forward refits share."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from levercast.experiments.labels.outcomes import label_contracts
from levercast.experiments.learning.training_set import label_grid
from levercast.features.dataset.store import Store
from levercast.models.learned.contract_grid import contract_grid, to_contracts
from levercast.models.pricing.market_state import market_inputs
from tests.conftest import make_dataset

START = pd.Timestamp("2024-01-01T00:00Z")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return Store(make_dataset(tmp_path_factory.mktemp("ts") / "data", hours=24 * 50))


def test_label_grid_gives_what_label_contracts_gives(store):
    times = pd.date_range(START + pd.Timedelta(days=8), periods=60, freq="17h")
    grid = contract_grid(market_inputs(store, "BTC", times), horizons_hours=(1.0, 4.0, 24.0, 720.0))
    got = label_grid(store, grid)
    outcomes = label_contracts(store, to_contracts(grid))
    y = np.array([np.nan if o.value is None else o.value for o in outcomes])
    resolved = pd.to_datetime([o.resolved_at for o in outcomes], utc=True)
    assert np.isnan(y).any() and np.isfinite(y).any()  # the 720 h windows run past the data
    np.testing.assert_array_equal(got["y"].to_numpy(), y)
    assert pd.DatetimeIndex(got["resolved_at"]).equals(pd.DatetimeIndex(resolved))
    assert got.index.equals(grid.index)
