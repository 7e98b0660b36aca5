"""Liquidation buckets and features of ALL (every asset), merged per decision time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from levercast.features.liquidation_inputs import LIQ_FEATURES, combine_assets
from levercast.features.liquidation_windows import ALL_ASSETS, liquidation_buckets, window_sums


def _rows(asset: str, start: str, hours: int, long: float, short: float) -> pd.DataFrame:
    ts = pd.date_range(start, periods=hours, freq="1h")
    return pd.DataFrame(
        {
            "venue": "aggregate",
            "asset": asset,
            "interval": "1h",
            "ts": ts,
            "available_at": ts + pd.Timedelta(hours=1),
            "long_usd": long,
            "short_usd": short,
        }
    )


def test_all_sums_every_asset_over_the_common_span():
    rows = pd.concat(
        [
            _rows("BTC", "2026-01-01T00:00Z", 48, 10.0, 1.0),
            _rows("ETH", "2026-01-01T06:00Z", 30, 5.0, 2.0),
        ]
    )
    buckets = liquidation_buckets(rows, ALL_ASSETS)
    assert buckets["ts"].min() == pd.Timestamp("2026-01-01T06:00Z")
    assert buckets["available_at"].max() == pd.Timestamp("2026-01-02T12:00Z")
    start = pd.DatetimeIndex([pd.Timestamp("2026-01-01T10:00Z")] * 3)
    end = start + pd.Timedelta(hours=4)
    sums = window_sums(buckets, start, end, ["long", "short", "total"])
    np.testing.assert_allclose(sums, [4 * 15.0, 4 * 3.0, 4 * 18.0])
    before = window_sums(buckets, start - pd.Timedelta(hours=8), end, ["total"] * 3)
    assert np.isnan(before).all()  # ETH was not covered yet: unknown, not undercounted


def test_combine_assets_sums_usd_and_weights_rates():
    btc = pd.DataFrame({name: [np.nan] for name in LIQ_FEATURES})
    eth = btc.copy()
    btc[["oi_usd", "liq_total_usd_24h", "liq_skew_24h", "funding_rate_8h"]] = [30.0, 8.0, 0.5, 3e-4]
    eth[["oi_usd", "liq_total_usd_24h", "liq_skew_24h", "funding_rate_8h"]] = [
        10.0,
        2.0,
        -1.0,
        1e-4,
    ]
    btc["leverage_reset_30d"], eth["leverage_reset_30d"] = 0.0, 1.0
    out = combine_assets([btc, eth]).iloc[0]
    assert out["oi_usd"] == 40.0 and out["liq_total_usd_24h"] == 10.0
    assert out["liq_skew_24h"] == pytest.approx((0.5 * 8 - 1.0 * 2) / 10)
    assert out["funding_rate_8h"] == pytest.approx((3e-4 * 30 + 1e-4 * 10) / 40)
    assert out["leverage_reset_30d"] == 1.0 and np.isnan(out["rvol_24h"])
    with pytest.raises(ValueError, match="aligned"):
        combine_assets([btc, pd.concat([eth, eth])])
