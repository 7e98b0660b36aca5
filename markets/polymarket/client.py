"""Read-only Polymarket client through the official SDK, ``polymarket-client`` (``polymarket``).

Every read goes through the SDK on levercast's URLs, transport, retries and errors
(``markets.polymarket.sdk``):

- **Gamma** ``list_events`` (``GET /events/keyset``, keyset cursor; ``closed=false`` then
  ``closed=true`` with ``end_date_min``; both protocol versions, ``version=v1&version=v2``).
  Crypto price markets are found by tag (``tag_slug=crypto``), then by ``cryptoMarketConfig`` or
  asset words in the question, slug and event title. The SDK's ``Market`` model is completed
  from the raw page the transport kept (``wire_from_sdk``): the model drops ``createdAt`` and
  ``cryptoMarketConfig``. The SDK keeps two-outcome markets only; any other market of a page is
  listed in ``skipped`` with the reason.
- **CLOB** books (``GET /book``, ``POST /books``), midpoint and price (``markets.polymarket.clob``).
- **Data API** price history (``GET /v2/prices-history``: ``start``/``end`` windows of at most 15
  days, ``bucket_seconds``, cursor paging; ``as_of`` for a point-in-time read) and resolutions
  (``GET /v2/resolutions``, 20 condition ids per request; Gamma's settled prices when the Data
  API has no row).
- **Market websocket** books for ``record books`` (``book_stream``, ``markets.polymarket.stream``).

Protocol V2 markets are handled: their position ids are used as the CLOB token ids (APIS.md
§0.1); a V2 market without position ids is reported as such when its book is asked for. Book
best prices are computed by max/min, never from the venue's order (APIS.md §0.4). Nothing
outside ``markets/polymarket/`` sees an SDK model or a venue field name.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from levercast.features.errors import ConfigError, DataError, MarketUnavailable
from levercast.markets.client import MarketResolution, history_frame
from levercast.markets.polymarket.clob import ClobReader, parse_clob_book
from levercast.markets.polymarket.sdk import PolymarketSdk
from levercast.markets.polymarket.wire import (
    GammaEventWire,
    GammaMarketWire,
    decode_gamma_event,
    parse_data_resolution,
    parse_gamma_market,
    parse_gamma_resolution,
    wire_from_sdk,
)
from levercast.markets.settings import VenueSettings
from levercast.markets.types import MarketQuote, OrderBook, Venue, VenueMarket

if TYPE_CHECKING:
    import httpx
    import pandas as pd

    from levercast.markets.polymarket.stream import BookStream

__all__ = ["ASSET_WORDS", "PolymarketClient", "is_crypto_price_market"]

ASSET_WORDS: Final[dict[str, tuple[str, ...]]] = {
    "BTC": ("bitcoin", "btc"),
    "ETH": ("ethereum", "eth", "ether"),
    "SOL": ("solana", "sol"),
    "XRP": ("xrp", "ripple"),
    "DOGE": ("dogecoin", "doge"),
}
_PRICE_WORDS: Final = re.compile(
    r"\$|price|up or down|updown|above|below|reach|dip|hit|between|all[- ]time[- ]high|\bath\b"
    r"|\d+k\b",
    re.IGNORECASE,
)
HISTORY_WINDOW: Final = timedelta(days=15)  # the Data API's longest start/end window
RESOLUTIONS_PER_REQUEST: Final = 20  # GET /v2/resolutions accepts at most 20 condition ids
_NOT_BINARY: Final = "not a two-outcome market (polymarket-client lists binary markets only)"
_CONDITION_ID: Final = re.compile(r"0x[0-9a-fA-F]{64}")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _asset_pattern(assets: Sequence[str]) -> re.Pattern[str]:
    words: list[str] = []
    for asset in assets:
        key = asset.strip().upper()
        if key not in ASSET_WORDS:
            raise ConfigError(f"asset must be one of {sorted(ASSET_WORDS)}; found {asset!r}")
        words.extend(ASSET_WORDS[key])
    return re.compile(r"\b(" + "|".join(words) + r")\b", re.IGNORECASE)


def is_crypto_price_market(wire: GammaMarketWire, assets: Sequence[str]) -> bool:
    """Whether a Gamma market is a price market on one of ``assets`` (by slug, title, config)."""
    wanted = {a.strip().upper() for a in assets}
    if wire.crypto_asset is not None:
        return wire.crypto_asset in wanted
    event = wire.events[0] if wire.events else None
    text = " ".join(
        t or ""
        for t in (
            wire.question,
            wire.slug,
            event.title if event else "",
            event.slug if event else "",
        )
    )
    return bool(_asset_pattern(assets).search(text)) and bool(_PRICE_WORDS.search(text))


def _by_id(raw: Any, key: str) -> dict[str, Mapping[str, Any]]:
    items = raw.get(key) if isinstance(raw, Mapping) else None
    return {str(i.get("id")): i for i in items or [] if isinstance(i, Mapping)}


class PolymarketClient:
    """Read-only Polymarket client (see the module docstring); implements ``MarketClient``.

    Parameters
    ----------
    settings
        Endpoints, timeouts, retries, paging (default ``VenueSettings()``).
    sleep
        Injected for tests (no-op sleep makes retry tests fast).
    now
        Clock returning tz-aware UTC (default ``datetime.now(UTC)``).
    seed
        Seed of the backoff jitter.
    http_transport
        Factory ``service -> httpx.BaseTransport`` handed to the SDK session (default: a
        total per-request deadline, ``features.deadline.deadline_transport``).
    """

    venue: str = Venue.POLYMARKET.value

    def __init__(
        self,
        settings: VenueSettings | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = _utcnow,
        seed: int | None = None,
        http_transport: Callable[[str], httpx.BaseTransport] | None = None,
    ) -> None:
        self.settings = settings or VenueSettings()
        self.sdk = PolymarketSdk(
            self.settings, sleep=sleep, seed=seed, http_transport=http_transport
        )
        self.clob = ClobReader(self.sdk)
        self._now = now
        self._wires: dict[str, GammaMarketWire] = {}
        self._resolutions: dict[str, MarketResolution | None] = {}
        self.skipped: dict[str, str] = {}
        """Gamma market id -> why the last listing left it out."""

    def close(self) -> None:
        """Close the SDK client and its HTTP connections."""
        self.sdk.close()

    def __enter__(self) -> PolymarketClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- Gamma ---------------------------------------------------------------------------------
    def _event_pages(self, *, closed: bool, end_date_min: str | None) -> Iterator[tuple[Any, Any]]:
        """``(SDK page, raw JSON page)`` of every crypto ``/events/keyset`` page."""
        sdk, limit = self.sdk, self.settings.page_limit

        def fetch(cursor: str | None) -> Any:
            pages = sdk.client.list_events(
                tag_slug="crypto",
                closed=closed,
                version=["v1", "v2"],
                end_date_min=end_date_min,
                page_size=limit,
            )
            return pages.first_page() if cursor is None else pages.from_cursor(cursor).first_page()

        cursor: str | None = None
        for _ in range(self.settings.max_pages):
            page = sdk.call("gamma", "/events/keyset", lambda c=cursor: fetch(c))  # type: ignore[misc]
            yield page, sdk.last_json("gamma")
            if not page.has_more or not page.items:
                return
            cursor = page.next_cursor
        raise MarketUnavailable(
            f"polymarket gamma /events/keyset: more than max_pages={self.settings.max_pages} "
            f"pages of {limit}; narrow the query or raise max_pages"
        )

    def _page_wires(self, page: Any, raw: Any) -> Iterator[GammaMarketWire]:
        raw_events = _by_id(raw, "events")
        for event in page.items:
            raw_event = raw_events.get(str(event.id), {})
            parent = (
                decode_gamma_event(raw_event)
                if raw_event
                else GammaEventWire(id=str(event.id), slug=event.slug, title=event.title)
            )
            raw_markets = _by_id(raw_event, "markets")
            for market in event.markets:
                yield wire_from_sdk(market, raw_markets.get(str(market.id), {}), event=parent)
            kept = {str(m.id) for m in event.markets}
            self.skipped.update((mid, _NOT_BINARY) for mid in raw_markets if mid not in kept)

    def list_markets(self, assets: Sequence[str]) -> list[VenueMarket]:
        """Open and recently closed crypto price markets on ``assets`` (both protocol versions).

        Raises
        ------
        ConfigError
            An unknown asset.
        MarketUnavailable, DataError
            Gamma failed after retries or sent a listing the SDK's models refuse.
        """
        _asset_pattern(assets)
        since = self._now() - timedelta(days=self.settings.resolved_lookback_days)
        self.skipped = {}
        found: dict[str, GammaMarketWire] = {}
        for closed, end_date_min in ((False, None), (True, since.strftime("%Y-%m-%dT%H:%M:%SZ"))):
            for page, raw in self._event_pages(closed=closed, end_date_min=end_date_min):
                for wire in self._page_wires(page, raw):
                    if is_crypto_price_market(wire, assets):
                        found[parse_gamma_market(wire).market_id] = wire
        self._wires.update(found)
        return [parse_gamma_market(w) for w in found.values()]

    # -- resolutions ---------------------------------------------------------------------------
    def resolution(self, market: VenueMarket) -> MarketResolution | None:
        """Resolution of a closed market from the last listing (Data API, else Gamma prices).

        The first call asks the Data API about every closed market of the listing not asked yet.

        Raises
        ------
        MarketUnavailable, DataError
            The Data API failed after retries or sent a malformed resolution.
        """
        if market.market_id in self._resolutions:
            return self._resolutions[market.market_id]
        wire = self._wires.get(market.market_id)
        if wire is None or not wire.closed:
            return None
        self._fetch_resolutions()
        return self._resolutions.get(market.market_id)

    def _fetch_resolutions(self) -> None:
        pending = [
            (market_id, wire)
            for market_id, wire in self._wires.items()
            if wire.closed and market_id not in self._resolutions
        ]
        asked = []
        for market_id, wire in pending:
            if wire.condition_id and _CONDITION_ID.fullmatch(wire.condition_id):
                asked.append((market_id, wire))
            else:  # the Data API is keyed by condition id: Gamma's settled prices only
                self._resolutions[market_id] = parse_gamma_resolution(wire)
        sdk = self.sdk
        for start in range(0, len(asked), RESOLUTIONS_PER_REQUEST):
            chunk = asked[start : start + RESOLUTIONS_PER_REQUEST]
            ids = [str(w.condition_id) for _, w in chunk]
            rows = sdk.call(
                "data",
                f"resolutions ({len(ids)} conditions)",
                lambda ids=ids: sdk.client.get_resolutions(condition_ids=ids),  # type: ignore[misc]
            )
            by_condition = {str(r.condition_id).lower(): r for r in rows if r.condition_id}
            for market_id, wire in chunk:
                row = by_condition.get(str(wire.condition_id).lower())
                self._resolutions[market_id] = (
                    parse_data_resolution(row, wire) if row else parse_gamma_resolution(wire)
                )

    # -- prices --------------------------------------------------------------------------------
    def _bucket_seconds(self) -> int:
        return min(86_400, max(60, self.settings.history_fidelity_mins * 60))

    def _history_window(
        self, market: VenueMarket, token: str, start: datetime, end: datetime
    ) -> Iterator[tuple[datetime, float]]:
        sdk, bucket = self.sdk, self._bucket_seconds()
        lo, hi = int(start.timestamp()), int(end.timestamp())

        def fetch(cursor: str | None) -> Any:
            pages = sdk.client.list_price_history(
                asset_id=token, start=lo, end=hi, bucket_seconds=bucket
            )
            return pages.first_page() if cursor is None else pages.from_cursor(cursor).first_page()

        what = f"prices history of {market.market_id} token {token[:12]}"
        cursor: str | None = None
        for _ in range(self.settings.max_pages):
            page = sdk.call("data", what, lambda c=cursor: fetch(c))  # type: ignore[misc]
            yield from (_point(p, market) for p in page.items)
            if not page.has_more or not page.items:
                return
            cursor = page.next_cursor
        raise MarketUnavailable(f"polymarket data {what}: more than max_pages pages")

    def price_history(self, market: VenueMarket, *, since: datetime | None = None) -> pd.DataFrame:
        """Data-API price points after ``since`` for every outcome token.

        The range runs from ``since`` (else creation, else 30 days before the end) to the end of
        the market or now (exclusive), in windows of at most 15 days at ``history_fidelity_mins``
        (``bucket_seconds``), each read page by page.

        Raises
        ------
        MarketUnavailable, DataError
            The Data API failed after retries or sent a malformed history.
        """
        now = self._now()
        end = min(t for t in (now, market.close_time or now, market.end_date or now))
        start = since + timedelta(seconds=1) if since else market.created_at
        if start is None:
            start = end - timedelta(days=30)
        points: list[tuple[str, datetime, float]] = []
        for outcome, token in zip(market.outcomes, market.token_ids, strict=False):
            if not token:
                continue
            lo = start
            while lo < end:
                hi = min(end, lo + HISTORY_WINDOW)
                points.extend(
                    (outcome, t, p) for t, p in self._history_window(market, token, lo, hi)
                )
                lo = hi
        return history_frame(self.venue, market.market_id, points)

    def price_as_of(self, market: VenueMarket, at: datetime) -> dict[str, tuple[datetime, float]]:
        """Outcome -> ``(time, price)`` of the last Data-API observation at or before ``at``.

        A point-in-time read (``as_of``); an outcome without any observation is left out.

        Raises
        ------
        ConfigError
            ``at`` is naive.
        DataError
            The venue answered with a point after ``at``.
        MarketUnavailable
            The Data API failed after retries.
        """
        if at.utcoffset() is None:
            raise ConfigError(f"at must be tz-aware UTC; found naive {at.isoformat()}")
        sdk, stamp = self.sdk, int(at.timestamp())
        out: dict[str, tuple[datetime, float]] = {}
        for outcome, token in zip(market.outcomes, market.token_ids, strict=False):
            if not token:
                continue
            page = sdk.call(
                "data",
                f"price as of {at.isoformat()} of {market.market_id}",
                lambda t=token: sdk.client.list_price_history(asset_id=t, as_of=stamp).first_page(),  # type: ignore[misc]
            )
            if page.items:
                ts, price = _point(page.items[-1], market)
                if ts > at:
                    raise DataError(
                        f"polymarket data as_of {at.isoformat()} of {market.market_id}: the "
                        f"point must be at or before as_of; found {ts.isoformat()}"
                    )
                out[outcome] = (ts, price)
        return out

    # -- books ---------------------------------------------------------------------------------
    def _token(self, market: VenueMarket) -> str:
        if not market.token_ids or not market.token_ids[0]:
            kind = (
                "Protocol V2 market without position ids"
                if market.protocol_version == "v2"
                else "market without CLOB token ids"
            )
            raise MarketUnavailable(f"polymarket {market.market_id}: {kind}; no book to read")
        return market.token_ids[0]

    def order_book(self, market: VenueMarket) -> OrderBook:
        """Current book of the market's first outcome (best prices by max/min)."""
        book = self.clob.book(self._token(market))
        return parse_clob_book(book, market, received_at=self._now())

    def order_books(self, markets: Sequence[VenueMarket]) -> list[OrderBook]:
        """Current first-outcome books of ``markets`` in batches (``POST /books``).

        Markets without token ids, and tokens the venue returns no book for, are left out.
        """
        tokens = {m.token_ids[0]: m for m in markets if m.token_ids and m.token_ids[0]}
        books = self.clob.books(list(tokens))
        received = self._now()
        return [
            parse_clob_book(books[t], m, received_at=received)
            for t, m in tokens.items()
            if t in books
        ]

    def quote(self, market: VenueMarket) -> MarketQuote:
        """Best bid and ask of the first outcome, from the book."""
        book = self.order_book(market)
        return MarketQuote(
            self.venue, market.market_id, book.observed_at, book.best_bid, book.best_ask, book
        )

    def midpoint(self, market: VenueMarket) -> float:
        """CLOB midpoint of the first outcome."""
        return self.clob.midpoint(self._token(market))

    def tick_size(self, market: VenueMarket) -> float | None:
        """Tick size of the first outcome (from its book: the SDK has no tick-size call)."""
        return self.order_book(market).tick_size

    def book_stream(self) -> BookStream:
        """A websocket book stream on this client's settings (started by the caller)."""
        from levercast.markets.polymarket.stream import BookStream

        return BookStream(self.settings, now=self._now)


def _point(point: Any, market: VenueMarket) -> tuple[datetime, float]:
    price = float(point.price)
    if not 0.0 <= price <= 1.0:
        raise DataError(
            f"polymarket data prices history of {market.market_id}: price must be within "
            f"[0, 1]; found {price}"
        )
    return point.timestamp.astimezone(UTC), price
