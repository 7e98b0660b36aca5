"""Lean classifiers (plain arrays) predict what the fitted scikit-learn/LightGBM ones predict."""

from __future__ import annotations

import numpy as np
import pytest

from levercast.models.learned.estimators import (
    TimeCalibratedClassifier,
    lightgbm_classifier,
    logistic_classifier,
)
from levercast.models.learned.lean import LeanClassifier, lean_classifier


def _data(n=8000, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    x[rng.uniform(size=n) < 0.1, 1] = np.nan  # missing values, routed by the trees' rules
    x[rng.uniform(size=n) < 0.05, 2] = 0.0
    logit = 1.5 * x[:, 0] - 0.8 * np.nan_to_num(x[:, 1]) + 0.3 * x[:, 2]
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    group = rng.integers(0, 3, n).astype(float)
    return np.column_stack([x, group]), y


@pytest.mark.parametrize("base", ["lightgbm", "logistic"])
def test_lean_classifier_predicts_what_the_fitted_one_predicts(base):
    X, y = _data()
    estimator = (
        lightgbm_classifier(n_estimators=60, min_child_samples=20, num_leaves=7)
        if base == "lightgbm"
        else logistic_classifier(c=0.1)
    )
    model = TimeCalibratedClassifier(
        estimator, method="sigmoid", purge_rows=50, group_column=4, min_group_rows=100
    ).fit(X, y)
    lean = lean_classifier(model)
    assert isinstance(lean, LeanClassifier) and len(lean.calibrators) == 4
    X_new, _ = _data(n=3000, seed=1)
    expected = model.predict_proba(X_new)
    got = lean.predict_proba(X_new)
    if base == "lightgbm":  # the trees summed in LightGBM's order: bit for bit
        np.testing.assert_array_equal(got, expected)
    else:  # a dot product may differ in its last bit
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-15)
    for rows in (X_new[:1], X_new[5:9]):  # one contract, a few: as pricing calls it
        np.testing.assert_allclose(lean.predict_proba(rows), model.predict_proba(rows), atol=1e-15)


def test_isotonic_calibration_is_left_to_scikit_learn():
    X, y = _data()
    model = TimeCalibratedClassifier(
        lightgbm_classifier(n_estimators=20, min_child_samples=20), method="isotonic"
    ).fit(X, y)
    assert lean_classifier(model) is None
