"""Spot and path-to-date of a contract at a decision time, from point-in-time candles.

Source choice
    The contract's resolution source (``resolution.source``, e.g. ``binance-spot``) when it has
    candles of the asset that are fresh at T, else the freshest proxy venue among
    ``PROXY_VENUES`` (ties: list order), named in ``inputs`` with a warning. A candle series is
    fresh when its last bar closed (``available_at``) at most ``2 x`` its interval before T. When
    no source is fresh the pricer refuses with a ``DataError`` naming every venue tried.

Path to date
    When the window began before T, the start price (open of the bar starting at ``start``, else
    the last close at or before ``start``) and the high/low of the bars that opened at or after
    ``start`` and closed by T. Hourly or 30-minute highs/lows only proxy 1-minute extremes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import numpy as np
import pandas as pd

from levercast.features.dataset.store import PointInTime, StoreView
from levercast.features.errors import DataError
from levercast.features.prices import spot_and_vol
from levercast.features.timeutil import format_utc
from levercast.models.contracts import DEFAULT_SOURCE, Contract, Kind, Monitoring

__all__ = [
    "PROXY_VENUES",
    "CandleSource",
    "MarketState",
    "find_candle_source",
    "market_inputs",
    "resolve_market_state",
    "settled_prob",
]

PROXY_VENUES: Final = ("binance-usdm", "bitget-usdtm", "binance-spot", "deribit")
INTERVALS: Final = {"30m": timedelta(minutes=30), "1h": timedelta(hours=1)}
STALENESS_FACTOR: Final = 2.0  # max staleness = 2 x the native interval


def market_inputs(
    source: PointInTime,
    asset: str,
    times: Iterable[datetime | pd.Timestamp] | pd.DatetimeIndex,
    *,
    venue: str | None = None,
) -> pd.DataFrame:
    """Spot, ``gbm`` vol and venue of ``asset`` at many decision times (point in time).

    ``levercast.features.prices.spot_and_vol`` with ``venue`` alone when given, else the default
    resolution source (``binance-spot``) then ``PROXY_VENUES``: the inputs of the learned
    model's contract grid and of the backtests, equal to what ``estimate_vol`` gives at one T.
    """
    if venue:
        venues = [venue]
    else:
        venues = [DEFAULT_SOURCE, *[v for v in PROXY_VENUES if v != DEFAULT_SOURCE]]
    return spot_and_vol(source, asset, times, venues=venues)


@dataclass(frozen=True, slots=True, eq=False)
class CandleSource:
    """Candles of one (venue, interval) known at T, oldest first (``available_at`` <= T)."""

    venue: str
    interval: str
    bars: pd.DataFrame

    @property
    def last_ts(self) -> datetime:
        """When the last bar closed (``available_at``)."""
        return pd.Timestamp(self.bars["available_at"].iloc[-1]).to_pydatetime()


def _load(
    view: StoreView, asset: str, venue: str, interval: str, lookback: timedelta
) -> pd.DataFrame:
    return view.table(
        "candles", since=view.t - lookback, venue=venue, asset=asset, interval=interval
    )


def find_candle_source(
    view: StoreView,
    asset: str,
    *,
    preferred: str | None = None,
    intervals: tuple[str, ...] = ("30m", "1h"),
    lookback: timedelta = timedelta(days=2),
    min_bars: int = 1,
    max_staleness: timedelta | None = None,
) -> tuple[CandleSource, list[str]]:
    """The candle series to read spot (or returns) from at ``view.t``.

    Parameters
    ----------
    view
        The store fixed at the decision time.
    asset
        Ticker, e.g. ``BTC``.
    preferred
        The resolution source venue, tried first.
    intervals
        Candle intervals to consider; among equally fresh ones the first listed wins.
    lookback
        How much history to load (bars closing after ``T - lookback``).
    min_bars
        Minimum number of bars in the lookback for a series to qualify.
    max_staleness
        Override of ``2 x interval``.

    Returns
    -------
    (CandleSource, list of str)
        The source and warnings (a proxy used instead of the resolution source).

    Raises
    ------
    DataError
        When no venue has fresh candles of ``asset`` at T.
    """
    key = ("find_candle_source", asset, preferred, intervals, lookback, min_bars, max_staleness)
    cached = view.memo.get(key)
    if cached is None:
        cached = _find_candle_source(
            view, asset, preferred, intervals, lookback, min_bars, max_staleness
        )
        view.memo[key] = cached
    return cached[0], list(cached[1])


def _find_candle_source(
    view: StoreView,
    asset: str,
    preferred: str | None,
    intervals: tuple[str, ...],
    lookback: timedelta,
    min_bars: int,
    max_staleness: timedelta | None,
) -> tuple[CandleSource, list[str]]:
    order = [preferred] if preferred else []
    order += [v for v in PROXY_VENUES if v != preferred]
    tried: list[str] = []
    best: dict[str, CandleSource] = {}
    for venue in order:
        for interval in intervals:
            bars = _load(view, asset, venue, interval, lookback)
            if len(bars) < min_bars:
                tried.append(f"{venue}/{interval}: {len(bars)} bars closed in the {lookback} to T")
                continue
            source = CandleSource(venue, interval, bars.reset_index(drop=True))
            limit = max_staleness or STALENESS_FACTOR * INTERVALS[interval]
            age = view.t - pd.Timestamp(source.last_ts)
            if age > limit:
                tried.append(f"{venue}/{interval}: last bar closed {format_utc(source.last_ts)}")
                continue
            current = best.get(venue)
            if current is None or source.last_ts > current.last_ts:
                best[venue] = source
    if not best:
        raise DataError(
            f"no fresh candles of {asset} at {format_utc(view.t)} (max staleness 2x the bar "
            f"interval); tried {'; '.join(tried) or 'nothing'}"
        )
    warnings: list[str] = []
    if preferred in best:
        return best[preferred], warnings
    chosen = max(best.values(), key=lambda s: (s.last_ts, -order.index(s.venue)))
    if preferred:
        warnings.append(
            f"spot from proxy venue {chosen.venue}: resolution source {preferred} has no fresh "
            f"{asset} candles at {format_utc(view.t)}"
        )
    return chosen, warnings


@dataclass(frozen=True, slots=True)
class MarketState:
    """What is known about the price at the decision time.

    Attributes
    ----------
    spot_usd, spot_venue, spot_interval, spot_ts
        Last close, where it came from and when its bar closed.
    start_price_usd
        Price at ``contract.start`` when the window began at or before T, else None.
    path_high_usd, path_low_usd
        Extremes of the bars inside the window so far (None before any bar closed in it).
    first_hit
        first_of only: ``"upper"``, ``"lower"``, ``"both"`` (same bar) or None.
    """

    at: datetime
    spot_usd: float
    spot_venue: str
    spot_interval: str
    spot_ts: datetime
    start_price_usd: float | None = None
    path_high_usd: float | None = None
    path_low_usd: float | None = None
    first_hit: str | None = None
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unpriced = self.spot_venue == "" and np.isnan(self.spot_usd)
        if not unpriced and not (np.isfinite(self.spot_usd) and self.spot_usd > 0):
            raise DataError(f"spot_usd must be a positive price; found {self.spot_usd}")

    @classmethod
    def without_price(cls, at: datetime, warnings: tuple[str, ...] = ()) -> MarketState:
        """A state with no spot (NaN, venue ""), for contracts that do not depend on a price
        (``liquidations_above``, e.g. on asset ``ALL``)."""
        return cls(at, float("nan"), "", "", at, warnings=warnings)

    @property
    def priced(self) -> bool:
        """Whether the state has a spot price."""
        return self.spot_venue != ""

    @property
    def window_begun(self) -> bool:
        """Whether the contract window started at or before T."""
        return self.start_price_usd is not None

    def inputs(self) -> dict[str, Any]:
        """The JSON ``inputs`` entries of the state (None fields left out; none unpriced)."""
        if not self.priced:
            return {}
        out: dict[str, Any] = {
            "spot_usd": self.spot_usd,
            "spot_venue": self.spot_venue,
            "spot_ts": format_utc(self.spot_ts),
            "spot_interval": self.spot_interval,
        }
        for name in ("start_price_usd", "path_high_usd", "path_low_usd", "first_hit"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


def _start_price(source: CandleSource, start: datetime) -> tuple[float, list[str]]:
    bars = source.bars
    stamp = pd.Timestamp(start)
    opening = bars[bars["ts"] == stamp]
    if len(opening):
        return float(opening["open"].iloc[0]), []
    before = bars[bars["available_at"] <= stamp]
    limit = STALENESS_FACTOR * INTERVALS[source.interval]
    if len(before) and stamp - before["available_at"].iloc[-1] <= limit:
        row = before.iloc[-1]
        note = []
        if row["available_at"] != stamp:
            note.append(
                f"start price approximated by the {source.venue} close at "
                f"{format_utc(pd.Timestamp(row['available_at']).to_pydatetime())} "
                f"(start {format_utc(start)} is not on the {source.interval} bar grid)"
            )
        return float(row["close"]), note
    raise DataError(
        f"start price of the window: no {source.venue}/{source.interval} bar near start "
        f"{format_utc(start)}"
    )


def _first_hit(window: pd.DataFrame, lower: float, upper: float) -> str | None:
    up = (window["high"] >= upper).to_numpy()
    down = (window["low"] <= lower).to_numpy()
    hits = np.flatnonzero(up | down)
    if hits.size == 0:
        return None
    i = hits[0]
    if up[i] and down[i]:
        return "both"
    return "upper" if up[i] else "lower"


def resolve_market_state(contract: Contract, view: StoreView) -> MarketState:
    """Spot and path-to-date of ``contract`` at ``view.t`` (see module docstring).

    The state depends on the asset, the resolution source and interval, the window start and the
    monitoring (plus the barriers of a first_of), not on the strike: it is memoised on the view,
    so a ladder of strikes resolves it once.

    Raises
    ------
    DataError
        No fresh candle source, or no bar near a past window start.
    """
    barriers = (contract.lower_usd, contract.upper_usd) if contract.kind is Kind.FIRST_OF else None
    key = (
        "market_state",
        contract.asset,
        contract.resolution.source,
        contract.resolution.interval,
        contract.start,
        contract.monitoring_rule is Monitoring.TERMINAL,
        barriers,
    )
    cached: MarketState | None = view.memo.get(key)
    if cached is None:
        cached = _resolve_market_state(contract, view)
        view.memo[key] = cached
    return cached


def _resolve_market_state(contract: Contract, view: StoreView) -> MarketState:
    at = view.t.to_pydatetime()
    start = contract.start
    lookback = timedelta(days=2)
    if start < at:
        lookback = max(lookback, at - start + timedelta(hours=3))
    source, warnings = find_candle_source(
        view, contract.asset, preferred=contract.resolution.source, lookback=lookback
    )
    bars = source.bars
    spot = float(bars["close"].iloc[-1])
    state: dict[str, Any] = {}
    if start <= at:
        if start == at:
            state["start_price_usd"] = spot
        else:
            price, notes = _start_price(source, start)
            state["start_price_usd"] = price
            warnings += notes
        window = bars[bars["ts"] >= pd.Timestamp(start)]
        if len(window):
            state["path_high_usd"] = float(window["high"].max())
            state["path_low_usd"] = float(window["low"].min())
            if contract.monitoring_rule is not Monitoring.TERMINAL:
                warnings.append(
                    f"path to date from {source.venue} {source.interval} highs/lows, a proxy "
                    f"for the resolution rule's {contract.resolution.interval} extremes"
                )
        if contract.kind is Kind.FIRST_OF and len(window):
            assert contract.lower_usd is not None and contract.upper_usd is not None
            state["first_hit"] = _first_hit(window, contract.lower_usd, contract.upper_usd)
    return MarketState(
        at=at,
        spot_usd=spot,
        spot_venue=source.venue,
        spot_interval=source.interval,
        spot_ts=source.last_ts,
        warnings=tuple(warnings),
        **state,
    )


def settled_prob(contract: Contract, state: MarketState) -> float | None:
    """The outcome already decided by the path to date (1 or 0), else None.

    A touch is decided once reached; first_of once a barrier is hit (the same bar hitting both
    is ambiguous: 0.5); a continuous move once its move happened. Terminal kinds are never
    decided before the fixing. Discrete monitoring is treated like continuous here (an
    intraday touch between fixings would be an over-count: not decided, returns None).
    """
    rule = contract.monitoring_rule
    if rule is not Monitoring.CONTINUOUS or state.path_high_usd is None:
        return None
    high, low = state.path_high_usd, state.path_low_usd
    assert low is not None
    if contract.kind is Kind.TOUCH:
        assert contract.strike_usd is not None
        reached = (
            high >= contract.strike_usd
            if contract.direction == "up"
            else (low <= contract.strike_usd)
        )
        return 1.0 if reached else None
    if contract.kind is Kind.FIRST_OF:
        return {"upper": 1.0, "lower": 0.0, "both": 0.5}.get(state.first_hit or "")
    if contract.kind is Kind.MOVE:
        assert contract.threshold is not None and state.start_price_usd is not None
        up = high >= state.start_price_usd * (1 + contract.threshold)
        down = low <= state.start_price_usd * (1 - contract.threshold)
        hit = {"up": up, "down": down}.get(contract.direction or "", up or down)
        return 1.0 if hit else None
    return None
