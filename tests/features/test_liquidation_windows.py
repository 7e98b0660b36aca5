"""One liquidation source per asset: the aggregate when present, else exchanges summed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from levercast.features.liquidation_windows import liquidation_buckets, window_sums

T0 = pd.Timestamp("2026-01-01T00:00Z")


def _rows(venue: str, long_usd: float, hours: int = 6, start: int = 0) -> pd.DataFrame:
    ts = pd.date_range(T0 + pd.Timedelta(hours=start), periods=hours, freq="1h")
    return pd.DataFrame(
        {
            "venue": venue,
            "asset": "BTC",
            "interval": "1h",
            "ts": ts,
            "available_at": ts + pd.Timedelta(hours=1),
            "long_usd": long_usd,
            "short_usd": 1.0,
        }
    )


def _sum(rows: pd.DataFrame, side: str = "long") -> float:
    start = pd.DatetimeIndex([T0 + pd.Timedelta(hours=1)])
    end = pd.DatetimeIndex([T0 + pd.Timedelta(hours=4)])
    return float(window_sums(liquidation_buckets(rows, "BTC"), start, end, [side])[0])


def test_the_aggregate_wins_over_exchange_rows_never_summed_with_them():
    rows = pd.concat([_rows("aggregate", 100.0), _rows("binance-usdm", 40.0), _rows("bybit", 30.0)])
    assert _sum(rows) == pytest.approx(300.0)  # 3 buckets x 100: exchanges not added on top


def test_exchanges_are_summed_over_the_span_all_of_them_cover():
    rows = pd.concat([_rows("binance-usdm", 40.0), _rows("bybit", 30.0, hours=4, start=1)])
    buckets = liquidation_buckets(rows, "BTC")
    assert buckets["venue"].iloc[0] == "binance-usdm+bybit"
    assert _sum(rows) == pytest.approx(3 * 70.0)
    early = window_sums(
        buckets, pd.DatetimeIndex([T0]), pd.DatetimeIndex([T0 + pd.Timedelta(hours=2)]), ["long"]
    )
    assert np.isnan(early).all()  # bybit starts an hour later: not known for every venue
