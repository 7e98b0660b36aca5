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

from typing import Any, Final

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
_BLOCK: Final = 16_384  # elements per block of the corridor series (~10 arrays in L2 cache)

ArrayLike = npt.ArrayLike
Num = float | FloatArray  # a drift term: one value for all elements, or one each


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


def _image_series(x: FloatArray, w: FloatArray, sd: FloatArray, nu_t: Num, k: Num) -> FloatArray:
    """P(exit through the upper barrier by T), method of images (fast for small sd / w)."""
    if not np.any(k):
        # sum_j 2 [Phi(-(2 j w + w - x) / sd) - Phi(-(2 j w + w + x) / sd)], in place
        inner, outer = w - x, w + x
        total, near, far = np.zeros_like(x), np.empty_like(x), np.empty_like(x)
        for j in range(_N_IMAGES):
            for arg, offset in ((near, inner), (far, outer)):
                if j:
                    np.multiply(w, 2 * j, out=arg)
                    arg += offset
                    np.negative(arg, out=arg)
                else:
                    np.negative(offset, out=arg)
                arg /= sd
                ndtr(arg, out=arg)
            near -= far
            near *= 2.0
            total += near
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


def _scale_function(x: FloatArray, w: FloatArray, k: Num) -> FloatArray:
    """P(exit through the upper barrier, ever): ``(1 - e^{-2kx}) / (1 - e^{-2kw})``."""
    if not np.any(k):
        return np.asarray(x / w)
    m = np.abs(k)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        towards = np.expm1(-2 * m * x) / np.expm1(-2 * m * w)  # k > 0
        away = np.exp(2 * m * (x - w)) * towards  # k < 0, rewritten to avoid overflow
        drifted = np.where(k > 0, towards, away)
    return np.asarray(np.where(m * w < 1e-12, x / w, drifted))


def _eigen_pair(
    x_up: FloatArray,
    x_down: FloatArray,
    w: FloatArray,
    sigma2_t: FloatArray,
    nu2_t: Num,
    k: Num,
) -> tuple[FloatArray, FloatArray]:
    """P(exit through the upper barrier by T) from ``x_up`` with drift ``k`` and, mirrored, from
    ``x_down`` with drift ``-k`` (the lower barrier): the eigenfunction expansion (fast for
    large T), whose decay factors ``q^(n^2)`` and term weights the two sides share.

    ``sin(n a)`` by the Chebyshev recurrence and ``q^(n^2)`` by products: three transcendental
    calls per element and side whatever the number of terms.
    """
    # In place into a few buffers: each temporary array of this size costs about as much as
    # the arithmetic (fresh pages), and the loop would allocate ~40 of them.
    a = np.pi / w
    q = np.square(a)
    q *= -0.5
    q *= sigma2_t
    np.exp(q, out=q)
    q_n, q_step = q.copy(), q**3  # q^(n^2) and q^(2n+1)
    drift = bool(np.any(k))
    k2 = np.square(k) if drift else None  # the same for -k; without drift k^2 + m^2 is m^2
    sides: list[list[Any]] = []
    for x in (x_up, x_down):
        ax = a * x
        sin_n = np.sin(ax)
        two_cos = np.cos(ax, out=ax)
        two_cos *= 2.0
        # sin(n a x), 2 cos(a x), sin((n - 1) a x), scratch, sum of the terms
        sides.append([sin_n, two_cos, None, np.empty_like(x), np.empty_like(x)])
    m, weight, term = np.empty_like(a), np.empty_like(a), np.empty_like(a)
    for n in range(1, _N_EIGEN + 1):
        np.multiply(a, n, out=m)
        # term n: (-1)^(n+1) m / (k^2 + m^2) sin(n a x) q^(n^2); the sign is applied by adding
        # or subtracting (exact), the magnitude is shared by the two sides
        np.square(m, out=weight)
        if k2 is not None:
            np.add(k2, weight, out=weight)
        np.divide(m, weight, out=weight)
        for side in sides:
            sin_n, two_cos, sin_prev, scratch, total = side
            if n == 1:
                np.multiply(weight, sin_n, out=total)
                total *= q_n
            else:
                np.multiply(weight, sin_n, out=term)
                term *= q_n
                if n % 2:
                    total += term
                else:
                    total -= term
            if n < _N_EIGEN:  # sin((n + 1) a x) = 2 cos(a x) sin(n a x) - sin((n - 1) a x)
                np.multiply(two_cos, sin_n, out=scratch)
                if sin_prev is not None:
                    scratch -= sin_prev
                free = sin_prev if sin_prev is not None else np.empty_like(sin_n)
                side[0], side[2], side[3] = scratch, sin_n, free
        if n < _N_EIGEN:
            q_n *= q_step
            q_step *= q
            q_step *= q
    out = []
    two_over_w = 2.0 / w
    for side, x, kx in zip(sides, (x_up, x_down), (k, -k), strict=True):
        total = side[4]
        if drift:
            total *= np.exp(kx * (w - x) - 0.5 * nu2_t)
        total *= two_over_w
        result = np.asarray(_scale_function(x, w, kx))
        out.append(np.subtract(result, total, out=total))
    return out[0], out[1]


