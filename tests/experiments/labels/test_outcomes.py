from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from levercast.experiments.labels.outcomes import label_contracts, realised_outcome
from levercast.features.dataset.store import Store
from levercast.models.contracts import Contract, Resolution
from tests.conftest import make_candles

T0 = pd.Timestamp("2024-01-01T00:00Z")


def _store(tmp_path, frames):
    store = Store(tmp_path / "d")
    with store.writer() as w:
        w.upsert("candles", pd.concat(frames, ignore_index=True))
    return store


def _bars(closes, *, highs=None, lows=None, start=T0, venue="binance-usdm"):
    closes = np.asarray(closes, float)
    opens = np.concatenate([[closes[0]], closes[:-1]])
    ts = pd.date_range(start, periods=len(closes), freq="1h")
    return pd.DataFrame(
        {
            "venue": venue,
            "asset": "BTC",
            "interval": "1h",
            "ts": ts,
            "available_at": ts + pd.Timedelta("1h"),
            "open": opens,
            "high": np.maximum(opens, closes) if highs is None else highs,
            "low": np.minimum(opens, closes) if lows is None else lows,
            "close": closes,
            "volume_base": 1.0,
        }
    )


def _c(kind, hours=(0, 4), **kw):
    return Contract(
        kind=kind,
        asset="BTC",
        start=T0 + pd.Timedelta(hours=hours[0]),
        end=T0 + pd.Timedelta(hours=hours[1]),
        **kw,
    )


CLOSES = [100, 102, 99, 104, 101, 97, 103, 100]


@pytest.mark.parametrize(
    ("contract", "expected"),
    [
        (_c("touch", strike_usd=104, direction="up"), 1.0),
        (_c("touch", strike_usd=104.5, direction="up"), 0.0),
        (_c("touch", strike_usd=99, direction="down"), 1.0),
        (_c("touch", (4, 8), strike_usd=97, direction="down"), 1.0),
        (_c("close_above", strike_usd=100.5), 1.0),  # close of the bar ending at 4h = 104
        (_c("close_below", strike_usd=100.5), 0.0),
        (_c("range", lower_usd=104, upper_usd=105), 1.0),  # lower bound inclusive
        (_c("range", lower_usd=100, upper_usd=104), 0.0),  # upper bound exclusive
        (_c("up_down"), 1.0),  # 100 -> 104
        (_c("up_down", (4, 8)), 0.0),  # 104 -> 100
        (_c("first_of", lower_usd=99, upper_usd=103.5), 0.0),  # low 99 (2h) before 104 (3h)
        (_c("first_of", lower_usd=90, upper_usd=101.5), 1.0),
        (_c("first_of", lower_usd=90, upper_usd=200), 0.5),  # neither: default neither_value
        (_c("move", threshold=0.03, monitoring="continuous"), 1.0),  # high 104 = +4%
        (_c("move", (0, 3), threshold=0.015), 0.0),  # terminal 100 -> 99 = -1%
        (_c("move", (0, 3), threshold=0.015, monitoring="continuous"), 1.0),  # high 102
        (_c("move", threshold=0.03, direction="down", monitoring="continuous"), 0.0),
    ],
    ids=[
        "touch_up",
        "touch_up_miss",
        "touch_dn",
        "touch_dn_late",
        "above",
        "below",
        "range_lower_inclusive",
        "range_upper_exclusive",
        "up",
        "down",
        "first_lower",
        "first_upper",
        "first_neither",
        "move_excursion",
        "move_terminal",
        "move_continuous",
        "move_down_miss",
    ],
)
def test_hand_computed_outcomes(tmp_path, contract, expected):
    store = _store(tmp_path, [_bars(CLOSES)])
    out = realised_outcome(contract, store)
    assert out.value == expected, out
    assert out.source == "binance-usdm:1h"  # proxy for the binance-spot default source


def test_touch_resolves_at_the_bar_of_first_touch(tmp_path):
    store = _store(tmp_path, [_bars(CLOSES)])
    out = realised_outcome(_c("touch", (0, 8), strike_usd=103.5, direction="up"), store)
    assert out.resolved_at == T0 + pd.Timedelta(hours=4)  # bar 3 (opens 3h) closes at 4h


def test_uncovered_or_misaligned_window_is_none(tmp_path):
    store = _store(tmp_path, [_bars(CLOSES)])
    late = Contract(
        kind="close_above", asset="BTC", start=T0, end=T0 + pd.Timedelta("20h"), strike_usd=100
    )
    assert realised_outcome(late, store).value is None
    odd = Contract(
        kind="close_above",
        asset="BTC",
        start=T0 + pd.Timedelta("30min"),
        end=T0 + pd.Timedelta("2h"),
        strike_usd=100,
    )
    assert realised_outcome(odd, store).value is None
    gap = _bars(CLOSES).drop(index=2)
    store = _store(tmp_path / "g", [gap])
    assert realised_outcome(_c("touch", strike_usd=104, direction="up"), store).value is None


