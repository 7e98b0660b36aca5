"""Quantile CRPS of the liquidation-volume model: hand cases and a second implementation."""

from __future__ import annotations

import numpy as np
import pytest

from levercast.models.learned.liquidation_volume import QUANTILES, crps_from_quantiles


def _loop(q, y, levels):
    tau = np.asarray(levels)
    edges = np.concatenate([[tau[0]], (tau[1:] + tau[:-1]) / 2, [tau[-1]]])
    w = np.diff(edges) / np.diff(edges).sum()
    total = 0.0
    for k, level in enumerate(tau):
        loss = (1.0 - level) * (q[k] - y) if y < q[k] else level * (y - q[k])
        total += 2 * w[k] * loss
    return total


def test_crps_matches_a_loop_and_is_zero_for_a_point_mass_at_the_outcome():
    rng = np.random.default_rng(0)
    q = np.sort(rng.normal(10, 2, (20, len(QUANTILES))), axis=1)
    y = rng.normal(10, 2, 20)
    got = crps_from_quantiles(q, y)
    want = [_loop(q[i], y[i], QUANTILES) for i in range(20)]
    np.testing.assert_allclose(got, want)
    assert crps_from_quantiles(np.full((1, len(QUANTILES)), 3.0), [3.0])[0] == 0.0
    assert (got >= 0).all()


def test_crps_prefers_the_true_distribution():
    rng = np.random.default_rng(1)
    y = rng.normal(0, 1, 4000)
    from scipy.stats import norm

    true = np.tile(norm.ppf(QUANTILES), (len(y), 1))
    wide = np.tile(norm.ppf(QUANTILES, scale=2.0), (len(y), 1))
    shifted = np.tile(norm.ppf(QUANTILES, loc=0.5), (len(y), 1))
    best = crps_from_quantiles(true, y).mean()
    assert best < crps_from_quantiles(wide, y).mean()
    assert best < crps_from_quantiles(shifted, y).mean()
    with pytest.raises(ValueError, match="quantiles must have shape"):
        crps_from_quantiles(true[:, :3], y)
