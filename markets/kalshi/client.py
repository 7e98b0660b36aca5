"""Read-only Kalshi trade-API v2 client: crypto series, events, markets, books, candlesticks.

Lists the crypto price series of each asset (``KXBTC`` ranges, ``KXBTCD`` thresholds, ``KXETH``,
``KXETHD``, ...) through ``/events?with_nested_markets=true`` (open, and settled within
``resolved_lookback_days``), with cursor pagination. Markets that settled before the rolling
``/historical/cutoff`` are listed through ``/historical/markets`` and their candles read from
``/historical/markets/{ticker}/candlesticks``. Requests go through the retrying
``features.http.HttpClient``; public market data needs no key. Wire parsing lives in
``markets.kalshi.wire``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from levercast.features.errors import ConfigError, DataError, MarketUnavailable
from levercast.features.http import HttpClient
from levercast.markets.client import MarketResolution, history_frame
from levercast.markets.kalshi.wire import (
    decode_page,
    parse_candles,
    parse_kalshi_market,
    parse_kalshi_orderbook,
    parse_kalshi_resolution,
)
from levercast.markets.settings import VenueSettings
from levercast.markets.types import OrderBook, Venue, VenueMarket

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SERIES_BY_ASSET", "KalshiClient"]

SERIES_BY_ASSET: Final[dict[str, tuple[str, ...]]] = {
    "BTC": ("KXBTC", "KXBTCD"),
    "ETH": ("KXETH", "KXETHD"),
    "SOL": ("KXSOL", "KXSOLD"),
    "XRP": ("KXXRP", "KXXRPD"),
    "DOGE": ("KXDOGE", "KXDOGED"),
}
_EVENTS_LIMIT: Final = 200
_CANDLE_MINUTES: Final = (1, 60, 1440)
_CANDLE_CHUNK: Final = 1000  # candles per request


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _unix(t: datetime) -> int:
    return int(t.timestamp())


class KalshiClient:
    """Read-only Kalshi client (see the module docstring); implements ``MarketClient``.

    Parameters
    ----------
    settings
        Endpoints, timeouts, retries, paging (default ``VenueSettings()``).
    sleep
        Injected for tests (no-op sleep makes retry tests fast).
    now
        Clock returning tz-aware UTC.
    seed
        Seed of the backoff jitter.
    series
        Asset -> series tickers (default ``SERIES_BY_ASSET``).
    """

    venue: str = Venue.KALSHI.value

    def __init__(
        self,
        settings: VenueSettings | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = _utcnow,
        seed: int | None = None,
        series: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.settings = settings or VenueSettings()
        self._http = HttpClient(self.settings.kalshi_http, sleep=sleep, seed=seed, name="kalshi")
        self._now = now
        self._series = {k: tuple(v) for k, v in (series or SERIES_BY_ASSET).items()}
        self._resolutions: dict[str, MarketResolution | None] = {}
        self._historical: set[str] = set()

    def series_for(self, assets: Sequence[str]) -> list[str]:
        """Series tickers of ``assets``.

        Raises
        ------
        ConfigError
            An asset without known series.
        """
        out: list[str] = []
        for asset in assets:
            key = asset.strip().upper()
            if key not in self._series:
                raise ConfigError(f"asset must be one of {sorted(self._series)}; found {asset!r}")
            out.extend(self._series[key])
        return out

    def paged(self, path: str, key: str, params: Mapping[str, Any]) -> Iterator[Any]:
        """Items of every page of a cursor-paginated listing (the cursor is empty at the end).

        Raises
        ------
        MarketUnavailable
            A request failed after retries, or the listing exceeds ``max_pages`` pages.
        DataError
            A page does not hold a ``key`` list.
        """
        cursor: str | None = None
        for _ in range(self.settings.max_pages):
            query = dict(params, cursor=cursor) if cursor else dict(params)
            items, cursor = decode_page(self._http.get_json(path, query), key, path=path)
            yield from items
            if not cursor or not items:
                return
        raise MarketUnavailable(
            f"kalshi {path}: more than max_pages={self.settings.max_pages} pages; narrow the "
            f"query or raise max_pages"
        )

    def historical_cutoff(self) -> datetime | None:
        """``market_settled_ts`` of ``/historical/cutoff``: markets settled before it are served
        only by ``/historical/*`` (None when the venue does not say)."""
        payload = self._http.get_json("/historical/cutoff")
        value = payload.get("market_settled_ts") if isinstance(payload, Mapping) else None
        if value in (None, ""):
            return None
        try:
            if isinstance(value, int | float) or str(value).isdigit():
                return datetime.fromtimestamp(int(value), tz=UTC)
            return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)
        except (ValueError, OverflowError):
            raise DataError(
                f"kalshi /historical/cutoff: market_settled_ts must be a time; found {value!r}"
            ) from None

    def _remember(self, raw: Mapping[str, Any], market: VenueMarket) -> VenueMarket:
        self._resolutions[market.market_id] = parse_kalshi_resolution(raw)
        return market

    def _events(self, series: str, status: str, extra: Mapping[str, Any]) -> list[VenueMarket]:
        params = {
            "series_ticker": series,
            "status": status,
            "with_nested_markets": "true",
            "limit": min(self.settings.page_limit, _EVENTS_LIMIT),
            **extra,
        }
        out = []
        for event in self.paged("/events", "events", params):
            if not isinstance(event, Mapping):
                raise DataError(f"kalshi /events: event must be an object; found {event!r}"[:200])
            title = event.get("title") or None
            for raw in event.get("markets") or []:
                market = parse_kalshi_market(raw, series_ticker=series, event_title=title)
                out.append(self._remember(raw, market))
        return out

    def list_markets(self, assets: Sequence[str]) -> list[VenueMarket]:
        """Open and recently settled markets of the assets' crypto series.

        Raises
        ------
        ConfigError
            An unknown asset.
        MarketUnavailable, DataError
            Kalshi failed after retries or sent a malformed listing.
        """
        series_list = self.series_for(assets)
        since = self._now() - timedelta(days=self.settings.resolved_lookback_days)
        cutoff = self.historical_cutoff()
        found: dict[str, VenueMarket] = {}
        for series in series_list:
            for market in self._events(series, "open", {}):
                found[market.market_id] = market
            for market in self._events(series, "settled", {"min_close_ts": _unix(since)}):
                found[market.market_id] = market
            if cutoff is not None and since < cutoff:
                params = {
                    "series_ticker": series,
                    "min_close_ts": _unix(since),
                    "limit": self.settings.page_limit,
                }
                for raw in self.paged("/historical/markets", "markets", params):
                    market = parse_kalshi_market(raw, series_ticker=series)
                    if market.market_id not in found:
                        self._historical.add(market.market_id)
                        found[market.market_id] = self._remember(raw, market)
        return list(found.values())

    def resolution(self, market: VenueMarket) -> MarketResolution | None:
        """Resolution of a market from the last listing (``result`` of a settled market)."""
        return self._resolutions.get(market.market_id)

    def _period_minutes(self) -> int:
        wanted = self.settings.history_fidelity_mins
        return next((m for m in _CANDLE_MINUTES if m >= wanted), _CANDLE_MINUTES[-1])

    def price_history(self, market: VenueMarket, *, since: datetime | None = None) -> pd.DataFrame:
        """YES price per candle after ``since`` (candle end time; last trade, else bid/ask mid).

        Raises
        ------
        MarketUnavailable, DataError
            Kalshi failed after retries or sent malformed candles.
        """
        now = self._now()
        end = min(now, market.close_time or now)
        start = since + timedelta(seconds=1) if since else market.created_at
        if start is None:
            start = end - timedelta(days=30)
        period = self._period_minutes()
        if market.market_id in self._historical:
            path = f"/historical/markets/{market.market_id}/candlesticks"
        elif market.series_ticker:
            path = f"/series/{market.series_ticker}/markets/{market.market_id}/candlesticks"
        else:
            raise MarketUnavailable(
                f"kalshi {market.market_id}: series ticker unknown; cannot read candlesticks"
            )
        points: list[tuple[str, datetime, float]] = []
        lo = start
        while lo < end:
            hi = min(end, lo + timedelta(minutes=period * _CANDLE_CHUNK))
            params = {"start_ts": _unix(lo), "end_ts": _unix(hi), "period_interval": period}
            payload = self._http.get_json(path, params)
            points.extend(("Yes", t, p) for t, p in parse_candles(payload, ticker=market.market_id))
            lo = hi
        return history_frame(self.venue, market.market_id, points)

    def order_book(self, market: VenueMarket) -> OrderBook:
        """Current YES book (bids from YES bids; asks = 1 - NO bids)."""
        payload = self._http.get_json(f"/markets/{market.market_id}/orderbook")
        return parse_kalshi_orderbook(payload, market, observed_at=self._now())