def test_resolution_source_preferred_over_proxy(tmp_path):
    spot = _bars([100, 100, 100, 100, 100], venue="binance-spot")
    perp = _bars([100, 110, 100, 100, 100], venue="binance-usdm")
    store = _store(tmp_path, [spot, perp])
    c = _c("touch", strike_usd=105, direction="up")
    assert realised_outcome(c, store).source == "binance-spot:1h"
    assert realised_outcome(c, store).value == 0.0
    c2 = Contract(
        kind="touch",
        asset="BTC",
        start=T0,
        end=T0 + pd.Timedelta("4h"),
        strike_usd=105,
        direction="up",
        resolution=Resolution(source="binance-usdm"),
    )
    assert realised_outcome(c2, store).value == 1.0


def _slow(contract, bars):
    """Reference loop implementation over bar rows."""
    rows = bars[(bars["ts"] >= contract.start) & (bars["available_at"] <= contract.end)]
    s0, s1 = rows["open"].iloc[0], rows["close"].iloc[-1]
    kind = contract.kind.value
    if kind == "touch":
        for _, r in rows.iterrows():
            if contract.direction == "up" and r["high"] >= contract.strike_usd:
                return 1.0
            if contract.direction == "down" and r["low"] <= contract.strike_usd:
                return 1.0
        return 0.0
    if kind == "close_above":
        return float(s1 > contract.strike_usd)
    if kind == "range":
        return float(contract.lower_usd <= s1 < contract.upper_usd)
    if kind == "up_down":
        return 1.0 if s1 >= s0 else 0.0
    if kind == "first_of":
        for _, r in rows.iterrows():
            up, dn = r["high"] >= contract.upper_usd, r["low"] <= contract.lower_usd
            if up and dn:
                return None
            if up:
                return 1.0
            if dn:
                return 0.0
        return 0.5
    if kind == "move":
        hi, lo = rows["high"].max() / s0 - 1, 1 - rows["low"].min() / s0
        return float(hi >= contract.threshold or lo >= contract.threshold)
    raise AssertionError(kind)


def test_vectorised_matches_slow_reference(tmp_path):
    bars = make_candles(seed=3, hours=24 * 20, vol_annual=0.8)
    store = _store(tmp_path, [bars])
    rng = np.random.default_rng(1)
    contracts = []
    for _ in range(300):
        s = int(rng.integers(0, 24 * 15))
        h = int(rng.choice([1, 4, 24, 72]))
        spot = float(bars["open"].iloc[s])
        z = float(rng.normal(0, 0.03))
        kind = str(rng.choice(["touch", "close_above", "range", "up_down", "first_of", "move"]))
        kw = {}
        if kind == "touch":
            kw = {"strike_usd": spot * np.exp(z), "direction": "up" if z > 0 else "down"}
        elif kind == "close_above":
            kw = {"strike_usd": spot * np.exp(z)}
        elif kind in ("range", "first_of"):
            kw = {"lower_usd": spot * np.exp(-abs(z) - 0.005), "upper_usd": spot * np.exp(abs(z))}
        elif kind == "move":
            kw = {"threshold": abs(z) + 0.001, "monitoring": "continuous"}
        contracts.append(_c(kind, (s, s + h), **kw))
    got = label_contracts(store, contracts)
    compared = 0
    for c, o in zip(contracts, got, strict=True):
        ref = _slow(c, bars)
        if ref is None:
            continue
        assert o.value == ref, (c, o)
        compared += 1
    assert compared > 250


def test_liquidations_outcome(tmp_path, synthetic_data):
    store = Store(synthetic_data)
    liq = store.read("liquidations")
    start = liq["ts"].iloc[10]
    end = start + pd.Timedelta("24h")
    inside = liq[(liq["ts"] >= start) & (liq["ts"] < end)]
    total = float(inside["long_usd"].sum())
    below = Contract(
        kind="liquidations_above",
        asset="BTC",
        start=start,
        end=end,
        threshold=total * 0.99,
        side="long",
    )
    above = Contract(
        kind="liquidations_above",
        asset="BTC",
        start=start,
        end=end,
        threshold=total * 1.01,
        side="long",
    )
    assert realised_outcome(below, store).value == 1.0
    assert realised_outcome(above, store).value == 0.0
