"""Per-exchange liquidation features and the cascade flag (features.builders.liquidations)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from levercast.features.builders.liquidations import CASCADE_QUANTILE
from levercast.features.dataset.store import Store
from levercast.features.frame.frame import compute_feature_frame, features_at
from levercast.features.liqmap.clusters import liqmap_features
from tests.features._tables import T0, D, H, candles, liquidations, open_interest, write

FIVE = pd.Timedelta("5min")


def recorded(venue, longs, shorts, *, step=H, start=T0):
    ts = pd.date_range(start, periods=len(longs), freq=step)
    return pd.DataFrame(
        {
            "venue": venue,
            "asset": "BTC",
            "interval": {H: "1h", FIVE: "5m"}[step],
            "ts": ts,
            "available_at": ts + step,
            "long_usd": np.asarray(longs, dtype=float),
            "short_usd": np.asarray(shorts, dtype=float),
            "lower_bound": "true",
        }
    )


def _store(tmp_path, liq):
    hours = 24
    return Store(write(tmp_path / "d", candles=candles(np.full(hours, 100.0)), liquidations=liq))


def test_per_exchange_totals_and_skew(tmp_path):
    liq = [
        recorded("binance", np.full(24, 1.0), np.full(24, 3.0), step=FIVE, start=T0 + 22 * H),
        recorded("bybit", np.full(24, 5.0), np.zeros(24)),
    ]
    snap = features_at(_store(tmp_path, liq), "BTC", T0 + 24 * H)
    f = snap.features
    assert f["liq_total_usd_1h_binance"] == 12 * 4.0
    assert f["liq_skew_1h_binance"] == pytest.approx(-0.5)
    assert f["liq_total_usd_24h_bybit"] == 24 * 5.0
    assert f["liq_skew_24h_bybit"] == 1.0
    assert f["liq_total_usd_24h_binance"] is None  # 24 of 288 buckets: the recorder just started
    why = snap.missing["liq_total_usd_24h_binance"]
    assert "(binance) has 24 of 288 rows in the 1d window" in why
    assert snap.missing["liq_total_usd_1h_okx"] == "liquidations_okx: no rows for BTC known at t"
    # no aggregate and no common bucket width: Binance alone serves the liquidations input
    assert snap.sources["liquidations"]["venue"] == "binance"
    assert f["liq_total_usd_1h"] == 12 * 4.0


def test_the_three_exchanges_are_summed_before_any_one_of_them(tmp_path):
    liq = [
        recorded("binance", np.full(24, 1.0), np.full(24, 2.0)),
        recorded("bybit", np.full(24, 3.0), np.zeros(24)),
        recorded("okx", np.full(20, 0.5), np.full(20, 0.5)),  # its last hours are missing
    ]
    store = _store(tmp_path, liq)
    snap = features_at(store, "BTC", T0 + 20 * H)
    assert snap.sources["liquidations"]["venue"] == "binance+bybit+okx"
    assert snap.features["liq_total_usd_1h"] == 1.0 + 2.0 + 3.0 + 1.0
    later = features_at(store, "BTC", T0 + 24 * H)  # the sum stale since 22:00: Binance alone
    assert later.sources["liquidations"]["venue"] == "binance"
    assert later.features["liq_total_usd_1h"] == 3.0


def test_the_aggregate_is_preferred_to_the_recorder(tmp_path):
    liq = [
        liquidations(np.full(24, 7.0), np.ones(24)),
        recorded("binance", np.ones(24), np.ones(24)),
    ]
    snap = features_at(_store(tmp_path, liq), "BTC", T0 + 24 * H)
    assert snap.sources["liquidations"]["venue"] == "aggregate"
    assert snap.features["liq_total_usd_1h"] == 8.0
    assert snap.features["liq_total_usd_1h_binance"] == 2.0


# -- cascade -----------------------------------------------------------------------------------
HOURS = 24 * 32
SPIKE = 1e8


def _cascade_store(tmp_path, *, last_close, spike=SPIKE, hours=HOURS):
    close = 100.0 * np.exp(0.002 * np.sin(np.arange(hours) / 5.0))
    close[-1] = close[-2] * last_close
    bars = candles(close)
    bars.loc[bars.index[-1], "low"] = min(close[-2], close[-1]) * 0.999
    oi = 1e9 * (1.0 + 0.001 * np.arange(hours))  # steady build-up: new notional every hour
    longs = np.full(hours, 1e6)
    longs[-1] = spike
    return Store(
        write(
            tmp_path / "d",
            candles=bars,
            open_interest=open_interest(oi, oi_base=oi / close),
            liquidations=liquidations(longs, np.zeros(hours)),
        )
    )


def _long_cluster_top(store, t):
    _, _, clusters = liqmap_features(store.at(t - H), "BTC")
    return max(c["high_usd"] for c in clusters if c["side"] == "long")


@pytest.mark.parametrize(
    ("last_close", "spike", "flag"),
    [(0.9, SPIKE, 1.0), (1.0, SPIKE, 0.0), (0.9, 1e6, 0.0)],
    ids=["drop-through-a-cluster", "spike-without-a-move", "drop-without-a-spike"],
)
def test_cascade_needs_a_spike_and_a_move_through_a_cluster(tmp_path, last_close, spike, flag):
    store = _cascade_store(tmp_path, last_close=last_close, spike=spike)
    t = T0 + HOURS * H
    snap = features_at(store, "BTC", t)
    assert snap.features["liq_total_usd_1h_q95_30d"] == pytest.approx(1e6)
    assert snap.features["liq_cascade_1h"] == flag
    low = float(store.as_of("candles", t)["low"].iloc[-1])
    reached = low <= _long_cluster_top(store, t)
    assert reached == (last_close < 1.0)  # the scenario does what it says


def test_threshold_is_the_quantile_of_the_trailing_hourly_totals(tmp_path):
    store = _cascade_store(tmp_path, last_close=1.0)
    t = T0 + (HOURS - 5) * H + pd.Timedelta("20min")
    frame = store.as_of("liquidations", t)
    marks = pd.date_range(t.floor("h") - (720 - 1) * H, t.floor("h"), freq="h")
    totals = [
        frame.loc[(frame["available_at"] > m - H) & (frame["available_at"] <= m), "long_usd"].sum()
        for m in marks
    ]
    snap = features_at(store, "BTC", t)
    assert snap.features["liq_total_usd_1h_q95_30d"] == pytest.approx(
        np.quantile(totals, CASCADE_QUANTILE)
    )


def test_cascade_needs_thirty_days_of_totals(tmp_path):
    store = _cascade_store(tmp_path, last_close=0.9, hours=24 * 20)
    snap = features_at(store, "BTC", T0 + 24 * 20 * H)
    assert snap.features["liq_cascade_1h"] is None
    assert "trailing 30d (need 648)" in snap.missing["liq_cascade_1h"]


def test_cascade_frame_rows_equal_features_at(tmp_path):
    store = _cascade_store(tmp_path, last_close=0.9)
    times = pd.date_range(T0 + 31 * D, T0 + HOURS * H, freq="7h").append(
        pd.DatetimeIndex([T0 + HOURS * H])
    )
    frame = compute_feature_frame(store, "BTC", times)
    for i in (0, len(times) // 2, len(times) - 1):
        snap = features_at(store, "BTC", times[i])
        for name in ("liq_cascade_1h", "liq_total_usd_1h_q95_30d"):
            value = frame.frame[name].iloc[i]
            assert snap.features[name] == (None if np.isnan(value) else value)
