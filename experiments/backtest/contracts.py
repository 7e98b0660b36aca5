"""Backtest inputs, vectorised: decision grid, spot and EWMA vol at each decision, z-strikes.

Point in time
    Spot at a decision time ``t`` is the close of the last bar with ``available_at <= t`` (at most
    ``2 x`` the bar interval old, as in ``models.pricing.market_state``); the vol is the EWMA of
    hourly squared
    log returns of consecutive bars closed by ``t`` (half-life ``HALF_LIFE_HOURS``, the ``gbm``
    baseline's), annualised with ``HOURS_PER_YEAR``. The recursion runs over the whole history
    once (``scipy.signal.lfilter``) and is read at every decision with ``searchsorted`` on
    ``available_at``: no row available after ``t`` enters a value at ``t``. The newest 10
    half-lives of returns are weighted exactly as ``estimate_vol`` weights them.

Contracts
    ``models.learned.contract_grid`` (the learned-models issue's grid, shared with training): its
    ``market_inputs`` picks at each decision ``--venue`` or the first fresh venue among the
    resolution source (``binance-spot``) and the proxies, and ``contract_grid`` puts strikes at
    ``spot * exp(z sigma sqrt(h))`` for every kind; windows are ``[t, t + h)`` on the hour grid.
    ``PriceSeries`` (above) serves ``evaluate``'s path-to-date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from levercast.features.dataset.store import Store
from levercast.features.timeutil import HOURS_PER_YEAR
from levercast.models.learned import contract_grid as grid
from levercast.models.pricing.volatility import EWMA_WINDOW_HALF_LIVES, HALF_LIFE_HOURS, MIN_RETURNS

__all__ = [
    "BACKTEST_KINDS",
    "PriceSeries",
    "backtest_contracts",
    "contracts_per_decision",
    "decision_grid",
    "load_price_series",
]

BACKTEST_KINDS: Final = grid.GRID_KINDS
_HOUR_NS: Final = 3_600 * 10**9
_MAX_AGE_NS: Final = 2 * _HOUR_NS


@dataclass(frozen=True, slots=True, eq=False)
class PriceSeries:
    """Hourly bars of one venue with the EWMA variance known after each bar closed.

    Attributes
    ----------
    venue
        Candle venue.
    available_ns
        Bar close times (ns since epoch), increasing.
    close
        Bar closes (USD).
    var_hourly
        EWMA variance per hour after the bar's return entered (NaN before ``MIN_RETURNS``).
    open_ns, open, high, low
        Bar open times and prices (path-to-date of windows that began earlier).
    """

    venue: str
    available_ns: np.ndarray
    close: np.ndarray
    var_hourly: np.ndarray
    open_ns: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray

    def at(self, t_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(spot_usd, vol_annual, usable) at decision times ``t_ns``: last bar closed by t."""
        i = np.searchsorted(self.available_ns, t_ns, side="right") - 1
        safe = np.clip(i, 0, max(len(self.close) - 1, 0))
        fresh = (i >= 0) & (t_ns - self.available_ns[safe] <= _MAX_AGE_NS)
        var = self.var_hourly[safe]
        usable = fresh & np.isfinite(var) & (var > 0)
        vol = np.sqrt(np.where(usable, var, np.nan) * HOURS_PER_YEAR)
        return self.close[safe], vol, usable


def load_price_series(store: Store, venue: str, asset: str) -> PriceSeries | None:
    """The venue's hourly series of ``asset`` (None when the store has no such bars)."""
    candles = store.read("candles")
    bars = candles[
        (candles["venue"] == venue) & (candles["asset"] == asset) & (candles["interval"] == "1h")
    ].sort_values("available_at")
    if len(bars) < MIN_RETURNS + 2:
        return None
    ts = bars["ts"].to_numpy("datetime64[ns]").view("int64")
    close = bars["close"].to_numpy(float)
    consecutive = np.diff(ts) == _HOUR_NS
    with np.errstate(divide="ignore", invalid="ignore"):
        ret = np.diff(np.log(close))
    valid = consecutive & np.isfinite(ret)
    r2 = ret[valid] ** 2
    lam = 0.5 ** (1.0 / HALF_LIFE_HOURS)
    # Unseeded recursion: acc[j] = sum_k lam^k r2[j-k]; the last WINDOW returns are
    # acc[j] - lam^WINDOW acc[j-WINDOW], normalised by the sum of their weights, exactly as
    # ``estimate_vol`` weights the newest ``HALF_LIFE_HOURS * EWMA_WINDOW_HALF_LIVES`` returns.
    acc = lfilter([1.0], [1.0, -lam], r2) if r2.size else r2
    window = int(HALF_LIFE_HOURS * EWMA_WINDOW_HALF_LIVES)
    shifted = np.concatenate([np.zeros(window), acc])[: acc.size]
    windowed = acc - lam**window * shifted
    used = np.minimum(np.arange(1, acc.size + 1), window)
    ewma = windowed * (1.0 - lam) / (1.0 - lam**used)
    count = np.concatenate([[0], np.cumsum(valid)])  # returns known once bar k closed
    var = np.full(len(close), np.nan)
    enough = count >= MIN_RETURNS
    var[enough] = ewma[count[enough] - 1]
    return PriceSeries(
        venue,
        bars["available_at"].to_numpy("datetime64[ns]").view("int64"),
        close,
        var,
        ts,
        bars["open"].to_numpy(float),
        bars["high"].to_numpy(float),
        bars["low"].to_numpy(float),
    )


def decision_grid(start: datetime, end: datetime, step: timedelta) -> pd.DatetimeIndex:
    """Decision times ``start + k step`` (start rounded up to the hour) inside ``[start, end]``."""
    first = pd.Timestamp(start).ceil("1h")
    return pd.date_range(first, pd.Timestamp(end), freq=pd.Timedelta(step))


def backtest_contracts(
    store: Store,
    asset: str,
    times: pd.DatetimeIndex,
    *,
    label: str,
    hours: float,
    kinds: tuple[str, ...],
    venue: str | None,
) -> tuple[pd.DataFrame, int]:
    """The grid contracts of one horizon at ``times`` and the decisions without usable inputs.

    ``models.learned.contract_grid`` (the learned models' grid) builds them; the frame gains
    ``decision_time`` (= ``t``), ``start`` (= ``t``) and the ``horizon`` label.
    """
    inputs = grid.market_inputs(store, asset, times, venue=venue)
    usable = inputs[inputs["spot_venue"] != ""]
    frame = grid.contract_grid(usable, horizons_hours=[hours], kinds=kinds)
    frame = frame.assign(decision_time=frame["t"], start=frame["t"], horizon=label)
    return frame.reset_index(drop=True), len(inputs) - len(usable)


def contracts_per_decision(kinds: tuple[str, ...]) -> int:
    """Contracts the grid generates per decision time and horizon for ``kinds``."""
    one = pd.DataFrame(
        {
            "asset": ["BTC"],
            "t": pd.DatetimeIndex(["2024-01-01T00:00Z"]),
            "spot_usd": [1.0],
            "vol_annual": [1.0],
            "spot_venue": ["x"],
        }
    )
    return len(grid.contract_grid(one, horizons_hours=[1.0], kinds=kinds))
