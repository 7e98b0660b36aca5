"""Hand-computed cases of the deleveraging signals (features.builders.signals)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from levercast.features.dataset.sanity import QuarantineWarning
from levercast.features.dataset.store import Store
from levercast.features.frame.frame import features_at
from tests.features._tables import T0, H, candles, funding, liquidations, open_interest, write


def _store(tmp_path, **tables):
    return Store(write(tmp_path / "d", **tables))


def test_oi_change_versus_price_change_leverage_fuelled(tmp_path):
    # 31 days hourly; price +15% and OI +40% between t-30d and t
    hours = 31 * 24
    price = np.full(hours, 100.0)
    price[-24 * 30 :] = 115.0
    oi = np.full(hours, 1e9)
    oi[-24 * 30 :] = 1.4e9
    store = _store(tmp_path, candles=candles(price), open_interest=open_interest(oi))
    t = T0 + hours * H
    snap = features_at(store, "BTC", t)
    # x(t-30d) is the last row known 30 days earlier: the bar of ts t-30d-1h (still 100 / 1e9)
    assert snap.features["price_change_30d"] == pytest.approx(0.15)
    assert snap.features["oi_change_30d"] == pytest.approx(0.40)
    assert snap.features["oi_price_spread_30d"] == pytest.approx(0.25)
    assert snap.features["oi_change_1d"] == pytest.approx(0.0)
    assert snap.features["oi_drawdown_30d"] == pytest.approx(0.0)
    assert snap.features["leverage_reset_30d"] == 0.0
    assert snap.missing["oi_change_90d"].startswith("at t-90d: open_interest: no rows")
    assert snap.sources["open_interest"]["venue"] == "bybit"


@pytest.mark.parametrize(
    ("last_oi", "drawdown", "reset"),
    [(1.79e9, -0.105, 1.0), (1.9e9, -0.05, 0.0), (1.0e9, -0.5, 1.0)],
    ids=["10.5pct", "5pct", "halved"],
)
def test_leverage_reset_from_30d_peak(tmp_path, last_oi, drawdown, reset):
    hours = 31 * 24
    oi = np.full(hours, 1.5e9)
    oi[-100] = 2.0e9  # the peak, inside the 30-day window
    oi[-1] = last_oi
    store = _store(
        tmp_path, candles=candles(np.full(hours, 100.0)), open_interest=open_interest(oi)
    )
    snap = features_at(store, "BTC", T0 + hours * H)
    assert snap.features["oi_drawdown_30d"] == pytest.approx(drawdown)
    assert snap.features["leverage_reset_30d"] == reset


def test_liquidation_totals_and_skew(tmp_path):
    hours = 31 * 24
    longs = np.zeros(hours)
    shorts = np.zeros(hours)
    longs[-1], shorts[-1] = 3e6, 1e6  # last hour
    longs[-10], shorts[-10] = 0.0, 4e6  # within 24h
    shorts[-24 * 20] = 2e6  # within 30d only
    store = _store(
        tmp_path,
        candles=candles(np.full(hours, 100.0)),
        liquidations=liquidations(longs, shorts),
    )
    snap = features_at(store, "BTC", T0 + hours * H)
    f = snap.features
    assert f["liq_total_usd_1h"] == pytest.approx(4e6)
    assert f["liq_skew_1h"] == pytest.approx(0.5)
    assert f["liq_total_usd_24h"] == pytest.approx(8e6)
    assert f["liq_skew_24h"] == pytest.approx(-0.25)
    assert f["liq_total_usd_7d"] == pytest.approx(8e6)
    assert f["liq_total_usd_30d"] == pytest.approx(10e6)
    assert f["liq_skew_30d"] == pytest.approx(-0.4)


def test_liquidation_skew_nan_when_window_is_quiet(tmp_path):
    hours = 48
    store = _store(
        tmp_path,
        candles=candles(np.full(hours, 100.0)),
        liquidations=liquidations(np.zeros(hours), np.zeros(hours)),
    )
    snap = features_at(store, "BTC", T0 + hours * H)
    assert snap.features["liq_total_usd_24h"] == 0.0
    assert snap.missing["liq_skew_24h"] == "no liquidations in the window"
    assert "has 48 of 168 rows" in snap.missing["liq_total_usd_7d"]


def test_liquidation_gap_makes_the_1h_window_nan(tmp_path):
    hours = 48
    frame = liquidations(np.ones(hours), np.ones(hours)).iloc[:-1]  # last hour missing
    store = _store(tmp_path, candles=candles(np.full(hours, 100.0)), liquidations=frame)
    snap = features_at(store, "BTC", T0 + hours * H)
    assert snap.features["liq_total_usd_1h"] is None
    assert "has 0 of 1 rows" in snap.missing["liq_total_usd_1h"]
    assert snap.features["liq_total_usd_24h"] is not None  # 23 of 24 buckets: >= 90%


def test_funding_level_change_and_mean(tmp_path):
    rates = [1e-4] * 18 + [2e-4, 3e-4, 5e-4]  # 7 days of 8h fundings
    store = _store(tmp_path, candles=candles(np.full(7 * 24, 100.0)), funding=funding(rates))
    t = T0 + 20 * 8 * H  # the last funding time
    snap = features_at(store, "BTC", t)
    assert snap.features["funding_rate_8h"] == pytest.approx(5e-4)
    assert snap.features["funding_rate_change_24h"] == pytest.approx(5e-4 - 1e-4)
    # the 7d window (t-7d, t] holds all 21 fundings (21 x 8h = 7d)
    assert snap.features["funding_rate_mean_7d"] == pytest.approx((18 * 1e-4 + 1e-3) / 21)


def test_funding_stale_after_two_missed_intervals(tmp_path):
    store = _store(tmp_path, candles=candles(np.full(72, 100.0)), funding=funding([1e-4] * 3))
    t = T0 + 2 * 8 * H + 16 * H + pd.Timedelta("1min")
    snap = features_at(store, "BTC", t)
    assert snap.features["funding_rate_8h"] is None
    assert snap.missing["funding_rate_8h"] == (
        "funding (binance) stale since 2024-06-02T08:00:00Z: last row 2024-06-01T16:00:00Z, "
        "nothing new for more than 16h"
    )


def test_realised_vol_of_alternating_returns(tmp_path):
    # log returns alternate +r, -r: zero-mean realised vol = r * sqrt(8760)
    r = 0.01
    steps = np.tile([r, -r], 40 * 12)
    close = 100.0 * np.exp(np.concatenate([[0.0], np.cumsum(steps)]))
    store = _store(tmp_path, candles=candles(close))
    snap = features_at(store, "BTC", T0 + len(close) * H)
    expected = r * math.sqrt(24 * 365)
    for name in ("rvol_24h", "rvol_7d", "rvol_30d"):
        assert snap.features[name] == pytest.approx(expected)


def test_zero_volume_bars_are_dropped_as_placeholders(tmp_path):
    close = np.full(30, 100.0)
    close[-1] = 1.0  # a bogus flat print with zero volume
    volume = np.full(30, 10.0)
    volume[-1] = 0.0
    store = _store(tmp_path, candles=candles(close, volume=volume))
    # 100 -> 1 is also an impossible jump: the store's reader already excludes it, with a warning
    with pytest.warns(QuarantineWarning, match="impossible jump"):
        snap = features_at(store, "BTC", T0 + 30 * H)
    assert snap.features["price_usd"] == 100.0
    assert snap.sources["price"]["last_ts"] == (T0 + 28 * H).to_pydatetime()


def test_missing_oi_gives_nan_with_reason(tmp_path):
    store = _store(tmp_path, candles=candles(np.full(30, 100.0)))
    snap = features_at(store, "BTC", T0 + 30 * H)
    assert snap.features["oi_usd"] is None
    assert snap.missing["oi_usd"] == "open_interest: open_interest table absent from the dataset"


def test_oi_gap_beyond_staleness_switches_to_narrower_scope(tmp_path):
    hours = 72
    agg = open_interest(np.full(hours, 2e9), venue="aggregate").iloc[:40]
    store = _store(
        tmp_path,
        candles=candles(np.full(hours, 100.0)),
        open_interest=[agg, open_interest(np.full(hours, 1e9))],
    )
    early = features_at(store, "BTC", T0 + 30 * H)
    late = features_at(store, "BTC", T0 + 60 * H)
    assert early.sources["open_interest"]["venue"] == "aggregate"
    assert early.features["oi_usd"] == 2e9
    assert late.sources["open_interest"]["venue"] == "bybit"
    assert late.features["oi_usd"] == 1e9
    assert "switched from aggregate to bybit" in late.missing["oi_change_1d"]
    assert np.isfinite(late.features["price_usd"])
