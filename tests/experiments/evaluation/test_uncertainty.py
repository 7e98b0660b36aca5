"""Cluster intervals: every outcome of a market is one draw."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from levercast.experiments.evaluation.uncertainty import (
    _codes,
    cluster_mean,
    cluster_skill,
    small_cluster_factor,
)


def _ladder(n_markets: int, n_days: int, seed: int = 0) -> pd.DataFrame:
    """Markets quoted daily; the model a little sharper than the market on average."""
    rng = np.random.default_rng(seed)
    rows = []
    for m in range(n_markets):
        y = float(rng.uniform() < 0.3)
        for d in range(n_days):
            market = float(np.clip(0.3 + rng.normal(0, 0.1), 0.01, 0.99))
            model = float(np.clip(market + (y - market) * 0.1 + rng.normal(0, 0.05), 0.01, 0.99))
            rows.append((f"m{m}", d, market, model, y))
    return pd.DataFrame(rows, columns=["market", "day", "p_market", "p_model", "y"])


def _skill(frame: pd.DataFrame, **kwargs):
    return cluster_skill(
        frame["p_model"],
        frame["p_market"],
        frame["y"],
        markets=frame["market"],
        days=frame["day"],
        seed=0,
        **kwargs,
    )


def test_one_market_family_has_no_tight_interval():
    """Hundreds of daily quotes of one market are one outcome: no interval at all."""
    one = _ladder(1, 300)
    est = _skill(one)
    assert est["n_markets"] == 1
    assert est["ci90"] == [None, None]
    # A day-only bootstrap of the same rows would have claimed a tight interval.
    naive = cluster_skill(one["p_model"], one["p_market"], one["y"], markets=one["day"], seed=0)
    assert naive["ci90"][1] - naive["ci90"][0] < 0.2


def test_few_markets_give_a_wide_interval_many_a_narrow_one():
    few = _skill(_ladder(3, 100))
    many = _skill(_ladder(200, 100))
    width = lambda est: est["ci90"][1] - est["ci90"][0]  # noqa: E731
    assert few["ci90"][0] is not None
    assert width(few) > 3 * width(many)
    assert many["clusters"] == "market x day"


def test_equal_weights_and_value():
    frame = _ladder(20, 10)
    weights = np.ones(len(frame))
    a = _skill(frame)
    b = _skill(frame, weights=weights)
    assert a["value"] == pytest.approx(b["value"])
    y, p, r = frame["y"], frame["p_model"], frame["p_market"]
    assert a["value"] == pytest.approx(1 - np.sum((p - y) ** 2) / np.sum((r - y) ** 2))


@pytest.mark.parametrize(
    ("g", "factor"), [(2, 5.43), (3, 2.17), (30, 1.05)], ids=["two", "three", "thirty"]
)
def test_small_cluster_factor(g, factor):
    assert small_cluster_factor(g) == pytest.approx(factor, abs=0.01)
    assert small_cluster_factor(1) == float("inf")


def test_cluster_mean_of_identical_few_values_has_no_interval():
    assert cluster_mean([-1.0, -1.0, -1.0], ["a", "b", "c"])["ci90"] == [None, None]
    est = cluster_mean(np.r_[np.full(20, -1.0), np.full(20, 1.0)], np.arange(40), seed=0)
    assert est["ci90"][0] < 0 < est["ci90"][1]


def test_rejects_misaligned_rows():
    with pytest.raises(ValueError, match="share one shape"):
        cluster_skill([0.5, 0.5], [0.5], [1.0, 0.0], markets=["a", "b"])


@pytest.mark.parametrize(
    "labels",
    [
        np.array([f"0x{i:04x}" for i in np.random.default_rng(0).integers(0, 300, 4000)], object),
        np.random.default_rng(1).integers(-5, 50, 1000),
        np.array(["2024-01-02", "2024-01-01", "2024-01-02", "2023-12-31"]),
        pd.date_range("2024-01-01", periods=9, freq="D", tz="UTC")[[3, 1, 1, 8, 0, 3]].to_numpy(),
    ],
)
def test_cluster_codes_are_np_uniques_inverse(labels):
    """Hashed cluster codes keep np.unique's sorted order: the same replicates, the same CIs."""
    _, inverse = np.unique(labels, return_inverse=True)
    codes, n = _codes(labels)
    np.testing.assert_array_equal(codes, inverse.reshape(-1))
    assert n == int(inverse.max()) + 1
