"""Backtest inputs, vectorised: decision grid, spot and EWMA vol at each decision, z-strikes.

Point in time
    Spot at a decision time ``t`` is the close of the last bar with ``available_at <= t`` (at most
    ``2 x`` the bar interval old, as in ``models.spot``); the vol is the EWMA of hourly squared
    log returns of consecutive bars closed by ``t`` (half-life ``HALF_LIFE_HOURS``, the ``gbm``
    baseline's), annualised with ``HOURS_PER_YEAR``. The recursion runs over the whole history
    once (``scipy.signal.lfilter``) and is read at every decision with ``searchsorted`` on
    ``available_at``: no row available after ``t`` enters a value at ``t``. The newest 10
    half-lives of returns are weighted exactly as ``estimate_vol`` weights them.

Venue
    ``--venue`` when given, else at each decision the first of the resolution source
    (``binance-spot``, Polymarket's BTC source) and the proxies of ``models.spot`` that has a
    fresh bar and a week of returns. The contracts of that decision resolve on that venue.

Contracts (the learned-models issue's grid)
    For each decision ``t``, horizon ``h`` and kind, strikes at ``spot * exp(z sigma sqrt(h))`` for
    ``z`` in ``Z_GRID``: ``close_above`` at every z; ``touch`` at z != 0 (up for z > 0, down for
    z < 0; z = 0 is touched at once); ``move`` at z != 0 as a terminal move of ``|z| sigma
    sqrt(h)`` in the sign's direction; ``close_below`` as ``close_above``; ``up_down`` once.
    Windows are ``[t, t + h)`` on the hourly grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from features.store import Store
from features.timeutil import HOURS_PER_YEAR
from models.contracts import DEFAULT_SOURCE, Contract, Kind, Monitoring, Resolution
from models.spot import PROXY_VENUES
from models.volatility import EWMA_WINDOW_HALF_LIVES, HALF_LIFE_HOURS, MIN_RETURNS

__all__ = [
    "BACKTEST_KINDS",
    "Z_GRID",
    "PriceSeries",
    "build_contracts",
    "contracts_from_frame",
    "contracts_per_decision",
    "decision_grid",
    "load_price_series",
    "market_inputs",
]

Z_GRID: Final = (-1.5, -0.75, 0.0, 0.75, 1.5)
BACKTEST_KINDS: Final = ("touch", "close_above", "close_below", "move", "up_down")
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


def venue_order(venue: str | None) -> list[str]:
    """Venues tried at each decision: ``venue`` alone, else the resolution source then proxies."""
    if venue:
        return [venue]
    return [DEFAULT_SOURCE, *[v for v in PROXY_VENUES if v != DEFAULT_SOURCE]]


def market_inputs(
    store: Store, asset: str, times: pd.DatetimeIndex, *, venue: str | None
) -> pd.DataFrame:
    """Spot, vol and venue at each decision time (``venue`` empty where none is usable).

    Returns
    -------
    pandas.DataFrame
        Columns ``decision_time``, ``spot_usd``, ``vol_annual``, ``spot_venue``.
    """
    t_ns = times.as_unit("ns").asi8 if len(times) else np.array([], dtype=np.int64)
    spot = np.full(len(t_ns), np.nan)
    vol = np.full(len(t_ns), np.nan)
    chosen = np.full(len(t_ns), "", dtype=object)
    for name in venue_order(venue):
        series = load_price_series(store, name, asset)
        if series is None:
            continue
        s, v, ok = series.at(t_ns)
        take = ok & (chosen == "")
        spot[take], vol[take] = s[take], v[take]
        chosen[take] = name
    return pd.DataFrame(
        {"decision_time": times, "spot_usd": spot, "vol_annual": vol, "spot_venue": chosen}
    )


def _rows_for_kind(kind: str) -> list[tuple[float, str | None]]:
    """(z, direction) pairs generated for ``kind``."""
    if kind == "up_down":
        return [(0.0, None)]
    if kind in ("close_above", "close_below"):
        return [(z, None) for z in Z_GRID]
    return [(z, "up" if z > 0 else "down") for z in Z_GRID if z != 0]


def contracts_per_decision(kinds: tuple[str, ...]) -> int:
    """Contracts generated per decision time and horizon for ``kinds``."""
    return sum(len(_rows_for_kind(kind)) for kind in kinds)


def build_contracts(
    inputs: pd.DataFrame, *, asset: str, kinds: tuple[str, ...], horizons: dict[str, timedelta]
) -> pd.DataFrame:
    """The contract frame: one row per decision, horizon, kind and strike.

    Parameters
    ----------
    inputs
        ``market_inputs`` rows with a usable venue.
    asset
        Ticker.
    kinds
        Among ``BACKTEST_KINDS``.
    horizons
        Label -> window length.

    Returns
    -------
    pandas.DataFrame
        ``decision_time, asset, kind, horizon, horizon_hours, z, direction, strike_usd,
        threshold, monitoring, spot_usd, vol_annual, spot_venue, start, end``; ``start`` is the
        decision time.
    """
    pieces = []
    for label, delta in horizons.items():
        hours = delta.total_seconds() / 3600.0
        scale = inputs["vol_annual"].to_numpy() * np.sqrt(hours / HOURS_PER_YEAR)
        for kind in kinds:
            for z, direction in _rows_for_kind(kind):
                piece = inputs.copy()
                piece["asset"] = asset
                piece["kind"] = kind
                piece["horizon"] = label
                piece["horizon_hours"] = hours
                piece["z"] = z
                piece["direction"] = direction or ""
                level = piece["spot_usd"].to_numpy() * np.exp(z * scale)
                piece["strike_usd"] = (
                    level if kind in ("touch", "close_above", "close_below") else np.nan
                )
                piece["threshold"] = abs(z) * scale if kind == "move" else np.nan
                piece["monitoring"] = "continuous" if kind == "touch" else "terminal"
                piece["end"] = piece["decision_time"] + delta
                pieces.append(piece)
    if not pieces:
        return pd.DataFrame()
    frame = pd.concat(pieces, ignore_index=True)
    frame["start"] = frame["decision_time"]
    order = ["decision_time", "horizon_hours", "kind", "z"]
    return frame.sort_values(order, kind="stable").reset_index(drop=True)


_RESOLUTIONS: dict[tuple[str, str], Resolution] = {}


def _resolution(venue: str, price: str) -> Resolution:
    key = (venue, price)
    if key not in _RESOLUTIONS:
        _RESOLUTIONS[key] = Resolution(source=venue, price=price, interval="1h")
    return _RESOLUTIONS[key]


def contracts_from_frame(frame: pd.DataFrame) -> list[Contract]:
    """``Contract`` objects of a ``build_contracts`` frame (for the outcome reader)."""
    starts = frame["start"].dt.to_pydatetime()
    ends = frame["end"].dt.to_pydatetime()
    out: list[Contract] = []
    cols = zip(
        frame["kind"].to_numpy(),
        frame["asset"].to_numpy(),
        frame["direction"].to_numpy(),
        frame["strike_usd"].to_numpy(float),
        frame["threshold"].to_numpy(float),
        frame["spot_venue"].to_numpy(),
        starts,
        ends,
        strict=True,
    )
    for kind, asset, direction, strike, threshold, venue, start, end in cols:
        k = Kind(kind)
        price = "close"
        fields: dict[str, object] = {}
        if k is Kind.TOUCH:
            price = "high" if direction == "up" else "low"
            fields = {"direction": direction, "strike_usd": float(strike)}
            fields["monitoring"] = Monitoring.CONTINUOUS
        elif k in (Kind.CLOSE_ABOVE, Kind.CLOSE_BELOW):
            fields = {"strike_usd": float(strike)}
        elif k is Kind.MOVE:
            fields = {"direction": direction, "threshold": float(threshold)}
            fields["monitoring"] = Monitoring.TERMINAL
        out.append(
            Contract(
                kind=k,
                asset=asset,
                start=start,
                end=end,
                resolution=_resolution(venue, price),
                **fields,  # type: ignore[arg-type]
            )
        )
    return out
