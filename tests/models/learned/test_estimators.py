from __future__ import annotations

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from levercast.models.learned.estimators import (
    QuantileRegressorSet,
    TimeCalibratedClassifier,
    lightgbm_classifier,
)
from levercast.models.scoring import brier_loss


@parametrize_with_checks(
    [
        TimeCalibratedClassifier(calibration_fraction=0.3, min_group_rows=5),
        QuantileRegressorSet(
            quantiles=(0.25, 0.5, 0.75), n_estimators=100, learning_rate=0.2, min_child_samples=2
        ),
    ]
)
def test_sklearn_estimator_contract(estimator, check):
    check(estimator)


def _data(n=6000, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    logit = 1.5 * x[:, 0] - 0.8 * x[:, 1]
    p = 1 / (1 + np.exp(-logit))
    y = (rng.uniform(size=n) < p).astype(int)
    group = rng.integers(0, 3, n).astype(float)
    return np.column_stack([x, group]), y, p


def test_calibration_does_not_worsen_brier_on_held_out_data():
    X, y, _ = _data()
    X_test, y_test, _ = _data(seed=1)
    raw = lightgbm_classifier(n_estimators=400, min_child_samples=5, num_leaves=63)
    raw.fit(X[:4500], y[:4500])
    cal = TimeCalibratedClassifier(
        lightgbm_classifier(n_estimators=400, min_child_samples=5, num_leaves=63),
        calibration_fraction=0.25,
        group_column=3,
    ).fit(X, y)
    b_raw = brier_loss(raw.predict_proba(X_test)[:, 1], y_test)
    b_cal = brier_loss(cal.predict_proba(X_test)[:, 1], y_test)
    assert b_cal <= b_raw + 1e-3


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
@pytest.mark.parametrize("base", ["lightgbm", "logistic"])
def test_calibrators_match_calibrated_classifier_cv_of_the_frozen_base(method, base):
    """Each calibrator is the one ``CalibratedClassifierCV(FrozenEstimator(base))`` fits on the
    same rows (which only re-predicts the frozen base per fold): same probabilities."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    from levercast.models.learned.estimators import logistic_classifier

    X, y, _ = _data(4000)
    X[::11, 0] = np.nan
    estimator = (
        lightgbm_classifier(n_estimators=60, min_child_samples=20)
        if base == "lightgbm"
        else logistic_classifier(c=0.1)
    )
    model = TimeCalibratedClassifier(
        estimator, method=method, calibration_fraction=0.3, group_column=3, min_group_rows=100
    ).fit(X, y)
    assert set(model.calibrators_) == {-1, 0, 1, 2}
    X_cal, y_cal = X[-1200:], y[-1200:]
    frozen = FrozenEstimator(model.base_estimator_)
    reference = CalibratedClassifierCV(frozen, method=method).fit(X_cal, y_cal)
    expected = reference.predict_proba(X)[:, 1]
    for g in (0, 1, 2):
        sel = X_cal[:, 3] == g
        per_group = CalibratedClassifierCV(frozen, method=method).fit(X_cal[sel], y_cal[sel])
        expected[X[:, 3] == g] = per_group.predict_proba(X[X[:, 3] == g])[:, 1]
    got = model.predict_proba(X)[:, 1]
    # LightGBM's response is row by row (exact); the logistic one is a BLAS product whose
    # blocking may differ with the number of rows predicted together (last bit)
    np.testing.assert_allclose(got, np.clip(expected, 0, 1), rtol=0, atol=1e-15)
    assert not np.allclose(got, model.base_estimator_.predict_proba(X)[:, 1])  # calibrated


def test_nan_inputs_accepted_by_both_bases():
    X, y, _ = _data(2000)
    X[::7, 1] = np.nan
    for base in (None, lightgbm_classifier(n_estimators=20)):
        model = TimeCalibratedClassifier(base, calibration_fraction=0.2).fit(X, y)
        proba = model.predict_proba(X)
        assert np.isfinite(proba).all()
        assert ((proba >= 0) & (proba <= 1)).all()


def test_purge_rows_are_left_out_of_both_fits():
    X, y, _ = _data(1000)
    model = TimeCalibratedClassifier(calibration_fraction=0.2, purge_rows=100).fit(X, y)
    assert model.n_calibration_rows_ == 200
    assert model.base_estimator_[-1].n_features_in_ + 0 > 0  # fitted


def test_invalid_params_are_named():
    X, y, _ = _data(200)
    with pytest.raises(ValueError, match="method must be 'isotonic' or 'sigmoid'; found 'x'"):
        TimeCalibratedClassifier(method="x").fit(X, y)


def test_quantile_set_probabilities_are_monotone_in_threshold():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 2))
    y = np.exp(1 + 0.5 * X[:, 0] + rng.normal(scale=0.5, size=3000))
    model = QuantileRegressorSet(n_estimators=50).fit(X, y)
    grid = np.linspace(0.1, 30, 50)
    probs = np.array([model.prob_above(X[:5], t) for t in grid])
    assert (np.diff(probs, axis=0) <= 1e-12).all()
    assert ((probs >= 0) & (probs <= 1)).all()
    # roughly calibrated at the median
    med = model.predict(X)
    assert 0.4 < np.mean(y > med) < 0.6
