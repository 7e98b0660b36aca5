"""The batched closed forms against a direct transcription of the formulas (bit for bit), and a
batch against its rows priced one by one: the in-place, shared and grouped arithmetic of
``closed_form`` and ``gbm`` changes no number."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import log_ndtr, ndtr

from levercast.models.pricing import closed_form as cf
from levercast.models.pricing.gbm import gbm_probabilities

KINDS = ("touch", "close_above", "close_below", "range", "up_down", "first_of", "move")


def _images(x, w, sd, nu_t, k):
    total = np.zeros_like(x)
    for j in range(3):
        near, far = 2 * j * w + (w - x), 2 * j * w + (w + x)
        if not np.any(k):
            total += 2.0 * (ndtr(-near / sd) - ndtr(-far / sd))
            continue
        for d, sign in ((near, 1.0), (far, -1.0)):
            total += sign * (
                np.exp(k * (w - x) - k * d + log_ndtr((-d + nu_t) / sd))
                + np.exp(k * (w - x) + k * d + log_ndtr((-d - nu_t) / sd))
            )
    return total


def _eigen(x, w, sigma2_t, nu2_t, k):
    a = np.pi / w
    sin_prev, sin_n, two_cos = np.zeros_like(x), np.sin(a * x), 2.0 * np.cos(a * x)
    q = np.exp(-0.5 * a**2 * sigma2_t)
    q_n, q_step = q, q**3
    total = np.zeros_like(x)
    for n in range(1, 5):
        m = n * a
        total += ((-1.0) ** (n + 1) * m / (k**2 + m**2)) * sin_n * q_n
        sin_prev, sin_n = sin_n, two_cos * sin_n - sin_prev
        q_n, q_step = q_n * q_step, q_step * q * q
    if np.any(k):
        total *= np.exp(k * (w - x) - 0.5 * nu2_t)
    return cf._scale_function(x, w, k) - (2.0 / w) * total


def _upper_exit(x, w, vol, t, nu):
    """The first-passage formula written out directly (the reference)."""
    out = np.full_like(x, np.nan)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        k = nu / vol**2
        ever = np.isinf(t)
        sd = vol * np.sqrt(np.where(ever, 0.0, t))
        z = sd / w
        images = ~ever & (z < 0.6) & (sd > 0)
        eigen = ~ever & (z >= 0.6)
        still = ~ever & (sd <= 0)
        out[ever] = cf._scale_function(x[ever], w[ever], k[ever])
        out[images] = _images(x[images], w[images], sd[images], (nu * t)[images], k[images])
        out[eigen] = _eigen(
            x[eigen], w[eigen], sd[eigen] ** 2, ((nu / vol) ** 2 * t)[eigen], k[eigen]
        )
        out[still] = ((x + nu * t)[still] >= w[still]).astype(np.float64)
    return np.clip(out, 0.0, 1.0)


def _reference_double_barrier(s, lo, hi, vol, t, nu):
    s, lo, hi, vol, t, nu = np.broadcast_arrays(s, lo, hi, vol, t, np.asarray(nu, float))
    w = np.log(hi / lo)
    x = np.clip(np.log(s / lo), 0.0, w)
    p_up, p_down = _upper_exit(x, w, vol, t, nu), _upper_exit(w - x, w, vol, t, -nu)
    p_up = np.where(s >= hi, 1.0, np.where(s <= lo, 0.0, p_up))
    p_down = np.where(s <= lo, 1.0, np.where(s >= hi, 0.0, p_down))
    excess = np.maximum(p_up + p_down - 1.0, 0.0)
    return p_up - excess / 2, p_down - excess / 2


@pytest.mark.parametrize("drift", [0.0, 0.4, "rows"], ids=["no-drift", "drift", "row-drifts"])
def test_double_barrier_is_the_formula_bit_for_bit(drift):
    rng = np.random.default_rng(3)
    n = 20_000
    s = rng.uniform(50, 150, n)
    lo, hi = s * rng.uniform(0.7, 1.02, n), s * rng.uniform(1.0, 1.4, n)
    lo = np.minimum(lo, hi * 0.99)
    vol = rng.uniform(0.0, 1.5, n)
    t = np.where(rng.random(n) < 0.05, np.inf, rng.uniform(0.0, 2.0, n))
    nu = rng.normal(0, 0.3, n) * (rng.random(n) < 0.5) if drift == "rows" else drift
    with np.errstate(all="ignore"):
        expected = _reference_double_barrier(s, lo, hi, vol, t, nu)
    got = cf.prob_double_barrier(s, lo, hi, vol, t, log_drift=nu)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_array_equal(g, e)


def test_double_barrier_nan_in_nan_out():
    p_up, p_down = cf.prob_double_barrier(np.array([100.0, 100.0]), 90.0, 110.0, [np.nan, 0.5], 0.1)
    assert np.isnan(p_up[0]) and np.isnan(p_down[0]) and 0 < p_up[1] < 1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_batch_prices_each_row_as_alone(seed):
    rng = np.random.default_rng(seed)
    n = 300
    spot = rng.uniform(50, 150, n)
    kw = {
        "strike_usd": spot * np.exp(rng.normal(0, 0.2, n)),
        "lower_usd": spot * 0.85,
        "upper_usd": spot * 1.2,
        "threshold": rng.uniform(0.01, 1.2, n),
        "reference_usd": spot * np.exp(rng.normal(0, 0.03, n)),
        "direction": rng.choice(["", "up", "down"], n),
        "monitoring": rng.choice(["", "terminal", "continuous", "discrete"], n),
        "discrete_dt_years": np.full(n, 1 / 365),
        "log_drift": [0.0, -0.2, 0.3][seed],
    }
    kinds = rng.choice(KINDS, n)
    vol, t = rng.uniform(0.05, 1.2, n), rng.uniform(1e-4, 1.0, n)
    batch = gbm_probabilities(kinds, spot, vol, t, **kw)
    for i in range(0, n, 7):
        one = {k: (v[i : i + 1] if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
        alone = gbm_probabilities(kinds[i], spot[i : i + 1], vol[i], t[i], **one)
        assert alone[0] == batch[i] or (np.isnan(alone[0]) and np.isnan(batch[i])), (i, kinds[i])
