"""The log-HAR(-X) forecast and QLIKE."""

from __future__ import annotations

import numpy as np
import pytest

from levercast.features.errors import DataError
from levercast.models.pricing.har_regression import fit_har, har_design, qlike, realised_target


def test_qlike_is_zero_at_the_truth_and_positive_elsewhere():
    assert qlike([2.0], [2.0])[0] == 0.0
    assert (qlike([1.0, 1.0], [0.5, 2.0]) > 0).all()
    assert np.isnan(qlike([0.0], [1.0])[0])


def test_realised_target_averages_the_next_days():
    rv = np.array([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(realised_target(rv, 2), [2.5, 3.5, np.nan, np.nan])


def test_a_regressor_that_drives_variance_is_found_and_improves_qlike():
    rng = np.random.default_rng(0)
    n = 900
    x = rng.normal(0, 1, n)
    log_rv = np.empty(n)
    log_rv[0] = -8.0
    for d in range(1, n):
        log_rv[d] = -8.0 + 0.5 * (log_rv[d - 1] + 8.0) + 0.4 * x[d - 1] + rng.normal(0, 0.3)
    rv = np.exp(log_rv)
    target = realised_target(rv, 1)
    plain, _ = har_design(rv)
    with_x, names = har_design(rv, {"x": x})
    assert names[-1] == "x"
    train, test = slice(0, 600), slice(600, n - 1)
    fit_plain = fit_har(plain[train], target[train])
    fit_x = fit_har(with_x[train], target[train], names)
    assert fit_x.coef[-1] > 0.2 * fit_x.scale[-1] ** 0  # positive and material
    loss_plain = np.nanmean(qlike(target[test], fit_plain.predict_variance(plain[test])))
    loss_x = np.nanmean(qlike(target[test], fit_x.predict_variance(with_x[test])))
    assert loss_x < loss_plain
    with pytest.raises(DataError, match="at least 60"):
        fit_har(plain[:40], target[:40])
