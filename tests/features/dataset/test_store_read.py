"""``Store.read`` and ``Store.as_of`` against plain pandas references (the fast read path)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from levercast.features.dataset.schema import TABLES, validate_table
from levercast.features.dataset.store import Store
from tests.conftest import make_candles


def _write_unsorted(root, frame: pd.DataFrame, seed: int) -> Store:
    """A table file written by another tool: rows in any order."""
    root.mkdir(parents=True, exist_ok=True)
    shuffled = frame.iloc[np.random.default_rng(seed).permutation(len(frame))]
    shuffled.to_parquet(root / "candles.parquet", index=False)
    return Store(root)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_read_and_as_of_match_a_plain_filter_and_sort(tmp_path, seed):
    candles = pd.concat(
        [
            make_candles(seed=seed, hours=48, venue="binance-usdm"),
            make_candles(seed=seed + 1, hours=48, venue="bybit", interval="30m"),
            make_candles(seed=seed + 2, hours=24, venue="bybit", asset="ETH"),
        ],
        ignore_index=True,
    )
    store = _write_unsorted(tmp_path / "d", candles, seed)
    key = list(TABLES["candles"].key)
    expected = validate_table("candles", pd.read_parquet(tmp_path / "d" / "candles.parquet"))
    expected = expected.sort_values(key, kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(store.read("candles"), expected)
    t = pd.Timestamp("2024-01-02T05:30Z")
    for filters in ({}, {"venue": "bybit"}, {"venue": "bybit", "interval": "30m"}, {"asset": "X"}):
        ref = expected
        for column, value in filters.items():
            ref = ref[ref[column] == value]
        ref = ref.sort_values(["available_at", "ts"], kind="stable")
        ref = ref[ref["available_at"] <= t].reset_index(drop=True)
        got = store.as_of("candles", t, **filters).reset_index(drop=True)
        pd.testing.assert_frame_equal(got, ref)
