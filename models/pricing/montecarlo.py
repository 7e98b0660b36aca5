"""Seeded, vectorised Monte Carlo of log-price paths with fat-tailed returns: ``mc``, ``mc-garch``.

The log price ``X`` starts at 0 (= ln spot) and moves by ``nu dt + eps`` per step, where ``eps``
is, by ``innovations``:

- ``normal``: ``sigma sqrt(dt) Z`` (GBM; agrees with the closed forms, tested);
- ``bootstrap``: filtered historical simulation: hourly returns standardised by their EWMA
  volatility, demeaned, rescaled to unit variance, resampled and multiplied by ``sigma sqrt(dt)``
  (keeps the fat tails of the asset's own returns at the current vol level);
- ``garch``: GARCH(1,1) variance multiplier with Student-t shocks (unconditional variance
  ``sigma^2 dt``); ``mc-garch`` estimates ``alpha``, ``beta`` and the t's degrees of freedom
  with ``arch`` on the daily returns known at T (``models.pricing.garch.fit_garch``; the fixed
  0.05 / 0.90 / t5 with a warning when the fit fails or has too little data) and updates the
  multiplier once a simulated day.

Barrier events are tracked per path as conditional probabilities: between two steps inside the
window a continuous barrier is crossed with the Brownian-bridge probability
``exp(-2 (h - x_i)(h - x_{i+1}) / (s^2 dt))`` (METHODS.md §2.3), which makes the estimate exact
for GBM at any step count; discrete monitoring checks only the step ends. Memory is O(paths).

Resources are capped, not clamped: ``n_paths`` above ``MC_MEMORY_BUDGET_BYTES /
BYTES_PER_PATH`` (512 MiB at ~128 bytes a path: 4,194,304 paths) or ``n_paths x steps`` above
``MAX_PATH_STEPS`` (1e9, about 1-3 minutes) is refused with a ``ConfigError`` naming the cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final, Literal

import numpy as np

from levercast.features._typing import FloatArray
from levercast.features.errors import ConfigError
from levercast.features.timeutil import HOURS_PER_YEAR, parse_duration
from levercast.models.contracts import Contract, Kind, Monitoring
from levercast.models.pricing.garch import FALLBACK, GarchParams, fit_garch
from levercast.models.pricing.price import Forecast, PricingRequest
from levercast.models.pricing.volatility import (
    estimate_vol,
    ewma_variance_series,
    hourly_log_returns,
)

__all__ = [
    "BYTES_PER_PATH",
    "MAX_PATH_STEPS",
    "MC_MEMORY_BUDGET_BYTES",
    "Innovations",
    "MonteCarloResult",
    "PathEvent",
    "check_mc_size",
    "check_seed",
    "price_mc",
    "simulate_event",
    "standardize_returns",
]

Innovations = Literal["normal", "bootstrap", "garch"]
INNOVATIONS: Final = ("normal", "bootstrap", "garch")
GARCH_ALPHA: Final = FALLBACK.alpha
GARCH_BETA: Final = FALLBACK.beta
GARCH_DF: Final = FALLBACK.nu
MC_MEMORY_BUDGET_BYTES: Final = 512 * 2**20
BYTES_PER_PATH: Final = 128  # measured peak 80 (normal) to 104 (garch) bytes a path
MAX_PATH_STEPS: Final = 1_000_000_000
GARCH_FIT_DAYS: Final = 730
BAND_Z: Final = 1.645  # prob_lo/prob_hi: 90 % band of the Monte Carlo error


@dataclass(frozen=True, slots=True)
class PathEvent:
    """The levels a simulation tracks, as log-distances from spot (or from the window start).

    Attributes
    ----------
    upper, lower
        Log levels (``ln(H / S_0)``); None when absent.
    relative
        Levels are offsets from ``X`` at the window start (up/down, a move that has not begun).
    path
        Track first passage in the window (touch, first_of, excursion); else the terminal value.
    bridge
        Brownian-bridge crossing between steps (continuous monitoring); False checks step ends
        only (discrete monitoring).
    """

    upper: float | None = None
    lower: float | None = None
    relative: bool = False
    path: bool = False
    bridge: bool = True

    def __post_init__(self) -> None:
        if self.upper is None and self.lower is None:
            raise ConfigError("PathEvent needs upper or lower; found neither")
        if self.upper is not None and self.lower is not None and self.lower >= self.upper:
            raise ConfigError(
                f"lower must be below upper; found lower={self.lower}, upper={self.upper}"
            )


@dataclass(frozen=True, slots=True, eq=False)
class MonteCarloResult:
    """Per-path conditional estimates of the two events.

    ``upper[i]``: terminal ``X_T >= upper`` (0/1), or P(upper first | path i) for a path event;
    ``lower[i]``: terminal ``X_T < lower``, or P(lower first | path i).
    """

    upper: FloatArray
    lower: FloatArray
    n_steps: int
    innovations: str

    @property
    def n_paths(self) -> int:
        """Number of simulated paths."""
        return int(self.upper.size)

    def estimate(
        self, *, const: float = 0.0, w_upper: float = 0.0, w_lower: float = 0.0
    ) -> tuple[float, float]:
        """Mean and standard error of ``const + w_upper * upper + w_lower * lower``."""
        values = const + w_upper * self.upper + w_lower * self.lower
        se = float(np.std(values, ddof=1) / np.sqrt(values.size)) if values.size > 1 else 0.0
        return float(np.mean(values)), se


def standardize_returns(log_returns: FloatArray, variance_before: FloatArray) -> FloatArray:
    """Returns divided by their prior EWMA vol, demeaned and scaled to unit variance.

    Raises
    ------
    ConfigError
        When fewer than 100 usable standardised returns remain.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.asarray(log_returns) / np.sqrt(np.asarray(variance_before))
    z = z[np.isfinite(z)]
    if z.size < 100:
        raise ConfigError(f"bootstrap needs at least 100 standardised returns; found {z.size}")
    z = z - z.mean()
    return np.asarray(z / z.std())


