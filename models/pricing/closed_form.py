"""Closed-form event probabilities under geometric Brownian motion, vectorised over arrays.

The log price follows ``X_t = ln S_t = ln S_0 + nu t + sigma W_t`` with ``nu`` the *log-drift*
(METHODS.md §2.3: ``nu = 0`` is the ``gbm`` baseline, so P(touch) = 2 P(close beyond) for a
continuous barrier; ``nu = mu - sigma^2 / 2`` for a price drift ``mu``). Time is in years of
24/7 trading (``HOURS_PER_YEAR = 8760``), volatility is annualised.

Every function broadcasts its array arguments with numpy rules and returns float64 arrays of
probabilities in [0, 1]. NaN policy: a NaN input gives a NaN output at that position (no error);
other invalid values (non-positive prices, negative vol or time) raise ``ConfigError`` naming the
argument. ``vol = 0`` or ``t = 0`` are allowed and give the deterministic limit.

References
----------
Reflection principle with drift: METHODS.md §2.3. Double-barrier first passage: method of images
(short horizons) and the eigenfunction expansion of the killed diffusion (long horizons), which
agree to ~1e-12 where they overlap (tested). Discrete monitoring: Broadie, Glasserman & Kou (1997),
Math. Finance 7(4), ``beta = -zeta(1/2) / sqrt(2 pi)``.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
from scipy.special import log_ndtr, ndtr

from levercast.features._typing import FloatArray, ProbArray
from levercast.features.errors import ConfigError

__all__ = [
    "BGK_BETA",
    "bgk_shift",
    "prob_close_above",
    "prob_close_below",
    "prob_double_barrier",
    "prob_excursion",
    "prob_move_terminal",
    "prob_range",
    "prob_touch",
]

BGK_BETA: Final = 0.5825971579390107  # -zeta(1/2) / sqrt(2 pi)
_N_IMAGES: Final = 3  # image terms: the first omitted one is below Phi(-10) ~ 1e-23 (z < 0.6)
_N_EIGEN: Final = 4  # eigen terms: the first omitted one is below e^{-44} (z >= 0.6)
_IMAGE_MAX_Z: Final = 0.6  # sigma sqrt(T) / width below which the image series is used

ArrayLike = npt.ArrayLike


def _as_float(value: ArrayLike, name: str, *, positive: bool) -> FloatArray:
    arr = np.asarray(value, dtype=np.float64)
    bad = (arr <= 0) if positive else (arr < 0)
    if np.any(bad):
        rule = "positive" if positive else "non-negative"
        raise ConfigError(f"{name} must be {rule}; found {float(arr[bad].flat[0])}")
    return arr


def _stdev(vol: FloatArray, t_years: FloatArray) -> FloatArray:
    with np.errstate(invalid="ignore"):
        return vol * np.sqrt(t_years)


def prob_close_above(
    spot_usd: ArrayLike,
    strike_usd: ArrayLike,
    vol_annual: ArrayLike,
    t_years: ArrayLike,
    *,
    log_drift: ArrayLike = 0.0,
) -> ProbArray:
    """P(S_T >= K): the Black-Scholes digital ``Phi(d2)``.

    Parameters
    ----------
    spot_usd, strike_usd
        Current price and strike (positive), broadcastable arrays.
    vol_annual
        Annualised volatility (>= 0).
    t_years
        Time to the fixing in years (>= 0).
    log_drift
        ``nu`` per year (0 for the baseline).

    Returns
    -------
    numpy.ndarray
        Probabilities in [0, 1]; with zero variance, 1 when ``S_0 e^{nu T} >= K`` else 0.
    """
    s = _as_float(spot_usd, "spot_usd", positive=True)
    k = _as_float(strike_usd, "strike_usd", positive=True)
    sd = _stdev(_as_float(vol_annual, "vol_annual", positive=False), _t(t_years))
    num = np.log(s / k) + np.asarray(log_drift, dtype=np.float64) * _t(t_years)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sd > 0, num / sd, np.where(num >= 0, np.inf, -np.inf))
    return np.asarray(ndtr(z), dtype=np.float64)


def prob_close_below(
    spot_usd: ArrayLike,
    strike_usd: ArrayLike,
    vol_annual: ArrayLike,
    t_years: ArrayLike,
    *,
    log_drift: ArrayLike = 0.0,
) -> ProbArray:
    """P(S_T < K) = 1 - P(S_T >= K) (parameters as :func:`prob_close_above`)."""
    return 1.0 - prob_close_above(spot_usd, strike_usd, vol_annual, t_years, log_drift=log_drift)


def prob_range(
    spot_usd: ArrayLike,
    lower_usd: ArrayLike,
    upper_usd: ArrayLike,
    vol_annual: ArrayLike,
    t_years: ArrayLike,
    *,
    log_drift: ArrayLike = 0.0,
) -> ProbArray:
    """P(lower <= S_T < upper) (parameters as :func:`prob_close_above`)."""
    above_lower = prob_close_above(spot_usd, lower_usd, vol_annual, t_years, log_drift=log_drift)
    above_upper = prob_close_above(spot_usd, upper_usd, vol_annual, t_years, log_drift=log_drift)
    return np.clip(above_lower - above_upper, 0.0, 1.0)


def _t(t_years: ArrayLike) -> FloatArray:
    return _as_float(t_years, "t_years", positive=False)


def _touch_kernel(b: FloatArray, sd: FloatArray, nu_t: FloatArray, k2b: FloatArray) -> FloatArray:
    """P(max of a BM with drift reaches b > 0); ``nu_t = nu T``, ``k2b = 2 nu b / sigma^2``."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        first = ndtr((-b + nu_t) / sd)
        # e^{k2b} can overflow where the second ndtr underflows: combine in log space.
        second = np.exp(k2b + log_ndtr((-b - nu_t) / sd))
        out = np.where(sd > 0, first + second, (nu_t >= b).astype(np.float64))
    return np.asarray(np.clip(out, 0.0, 1.0), dtype=np.float64)


