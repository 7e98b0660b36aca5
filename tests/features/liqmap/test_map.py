"""Liquidation map: hand-computed prices and margins, a constructed OI history, a slow reference
loop, and the truncation (look-ahead) test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from levercast.features.errors import ConfigError, DataError
from levercast.features.liqmap.map import (
    LiqMapParams,
    build_inputs,
    crossed_mass,
    effective_mmr_rate,
    heatmap_matrix,
    liquidation_price,
    map_snapshot,
    tier_mmr_rates,
)
from tests.conftest import make_candles

T0 = pd.Timestamp("2026-01-01T00:00Z")


@pytest.mark.parametrize(
    ("entry", "lev", "mmr", "side", "expected"),
    [
        (100.0, 10.0, 0.005, "long", 90.5),
        (100.0, 10.0, 0.005, "short", 109.5),
        (100.0, 20.0, 0.01, "long", 96.0),
        (100.0, 20.0, 0.01, "short", 104.0),
        (50_000.0, 100.0, 0.005, "long", 49_750.0),
        (50_000.0, 100.0, 0.005, "short", 50_250.0),
    ],
    ids=["10x-long", "10x-short", "20x-long", "20x-short", "100x-long", "100x-short"],
)
def test_liquidation_price_hand_computed(entry, lev, mmr, side, expected):
    assert liquidation_price(entry, leverage=lev, mmr=mmr, side=side) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("notional", "expected"),
    [
        (25_000.0, 0.005),
        (50_000.0, 0.005),
        (100_000.0, 0.01 - 250 / 100_000),
        (500_000.0, 0.025 - 4_000 / 500_000),
        (5_000_000.0, 0.05 - 29_000 / 5_000_000),
    ],
    ids=["small", "at-first-cap", "bracket-2", "bracket-3", "bracket-4"],
)
def test_effective_mmr_rate_hand_computed(notional, expected):
    assert effective_mmr_rate(notional) == pytest.approx(expected)


def test_effective_mmr_is_continuous_across_brackets():
    for cap in (50_000.0, 250_000.0, 1_000_000.0):
        below, above = effective_mmr_rate(cap), effective_mmr_rate(cap * (1 + 1e-9))
        assert above == pytest.approx(below, rel=1e-6)


def test_tier_mmr_rates_clip_notional_to_the_leverage_cap():
    assert tier_mmr_rates((100.0, 50.0, 5.0), position_notional_usd=100_000.0) == pytest.approx(
        (0.005, 0.0075, 0.0075)
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"weights": (0.5, 0.6)}, "sum to 1"),
        ({"half_lives_hours": (1.0,)}, "one value per leverage tier"),
        ({"lookback_hours": 10.0}, "lookback_hours must be within"),
        ({"bin_bps": 0.0}, "bin_bps must be within"),
        ({"leverages": (1.0, 5.0)}, "leverages must be"),
    ],
    ids=["weights", "lengths", "lookback", "bins", "leverage"],
)
def test_params_validation_names_the_rule(kwargs, match):
    base = {
        "leverages": (10.0, 5.0),
        "weights": (0.5, 0.5),
        "half_lives_hours": (24.0, 12.0),
        "mmr_rates": (0.0, 0.0),
        "lookback_hours": 24.0,
    }
    with pytest.raises(ConfigError, match=match):
        LiqMapParams(**{**base, **kwargs})


def _bars(rows: list[tuple[float, float, float]], *, step: str = "1h") -> pd.DataFrame:
    ts = pd.date_range(T0, periods=len(rows), freq=step)
    high, low, close = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
    return pd.DataFrame(
        {
            "ts": ts,
            "available_at": ts + pd.Timedelta(step),
            "open": close,
            "high": high,
            "low": low,
            "close": close,
            "volume_base": 0.0,
        }
    )


def _oi(values: list[float]) -> pd.DataFrame:
    ts = pd.date_range(T0, periods=len(values), freq="1h")
    return pd.DataFrame({"available_at": ts + pd.Timedelta("1h"), "oi_usd": values})


HAND = LiqMapParams(
    leverages=(10.0, 5.0),
    weights=(0.5, 0.5),
    half_lives_hours=(24.0, 12.0),
    mmr_rates=(0.0, 0.0),
    lookback_hours=24.0,
    bin_bps=10.0,
    volume_open_fraction=0.0,
)


def _mass_at(liq_map, side: str, price: float) -> float:
    mass = liq_map.long_mass_usd if side == "long" else liq_map.short_mass_usd
    edges = liq_map.edges_usd
    i = int(np.searchsorted(edges, price, side="right")) - 1
    return float(mass[i])


def test_map_from_constructed_oi_history_matches_hand_computation():
    # bar 2 opens +100 USD at typical 100; bar 3 flat; bar 4 closes 5% of OI
    bars = _bars([(101, 99, 100), (102, 98, 100), (105, 95, 100), (100.5, 99.5, 100)])
    inputs = build_inputs(bars, _oi([1000, 1100, 1100, 1045]), long_share=0.6)
    t = T0 + pd.Timedelta("4h")
    m = map_snapshot(inputs, HAND, t)
    age = 2.0  # bar 2 closed at 02:00
    survive = 1045 / 1100
    d10, d5 = 0.5 ** (age / 24), 0.5 ** (age / 12)
    assert _mass_at(m, "long", 90.0) == pytest.approx(100 * 0.6 * 0.5 * d10 * survive)
    assert _mass_at(m, "long", 80.0) == pytest.approx(100 * 0.6 * 0.5 * d5 * survive)
    assert _mass_at(m, "short", 110.0) == pytest.approx(100 * 0.4 * 0.5 * d10 * survive)
    assert _mass_at(m, "short", 120.0) == pytest.approx(100 * 0.4 * 0.5 * d5 * survive)
    assert m.long_mass_usd.sum() + m.short_mass_usd.sum() == pytest.approx(
        100 * survive * (0.5 * d10 + 0.5 * d5)
    )
    assert m.spot_usd == 100.0


def test_later_wick_removes_a_level_but_the_entry_bar_does_not():
    # bar 2 (typical 100) has its own low 86 below its 10x long level 90 and its own high 115
    # above its 10x short level 110: neither is removed; bar 3's low of 89 crosses 90 (removed)
    # but not 80 (kept)
    bars = _bars([(101, 99, 100), (115, 86, 99), (101, 89, 100)])
    inputs = build_inputs(bars, _oi([1000, 1100, 1100]))
    before = map_snapshot(inputs, HAND, T0 + pd.Timedelta("2h"))
    after = map_snapshot(inputs, HAND, T0 + pd.Timedelta("3h"))
    assert _mass_at(before, "long", 90.0) > 0
    assert _mass_at(before, "short", 110.0) > 0
    assert _mass_at(after, "long", 90.0) == 0
    assert _mass_at(after, "long", 80.0) > 0
    assert _mass_at(after, "short", 110.0) > 0


def test_30m_bars_share_hourly_oi_by_volume_and_fall_back_before_it_is_known():
    ts = pd.date_range(T0, periods=4, freq="30min")
    bars = pd.DataFrame(
        {
            "ts": ts,
            "available_at": ts + pd.Timedelta("30min"),
            "high": 100.0,
            "low": 100.0,
            "close": 100.0,
            "volume_base": [1.0, 1.0, 1.0, 3.0],
        }
    )
    oi = pd.DataFrame(
        {"available_at": [T0 + pd.Timedelta("1h"), T0 + pd.Timedelta("2h")], "oi_usd": [1e4, 1.1e4]}
    )
    inputs = build_inputs(bars, oi)
    assert inputs.new_usd[2:] == pytest.approx([250.0, 750.0])
    params = HAND.replace(volume_open_fraction=0.1, half_lives_hours=(1e9, 1e9))
    mid = map_snapshot(inputs, params, T0 + pd.Timedelta("90min"))  # hour's OI not yet known
    total = mid.long_mass_usd.sum() + mid.short_mass_usd.sum()
    assert total == pytest.approx(0.1 * 100 * 3)  # volume fallback of bars 1..3 (1+1+1 coins)


def _reference(bars: pd.DataFrame, oi: pd.DataFrame, params: LiqMapParams, t: pd.Timestamp):
    """Slow loop version over rows known at t: one OI observation, then one entry at a time."""
    bars = bars[bars["available_at"] <= t].reset_index(drop=True)
    known = oi[oi["available_at"] <= t].set_index("available_at")["oi_usd"]
    typical = ((bars["high"] + bars["low"] + bars["close"]) / 3).to_numpy()
    volume = bars["volume_base"].to_numpy() * typical
    new = volume * params.volume_open_fraction  # fallback until an OI observation resolves a bar
    survival = np.ones(len(bars))
    prev = None  # (bar index, oi) of the previous observation
    for j, close in enumerate(bars["available_at"]):
        if close not in known.index:
            continue
        if prev is not None:
            span = range(prev[0] + 1, j + 1)
            rise = max(known[close] - prev[1], 0.0)
            vol = sum(volume[i] for i in span)
            for i in span:
                new[i] = rise * (volume[i] / vol if vol > 0 else 1 / len(span))
            survival[j] = min(1.0, known[close] / prev[1])
        prev = (j, known[close])
    out = {"long": {}, "short": {}}
    step = np.log1p(params.bin_bps / 1e4)
    for j in range(len(bars)):
        age = (t - bars["available_at"][j]).total_seconds() / 3600
        if age >= params.lookback_hours:
            continue
        survive = float(np.prod(survival[j + 1 :]))
        later_low = bars["low"][j + 1 :].min() if j + 1 < len(bars) else np.inf
        later_high = bars["high"][j + 1 :].max() if j + 1 < len(bars) else -np.inf
        for lev, w, hl, mmr in zip(
            params.leverages, params.weights, params.half_lives_hours, params.mmr_rates, strict=True
        ):
            mass = new[j] * survive * w * 0.5 ** (age / hl)
            lp, sp = typical[j] * (1 - 1 / lev + mmr), typical[j] * (1 + 1 / lev - mmr)
            if later_low > lp:
                b = int(np.floor(np.log(lp) / step))
                out["long"][b] = out["long"].get(b, 0.0) + mass * 0.5
            if later_high < sp:
                b = int(np.floor(np.log(sp) / step))
                out["short"][b] = out["short"].get(b, 0.0) + mass * 0.5
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorised_map_matches_the_slow_loop(seed):
    candles = make_candles(seed=seed, hours=24 * 5, start="2026-01-01T00:00Z")
    rng = np.random.default_rng(seed)
    oi_vals = 5e8 * np.exp(np.cumsum(rng.normal(0, 0.01, len(candles))))
    oi = pd.DataFrame({"available_at": candles["available_at"], "oi_usd": oi_vals})
    oi = oi.drop(index=[10, 11, 50, 118, 119])  # gaps, and the last hours not yet observed
    params = LiqMapParams.default(lookback_hours=48.0, volume_open_fraction=0.01)
    inputs = build_inputs(candles, oi)
    t = pd.Timestamp("2026-01-05T23:00Z")
    m = map_snapshot(inputs, params, t)
    ref = _reference(candles, oi, params, t)
    for side, mass in (("long", m.long_mass_usd), ("short", m.short_mass_usd)):
        expected = np.zeros_like(mass)
        for b, v in ref[side].items():
            if v > 0:  # zero-mass levels do not widen the map's bin range
                expected[b - m.first_bin] += v
        np.testing.assert_allclose(mass, expected, rtol=1e-9, atol=1e-6)


@pytest.mark.parametrize("cut_hours", [60, 75, 100])
def test_truncation_map_and_batch_kernel(cut_hours):
    candles = make_candles(seed=4, hours=24 * 6, start="2026-01-01T00:00Z")
    rng = np.random.default_rng(4)
    oi = pd.DataFrame(
        {
            "available_at": candles["available_at"],
            "oi_usd": 5e8 * np.exp(np.cumsum(rng.normal(0, 0.01, len(candles)))),
        }
    )
    cut = pd.Timestamp("2026-01-01T00:00Z") + pd.Timedelta(hours=cut_hours)
    params = LiqMapParams.default(lookback_hours=48.0)
    full = build_inputs(candles, oi)
    part = build_inputs(candles[candles["available_at"] <= cut], oi[oi["available_at"] <= cut])
    times = [cut - pd.Timedelta(hours=h) for h in (0, 1, 7)]
    for t in times:
        a, b = map_snapshot(full, params, t), map_snapshot(part, params, t)
        assert a.first_bin == b.first_bin
        np.testing.assert_allclose(a.long_mass_usd, b.long_mass_usd)
        np.testing.assert_allclose(a.short_mass_usd, b.short_mass_usd)
    t_ns = pd.DatetimeIndex(times).as_unit("ns").asi8
    lows, highs = np.full(3, 40_000.0), np.full(3, 60_000.0)
    np.testing.assert_allclose(
        crossed_mass(full, params, t_ns, low_usd=lows, high_usd=highs),
        crossed_mass(part, params, t_ns, low_usd=lows, high_usd=highs),
    )


def test_heatmap_matrix_rows_equal_snapshots():
    candles = make_candles(seed=5, hours=24 * 4, start="2026-01-01T00:00Z")
    rng = np.random.default_rng(5)
    oi = pd.DataFrame(
        {
            "available_at": candles["available_at"],
            "oi_usd": 5e8 * np.exp(np.cumsum(rng.normal(0, 0.01, len(candles)))),
        }
    )
    params = LiqMapParams.default(lookback_hours=48.0)
    inputs = build_inputs(candles, oi)
    t = pd.Timestamp("2026-01-03T12:00Z")
    snap = map_snapshot(inputs, params, t)
    t_ns = pd.DatetimeIndex([t]).as_unit("ns").asi8
    long_m, short_m = heatmap_matrix(
        inputs, params, t_ns, first_bin=snap.first_bin, n_bins=len(snap.long_mass_usd)
    )
    np.testing.assert_allclose(long_m[0], snap.long_mass_usd)
    np.testing.assert_allclose(short_m[0], snap.short_mass_usd)


def test_long_share_series_is_forward_filled_and_validated():
    bars = _bars([(101, 99, 100), (102, 98, 100), (101, 99, 100)])
    share = pd.Series([0.8], index=[T0 + pd.Timedelta("2h")])
    inputs = build_inputs(bars, _oi([1000, 1100, 1100]), long_share=share)
    assert inputs.long_share.tolist() == [0.5, 0.8, 0.8]
    with pytest.raises(ConfigError, match="long_share must lie within"):
        build_inputs(bars, None, long_share=1.5)


def test_snapshot_without_bars_in_window_is_a_data_error():
    inputs = build_inputs(_bars([(101, 99, 100)]), None)
    with pytest.raises(DataError, match="no bar closes within"):
        map_snapshot(inputs, HAND, T0 + pd.Timedelta(days=10))