class _Shocks:
    """Unit-variance shocks per step (times the GARCH multiplier for ``garch``).

    GARCH dynamics with a period (``draw(periods)``, the step in fit periods): steps shorter
    than a period accumulate their shocks into the period's return, and the multiplier is
    updated once a period from it (the fit's own sampling: daily returns for ``mc-garch``);
    a step of one or more periods updates it every step with ``GarchParams.per_step``.
    """

    def __init__(
        self,
        rng: np.random.Generator,
        n_paths: int,
        innovations: str,
        pool: FloatArray | None,
        garch: GarchParams = FALLBACK,
    ) -> None:
        self.rng, self.n, self.kind, self.pool = rng, n_paths, innovations, pool
        self.garch = garch
        self.h = np.ones(n_paths)
        self.t_scale = np.sqrt((garch.nu - 2.0) / garch.nu)
        self.period_sum: FloatArray | None = None  # the current period's return (unit var.)
        self.period_done = 0.0

    def draw(self, periods: float | None = None) -> tuple[FloatArray, FloatArray]:
        """(shock, its conditional standard deviation multiplier); ``periods``: the step in
        GARCH fit periods (None: the parameters apply per step as they are)."""
        if self.kind == "normal":
            return self.rng.standard_normal(self.n), np.ones(1)
        if self.kind == "bootstrap":
            assert self.pool is not None
            return self.pool[self.rng.integers(0, self.pool.size, self.n)], np.ones(1)
        scale = np.sqrt(self.h)
        shock = scale * self.t_scale * self.rng.standard_t(self.garch.nu, self.n)
        if periods is None or periods >= 1.0:
            alpha, beta = (
                (self.garch.alpha, self.garch.beta)
                if periods is None
                else self.garch.per_step(periods)
            )
            self.h = (1.0 - alpha - beta) + alpha * shock**2 + beta * self.h
            return shock, scale
        if self.period_sum is None:
            self.period_sum = np.zeros(self.n)
        self.period_sum += np.sqrt(periods) * shock
        self.period_done += periods
        if self.period_done >= 1.0 - 1e-9:
            alpha, beta = self.garch.alpha, self.garch.beta
            z2 = self.period_sum**2 / self.period_done
            self.h = (1.0 - alpha - beta) + alpha * z2 + beta * self.h
            self.period_sum[:] = 0.0
            self.period_done = 0.0
        return shock, scale