def prob_touch(
    spot_usd: ArrayLike,
    barrier_usd: ArrayLike,
    vol_annual: ArrayLike,
    t_years: ArrayLike,
    *,
    up: ArrayLike,
    log_drift: ArrayLike = 0.0,
) -> ProbArray:
    """P(the price reaches the barrier by T), continuous monitoring (reflection principle).

    Parameters
    ----------
    spot_usd, barrier_usd, vol_annual, t_years, log_drift
        As :func:`prob_close_above`; ``t_years`` may be ``inf`` (ever).
    up
        Boolean array: True for an up barrier (``max S >= H``), False for down (``min S <= H``).

    Returns
    -------
    numpy.ndarray
        1 where the barrier is already at or beyond spot on its side.

    Notes
    -----
    Up barrier, ``b = ln(H/S_0) > 0``: ``Phi((-b + nu T)/(sigma sqrt T)) + e^{2 nu b / sigma^2}
    Phi((-b - nu T)/(sigma sqrt T))``; a down barrier is the up problem for ``-X`` (drift ``-nu``).
    With ``nu = 0`` this is ``2 Phi(-b / (sigma sqrt T))``.
    """
    s = _as_float(spot_usd, "spot_usd", positive=True)
    h = _as_float(barrier_usd, "barrier_usd", positive=True)
    vol = _as_float(vol_annual, "vol_annual", positive=False)
    t = _t(t_years)
    up_b = np.asarray(up, dtype=bool)
    nu = np.asarray(log_drift, dtype=np.float64)
    sign = np.where(up_b, 1.0, -1.0)
    b = sign * np.log(h / s)
    nu_dir = sign * nu
    if not np.any(nu):
        sd = _stdev(vol, t)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(sd > 0, 2.0 * ndtr(-b / sd), 0.0)
    else:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            finite_t = np.where(np.isinf(t), 0.0, t)
            out = _touch_kernel(b, _stdev(vol, t), nu_dir * finite_t, 2.0 * nu_dir * b / vol**2)
            # T = inf: P(ever) = 1 for drift towards the barrier, e^{2 nu b / sigma^2} away from it.
            ever = np.where(nu_dir >= 0, 1.0, np.exp(2.0 * nu_dir * b / vol**2))
            out = np.where(np.isinf(t), ever, out)
    out = np.where(b <= 0, 1.0, out)
    nan = np.isnan(s) | np.isnan(h) | np.isnan(vol) | np.isnan(t) | np.isnan(nu)
    return np.asarray(np.where(nan, np.nan, np.clip(out, 0.0, 1.0)), dtype=np.float64)


def bgk_shift(
    barrier_usd: ArrayLike, vol_annual: ArrayLike, dt_years: ArrayLike, *, up: ArrayLike
) -> FloatArray:
    """Move a discretely monitored barrier to its continuous equivalent (Broadie-Glasserman-Kou).

    Returns ``H e^{+beta sigma sqrt(dt)}`` for up barriers and ``H e^{-beta sigma sqrt(dt)}``
    for down barriers (away from spot), ``beta = 0.5826``; ``dt_years`` is the observation
    interval (e.g. 1/365 for a daily close).
    """
    h = _as_float(barrier_usd, "barrier_usd", positive=True)
    shift = BGK_BETA * _stdev(
        _as_float(vol_annual, "vol_annual", positive=False),
        _as_float(dt_years, "dt_years", positive=False),
    )
    return np.asarray(h * np.exp(np.where(np.asarray(up, dtype=bool), shift, -shift)))


