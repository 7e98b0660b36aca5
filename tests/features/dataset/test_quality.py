from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from levercast.features.dataset.quality import check_dataset, count_gaps
from levercast.features.dataset.store import Store


@pytest.mark.parametrize(
    ("hours", "expected"),
    [([0, 1, 2, 3], 0), ([0, 1, 3], 1), ([0, 5], 4), ([0, 1, 2, 10, 11], 7)],
    ids=["none", "one", "four", "seven"],
)
def test_count_gaps_hand_cases(hours, expected):
    ts = pd.Series(pd.Timestamp("2025-01-01T00:00Z") + pd.to_timedelta(hours, unit="h"))
    assert count_gaps(ts, pd.Timedelta("1h")) == expected


def test_check_flags_broken_rule_but_not_gaps(synthetic_data):
    frame = pd.read_parquet(synthetic_data / "candles.parquet")
    frame.drop(index=[5, 6]).to_parquet(synthetic_data / "candles.parquet", index=False)
    report = check_dataset(Store(synthetic_data))
    assert report["ok"] is True
    assert any("2 missing step" in w for w in report["warnings"])
    frame.assign(volume_base=-1.0).to_parquet(synthetic_data / "candles.parquet", index=False)
    report = check_dataset(Store(synthetic_data))
    assert report["ok"] is False
    assert any("volume_base must be >= 0" in p for p in report["problems"])


def test_shared_dataset_counts_match_independent_counts(shared_data):
    report = check_dataset(Store(shared_data))
    assert report["ok"], report["problems"]
    for table, info in report["tables"].items():
        raw = pd.read_parquet(shared_data / f"{table}.parquet")
        assert info["rows"] == len(raw), table
        assert sum(g["rows"] for g in info["groups"]) == len(raw)
    candles = pd.read_parquet(shared_data / "candles.parquet")
    for g in report["tables"]["candles"]["groups"]:
        sub = candles[
            (candles.venue == g["venue"])
            & (candles.asset == g["asset"])
            & (candles.interval == g["interval"])
        ].sort_values("ts")
        assert g["rows"] == len(sub)
        step = pd.Timedelta(g["interval"])
        expected_gaps = int((sub["ts"].iloc[-1] - sub["ts"].iloc[0]) / step) + 1 - len(sub)
        assert g["gaps"] == expected_gaps
        assert pd.Timestamp(g["first_ts"]) == sub["ts"].iloc[0]
    # The dataset README documents these counts (missing_inside_span).
    gaps = {
        (g["venue"], g["asset"]): g["gaps"] for g in report["tables"]["open_interest"]["groups"]
    }
    assert gaps[("bybit", "BTC")] == 359 and gaps[("aggregate", "BTC")] == 4
    assert np.isclose(report["tables"]["markets"]["rows"], 799)