def check_mc_size(n_paths: int, n_steps: int) -> None:
    """Refuse a simulation above the memory budget or the path-step cap (not clamped).

    Raises
    ------
    ConfigError
        Naming the cap, the limit and the value found.
    """
    if isinstance(n_paths, bool) or not isinstance(n_paths, int | np.integer):
        raise ConfigError(f"n_paths must be an integer; found {n_paths!r}")
    max_paths = MC_MEMORY_BUDGET_BYTES // BYTES_PER_PATH
    if n_paths > max_paths:
        raise ConfigError(
            f"n_paths must be at most {max_paths:,} (the Monte Carlo memory budget of "
            f"{MC_MEMORY_BUDGET_BYTES // 2**20} MiB at {BYTES_PER_PATH} bytes a path); "
            f"found {n_paths:,}"
        )
    if n_paths * n_steps > MAX_PATH_STEPS:
        raise ConfigError(
            f"paths x steps must be at most {MAX_PATH_STEPS:,} (the Monte Carlo work cap); "
            f"found {n_paths:,} x {n_steps:,} = {n_paths * n_steps:,}"
        )


def check_seed(seed: object) -> None:
    """A seed is None, a ``numpy.random.Generator`` or an integer in ``[0, 2**64)``.

    Raises
    ------
    ConfigError
        Otherwise (``np.random.default_rng(-1)`` would raise a bare ValueError).
    """
    if seed is None or isinstance(seed, np.random.Generator):
        return
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed < 2**64:
        raise ConfigError(f"seed must be an integer within [0, 2**64); found {seed!r}")


