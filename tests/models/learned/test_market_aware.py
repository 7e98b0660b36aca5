"""The market-aware estimator and its designs: the sklearn contract, MAP under a Gaussian prior,
shrinkage to the market with thin history, the known-bias columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from levercast.models.learned.market_aware import (
    MarketAwareClassifier,
    PriorStrength,
    group_labels,
    market_aware_design,
    market_prior,
    recalibration_design,
)
from levercast.models.probability import expit, logit


@parametrize_with_checks([MarketAwareClassifier()])
def test_sklearn_estimator_contract(estimator, check):
    check(estimator)


def _features(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "prob_market": rng.uniform(0.02, 0.98, n),
            "prob_model": rng.uniform(0.02, 0.98, n),
            "kind": rng.choice(["touch", "close_above", "up_down"], n),
            "horizon_hours": rng.uniform(1, 2000, n),
        }
    )


def test_design_columns_and_missing_optional_features_read_as_zero():
    frame = _features(5)
    X, names = market_aware_design(frame)
    assert X.shape == (5, len(names))
    assert names[:3] == ("const", "z_market", "z_model")
    assert "longshot" in names and "z_market_x_horizon" in names and "ladder_gap" in names
    assert any(n.startswith("z_model@touch:") for n in names)
    ladder = names.index("ladder_gap")
    assert (X[:, ladder] == 0).all()
    with_nan = frame.assign(ladder_gap=np.nan)
    np.testing.assert_array_equal(market_aware_design(with_nan)[0], X)


def test_design_refuses_probabilities_outside_unit_interval():
    with pytest.raises(ValueError, match="prob_market must be finite probabilities"):
        market_aware_design(_features(3).assign(prob_market=[0.2, 1.2, 0.3]))


@pytest.mark.parametrize(
    ("kind", "hours", "label"),
    [
        ("touch", 5, "touch:le1d"),
        ("close_below", 100, "terminal:1to7d"),
        ("move", 9e3, "other:gt30d"),
    ],
    ids=["touch", "terminal", "other"],
)
def test_group_labels(kind, hours, label):
    assert group_labels([kind], [hours]) == [label]


def test_no_history_forecast_is_the_market():
    """The base prior with a single zero-weight row: the forecast is the market's price."""
    frame = _features(50)
    X, names = market_aware_design(frame)
    mean, precision = market_prior(names, strength=PriorStrength())
    model = MarketAwareClassifier(prior_mean=mean, prior_precision=precision)
    model.fit(X[:1], [0.0], sample_weight=[1e-12])
    expected = expit(logit(frame["prob_market"], eps=1e-3))
    np.testing.assert_allclose(model.predict_proba(X)[:, 1], expected, atol=1e-9)


def test_map_recovers_coefficients_with_much_data_and_shrinks_with_little():
    rng = np.random.default_rng(1)
    n = 20_000
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.normal(size=n)])
    beta = np.array([-0.5, 1.5, 0.7])
    y = (rng.uniform(size=n) < expit(X @ beta)).astype(float)
    mean = np.array([0.0, 1.0, 0.0])
    big = MarketAwareClassifier(prior_mean=mean, prior_precision=1.0).fit(X, y)
    np.testing.assert_allclose(big.coef_, beta, atol=0.08)
    small = MarketAwareClassifier(prior_mean=mean, prior_precision=1e4).fit(X[:50], y[:50])
    np.testing.assert_allclose(small.coef_, mean, atol=0.02)
    assert (big.predict_logit_sd(X[:10]) < small.predict_logit_sd(X[:10]) * 10).all()
    sd_few = MarketAwareClassifier(prior_mean=mean, prior_precision=1.0).fit(X[:200], y[:200])
    assert (big.predict_logit_sd(X[:10]) < sd_few.predict_logit_sd(X[:10])).all()


def test_one_class_needs_a_prior():
    X = np.ones((4, 2))
    with pytest.raises(ValueError, match="one class"):
        MarketAwareClassifier().fit(X, [1, 1, 1, 1])
    model = MarketAwareClassifier(prior_mean=[0.0, 0.0], prior_precision=1.0).fit(X, [1, 1, 1, 1])
    assert model.predict_proba(X)[0, 1] > 0.5


def test_a_favourite_longshot_bias_is_learned():
    """Cheap contracts that win less often than priced: the fit prices them below the market."""
    rng = np.random.default_rng(2)
    n = 40_000
    frame = _features(n, seed=3).assign(kind="touch", horizon_hours=500.0)
    z = logit(frame["prob_market"], eps=1e-3)
    truth = expit(np.where(z < 0, 1.4 * z, z))  # longshots overpriced
    y = (rng.uniform(size=n) < truth).astype(float)
    X, names = market_aware_design(frame)
    mean, precision = market_prior(names, strength=PriorStrength(core=1, bias=1, group=100))
    model = MarketAwareClassifier(prior_mean=mean, prior_precision=precision).fit(X, y)
    assert model.coef_[names.index("longshot")] > 0.2
    cheap = frame.assign(prob_market=0.05, prob_model=0.05).head(1)
    assert model.predict_proba(market_aware_design(cheap)[0])[0, 1] < 0.04


def test_recalibration_design_identity_prior_leaves_the_model():
    from levercast.models.learned.market_aware import identity_prior

    frame = _features(20)
    X, names = recalibration_design(frame)
    mean, precision = identity_prior(names, strength=PriorStrength())
    model = MarketAwareClassifier(prior_mean=mean, prior_precision=precision)
    model.fit(X[:1], [1.0], sample_weight=[1e-12])
    expected = expit(logit(frame["prob_model"], eps=1e-4))
    np.testing.assert_allclose(model.predict_proba(X)[:, 1], expected, atol=1e-9)


def test_prior_strength_must_be_positive():
    with pytest.raises(ValueError, match="core must be > 0"):
        PriorStrength(core=0)