def _image_series(
    x: FloatArray, w: FloatArray, sd: FloatArray, nu_t: FloatArray, k: FloatArray
) -> FloatArray:
    """P(exit through the upper barrier by T), method of images (fast for small sd / w)."""
    if not np.any(k):
        total = np.zeros_like(x)
        for j in range(_N_IMAGES):
            near, far = 2 * j * w + (w - x), 2 * j * w + (w + x)
            total += 2.0 * (ndtr(-near / sd) - ndtr(-far / sd))
        return total
    total = np.zeros_like(x)
    shift = k * (w - x)
    for j in range(_N_IMAGES):
        for d, sign in ((2 * j * w + (w - x), 1.0), (2 * j * w + (w + x), -1.0)):
            # e^{k(w-x)} [e^{-kd} Phi((-d + nu T)/sd) + e^{kd} Phi((-d - nu T)/sd)], in logs.
            total += sign * (
                np.exp(shift - k * d + log_ndtr((-d + nu_t) / sd))
                + np.exp(shift + k * d + log_ndtr((-d - nu_t) / sd))
            )
    return total


def _scale_function(x: FloatArray, w: FloatArray, k: FloatArray) -> FloatArray:
    """P(exit through the upper barrier, ever): ``(1 - e^{-2kx}) / (1 - e^{-2kw})``."""
    if not np.any(k):
        return np.asarray(x / w)
    m = np.abs(k)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        towards = np.expm1(-2 * m * x) / np.expm1(-2 * m * w)  # k > 0
        away = np.exp(2 * m * (x - w)) * towards  # k < 0, rewritten to avoid overflow
        drifted = np.where(k > 0, towards, away)
    return np.asarray(np.where(m * w < 1e-12, x / w, drifted))


def _eigen_series(
    x: FloatArray, w: FloatArray, sigma2_t: FloatArray, nu2_t: FloatArray, k: FloatArray
) -> FloatArray:
    """P(exit through the upper barrier by T), eigenfunction expansion (fast for large T).

    ``sin(n a)`` by the Chebyshev recurrence and ``q^(n^2)`` by products: three transcendental
    calls per element whatever the number of terms.
    """
    a = np.pi / w
    sin_prev, sin_n, two_cos = np.zeros_like(x), np.sin(a * x), 2.0 * np.cos(a * x)
    q = np.exp(-0.5 * a**2 * sigma2_t)
    q_n, q_step = q, q**3  # q^(n^2) and q^(2n+1)
    total = np.zeros_like(x)
    for n in range(1, _N_EIGEN + 1):
        m = n * a
        total += ((-1.0) ** (n + 1) * m / (k**2 + m**2)) * sin_n * q_n
        sin_prev, sin_n = sin_n, two_cos * sin_n - sin_prev
        q_n, q_step = q_n * q_step, q_step * q * q
    if np.any(k):
        total *= np.exp(k * (w - x) - 0.5 * nu2_t)
    return np.asarray(_scale_function(x, w, k) - (2.0 / w) * total)


def _upper_exit(
    x: FloatArray, w: FloatArray, vol: FloatArray, t: FloatArray, nu: FloatArray
) -> FloatArray:
    """P(exit through the upper end by T) from log-distance x above the lower end (0 < x < w)."""
    out = np.empty_like(x)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        k = nu / vol**2
        ever = np.isinf(t)
        sd = vol * np.sqrt(np.where(ever, 0.0, t))
        z = sd / w
        images = ~ever & (z < _IMAGE_MAX_Z) & (sd > 0)
        eigen = ~ever & (z >= _IMAGE_MAX_Z)
        still = ~ever & (sd <= 0)
        out[ever] = _scale_function(x[ever], w[ever], k[ever])
        out[images] = _image_series(
            x[images], w[images], sd[images], nu[images] * t[images], k[images]
        )
        out[eigen] = _eigen_series(
            x[eigen],
            w[eigen],
            sd[eigen] ** 2,
            (nu[eigen] / vol[eigen]) ** 2 * t[eigen],
            k[eigen],
        )
        out[still] = ((x + nu * t)[still] >= w[still]).astype(np.float64)
    return np.clip(out, 0.0, 1.0)