def simulate_event(
    event: PathEvent,
    *,
    vol_annual: float,
    window_years: float,
    pre_years: float = 0.0,
    n_steps: int = 168,
    n_pre_steps: int = 0,
    n_paths: int = 100_000,
    innovations: Innovations = "normal",
    standardized_returns: FloatArray | None = None,
    log_drift: float = 0.0,
    seed: int | np.random.Generator | None = 0,
    garch: GarchParams = FALLBACK,
    garch_period_years: float | None = None,
) -> MonteCarloResult:
    """Simulate paths and track ``event`` in the window ``[pre, pre + window]`` (years from now).

    Parameters
    ----------
    event
        Levels and monitoring.
    vol_annual
        Annualised volatility of the shocks.
    window_years, pre_years
        Window length and time until it starts.
    n_steps, n_pre_steps
        Equal steps inside the window and before it (``n_pre_steps >= 1`` when ``pre > 0``).
    n_paths
        Number of paths.
    innovations
        ``normal``, ``bootstrap`` (needs ``standardized_returns``) or ``garch``.
    log_drift
        ``nu`` per year.
    seed
        Seed or generator (``np.random.default_rng``): equal seeds give equal results.
    garch, garch_period_years
        ``garch`` dynamics (default: the fixed fallback) and the length of their period in
        years (``1 / HOURS_PER_YEAR`` for hourly fits): a step of another length compounds the
        persistence (``GarchParams.per_step``); None applies them per step unchanged.

    Returns
    -------
    MonteCarloResult

    Raises
    ------
    ConfigError
        Bad arguments, or a size above the caps (``check_mc_size``).
    """
    if innovations not in INNOVATIONS:
        raise ConfigError(f"innovations must be one of {INNOVATIONS}; found {innovations!r}")
    if innovations == "bootstrap" and standardized_returns is None:
        raise ConfigError("innovations='bootstrap' needs standardized_returns; found None")
    if n_paths < 2 or n_steps < 1:
        raise ConfigError(f"n_paths >= 2 and n_steps >= 1 required; found {n_paths}, {n_steps}")
    if pre_years > 0 and n_pre_steps < 1:
        raise ConfigError(f"n_pre_steps must be >= 1 when pre_years > 0; found {n_pre_steps}")
    if not (vol_annual > 0 and window_years > 0 and pre_years >= 0):
        raise ConfigError(
            f"vol_annual and window_years must be positive, pre_years >= 0; found "
            f"{vol_annual}, {window_years}, {pre_years}"
        )
    n_pre = n_pre_steps if pre_years > 0 else 0
    check_mc_size(n_paths, n_pre + n_steps)
    check_seed(seed)
    shocks = _Shocks(np.random.default_rng(seed), n_paths, innovations, standardized_returns, garch)
    x = np.zeros(n_paths)
    # Levels are scalars unless relative to the window start (then one per path, set below).
    up_level: float | FloatArray = np.inf if event.upper is None else event.upper
    low_level: float | FloatArray = -np.inf if event.lower is None else event.lower
    if event.relative and n_pre == 0:
        up_level, low_level = up_level + x, low_level + x
    alive, hit_up, hit_low = np.ones(n_paths), np.zeros(n_paths), np.zeros(n_paths)
    for i in range(n_pre + n_steps):
        dt = pre_years / n_pre if i < n_pre else window_years / n_steps
        sd = vol_annual * np.sqrt(dt)
        shock, scale = shocks.draw(None if garch_period_years is None else dt / garch_period_years)
        x_new = x + log_drift * dt + sd * shock
        if event.relative and i + 1 == n_pre:
            up_level, low_level = up_level + x_new, low_level + x_new
        if event.path and i >= n_pre:
            var = (sd * scale) ** 2
            if event.upper is not None:
                _cross(x, x_new, up_level, low_level, var, event, alive, hit_up, up=True)
            if event.lower is not None:
                _cross(x, x_new, low_level, up_level, var, event, alive, hit_low, up=False)
        x = x_new
    if not event.path:
        hit_up = (x >= up_level).astype(np.float64)
        hit_low = (x < low_level).astype(np.float64)
    return MonteCarloResult(hit_up, hit_low, n_pre + n_steps, innovations)


def _cross(
    x: FloatArray,
    x_new: FloatArray,
    level: float | FloatArray,
    other: float | FloatArray,
    var: FloatArray,
    event: PathEvent,
    alive: FloatArray,
    hits: FloatArray,
    *,
    up: bool,
) -> None:
    """Move probability mass of the alive paths that cross ``level`` into ``hits`` (in place).

    ``up``: the upper barrier, crossed upwards; else the lower one, crossed downwards (the
    mirror image: the same numbers as negating ``x``, the levels and the comparisons). A step
    ending beyond the *other* barrier is left to that barrier (the chance of crossing both
    within one step is ignored; it is of second order in the step size).
    """
    if event.bridge:
        with np.errstate(over="ignore", invalid="ignore"):
            if up:
                ended = x_new >= level
                gap = np.maximum(level - x, 0.0)
                gap *= np.maximum(level - x_new, 0.0)
            else:
                ended = x_new <= level
                gap = np.maximum(x - level, 0.0)
                gap *= np.maximum(x_new - level, 0.0)
            gap *= -2.0
            gap /= var
            p = np.exp(gap, out=gap)
        p[ended] = 1.0
        np.nan_to_num(p, copy=False, nan=0.0)
        other_side = event.lower if up else event.upper
        if other_side is not None:
            p[x_new <= other if up else x_new >= other] = 0.0
    else:
        p = (x_new >= level if up else x_new <= level).astype(np.float64)
    p *= alive
    hits += p
    alive -= p


# -- the registered pricer ------------------------------------------------------------------
DEFAULT_PATHS: Final = 100_000
MAX_STEPS: Final = 336
OPEN_END_DAYS: Final = 365


