"""The one point-in-time price series: spot, EWMA volatility and highest high at decision times.

Every consumer reads spot and the ``gbm`` volatility here: the pricers (``estimate_vol`` at one
``T``), the learned model's contract grid and training set, the backtests and the evaluation
(vectorised over many ``T``). The single-``T`` estimate and the vectorised series are the same
computation, so they agree to floating-point rounding (``tests/features/test_prices.py``).

Definitions at a decision time ``t`` for one venue's hourly bars (rows with ``available_at <= t``):

- **spot**: the close of the last bar closed by ``t``; **fresh** when that bar closed at most
  ``MAX_AGE`` (2 h, twice the interval) before ``t``;
- **returns**: log returns of consecutive bars (one hour apart), non-finite ones dropped, whose
  earlier bar closed after ``t - LOOKBACK`` (71 days: 10 half-lives and a day);
- **EWMA variance**: the newest ``WINDOW_RETURNS`` (10 half-lives = 1,680) of those returns,
  weighted ``lambda^k`` (``k`` returns ago, ``lambda = 0.5^(1 / HALF_LIFE_HOURS)``) and
  normalised to sum to 1; annualised with ``HOURS_PER_YEAR`` (crypto trades 24/7);
- **usable**: fresh, at least ``MIN_BARS`` (169) bars in the lookback, two or more returns and
  a positive variance;
- **rel_stderr**: ``sqrt((kurtosis - 1) / n_eff) / 2`` over the same returns (``n_eff`` the
  effective sample size of the weights), the relative standard error of the EWMA volatility.

Venue choice (``spot_and_vol``): the first venue of ``venues`` (the caller passes the
resolution source first, then the proxies) when usable at ``t``, else the usable venue whose last
bar is freshest (ties: list order), as ``models.pricing.market_state.find_candle_source`` chooses.

The highest high (``highest_high``) is the maximum bar high over every venue and interval of an
asset known at ``t``: the proxy for an all-time high that the ATH markets' rules use.

NaN policy: spot, vol and rel_stderr are NaN wherever ``usable`` is False.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import numpy as np
import pandas as pd

from levercast.features._typing import FloatArray, IntArray
from levercast.features.dataset.store import PointInTime
from levercast.features.errors import ConfigError
from levercast.features.timeutil import HOURS_PER_YEAR

__all__ = [
    "HALF_LIFE_HOURS",
    "LOOKBACK",
    "MAX_AGE",
    "MIN_BARS",
    "WINDOW_RETURNS",
    "HourlySeries",
    "VolAt",
    "ewma_filter",
    "highest_high",
    "hourly_series",
    "spot_and_vol",
    "to_ns",
]

HALF_LIFE_HOURS: Final = 168.0  # 7 days, never tuned on an evaluation window
EWMA_WINDOW_HALF_LIVES: Final = 10  # weights beyond are < 0.1 %
WINDOW_RETURNS: Final = int(HALF_LIFE_HOURS * EWMA_WINDOW_HALF_LIVES)
LOOKBACK: Final = timedelta(days=int(HALF_LIFE_HOURS * EWMA_WINDOW_HALF_LIVES / 24) + 1)
MIN_RETURNS: Final = 168
MIN_BARS: Final = MIN_RETURNS + 1
MAX_AGE: Final = timedelta(hours=2)
_HOUR_NS: Final = 3_600 * 10**9
_NS: Final = 10**9


def to_ns(times: Iterable[datetime | pd.Timestamp] | pd.DatetimeIndex, *, name: str) -> IntArray:
    """Tz-aware times as int64 nanoseconds since the epoch (``ConfigError`` on naive times)."""
    index = pd.DatetimeIndex(list(times) if not isinstance(times, pd.DatetimeIndex) else times)
    if len(index) == 0:
        return np.zeros(0, dtype=np.int64)
    if index.tz is None:
        raise ConfigError(f"{name} must be tz-aware UTC; found naive times (first {index[0]})")
    return np.asarray(index.tz_convert("UTC").as_unit("ns").asi8, dtype=np.int64)


def ewma_filter(
    values: FloatArray, decay: float, *, gain: float = 1.0, initial: float = 0.0
) -> FloatArray:
    """The first-order recursion ``y[i] = decay * y[i-1] + gain * values[i]``, ``y[-1] = initial``.

    Bit for bit ``scipy.signal.lfilter([gain], [1, -decay], values, zi=[decay * initial])`` (the
    same two roundings per step, in order), without importing ``scipy.signal``, which imports
    ``scipy.stats`` into every pricing command (issue 22). A loop in C over Python floats: about
    0.1 us a value, 2 ms for a year of hourly returns.
    """
    steps = itertools.accumulate(
        np.asarray(values, dtype=np.float64).tolist(),
        lambda y, v: decay * y + gain * v,
        initial=float(initial),
    )
    out = np.fromiter(steps, dtype=np.float64, count=len(values) + 1)
    return out[1:]


@dataclass(frozen=True, slots=True, eq=False)
class VolAt:
    """Spot and EWMA volatility of one venue at decision times (arrays aligned with the times).

    Attributes
    ----------
    spot_usd, vol_annual, rel_stderr
        NaN where not ``usable``.
    usable
        See the module docstring.
    last_available_ns
        ``available_at`` of the last bar closed by each time (-1 when none).
    """

    spot_usd: FloatArray
    vol_annual: FloatArray
    rel_stderr: FloatArray
    usable: np.ndarray
    last_available_ns: IntArray


@dataclass(frozen=True, slots=True, eq=False)
class HourlySeries:
    """One venue's hourly bars known up to some time, with prefix sums of their returns.

    Attributes
    ----------
    venue
        Candle venue.
    available_ns, open_ns
        Bar close (``available_at``) and open (``ts``) times, ns, sorted by close.
    open, high, low, close
        Bar prices (USD).
    """

    venue: str
    available_ns: IntArray
    open_ns: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    _ret_bar: IntArray  # index of the later bar of each usable return
    _ret_avail: IntArray  # available_at of that bar
    _ret_prev_avail: IntArray  # available_at of its earlier bar
    _acc: FloatArray  # unseeded EWMA accumulator after 0, 1, ... returns (length n_returns + 1)
    _cum_r2: FloatArray  # prefix sums (length n_returns + 1)
    _cum_r4: FloatArray

    @classmethod
    def from_bars(cls, venue: str, bars: pd.DataFrame) -> HourlySeries:
        """From candle rows of one venue, asset and the 1h interval (any order)."""
        bars = bars.sort_values("available_at", kind="stable")
        avail = _col_ns(bars, "available_at")
        ts = _col_ns(bars, "ts")
        close = bars["close"].to_numpy(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            ret = np.diff(np.log(close))
        valid = (np.diff(ts) == _HOUR_NS) & np.isfinite(ret)
        r = ret[valid]
        r2 = r * r
        lam = _decay()
        acc = ewma_filter(r2, lam)
        return cls(
            venue=venue,
            available_ns=avail,
            open_ns=ts,
            open=bars["open"].to_numpy(np.float64),
            high=bars["high"].to_numpy(np.float64),
            low=bars["low"].to_numpy(np.float64),
            close=close,
            _ret_bar=np.flatnonzero(valid) + 1,
            _ret_avail=avail[1:][valid],
            _ret_prev_avail=avail[:-1][valid],
            _acc=np.concatenate([[0.0], acc]),
            _cum_r2=np.concatenate([[0.0], np.cumsum(r2)]),
            _cum_r4=np.concatenate([[0.0], np.cumsum(r2 * r2)]),
        )

    @classmethod
    def from_venue_bars(cls, bars: pd.DataFrame) -> HourlySeries:
        """``from_bars`` of non-empty rows of one venue, named by their ``venue`` column (the
        derivation ``hourly_series`` asks the store to keep per venue and asset)."""
        return cls.from_bars(str(bars["venue"].iloc[0]), bars)

    def prefix(self, n_rows: int) -> HourlySeries:
        """The series of its first ``n_rows`` bars (in ``available_at`` order), equal array for
        array to ``from_bars`` of those bars alone: every array is a running quantity (returns
        of consecutive bars, the EWMA recursion, prefix sums), so its head does not depend on
        later bars. Views, not copies."""
        if not 0 <= n_rows <= len(self.close):
            raise ConfigError(f"n_rows must be in [0, {len(self.close)}]; found {n_rows}")
        k = int(np.searchsorted(self._ret_bar, n_rows, side="left"))  # returns inside
        return HourlySeries(
            venue=self.venue,
            available_ns=self.available_ns[:n_rows],
            open_ns=self.open_ns[:n_rows],
            open=self.open[:n_rows],
            high=self.high[:n_rows],
            low=self.low[:n_rows],
            close=self.close[:n_rows],
            _ret_bar=self._ret_bar[:k],
            _ret_avail=self._ret_avail[:k],
            _ret_prev_avail=self._ret_prev_avail[:k],
            _acc=self._acc[: k + 1],
            _cum_r2=self._cum_r2[: k + 1],
            _cum_r4=self._cum_r4[: k + 1],
        )

    def vol_at(self, t_ns: IntArray) -> VolAt:
        """Spot, EWMA volatility and its relative standard error at each decision time."""
        t_ns = np.asarray(t_ns, dtype=np.int64)
        n = len(t_ns)
        nan = np.full(n, np.nan)
        if len(self.close) == 0:
            return VolAt(nan, nan, nan, np.zeros(n, bool), np.full(n, -1, np.int64))
        last = np.searchsorted(self.available_ns, t_ns, side="right") - 1
        safe = np.clip(last, 0, len(self.close) - 1)
        last_avail = np.where(last >= 0, self.available_ns[safe], -1)
        fresh = (last >= 0) & (t_ns - last_avail <= int(MAX_AGE.total_seconds()) * _NS)
        since = t_ns - int(LOOKBACK.total_seconds()) * _NS
        first_bar = np.searchsorted(self.available_ns, since, side="right")
        enough_bars = (last + 1 - first_bar) >= MIN_BARS
        hi = np.searchsorted(self._ret_avail, t_ns, side="right")
        lo = np.maximum(
            np.searchsorted(self._ret_prev_avail, since, side="right"), hi - WINDOW_RETURNS
        )
        lo = np.minimum(lo, hi)
        m = hi - lo
        lam = _decay()
        acc_hi, acc_lo = self._acc[hi], self._acc[lo]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            weighted = acc_hi - lam ** m.astype(np.float64) * acc_lo
            var = weighted * (1.0 - lam) / (1.0 - lam ** m.astype(np.float64))
            mean2 = (self._cum_r2[hi] - self._cum_r2[lo]) / m
            mean4 = (self._cum_r4[hi] - self._cum_r4[lo]) / m
            kurt = np.where(mean2 > 0, mean4 / mean2**2, 3.0)
            n_eff = (1.0 - lam**m) ** 2 / (1.0 - lam ** (2 * m)) * (1.0 + lam) / (1.0 - lam)
            rel = np.sqrt(np.maximum(kurt - 1.0, 0.0) / n_eff) / 2.0
        usable = fresh & enough_bars & (m >= 2) & np.isfinite(var) & (var > 0)
        return VolAt(
            spot_usd=np.where(usable, self.close[safe], np.nan),
            vol_annual=np.where(usable, np.sqrt(np.where(usable, var, 0.0) * HOURS_PER_YEAR), nan),
            rel_stderr=np.where(usable, rel, np.nan),
            usable=usable,
            last_available_ns=last_avail,
        )


def _decay() -> float:
    return float(0.5 ** (1.0 / HALF_LIFE_HOURS))


def _col_ns(frame: pd.DataFrame, column: str) -> IntArray:
    return np.asarray(frame[column].to_numpy("datetime64[ns]").view("int64"), dtype=np.int64)


def hourly_series(
    source: PointInTime, venue: str, asset: str, *, until: datetime | pd.Timestamp
) -> HourlySeries | None:
    """The venue's 1h bars of ``asset`` known at ``until`` (None when there are none).

    Built once per store, venue and asset from every bar and cut to those known at ``until``
    (``Store.derived_as_of``, ``HourlySeries.prefix``): the same arrays as building it from
    ``as_of(until)``, without the EWMA pass over the whole history at every ``until`` (the
    per-observation pricing of ``evaluate`` asked for it ~2,000 times)."""
    if not source.has("candles"):
        return None
    return source.derived_as_of(
        "candles", until, HourlySeries.from_venue_bars, venue=venue, asset=asset, interval="1h"
    )


def spot_and_vol(
    source: PointInTime,
    asset: str,
    times: Iterable[datetime | pd.Timestamp] | pd.DatetimeIndex,
    *,
    venues: Sequence[str],
) -> pd.DataFrame:
    """Spot, EWMA volatility and the venue used at each decision time (point in time).

    Parameters
    ----------
    source
        A ``Store`` or a ``StoreView`` (times must then be at or before its ``t``).
    asset
        Ticker, e.g. ``BTC``.
    times
        Tz-aware decision times (any order; rows keep it).
    venues
        Candle venues in order of preference (resolution source first).

    Returns
    -------
    pandas.DataFrame
        ``asset, t, spot_usd, vol_annual, rel_stderr, spot_venue, spot_available_at, has_30m``;
        ``spot_venue`` is ``""`` (spot and vol NaN) where no venue is usable; ``has_30m``
        says whether that venue's 30m bars are fresh (closed within the hour) at ``t``.

    Raises
    ------
    ConfigError
        Naive times or an empty venue list.
    """
    if not venues:
        raise ConfigError("venues must name at least one candle venue; found []")
    t_ns = to_ns(times, name="times")
    index = pd.to_datetime(t_ns, utc=True)
    n = len(t_ns)
    spot, vol, rel = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    chosen = np.full(n, -1, dtype=np.int64)
    freshest = np.full(n, -1, dtype=np.int64)
    until = pd.Timestamp(int(t_ns.max()), tz="UTC") if n else pd.Timestamp(0, tz="UTC")
    order = list(dict.fromkeys(venues))
    for k, venue in enumerate(order):
        series = hourly_series(source, venue, asset, until=until) if n else None
        if series is None:
            continue
        at = series.vol_at(t_ns)
        if k == 0:  # the preferred venue (the resolution source) wins whenever usable
            take = at.usable
        else:  # else the freshest usable venue; ties keep the earlier one in the list
            take = at.usable & (chosen != 0) & (at.last_available_ns > freshest)
        spot[take], vol[take] = at.spot_usd[take], at.vol_annual[take]
        rel[take] = at.rel_stderr[take]
        chosen[take], freshest[take] = k, at.last_available_ns[take]
    names = np.array([*order, ""], dtype=object)
    spot_venue = names[np.where(chosen >= 0, chosen, len(order))].astype(str)
    return pd.DataFrame(
        {
            "asset": asset.upper(),
            "t": index,
            "spot_usd": spot,
            "vol_annual": vol,
            "rel_stderr": rel,
            "spot_venue": spot_venue,
            "spot_available_at": pd.to_datetime(
                np.where(freshest >= 0, freshest, 0), utc=True
            ).where(freshest >= 0),
            "has_30m": _fresh_30m(source, asset, spot_venue, t_ns, until),
        }
    )


def _fresh_30m(
    source: PointInTime, asset: str, spot_venue: np.ndarray, t_ns: IntArray, until: pd.Timestamp
) -> np.ndarray:
    out = np.zeros(len(t_ns), bool)
    if not source.has("candles"):
        return out
    for venue in set(spot_venue) - {""}:
        bars = source.as_of("candles", until, venue=venue, asset=asset, interval="30m")
        if bars.empty:
            continue
        avail = _col_ns(bars, "available_at")
        sel = spot_venue == venue
        i = np.searchsorted(avail, t_ns[sel], side="right") - 1
        safe = np.clip(i, 0, len(avail) - 1)
        out[sel] = (i >= 0) & (t_ns[sel] - avail[safe] <= _HOUR_NS)
    return out


def highest_high(source: PointInTime, asset: str, t: datetime | pd.Timestamp) -> float | None:
    """Highest bar high of ``asset`` over every venue and interval known at ``t`` (or None)."""
    if not source.has("candles"):
        return None
    rows = source.as_of("candles", t, asset=asset)
    if rows.empty:
        return None
    high = rows["high"].to_numpy(np.float64)
    high = high[np.isfinite(high)]
    return float(high.max()) if high.size else None