def _corridor_exits(
    x: FloatArray, w: FloatArray, vol: FloatArray, t: FloatArray, nu: FloatArray, *, plain: bool
) -> tuple[FloatArray, FloatArray]:
    """P(exit through the upper end by T) and P(exit through the lower end by T) from
    log-distance x above the lower end (0 < x < w): the lower end is the upper end of the
    mirrored corridor (distance ``w - x``, drift ``-nu``). Each element takes one method
    (scale function, images, eigenfunctions, no variance), chosen once for both ends.

    ``plain``: zero drift and positive vols everywhere (the gbm baseline): k = nu / vol^2 is 0,
    so the drift terms are skipped (the series test np.any(k)) without building k, nu T, ..."""
    # NaN where no method applies (a NaN input): the NaN policy of the module
    p_up, p_down = np.full_like(x, np.nan), np.full_like(x, np.nan)
    x_down = w - x
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        k = 0.0 if plain else nu / vol**2
        ever = np.isinf(t)
        has_ever = bool(ever.any())
        sd = vol * np.sqrt(np.where(ever, 0.0, t) if has_ever else t)
        z = sd / w
        finite = ~ever if has_ever else True
        branches = (
            ("ever", ever if has_ever else None),
            ("images", finite & (z < _IMAGE_MAX_Z) & (sd > 0)),
            ("eigen", finite & (z >= _IMAGE_MAX_Z)),
            ("still", finite & (sd <= 0)),
        )
        for name, mask in branches:
            if mask is None or not mask.any():
                continue
            idx = slice(None) if mask.all() else np.flatnonzero(mask)
            xu, xd, wi = x[idx], x_down[idx], w[idx]
            ki: Num
            nui: Num
            if plain:
                ki, ti, nui = 0.0, t[idx], 0.0
            else:
                ki, ti, nui = k[idx], t[idx], nu[idx]  # type: ignore[index]
            if name == "ever":
                up, down = _scale_function(xu, wi, ki), _scale_function(xd, wi, -ki)
            elif name == "images":
                sdi = sd[idx]
                up = _image_series(xu, wi, sdi, nui * ti, ki)
                down = _image_series(xd, wi, sdi, -nui * ti, -ki)
            elif name == "eigen":
                nu2_t = 0.0 if plain else (nui / vol[idx]) ** 2 * ti
                up, down = _eigen_pair(xu, xd, wi, sd[idx] ** 2, nu2_t, ki)
            else:
                up = (xu + nui * ti >= wi).astype(np.float64)
                down = (xd + -nui * ti >= wi).astype(np.float64)
            p_up[idx], p_down[idx] = up, down
    return np.clip(p_up, 0.0, 1.0, out=p_up), np.clip(p_down, 0.0, 1.0, out=p_down)


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
    shape = s.shape  # computed on flat arrays, returned in this shape
    s, lo, hi, vol, t, nu = (np.ravel(v) for v in (s, lo, hi, vol, t, nu))
    plain = not np.any(nu) and bool(np.all(vol > 0))
    if not plain or s.size <= _BLOCK:
        p_up, p_down = _double_barrier_flat(s, lo, hi, vol, t, nu, plain=plain)
        return p_up.reshape(shape), p_down.reshape(shape)
    # The gbm baseline in blocks that stay in the cache: the series make ~50 passes over
    # their arrays, each bound by memory at a million elements. Each element's arithmetic is
    # the same as in one pass (the method choice is per element; no drift, so no batch-wide
    # choice of the drift terms), so the numbers are identical.
    p_up, p_down = np.empty(s.size), np.empty(s.size)
    for start in range(0, s.size, _BLOCK):
        b = slice(start, start + _BLOCK)
        p_up[b], p_down[b] = _double_barrier_flat(
            s[b], lo[b], hi[b], vol[b], t[b], nu[b], plain=True
        )
    return p_up.reshape(shape), p_down.reshape(shape)


def _double_barrier_flat(
    s: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
    vol: FloatArray,
    t: FloatArray,
    nu: FloatArray,
    *,
    plain: bool,
) -> tuple[FloatArray, FloatArray]:
    """``prob_double_barrier`` of flat, validated arrays."""
    # In place where possible: at a million contracts every temporary costs ~1 ms.
    w = np.log(hi / lo)
    x = s / lo
    np.log(x, out=x)
    np.clip(x, 0.0, w, out=x)
    p_up, p_down = _corridor_exits(x, w, vol, t, nu, plain=plain)
    above, below = s >= hi, s <= lo
    p_up[below], p_down[above] = 0.0, 0.0
    p_up[above], p_down[below] = 1.0, 1.0
    excess = np.add(p_up, p_down, out=x)
    excess -= 1.0
    np.maximum(excess, 0.0, out=excess)  # rounding only
    excess /= 2
    p_up -= excess
    p_down -= excess
    return p_up, p_down


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
    is_up, is_down = way == "up", way == "down"
    # each part only when some element reads it (elementwise, so the values are the same)
    low = np.where(th < 1.0, 1.0 - th, 0.5)
    up_touch: Any = 0.0
    down_touch: Any = 0.0
    either: Any = 0.0
    if np.any(is_up):
        up_touch = prob_touch(r, 1.0 + th, vol_annual, t_years, up=True, log_drift=log_drift)
    if np.any(is_down):
        down_touch = np.where(
            th < 1.0, prob_touch(r, low, vol_annual, t_years, up=False, log_drift=log_drift), 0.0
        )
    if not np.all(is_up | is_down):
        p_up, p_down = prob_double_barrier(
            r, np.where(th < 1.0, low, 1e-12), 1.0 + th, vol_annual, t_years, log_drift=log_drift
        )
        either = p_up + p_down
    out = np.where(is_up, up_touch, np.where(is_down, down_touch, either))
    return np.asarray(np.clip(out, 0.0, 1.0))