def _steps(hours: float, *, per_hour: bool) -> int:
    return int(np.clip(np.ceil(hours), 1, MAX_STEPS)) if per_hour else 1


def _event(contract: Contract, spot: float, start_price: float | None) -> tuple[PathEvent, str]:
    """The contract as a PathEvent and how to combine ``upper``/``lower`` ("u", "l", "range",
    "u+l", "first")."""
    kind, rule = contract.kind, contract.monitoring_rule
    path, bridge = rule is not Monitoring.TERMINAL, rule is Monitoring.CONTINUOUS

    def log(level: float | None) -> float | None:
        return None if level is None else float(np.log(level / spot))

    if kind is Kind.CLOSE_ABOVE:
        return PathEvent(upper=log(contract.strike_usd)), "u"
    if kind is Kind.CLOSE_BELOW:
        return PathEvent(lower=log(contract.strike_usd)), "l"
    if kind is Kind.RANGE:
        return PathEvent(upper=log(contract.upper_usd), lower=log(contract.lower_usd)), "range"
    if kind is Kind.UP_DOWN:
        if start_price is None:
            return PathEvent(upper=0.0, relative=True), "u"
        return PathEvent(upper=log(start_price)), "u"
    if kind is Kind.TOUCH:
        level = log(contract.strike_usd)
        if contract.direction == "up":
            return PathEvent(upper=level, path=path, bridge=bridge), "u"
        return PathEvent(lower=level, path=path, bridge=bridge), "l"
    if kind is Kind.FIRST_OF:
        return PathEvent(
            upper=log(contract.upper_usd), lower=log(contract.lower_usd), path=True, bridge=bridge
        ), "first"
    assert kind is Kind.MOVE and contract.threshold is not None
    th = contract.threshold
    ref_up, ref_low = 1 + th, (1 - th if th < 1 else None)
    if start_price is None:
        up, low, relative = np.log(ref_up), ref_low and np.log(ref_low), True
    else:
        up = np.log(start_price * ref_up / spot)
        low = ref_low and np.log(start_price * ref_low / spot)
        relative = False
    up_v = None if contract.direction == "down" else float(up)
    low_v = None if contract.direction == "up" or low is None else float(low)
    combine = "u" if low_v is None else ("l" if up_v is None else "u+l")
    return PathEvent(upper=up_v, lower=low_v, relative=relative, path=path, bridge=bridge), combine


def _garch_params(request: PricingRequest) -> GarchParams:
    """GARCH dynamics fitted on the daily returns known at T (sums of 24 consecutive hourly
    log returns over the last ``GARCH_FIT_DAYS``; memoised per view)."""
    contract = request.contract
    key = ("garch", contract.asset, contract.resolution.source)
    params: GarchParams | None = request.view.memo.get(key)
    if params is None:
        hourly, *_ = hourly_log_returns(
            request.view, contract.asset, days=GARCH_FIT_DAYS, preferred=contract.resolution.source
        )
        n_days = hourly.size // 24
        daily = hourly[hourly.size - 24 * n_days :].reshape(n_days, 24).sum(axis=1)
        params = fit_garch(daily)
        request.view.memo[key] = params
    return params


def _returns_pool(request: PricingRequest) -> FloatArray:
    returns, *_ = hourly_log_returns(
        request.view,
        request.contract.asset,
        days=365,
        preferred=request.contract.resolution.source,
    )
    return standardize_returns(returns, ewma_variance_series(returns))