def prob_double_barrier(
    spot_usd: ArrayLike,
    lower_usd: ArrayLike,
    upper_usd: ArrayLike,
    vol_annual: ArrayLike,
    t_years: ArrayLike,
    *,
    log_drift: ArrayLike = 0.0,
) -> tuple[ProbArray, ProbArray]:
    """First passage out of a corridor: P(upper hit first by T) and P(lower hit first by T).

    Parameters
    ----------
    spot_usd, lower_usd, upper_usd
        Spot and the two barriers (``lower < upper``), continuously monitored.
    vol_annual, log_drift
        As :func:`prob_close_above`.
    t_years
        Horizon in years; ``inf`` for an open end (scale function: ``ln(S/L) / ln(U/L)`` at
        zero drift).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``p_upper_first``, ``p_lower_first``; ``1 - sum`` is P(neither by T). Spot at or beyond a
        barrier counts as that barrier already hit.

    Notes
    -----
    For ``sigma sqrt(T) < 0.6 ln(U/L)`` the image series is used, otherwise the eigenfunction
    expansion, truncated at 3 and 4 terms where the first omitted term is below 1e-20.
    """
    s = _as_float(spot_usd, "spot_usd", positive=True)
    lo = _as_float(lower_usd, "lower_usd", positive=True)
    hi = _as_float(upper_usd, "upper_usd", positive=True)
    vol = _as_float(vol_annual, "vol_annual", positive=False)
    t = _t(t_years)
    if np.any(lo >= hi):
        raise ConfigError("lower_usd must be below upper_usd; found lower_usd >= upper_usd")
    s, lo, hi, vol, t, nu = np.broadcast_arrays(
        s, lo, hi, vol, t, np.asarray(log_drift, dtype=np.float64)
    )
    w = np.log(hi / lo)
    x = np.clip(np.log(s / lo), 0.0, w)
    p_up = _upper_exit(x, w, vol, t, nu)
    p_down = _upper_exit(w - x, w, vol, t, -nu)
    p_up = np.where(s >= hi, 1.0, np.where(s <= lo, 0.0, p_up))
    p_down = np.where(s <= lo, 1.0, np.where(s >= hi, 0.0, p_down))
    excess = np.maximum(p_up + p_down - 1.0, 0.0)  # rounding only
    return np.asarray(p_up - excess / 2), np.asarray(p_down - excess / 2)


def prob_move_terminal(
    threshold: ArrayLike,
    vol_annual: ArrayLike,
    t_years: ArrayLike,
    *,
    ratio: ArrayLike = 1.0,
    direction: ArrayLike = "",
    log_drift: ArrayLike = 0.0,
) -> ProbArray:
    """P(|S_T / S_ref - 1| >= threshold) at the fixing (two-sided unless ``direction`` is set).

    Parameters
    ----------
    threshold
        Move size as a fraction (0.05 = 5 %), positive.
    ratio
        Current spot over the reference (start) price; 1 when the window starts now.
    direction
        ``"up"``, ``"down"`` or ``""`` (either way), broadcast.
    """
    th = _as_float(threshold, "threshold", positive=True)
    r = _as_float(ratio, "ratio", positive=True)
    way = np.asarray(direction)
    up = prob_close_above(r, 1.0 + th, vol_annual, t_years, log_drift=log_drift)
    low_level = np.where(th < 1.0, 1.0 - th, np.nan)
    with np.errstate(invalid="ignore"):
        down = prob_close_below(r, np.where(th < 1.0, low_level, 1.0), vol_annual, t_years)
    down = np.where(th < 1.0, down, 0.0)
    both = np.where(way == "up", up, np.where(way == "down", down, up + down))
    return np.asarray(np.clip(both, 0.0, 1.0))


def prob_excursion(
    threshold: ArrayLike,
    vol_annual: ArrayLike,
    t_years: ArrayLike,
    *,
    ratio: ArrayLike = 1.0,
    direction: ArrayLike = "",
    log_drift: ArrayLike = 0.0,
) -> ProbArray:
    """P(the price moves ``threshold`` away from the reference at any time by T).

    Parameters as :func:`prob_move_terminal`. Either way: the corridor exit probability
    ``1 - P(stay inside (ref (1 - th), ref (1 + th)))``; one way: a single touch.
    """
    th = _as_float(threshold, "threshold", positive=True)
    r = _as_float(ratio, "ratio", positive=True)
    way = np.asarray(direction)
    th, r, way = np.broadcast_arrays(th, r, way)
    up_touch = prob_touch(r, 1.0 + th, vol_annual, t_years, up=True, log_drift=log_drift)
    low = np.where(th < 1.0, 1.0 - th, 0.5)
    down_touch = np.where(
        th < 1.0, prob_touch(r, low, vol_annual, t_years, up=False, log_drift=log_drift), 0.0
    )
    p_up, p_down = prob_double_barrier(
        r, np.where(th < 1.0, low, 1e-12), 1.0 + th, vol_annual, t_years, log_drift=log_drift
    )
    either = p_up + p_down
    out = np.where(way == "up", up_touch, np.where(way == "down", down_touch, either))
    return np.asarray(np.clip(out, 0.0, 1.0))
