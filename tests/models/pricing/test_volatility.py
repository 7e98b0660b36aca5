from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from levercast.features.dataset.store import Store
from levercast.features.errors import DataError
from levercast.models.pricing.volatility import (
    HALF_LIFE_HOURS,
    estimate_vol,
    ewma_variance_series,
    ewma_vol,
    har_vol,
    vol_rel_stderr,
)
from tests.conftest import make_candles, make_dataset


def slow_ewma_vol(returns, half_life):
    lam = 0.5 ** (1 / half_life)
    num = den = 0.0
    for k, r in enumerate(reversed(returns)):
        num += lam**k * r * r
        den += lam**k
    return math.sqrt(num / den * 8760)


@pytest.mark.parametrize(
    ("returns", "expected"),
    [
        ([0.01, -0.01] * 100, 0.01 * math.sqrt(8760)),
        ([0.02] * 10, 0.02 * math.sqrt(8760)),
    ],
    ids=["alternating", "constant"],
)
def test_ewma_vol_hand_cases(returns, expected):
    assert ewma_vol(returns) == pytest.approx(expected)


def test_ewma_vol_matches_slow_loop_and_weights_recent_returns():
    rng = np.random.default_rng(0)
    returns = np.concatenate([rng.normal(0, 0.02, 500), rng.normal(0, 0.005, 168)])
    assert ewma_vol(returns) == pytest.approx(slow_ewma_vol(returns, HALF_LIFE_HOURS), rel=1e-12)
    # A half-life of the recent regime means about half the weight: vol between the two levels.
    assert 0.005 * math.sqrt(8760) < ewma_vol(returns) < 0.02 * math.sqrt(8760)


def test_ewma_vol_recovers_a_known_volatility():
    rng = np.random.default_rng(1)
    sigma = 0.6
    returns = rng.normal(0, sigma / math.sqrt(8760), 1680)
    assert ewma_vol(returns) == pytest.approx(sigma, rel=0.1)


def test_ewma_variance_series_uses_only_the_past():
    rng = np.random.default_rng(2)
    returns = rng.normal(0, 0.01, 400)
    full = ewma_variance_series(returns)
    changed = returns.copy()
    changed[300:] *= 10
    cut = ewma_variance_series(changed)
    np.testing.assert_array_equal(full[:301], cut[:301])
    assert cut[301] > full[301]


def test_rel_stderr_normal_returns():
    rng = np.random.default_rng(3)
    returns = rng.normal(0, 0.01, 1680)
    lam = 0.5 ** (1 / HALF_LIFE_HOURS)
    w = lam ** np.arange(1680)
    n_eff = w.sum() ** 2 / (w**2).sum()
    assert vol_rel_stderr(returns) == pytest.approx(math.sqrt(2 / n_eff) / 2, rel=0.15)
    fat = rng.standard_t(3, 1680) * 0.01
    assert vol_rel_stderr(fat) > vol_rel_stderr(returns)


def test_har_vol_on_iid_returns_is_near_the_true_vol():
    rng = np.random.default_rng(4)
    sigma = 0.5
    returns = rng.normal(0, sigma / math.sqrt(8760), 24 * 200)
    assert har_vol(returns, horizon_hours=24 * 7) == pytest.approx(sigma, rel=0.15)


def test_har_vol_needs_60_days():
    with pytest.raises(DataError, match="at least 60 days"):
        har_vol(np.full(24 * 30, 0.01), horizon_hours=24)


@pytest.fixture(scope="module")
def synthetic_store(tmp_path_factory):
    return Store(make_dataset(tmp_path_factory.mktemp("vol") / "data", hours=24 * 30))


AT = pd.Timestamp("2024-01-25T00:00Z")


def test_estimate_vol_ewma_reports_its_source(synthetic_store):
    est = estimate_vol(synthetic_store.at(AT), "BTC")
    assert est.method == "ewma" and est.source == "binance-usdm"
    assert est.vol_annual == pytest.approx(0.6, rel=0.25)  # make_candles uses 60 % vol
    assert 0 < est.rel_stderr < 0.2


def test_estimate_vol_implied_where_dvol_exists(synthetic_store):
    est = estimate_vol(synthetic_store.at(AT), "BTC", method="implied")
    assert est.method == "implied" and est.source == "deribit-dvol"
    assert est.vol_annual == pytest.approx(0.55, abs=0.05)


def test_estimate_vol_falls_back_with_a_warning(tmp_path):
    root = make_dataset(tmp_path / "d", hours=24 * 30)
    pd.concat(
        [pd.read_parquet(root / "candles.parquet"), make_candles(asset="ETH", seed=2)]
    ).to_parquet(root / "candles.parquet", index=False)
    view = Store(root).at(AT)
    implied = estimate_vol(view, "ETH", method="implied")
    assert implied.method == "ewma" and any("implied vol" in w for w in implied.warnings)
    har = estimate_vol(view, "BTC", method="har")  # 24 days of data only
    assert har.method == "ewma" and any("60 days" in w for w in har.warnings)


def test_estimate_vol_is_point_in_time(tmp_path):
    root = make_dataset(tmp_path / "d", hours=24 * 30)
    before = estimate_vol(Store(root).at(AT), "BTC").vol_annual
    candles = pd.read_parquet(root / "candles.parquet")
    later = candles["available_at"] > AT
    # a doubling after T must not matter (a sane bar: x3 would be quarantined as a jump)
    candles.loc[later, ["open", "high", "low", "close"]] *= 2.0
    candles.to_parquet(root / "candles.parquet", index=False)
    assert estimate_vol(Store(root).at(AT), "BTC").vol_annual == before
