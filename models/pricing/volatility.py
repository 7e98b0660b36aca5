"""Volatility inputs of the pricers: EWMA, a HAR-type forecast, or implied vol (DVOL).

All estimates are annualised for 24/7 trading (``HOURS_PER_YEAR = 8760`` hourly periods) and
come from data with ``available_at <= T`` only. ``estimate_vol`` returns a ``VolEstimate`` that
names the method and the source actually used; the ``gbm`` baseline uses the EWMA of hourly
squared log returns with a 7-day half-life, never tuned on an evaluation window, read from the
one point-in-time series of ``levercast.features.prices`` (the same numbers the contract grid,
the backtests and the evaluation use). ``ewma_vol`` and ``vol_rel_stderr`` are the plain
array versions of that estimate (the Monte Carlo pricer and the tests use them).

NaN policy: non-finite returns are dropped before estimation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from levercast.features._typing import FloatArray
from levercast.features.dataset.store import StoreView
from levercast.features.errors import ConfigError, DataError
from levercast.features.prices import (
    HALF_LIFE_HOURS,
    LOOKBACK,
    MIN_RETURNS,
    ewma_filter,
    spot_and_vol,
)
from levercast.features.timeutil import HOURS_PER_YEAR, format_utc
from levercast.models.pricing.market_state import PROXY_VENUES, find_candle_source

__all__ = [
    "HALF_LIFE_HOURS",
    "VolEstimate",
    "estimate_vol",
    "ewma_variance_series",
    "ewma_vol",
    "har_vol",
    "hourly_log_returns",
    "vol_rel_stderr",
]

HAR_MIN_DAYS: Final = 60
HAR_FIT_DAYS: Final = 365
IMPLIED_SOURCE: Final = "deribit-dvol"

VolMethod = Literal["ewma", "har", "implied"]
VOL_METHODS: Final = ("ewma", "har", "implied")


@dataclass(frozen=True, slots=True)
class VolEstimate:
    """An annualised volatility and where it came from.

    Attributes
    ----------
    vol_annual
        Annualised volatility (0.55 = 55 %).
    method
        ``ewma``, ``har`` or ``implied``: the method actually used.
    source
        Candle venue (``binance-usdm``) or ``deribit-dvol``.
    last_ts
        ``available_at`` of the newest input.
    rel_stderr
        Relative standard error of ``vol_annual`` (see :func:`vol_rel_stderr`).
    warnings
        Fallbacks taken (e.g. implied vol requested but absent).
    """

    vol_annual: float
    method: str
    source: str
    last_ts: datetime
    rel_stderr: float
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not (math.isfinite(self.vol_annual) and self.vol_annual > 0):
            raise DataError(f"vol_annual must be positive and finite; found {self.vol_annual}")


def _decay(half_life: float) -> float:
    if not half_life > 0:
        raise ConfigError(f"half_life must be positive; found {half_life}")
    return float(0.5 ** (1.0 / half_life))


def _clean(log_returns: npt.ArrayLike) -> FloatArray:
    r = np.asarray(log_returns, dtype=np.float64).ravel()
    return r[np.isfinite(r)]


def ewma_vol(
    log_returns: npt.ArrayLike,
    *,
    half_life: float = HALF_LIFE_HOURS,
    periods_per_year: float = HOURS_PER_YEAR,
) -> float:
    """Annualised EWMA volatility of zero-mean log returns (newest last).

    Weights ``lambda^k`` (k periods ago, ``lambda = 0.5^(1/half_life)``) normalised to sum to 1
    over the returns given.

    Raises
    ------
    DataError
        Fewer than 2 finite returns.
    """
    r = _clean(log_returns)
    if r.size < 2:
        raise DataError(f"log_returns must hold at least 2 finite values; found {r.size}")
    lam = _decay(half_life)
    weights = lam ** np.arange(r.size - 1, -1, -1, dtype=np.float64)
    variance = float(np.dot(weights, r**2) / weights.sum())
    return math.sqrt(variance * periods_per_year)


def ewma_variance_series(
    log_returns: npt.ArrayLike, *, half_life: float = HALF_LIFE_HOURS
) -> FloatArray:
    """Per-period EWMA variance known *before* each return (``v[i]`` uses returns ``< i``).

    ``v[0]`` is the mean square of the first ``half_life`` returns (a warm start); used to
    standardise returns for the filtered bootstrap of the Monte Carlo pricer.
    """
    r = _clean(log_returns)
    lam = _decay(half_life)
    seed = float(np.mean(r[: max(int(half_life), 1)] ** 2)) if r.size else 0.0
    filtered = ewma_filter(r**2, lam, gain=1.0 - lam, initial=seed)
    return np.asarray(np.concatenate([[seed], filtered[:-1]])) if r.size else r


def vol_rel_stderr(log_returns: npt.ArrayLike, *, half_life: float = HALF_LIFE_HOURS) -> float:
    """Relative standard error of an EWMA volatility.

    ``se(sigma) / sigma ~= sqrt((kurtosis - 1) / n_eff) / 2`` with ``n_eff = (sum w)^2 / sum w^2``
    the effective sample size and the sample kurtosis of the returns (3 for normal returns):
    fat tails widen the band.
    """
    r = _clean(log_returns)
    if r.size < 2:
        return float("nan")
    lam = _decay(half_life)
    w = lam ** np.arange(r.size - 1, -1, -1, dtype=np.float64)
    n_eff = w.sum() ** 2 / np.sum(w**2)
    m2 = np.mean(r**2)
    kurtosis = float(np.mean(r**4) / m2**2) if m2 > 0 else 3.0
    return float(math.sqrt(max(kurtosis - 1.0, 0.0) / n_eff) / 2.0)


def har_vol(
    log_returns: npt.ArrayLike,
    *,
    horizon_hours: float,
    periods_per_day: int = 24,
    fit_days: int = HAR_FIT_DAYS,
) -> float:
    """Annualised HAR-RV forecast of the average volatility over the next ``horizon_hours``.

    Daily realised variance ``RV_d`` (sum of 24 squared hourly returns, days counted back from
    the newest return) is regressed by OLS on its 1-, 7- and 30-day averages the day before
    (Corsi's HAR with a crypto week); the forecast is iterated over ``ceil(horizon / 24)`` days
    and averaged. Forecast variances are floored at a tenth of the sample mean.

    Raises
    ------
    DataError
        Fewer than ``HAR_MIN_DAYS`` (60) full days of returns.
    """
    r = _clean(log_returns)
    n_days = min(r.size // periods_per_day, fit_days + 30)
    if n_days < HAR_MIN_DAYS:
        raise DataError(
            f"har_vol needs at least {HAR_MIN_DAYS} days of hourly returns; found {n_days}"
        )
    days = r[r.size - n_days * periods_per_day :].reshape(n_days, periods_per_day)
    rv = np.sum(days**2, axis=1)

    def lags(series: FloatArray) -> FloatArray:
        return np.array([series[-1], series[-7:].mean(), series[-30:].mean()])

    x = np.array([lags(rv[: i + 1]) for i in range(29, n_days - 1)])
    y = rv[30:]
    design = np.column_stack([np.ones(len(x)), x])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    floor = 0.1 * float(rv.mean())
    path = list(rv)
    steps = max(1, math.ceil(horizon_hours / periods_per_day))
    forecasts = []
    for _ in range(steps):
        nxt = max(float(coef[0] + coef[1:] @ lags(np.asarray(path))), floor)
        forecasts.append(nxt)
        path.append(nxt)
    return math.sqrt(float(np.mean(forecasts)) * HOURS_PER_YEAR / periods_per_day)


def hourly_log_returns(
    view: StoreView, asset: str, *, days: int, preferred: str | None = None
) -> tuple[FloatArray, str, datetime, list[str]]:
    """Hourly close-to-close log returns known at ``view.t`` (consecutive bars only).

    Uses the first fresh venue (``preferred``, then the proxies) with at least
    ``MIN_RETURNS + 1`` hourly bars in the last ``days`` days.

    Returns
    -------
    (returns, venue, last_ts, warnings)
    """
    source, warnings = find_candle_source(
        view,
        asset,
        preferred=preferred,
        intervals=("1h",),
        lookback=timedelta(days=days),
        min_bars=MIN_RETURNS + 1,
    )
    bars = source.bars
    close = bars["close"].to_numpy(dtype=np.float64)
    ts = bars["ts"].to_numpy(dtype="datetime64[ns]")
    consecutive = np.diff(ts) == np.timedelta64(1, "h")
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = np.diff(np.log(close))[consecutive]
    return _clean(returns), source.venue, source.last_ts, warnings


def implied_vol_at(view: StoreView, asset: str) -> tuple[float, datetime] | None:
    """The newest DVOL value of ``asset`` if fresh at T (at most 2 h old), else None."""
    if not view.has("implied_vol"):
        return None
    rows = view.table(
        "implied_vol", since=view.t - timedelta(hours=2), source=IMPLIED_SOURCE, asset=asset
    )
    rows = rows[np.isfinite(rows["iv"].to_numpy(dtype=np.float64))]
    if rows.empty:
        return None
    last = rows.iloc[-1]
    return float(last["iv"]), pd.Timestamp(last["available_at"]).to_pydatetime()


def estimate_vol(
    view: StoreView,
    asset: str,
    *,
    method: VolMethod = "ewma",
    horizon_hours: float = 24.0,
    preferred: str | None = None,
) -> VolEstimate:
    """Annualised volatility of ``asset`` at ``view.t`` by ``method``, with named fallbacks.

    ``implied`` falls back to EWMA (with a warning) when there is no fresh DVOL for the asset;
    ``har`` falls back to EWMA when there are fewer than 60 days of hourly returns. The relative
    standard error is the EWMA one in every case (DVOL and HAR carry no error model here).

    Raises
    ------
    ConfigError
        Unknown method.
    DataError
        No fresh candle venue with at least a week of hourly returns.
    """
    if method not in VOL_METHODS:
        raise ConfigError(f"method must be one of {VOL_METHODS}; found {method!r}")
    key = ("estimate_vol", asset, method, horizon_hours, preferred)
    cached: VolEstimate | None = view.memo.get(key)
    if cached is None:
        cached = _estimate_vol(view, asset, method, horizon_hours, preferred)
        view.memo[key] = cached
    return cached


def _ewma_estimate(view: StoreView, asset: str, preferred: str | None) -> VolEstimate:
    venues = [preferred] if preferred else []
    venues += [v for v in PROXY_VENUES if v != preferred]
    row = spot_and_vol(view, asset, [view.t], venues=venues).iloc[0]
    if not row["spot_venue"]:
        raise DataError(
            f"no fresh hourly candles of {asset} at {format_utc(view.t)} with a week of returns "
            f"in the {LOOKBACK.days} days before (max staleness 2 h); tried {', '.join(venues)}"
        )
    warnings: tuple[str, ...] = ()
    if preferred and row["spot_venue"] != preferred:
        warnings = (
            f"spot from proxy venue {row['spot_venue']}: resolution source {preferred} has no "
            f"fresh {asset} candles at {format_utc(view.t)}",
        )
    last = pd.Timestamp(row["spot_available_at"]).to_pydatetime()
    return VolEstimate(
        float(row["vol_annual"]),
        "ewma",
        str(row["spot_venue"]),
        last,
        float(row["rel_stderr"]),
        warnings,
    )


def _estimate_vol(
    view: StoreView, asset: str, method: VolMethod, horizon_hours: float, preferred: str | None
) -> VolEstimate:
    ewma = _ewma_estimate(view, asset, preferred)
    venue, last_ts, rel, warnings = ewma.source, ewma.last_ts, ewma.rel_stderr, ewma.warnings
    if method == "implied":
        implied = implied_vol_at(view, asset)
        if implied is None:
            note = f"no fresh implied vol ({IMPLIED_SOURCE}) for {asset} at {format_utc(view.t)}"
            return VolEstimate(
                ewma.vol_annual, "ewma", venue, last_ts, rel, (*warnings, f"{note}; used EWMA")
            )
        return VolEstimate(implied[0], "implied", IMPLIED_SOURCE, implied[1], rel, ())
    if method == "har":
        returns, venue, last_ts, har_warnings = hourly_log_returns(
            view, asset, days=HAR_FIT_DAYS + 31, preferred=preferred
        )
        try:
            value = har_vol(returns, horizon_hours=horizon_hours)
        except DataError as e:
            return VolEstimate(
                ewma.vol_annual,
                "ewma",
                ewma.source,
                ewma.last_ts,
                rel,
                (*warnings, f"{e}; used EWMA"),
            )
        return VolEstimate(value, "har", venue, last_ts, rel, tuple(har_warnings))
    return ewma
