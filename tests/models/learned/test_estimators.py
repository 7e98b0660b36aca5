from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import _SigmoidCalibration
from sklearn.utils.estimator_checks import parametrize_with_checks
from threadpoolctl import threadpool_limits

from levercast.models.learned.estimators import (
    PlattSigmoid,
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


def _platt_data(seed, n=60_000, scale=2.0):
    rng = np.random.default_rng(seed)
    f = rng.normal(size=n) * scale
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-0.8 * f / scale * 2.0 + 0.3))).astype(int)
    return f, y


@pytest.mark.parametrize("seed", [1, 3, 5])
def test_platt_sigmoid_fits_the_same_on_one_blas_thread_and_on_two(seed):
    """60,000 values: OpenBLAS splits a dot product this long across its threads. With these
    seeds scikit-learn's ``_SigmoidCalibration`` (``g @ F`` in its gradient) ends 1 ulp apart on
    one thread and on two on the 2-core machine; ``PlattSigmoid`` must not."""
    f, y = _platt_data(seed)
    fits = {}
    for threads in (1, 2):
        with threadpool_limits(threads, user_api="blas"):
            fits[threads] = PlattSigmoid().fit(f, y)
    assert (fits[1].a_, fits[1].b_) == (fits[2].a_, fits[2].b_)


@pytest.mark.parametrize(("seed", "scale"), [(0, 2.0), (1, 0.3), (2, 60.0)])
def test_platt_sigmoid_is_scikit_learns_fit(seed, scale):
    """The same likelihood, priors, scaling (``max|f| >= 30``) and optimiser as scikit-learn's:
    parameters and probabilities agree to the optimiser's tolerance."""
    f, y = _platt_data(seed, n=20_000, scale=scale)
    ours, theirs = PlattSigmoid().fit(f, y), _SigmoidCalibration().fit(f, y)
    assert ours.a_ == pytest.approx(theirs.a_, rel=1e-6, abs=1e-9)
    assert ours.b_ == pytest.approx(theirs.b_, rel=1e-6, abs=1e-9)
    np.testing.assert_allclose(ours.predict(f), theirs.predict(f), rtol=0, atol=1e-8)
    p = ours.predict(np.array([-1e6, 0.0, 1e6]))
    assert ((p >= 0.0) & (p <= 1.0)).all()


def test_platt_sigmoid_names_mismatched_lengths():
    with pytest.raises(ValueError, match="same length; found 3 and 2"):
        PlattSigmoid().fit(np.zeros(3), np.array([0, 1]))
