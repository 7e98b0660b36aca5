"""The market-aware fit is walk-forward: it never sees a market resolved after the decision time,
and its ladder features at t read only quotes known at t."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from levercast.experiments.learning.market_aware import (
    CoefficientPrior,
    design_matrix,
    fit_history,
    prior_from_fit,
    walk_forward,
)
from levercast.experiments.learning.market_features import market_features
from levercast.models.contracts import Contract
from levercast.models.learned.market_aware import PriorStrength, market_prior

START = pd.Timestamp("2025-01-01T00:00Z")
WEAK = PriorStrength(intercept=1.0, core=0.3, bias=1.0, group=1.0)  # learns fast: a sharp test


def _market(i: int, rng: np.random.Generator, *, first_day: int, known_day: float) -> pd.DataFrame:
    days = np.arange(first_day, first_day + 10)
    y = float(rng.uniform() < 0.4)
    return pd.DataFrame(
        {
            "market_id": f"m{i}",
            "t": START + pd.to_timedelta(days, unit="D"),
            "prob_market": np.clip(0.4 + rng.normal(0, 0.15, len(days)), 0.02, 0.98),
            "prob_model": np.clip(0.4 + rng.normal(0, 0.15, len(days)), 0.02, 0.98),
            "kind": "touch",
            "horizon_hours": 24.0 * (20 - (days - first_day)),
            "outcome": y,
            "known_at": START + pd.Timedelta(days=known_day),
        }
    )


def _history(n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    parts = [_market(i, rng, first_day=3 * i, known_day=3 * i + 12) for i in range(n)]
    return pd.concat(parts, ignore_index=True)


def _predict(frame: pd.DataFrame) -> pd.Series:
    fit = walk_forward("market_aware", frame, frame, prior=None, strength=WEAK)
    return pd.Series(fit.prob, index=frame["market_id"] + "|" + frame["t"].astype(str))


def test_a_planted_future_market_changes_nothing():
    history = _history()
    before = _predict(history)
    rng = np.random.default_rng(9)
    last = history["t"].max()
    # Quoted all along, resolved (with an extreme outcome) only after every decision time.
    future = _market(999, rng, first_day=20, known_day=(last - START).days + 5)
    future = future.assign(outcome=1.0, prob_market=0.02)
    after = _predict(pd.concat([history, future], ignore_index=True))
    pd.testing.assert_series_equal(before, after.loc[before.index], rtol=1e-12)


def test_a_planted_past_market_moves_only_later_forecasts():
    history = _history()
    before = _predict(history)
    rng = np.random.default_rng(9)
    known = START + pd.Timedelta(days=60)
    planted = pd.concat(
        [_market(900 + k, rng, first_day=40, known_day=60).assign(outcome=1.0) for k in range(5)]
    )
    after = _predict(pd.concat([history, planted], ignore_index=True)).loc[before.index]
    t = pd.to_datetime(before.index.str.split("|").str[1], utc=True)
    early = np.asarray(t <= known)
    # Equal to rounding: rows predicted together in one matrix product may sum in another order.
    np.testing.assert_allclose(before[early].to_numpy(), after[early].to_numpy(), rtol=1e-12)
    assert not np.allclose(before[~early].to_numpy(), after[~early].to_numpy())


def test_without_history_the_forecast_is_the_market():
    history = _history(3).assign(known_at=pd.NaT)
    fit = walk_forward("market_aware", history, history, prior=None)
    np.testing.assert_allclose(fit.prob, history["prob_market"], atol=1e-9)
    assert fit.fits == 1


def test_committed_prior_round_trip_and_use_from_its_cut():
    history = _history()
    X, names = design_matrix("market_aware", history)
    mean, precision = market_prior(names, strength=WEAK)
    model = fit_history(
        X, history["outcome"].to_numpy(), history["market_id"], mean=mean, precision=precision
    )
    prior = prior_from_fit(
        model, names, design="market_aware", base_model="gbm", strength={"core": 1.0,
        "intercept": 1.0, "bias": 1.0, "group": 1.0}, cut="2025-03-01T00:00Z",
        tuned_until="2025-03-01T00:00Z", fitted_on="test", markets=("m0",), command="test",
    )  # fmt: skip
    again = CoefficientPrior.from_json(prior.to_json())
    assert again.names == prior.names and again.markets == ("m0",)
    np.testing.assert_allclose(again.mean, prior.mean, rtol=1e-5)
    fit = walk_forward("market_aware", history, history, prior=again)
    assert np.isfinite(fit.prob).all()


def _contract(strike: float) -> Contract:
    return Contract.from_json(
        {
            "kind": "touch",
            "asset": "BTC",
            "direction": "up",
            "strike_usd": strike,
            "start": "2025-01-01T00:00Z",
            "end": "2025-02-01T00:00Z",
        }
    )


def test_ladder_features_read_only_quotes_known_at_t():
    contracts = {f"k{s}": _contract(s) for s in (90_000, 100_000, 110_000)}
    t = pd.to_datetime(["2025-01-05T00:00Z", "2025-01-05T00:00Z", "2025-01-06T00:00Z"], utc=True)
    rows = pd.DataFrame(
        {
            "market_id": ["k90000", "k110000", "k100000"],
            "t": t,
            "quote_ts": t,
            "prob_market": [0.6, 0.2, 0.5],
        }
    )
    features = market_features(rows, contracts, [0.6, 0.2, 0.3])
    # The middle strike, quoted a day later, sees both neighbours: logit halfway.
    z = np.log(np.array([0.6, 0.2]) / (1 - np.array([0.6, 0.2])))
    frac = np.log(100_000 / 90_000) / np.log(110_000 / 90_000)
    expected = z[0] + frac * (z[1] - z[0]) - 0.0  # minus logit(0.5) = 0
    assert features["ladder_gap"].iloc[2] == pytest.approx(expected)
    # The outer strikes quoted at the first time see no strike on both sides.
    assert (features["ladder_gap"].iloc[:2] == 0).all()
    # The middle strike's own disagreement (-0.84 logit) less the ladder's mean (0): its own.
    assert features["ladder_disagreement"].iloc[2] == pytest.approx(np.log(0.3 / 0.7))
    truncated = market_features(rows.iloc[:2], contracts, [0.6, 0.2])
    pd.testing.assert_frame_equal(truncated, features.iloc[:2])