def price_mc(request: PricingRequest) -> Forecast:
    """Registered pricer of ``mc`` (filtered bootstrap) and ``mc-garch`` (GARCH-t shocks).

    Volatility is the ``gbm`` EWMA; log-drift 0. ``prob_lo``/``prob_hi`` are
    ``prob -/+ 1.645 x`` the Monte Carlo standard error (the vol band is not included). An
    open-ended first_of is simulated over 365 days. The closed-form ``gbm`` value is reported as
    a component for comparison.
    """
    from levercast.models.pricing.gbm import contract_prob

    contract, state, at = request.contract, request.state, request.at
    innovations: Innovations = "garch" if request.model == "mc-garch" else "bootstrap"
    estimate = estimate_vol(
        request.view, contract.asset, method="ewma", preferred=contract.resolution.source
    )
    warnings = list(dict.fromkeys((*state.warnings, *estimate.warnings)))
    pre_h = max((contract.start - at).total_seconds() / 3600.0, 0.0)
    end = contract.end
    if end is None:
        end = max(contract.start, at) + timedelta(days=OPEN_END_DAYS)
        warnings.append(f"open-ended first_of simulated over {OPEN_END_DAYS} days")
    window_h = (end - max(contract.start, at)).total_seconds() / 3600.0
    event, combine = _event(contract, state.spot_usd, state.start_price_usd)
    n_steps = _steps(window_h, per_hour=True)
    if contract.monitoring_rule is Monitoring.DISCRETE:
        every = parse_duration(contract.resolution.discrete_every or "1d")
        n_steps = max(1, round(window_h * 3600.0 / every.total_seconds()))
    n_pre_steps = _steps(pre_h, per_hour=True) if pre_h > 0 else 0
    n_paths = request.paths or DEFAULT_PATHS
    check_mc_size(n_paths, n_steps + n_pre_steps)  # before the returns are read or fitted
    check_seed(request.seed)
    garch = FALLBACK
    if innovations == "garch":
        garch = _garch_params(request)
        if garch.warning:
            warnings.append(garch.warning)
    result = simulate_event(
        event,
        vol_annual=estimate.vol_annual,
        window_years=window_h / HOURS_PER_YEAR,
        pre_years=pre_h / HOURS_PER_YEAR,
        n_steps=n_steps,
        n_pre_steps=n_pre_steps,
        n_paths=n_paths,
        innovations=innovations,
        standardized_returns=_returns_pool(request) if innovations == "bootstrap" else None,
        seed=request.seed,
        garch=garch,
        garch_period_years=24.0 / HOURS_PER_YEAR if innovations == "garch" else None,
    )
    weights = {
        "u": {"w_upper": 1.0},
        "l": {"w_lower": 1.0},
        "u+l": {"w_upper": 1.0, "w_lower": 1.0},
        "range": {"const": 1.0, "w_upper": -1.0, "w_lower": -1.0},
        "first": {
            "const": contract.neither_value,
            "w_upper": 1.0 - contract.neither_value,
            "w_lower": -contract.neither_value,
        },
    }[combine]
    prob, se = result.estimate(**weights)
    prob = float(np.clip(prob, 0.0, 1.0))
    components = {"mc": prob, "gbm": contract_prob(contract, request, estimate.vol_annual)}
    if combine == "first":
        up, low = result.estimate(w_upper=1.0)[0], result.estimate(w_lower=1.0)[0]
        components.update(upper_first=up, lower_first=low, neither=max(1.0 - up - low, 0.0))
    return Forecast(
        contract=contract,
        at=at,
        prob=prob,
        prob_lo=max(prob - BAND_Z * se, 0.0),
        prob_hi=min(prob + BAND_Z * se, 1.0),
        model=request.model,
        components=components,
        inputs={
            **state.inputs(),
            "vol_annual": estimate.vol_annual,
            "vol_method": estimate.method,
            "vol_source": estimate.source,
            "log_drift": 0.0,
            "hours_to_start": pre_h,
            "hours_to_end": pre_h + window_h,
            "monitoring": contract.monitoring_rule.value,
            "innovations": innovations,
            "mc_paths": result.n_paths,
            "mc_steps": result.n_steps,
            "mc_stderr": se,
            "seed": request.seed,
            **(
                {
                    "garch_alpha": garch.alpha,
                    "garch_beta": garch.beta,
                    "garch_nu": garch.nu,
                    "garch_source": garch.source,
                    "garch_persistence_capped": garch.capped,
                    "garch_returns": garch.n_returns,
                }
                if innovations == "garch"
                else {}
            ),
        },
        warnings=tuple(warnings),
    )
