"""The one point-in-time price series (``features/prices.py``): vectorised == single T."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from levercast.features.dataset.store import Store
from levercast.features.errors import ConfigError
from levercast.features.prices import (
    HALF_LIFE_HOURS,
    WINDOW_RETURNS,
    HourlySeries,
    highest_high,
    spot_and_vol,
    to_ns,
)
from levercast.models.pricing.market_state import PROXY_VENUES
from levercast.models.pricing.volatility import ewma_vol, hourly_log_returns, vol_rel_stderr
from tests.conftest import make_dataset

VENUES = ("binance-spot", *[v for v in PROXY_VENUES if v != "binance-spot"])


def _bars(n: int, *, seed: int = 0, gap_at: int | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ts = pd.date_range("2025-01-01", periods=n, freq="1h", tz="UTC")
    if gap_at is not None:
        ts = ts.append(pd.DatetimeIndex([])).delete(range(gap_at, gap_at + 30))
    close = 50_000 * np.exp(np.cumsum(rng.normal(0, 0.006, len(ts))))
    return pd.DataFrame(
        {
            "ts": ts,
            "available_at": ts + pd.Timedelta(hours=1),
            "open": close,
            "high": close * 1.001,
            "low": close * 0.999,
            "close": close,
        }
    )


def _slow_vol(bars: pd.DataFrame, t: pd.Timestamp) -> tuple[float, float]:
    """The single-T estimate written plainly: window of the last 71 days, consecutive returns."""
    known = bars[
        (bars["available_at"] <= t) & (bars["available_at"] > t - pd.Timedelta(days=71))
    ].sort_values("available_at")
    ts = known["ts"].to_numpy("datetime64[ns]")
    ret = np.diff(np.log(known["close"].to_numpy(float)))[np.diff(ts) == np.timedelta64(1, "h")]
    recent = ret[np.isfinite(ret)][-WINDOW_RETURNS:]
    return ewma_vol(recent), vol_rel_stderr(recent)


@pytest.mark.parametrize("gap_at", [None, 900], ids=["no-gap", "gap"])
def test_series_equals_slow_single_time_estimate(gap_at):
    bars = _bars(2400, gap_at=gap_at)
    series = HourlySeries.from_bars("x", bars)
    times = pd.DatetimeIndex(bars["available_at"].iloc[[300, 800, 1000, 1700, 2300]])
    times = times + pd.to_timedelta([0, 17, 59, 61, 119], unit="min")
    at = series.vol_at(to_ns(times, name="times"))
    assert at.usable.all()
    for i, t in enumerate(times):
        vol, rel = _slow_vol(bars, t)
        assert at.vol_annual[i] == pytest.approx(vol, rel=1e-9)
        assert at.rel_stderr[i] == pytest.approx(rel, rel=1e-9)
        assert at.spot_usd[i] == bars.loc[bars["available_at"] <= t, "close"].iloc[-1]


def test_stale_and_short_history_are_not_usable():
    bars = _bars(400)
    series = HourlySeries.from_bars("x", bars)
    last = bars["available_at"].iloc[-1]
    t = pd.DatetimeIndex([bars["available_at"].iloc[100], last + pd.Timedelta(hours=3)])
    at = series.vol_at(to_ns(t, name="t"))
    assert not at.usable.any()  # 100 bars < 169; then 3 h stale
    assert np.isnan(at.vol_annual).all()


@pytest.mark.data
def test_spot_and_vol_equals_estimate_vol_on_the_dataset(shared_data):
    store = Store(shared_data)
    rng = np.random.default_rng(7)
    base = pd.Timestamp("2024-06-01", tz="UTC")
    times = base + pd.to_timedelta(rng.integers(0, 600 * 24 * 60, 25), unit="min")
    for asset in ("BTC", "ETH"):
        frame = spot_and_vol(store, asset, times, venues=VENUES)
        for row in frame.itertuples():
            view = store.at(row.t)
            returns, venue, *_ = hourly_log_returns(
                view, asset, days=int(HALF_LIFE_HOURS * 10 / 24) + 1, preferred="binance-spot"
            )
            recent = returns[-WINDOW_RETURNS:]
            assert row.spot_venue == venue
            assert row.vol_annual == pytest.approx(ewma_vol(recent), rel=1e-9)


def test_a_view_cannot_be_read_past_its_time(tmp_path):
    store = Store(make_dataset(tmp_path))
    t = pd.Timestamp("2025-01-20T00:30Z")
    later = t + pd.Timedelta(hours=5)
    with pytest.raises(ConfigError, match="look-ahead"):
        spot_and_vol(store.at(t), "BTC", [later], venues=VENUES)
    full = spot_and_vol(store, "BTC", [t], venues=VENUES)
    viewed = spot_and_vol(store.at(t), "BTC", [t], venues=VENUES)
    pd.testing.assert_frame_equal(full, viewed)


def test_highest_high_reads_only_rows_known_at_t(tmp_path):
    store = Store(make_dataset(tmp_path))
    candles = store.read("candles")
    t = pd.Timestamp(candles["available_at"].quantile(0.5))
    known = candles[(candles["asset"] == "BTC") & (candles["available_at"] <= t)]
    assert highest_high(store, "BTC", t) == pytest.approx(float(known["high"].max()))
    assert highest_high(store, "NOPE", t) is None


def test_naive_times_are_refused(tmp_path):
    store = Store(make_dataset(tmp_path))
    with pytest.raises(ConfigError, match="tz-aware"):
        spot_and_vol(store, "BTC", [pd.Timestamp("2025-01-20")], venues=VENUES)


@pytest.mark.parametrize(
    ("gain", "initial"), [(1.0, 0.0), (0.25, 3.5e-5)], ids=["accumulator", "seeded"]
)
def test_ewma_filter_is_lfilter_bit_for_bit(gain, initial):
    from scipy.signal import lfilter

    from levercast.features.prices import ewma_filter

    rng = np.random.default_rng(7)
    values = rng.standard_t(3, 5_000) ** 2 * 1e-4
    decay = 0.5 ** (1 / HALF_LIFE_HOURS)
    expected, _ = lfilter([gain], [1.0, -decay], values, zi=[decay * initial])
    np.testing.assert_array_equal(ewma_filter(values, decay, gain=gain, initial=initial), expected)
    assert ewma_filter(values[:0], decay).shape == (0,)


def _late_and_missing_bars(root) -> Store:
    """``make_dataset`` with some 1h bars published hours late (``available_at`` out of ``ts``
    order, ties included) and a hole: what a live store fetched in pieces looks like."""
    store = Store(make_dataset(root))
    candles = store.read("candles").copy()
    hourly = np.flatnonzero((candles["interval"] == "1h").to_numpy())
    rng = np.random.default_rng(3)
    late = rng.choice(hourly, size=40, replace=False)
    available = candles["available_at"].to_numpy("datetime64[ns]").copy()
    available[late] += np.timedelta64(3, "h")
    candles["available_at"] = pd.to_datetime(available, utc=True)
    candles = candles.drop(index=hourly[200:230]).reset_index(drop=True)
    candles.to_parquet(root / "candles.parquet", index=False)
    return Store(root)


def test_the_series_known_at_t_is_built_from_the_rows_known_at_t(tmp_path):
    """``hourly_series`` is derived once from every bar and cut to those known at ``t``
    (``Store.derived_as_of``): array for array what ``from_bars`` of ``as_of(t)`` gives, at
    every bar's arrival, between arrivals, before the first bar and on a one-bar history."""
    from dataclasses import fields

    from levercast.features.prices import hourly_series

    store = _late_and_missing_bars(tmp_path)
    compared = 0
    for venue in VENUES:
        rows = store.as_of(
            "candles", pd.Timestamp("2100-01-01T00:00Z"), venue=venue, asset="BTC", interval="1h"
        )
        if rows.empty:
            continue
        arrivals = pd.DatetimeIndex(rows["available_at"].unique())
        times = [
            arrivals[0] - pd.Timedelta(minutes=1),
            *arrivals[:3],
            *arrivals[::37],
            *(arrivals[5::53] + pd.Timedelta(minutes=30)),
            arrivals[-1],
        ]
        for t in times:
            derived = hourly_series(store, venue, "BTC", until=t)
            known = store.as_of("candles", t, venue=venue, asset="BTC", interval="1h")
            if known.empty:
                assert derived is None
                continue
            built = HourlySeries.from_bars(venue, known)
            compared += 1
            assert derived is not None and derived.venue == built.venue
            for field in fields(HourlySeries):
                got, want = getattr(derived, field.name), getattr(built, field.name)
                if isinstance(want, np.ndarray):
                    assert got.dtype == want.dtype, field.name
                    np.testing.assert_array_equal(got, want, err_msg=f"{field.name} at {t}")
            t_ns = to_ns([t, t - pd.Timedelta(hours=5)], name="t")
            a, b = derived.vol_at(t_ns), built.vol_at(t_ns)
            for field in fields(a):
                np.testing.assert_array_equal(getattr(a, field.name), getattr(b, field.name))
        assert hourly_series(store.at(times[-1]), venue, "BTC", until=times[-1]) is not None
    assert compared > 30


def test_a_prefix_outside_the_series_is_refused(tmp_path):
    series = HourlySeries.from_bars("x", _bars(50))
    assert len(series.prefix(0).close) == 0
    assert not series.prefix(1).vol_at(series.available_ns[:1]).usable.any()
    with pytest.raises(ConfigError, match=r"n_rows must be in \[0, 50\]; found 51"):
        series.prefix(51)
