"""Read-only Kalshi trade-API v2 client: crypto series, events, markets, books, candlesticks.

Host ``https://external-api.kalshi.com/trade-api/v2`` (changelog 2026-05-07; the shared
``api.elections.kalshi.com`` still answers). Lists the crypto price series of each asset
(``KXBTC`` ranges, ``KXBTCD`` thresholds, ``KXETH``, ``KXETHD``, ...) through
``/events?with_nested_markets=true`` (open, and settled within ``resolved_lookback_days``), with
cursor pagination. Each listed series' fee fields are read once from ``/series/{ticker}``.

Markets settled before ``/historical/cutoff``'s ``market_settled_ts`` are served only by
``/historical/*`` (https://docs.kalshi.com/getting_started/historical_data): ``/events`` still
lists their events, without the nested markets. Those events' markets are read from
``/historical/markets?event_ticker=...``: that endpoint takes exactly one of ``tickers``,
``event_ticker``, ``series_ticker`` (mutually exclusive) and no time filter, so asking per
event bounds the pages read; their candles come from
``/historical/markets/{ticker}/candlesticks``.

Markets that are not plain $1 binaries are left out with a reason (``skipped``). Requests go
through the retrying ``features.http.HttpClient`` (429 with or without ``Retry-After``: Kalshi
sends none); public market data needs no key. Wire parsing lives in ``markets.kalshi.wire``.
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
    HistoricalCutoff,
    KalshiEvent,
    KalshiSeries,
    decode_page,
    ineligible_reason,
    parse_candles,
    parse_historical_cutoff,
    parse_kalshi_event,
    parse_kalshi_market,
    parse_kalshi_orderbook,
    parse_kalshi_resolution,
    parse_kalshi_series,
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
_HISTORICAL_LIMIT: Final = 1000
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
        self._series_info: dict[str, KalshiSeries] = {}
        self.skipped: dict[str, str] = {}
        """Market ticker -> why the last listing left it out (not a plain $1 binary)."""
        self.notes: list[str] = []
        """Failures that did not stop a listing (a series whose fee fields could not be read)."""

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

    def cutoffs(self) -> HistoricalCutoff:
        """The four ``/historical/cutoff`` times (they advance independently)."""
        return parse_historical_cutoff(self._http.get_json("/historical/cutoff"))

    def historical_cutoff(self) -> datetime | None:
        """``market_settled_ts`` of ``/historical/cutoff``: markets settled before it are served
        only by ``/historical/*`` (None when the venue does not say)."""
        return self.cutoffs().market_settled_ts

    def series(self, ticker: str) -> KalshiSeries:
        """Fee fields of a series (``/series/{ticker}``), read once per client.

        The fields only feed fee maths, so a failed read does not fail the listing: the series
        is taken without fee fields (``markets.fees`` then assumes ``quadratic`` x1, the crypto
        series' values) and the failure is kept in ``notes``.
        """
        if ticker not in self._series_info:
            try:
                info = parse_kalshi_series(self._http.get_json(f"/series/{ticker}"))
            except (MarketUnavailable, DataError) as e:
                self.notes.append(f"kalshi series {ticker}: fee fields unknown ({e})")
                info = KalshiSeries(ticker, None, None, (), None)
            self._series_info[ticker] = info
        return self._series_info[ticker]

    def _market(
        self, raw: Any, series: str, event: KalshiEvent | None, *, historical: bool = False
    ) -> VenueMarket | None:
        reason = ineligible_reason(raw) if isinstance(raw, Mapping) else None
        market = parse_kalshi_market(
            raw, series_ticker=series, event=event, series=self.series(series)
        )
        if reason is not None:
            self.skipped[market.market_id] = reason
            return None
        if historical:
            self._historical.add(market.market_id)
        self._resolutions[market.market_id] = parse_kalshi_resolution(raw)
        return market

    def _events(
        self, series: str, status: str, extra: Mapping[str, Any]
    ) -> Iterator[tuple[KalshiEvent, list[VenueMarket], bool]]:
        """``(event, its eligible markets, whether it came with nested markets)`` per event."""
        params = {
            "series_ticker": series,
            "status": status,
            "with_nested_markets": "true",
            "limit": min(self.settings.page_limit, _EVENTS_LIMIT),
            **extra,
        }
        for raw_event in self.paged("/events", "events", params):
            event = parse_kalshi_event(raw_event)
            nested = raw_event.get("markets") or []
            markets = [self._market(raw, series, event) for raw in nested]
            yield event, [m for m in markets if m is not None], bool(nested)

    def _historical_markets(self, series: str, event: KalshiEvent) -> Iterator[VenueMarket]:
        params = {"event_ticker": event.ticker, "limit": _HISTORICAL_LIMIT}
        for raw in self.paged("/historical/markets", "markets", params):
            market = self._market(raw, series, event, historical=True)
            if market is not None:
                yield market

    def list_markets(self, assets: Sequence[str]) -> list[VenueMarket]:
        """Open and recently settled markets of the assets' crypto series.

        Settled events whose nested markets are missing (settled before the historical cutoff)
        are completed from ``/historical/markets?event_ticker=...``.

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
        self.skipped = {}
        found: dict[str, VenueMarket] = {}
        for series in series_list:
            for _, markets, _ in self._events(series, "open", {}):
                found.update((m.market_id, m) for m in markets)
            settled = self._events(series, "settled", {"min_close_ts": _unix(since)})
            for event, markets, nested in settled:
                found.update((m.market_id, m) for m in markets)
                if nested or cutoff is None or since >= cutoff:
                    continue
                for market in self._historical_markets(series, event):
                    close = market.close_time
                    if market.market_id not in found and (close is None or close >= since):
                        found[market.market_id] = market
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
        """Current YES book (bids from YES bids; asks = 1 - NO bids).

        The orderbook is public (getting_started/orderbook_responses) although one API-reference
        page declares key headers; a 401 ends as ``MarketUnavailable`` like any other 4xx.
        """
        payload = self._http.get_json(f"/markets/{market.market_id}/orderbook")
        return parse_kalshi_orderbook(payload, market, observed_at=self._now())
