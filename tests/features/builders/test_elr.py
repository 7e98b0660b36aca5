"""Hand-computed cases of the Estimated Leverage Ratio and its proxy (features.builders.elr)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from levercast.features.builders.elr import circulating_supply
from levercast.features.dataset.store import Store
from levercast.features.frame.frame import features_at
from tests.features._tables import T0, D, H, candles, open_interest, reserves, write


def _two_day_store(tmp_path):
    price = np.concatenate([np.full(24, 50_000.0), np.full(24 * 6, 40_000.0)])
    oi = [
        open_interest([2e10, 3e10], venue="all-exchanges", step=D),
        open_interest(np.full(len(price), 1e9)),  # narrower scope: never summed
    ]
    return Store(
        write(
            tmp_path / "d",
            candles=candles(price),
            open_interest=oi,
            exchange_reserves=reserves([2e6, 2.5e6]),
        )
    )


@pytest.mark.parametrize(
    ("at", "elr", "oi_venue"),
    [
        # OI day 0 (2e10) / (reserve day 0 2e6 x close of day 0 50k)
        (T0 + D + 12 * H, 0.2, "all-exchanges"),
        # OI day 1 (3e10) / (reserve day 1 2.5e6 x close of day 1 40k)
        (T0 + 2 * D, 0.3, "all-exchanges"),
    ],
    ids=["day-0-reserve", "day-1-reserve"],
)
def test_elr_uses_widest_scope_and_the_reserve_day_price(tmp_path, at, elr, oi_venue):
    snap = features_at(_two_day_store(tmp_path), "BTC", at)
    assert snap.features["elr"] == pytest.approx(elr)
    assert snap.sources["open_interest"]["venue"] == oi_venue
    assert snap.sources["exchange_reserves"]["venue"] == "cryptoquant-style"


def test_stale_reserves_give_null_elr_with_last_date_and_a_proxy(tmp_path):
    at = T0 + 5 * D
    snap = features_at(_two_day_store(tmp_path), "BTC", at)
    assert snap.features["elr"] is None
    assert snap.missing["elr"] == (
        "exchange_reserves (cryptoquant-style) stale since 2024-06-05T00:00:00Z: last row "
        "2024-06-02T00:00:00Z, nothing new for more than 2d"
    )
    # all-exchanges OI is stale too: the proxy reads Bybit and names it
    assert snap.sources["open_interest"]["venue"] == "bybit"
    supply = circulating_supply("BTC", np.array([at.value]))[0]
    assert snap.features["elr_proxy_oi_supply"] == pytest.approx(1e9 / (40_000.0 * supply))


def test_missing_reserves_table(tmp_path):
    store = Store(
        write(
            tmp_path / "d",
            candles=candles(np.full(48, 100.0)),
            open_interest=open_interest(np.full(48, 1e9)),
        )
    )
    snap = features_at(store, "BTC", T0 + 40 * H)
    assert (
        snap.missing["elr"] == "exchange_reserves: exchange_reserves table absent from the dataset"
    )
    assert snap.features["elr_proxy_oi_supply"] is not None


def test_elr_change_over_7d(tmp_path):
    days = 10
    oi = open_interest([1e10 * (1 + 0.1 * k) for k in range(days)], venue="all-exchanges", step=D)
    store = Store(
        write(
            tmp_path / "d",
            candles=candles(np.full(days * 24, 50_000.0)),
            open_interest=oi,
            exchange_reserves=reserves(np.full(days, 2e6)),
        )
    )
    snap = features_at(store, "BTC", T0 + 9 * D)
    assert snap.features["elr"] == pytest.approx(0.18)
    assert snap.features["elr_change_7d"] == pytest.approx(0.18 / 0.11 - 1)
    assert snap.missing["elr_change_30d"].startswith("at t-30d: exchange_reserves: no rows")


def test_elr_zscore_over_a_year(tmp_path):
    days = 400
    rng = np.random.default_rng(7)
    values = 1e10 * (1 + rng.uniform(0, 1, days))
    store = Store(
        write(
            tmp_path / "d",
            candles=candles(np.full(days * 24, 50_000.0)),
            open_interest=open_interest(values, venue="all-exchanges", step=D),
            exchange_reserves=reserves(np.full(days, 2e6)),
        )
    )
    snap = features_at(store, "BTC", T0 + days * D)
    samples = values[35:400] / 1e11  # reserve days 35..399 are known in (t-365d, t]
    expected = (values[399] / 1e11 - samples.mean()) / samples.std(ddof=1)
    assert snap.features["elr_zscore_1y"] == pytest.approx(expected)
    early = features_at(store, "BTC", T0 + 200 * D)
    assert early.missing["elr_zscore_1y"] == "elr has 200 daily values in the last 365d (needs 300)"


def test_elr_window_nan_when_oi_series_switches(tmp_path):
    days = 10
    store = Store(
        write(
            tmp_path / "d",
            candles=candles(np.full(days * 24, 50_000.0)),
            open_interest=[
                open_interest(np.full(4, 1e10), venue="all-exchanges", step=D),
                open_interest(np.full(days * 24, 1e9)),
            ],
            exchange_reserves=reserves(np.full(days, 2e6)),
        )
    )
    snap = features_at(store, "BTC", T0 + 9 * D)
    assert snap.features["elr"] == pytest.approx(1e9 / 1e11)
    assert snap.missing["elr_change_7d"] == (
        "open_interest series switched from all-exchanges to bybit at 2024-06-07T00:00:00Z, "
        "inside the 7d window (levels are never spliced)"
    )


@pytest.mark.parametrize(
    ("asset", "when", "supply"),
    [
        ("BTC", "2024-04-20T00:09Z", 19_687_500.0),
        ("BTC", "2025-04-20T00:09Z", 19_687_500.0 + 3.125 * 6 * 24 * 365),
        ("ETH", "2025-01-01T00:00Z", 120_500_000.0),
        ("SOL", "2025-01-01T00:00Z", float("nan")),
    ],
    ids=["btc-halving", "btc-year-after", "eth", "unknown"],
)
def test_circulating_supply(asset, when, supply):
    got = circulating_supply(asset, np.array([pd.Timestamp(when).value]))[0]
    np.testing.assert_allclose(got, supply, rtol=1e-9)


def _provider(source, values, *, fetched=None):
    rows = reserves(values).assign(source=source)
    return rows if fetched is None else rows.assign(available_at=fetched, fetched_at=fetched)


def test_reserves_come_from_the_provider_freshest_at_t(tmp_path):
    price = np.full(24 * 8, 40_000.0)
    fetched = T0 + 3 * D + 2 * H  # DefiLlama's days 0-3, all known from their fetch time only
    store = Store(
        write(
            tmp_path / "d",
            candles=candles(price),
            open_interest=open_interest(np.full(len(price), 4e9)),
            exchange_reserves=[
                _provider("cryptoquant", [2e6, 2e6, 2e6]),  # days 0-2, each known the next day
                _provider("defillama", [1e6, 1e6, 1e6, 1e6], fetched=fetched),
            ],
        )
    )
    before = features_at(store, "BTC", T0 + 3 * D + H)  # DefiLlama not fetched yet
    assert before.sources["exchange_reserves"]["venue"] == "cryptoquant"
    assert before.features["elr"] == pytest.approx(4e9 / (2e6 * 40_000.0))
    after = features_at(store, "BTC", fetched)  # day 3 beats CryptoQuant's day 2
    assert after.sources["exchange_reserves"] == {
        "venue": "defillama",
        "last_ts": (T0 + 3 * D).to_pydatetime(),
    }
    assert after.features["elr"] == pytest.approx(4e9 / (1e6 * 40_000.0))
    # a 7-day change across the provider switch would compare two scopes: NaN with a reason
    week = features_at(store, "BTC", T0 + 5 * D)
    assert week.features["elr_change_7d"] is None
    assert (
        "exchange_reserves series switched from cryptoquant to defillama"
        in (week.missing["elr_change_7d"])
    )


def test_stale_providers_name_the_latest_one(tmp_path):
    store = Store(
        write(
            tmp_path / "d",
            candles=candles(np.full(24 * 9, 40_000.0)),
            open_interest=open_interest(np.full(24 * 9, 4e9)),
            exchange_reserves=[_provider("glassnode", [2e6] * 3), _provider("csv", [2e6] * 4)],
        )
    )
    snap = features_at(store, "BTC", T0 + 8 * D)
    assert snap.missing["elr"].startswith("exchange_reserves (csv) stale since")
