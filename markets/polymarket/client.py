"""Read-only Polymarket client: Gamma catalog, CLOB books and prices, price history.

- **Gamma** (``/events/keyset``, ``/markets/keyset``; ``after_cursor``/``next_cursor``) through
  the retrying ``features.http.HttpClient``. Crypto price markets are found by tag
  (``tag_slug=crypto``), then by asset words in the question, slug and event title, and by
  ``cryptoMarketConfig``. Both protocol versions are listed (``version=v1&version=v2``).
- **CLOB** book, midpoint, price, tick size and fee rate through ``py-clob-client`` at level 0,
  wrapped by ``markets.polymarket.clob.ClobReader`` (retries, one clear error, a timeout).
- **Price history** (``/prices-history``, not in py-clob-client 0.34) through requests.

Protocol V2 markets are handled: their ``positionIds`` are used as the CLOB token ids (APIS.md
§0.1); a V2 market without position ids is reported as such when its book is asked for. Book
best prices are computed by max/min, never from the venue's order (APIS.md §0.4).

Venue field names stay in ``markets.polymarket.wire`` (Gamma) and ``markets.polymarket.clob``
(the SDK's book type); moving the CLOB reads to the unified ``polymarket-client`` SDK touches
``polymarket_clob.py`` only.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from levercast.features.errors import ConfigError, DataError, MarketUnavailable
from levercast.features.http import HttpClient
from levercast.markets.client import MarketResolution, history_frame
from levercast.markets.polymarket.clob import ClobReader, parse_clob_book
from levercast.markets.polymarket.wire import (
    GammaMarketWire,
    decode_gamma_event,
    decode_gamma_market,
    decode_keyset_page,
    parse_gamma_market,
    parse_gamma_resolution,
)
from levercast.markets.settings import VenueSettings
from levercast.markets.types import MarketQuote, OrderBook, Venue, VenueMarket

if TYPE_CHECKING:
    import pandas as pd

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
_HISTORY_CHUNK_POINTS: Final = 1000  # points per /prices-history request (long ranges fail)


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
    """

    venue: str = Venue.POLYMARKET.value

    def __init__(
        self,
        settings: VenueSettings | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = _utcnow,
        seed: int | None = None,
    ) -> None:
        self.settings = settings or VenueSettings()
        self._gamma = HttpClient(
            self.settings.gamma_http, sleep=sleep, seed=seed, name="polymarket gamma"
        )
        self._history = HttpClient(
            self.settings.clob_http, sleep=sleep, seed=seed, name="polymarket CLOB"
        )
        self._sleep = sleep
        self._seed = seed
        self._clob: ClobReader | None = None
        self._now = now
        self._wires: dict[str, GammaMarketWire] = {}

    @property
    def clob(self) -> ClobReader:
        """The level-0 CLOB reader (py-clob-client is imported on first use)."""
        if self._clob is None:
            self._clob = ClobReader(self.settings, sleep=self._sleep, seed=self._seed)
        return self._clob

    # -- Gamma ---------------------------------------------------------------------------------
    def keyset(self, path: str, key: str, params: Mapping[str, Any]) -> Iterator[Any]:
        """Items of every page of a Gamma keyset listing (``/markets/keyset``, ``/events/keyset``).

        Raises
        ------
        MarketUnavailable
            A request failed after retries, or the listing exceeds ``max_pages`` pages.
        DataError
            A page is not shaped ``{key: [...], "next_cursor": ...}``.
        """
        query = {"limit": self.settings.page_limit, **params}
        cursor: str | None = None
        for _ in range(self.settings.max_pages):
            page = dict(query, after_cursor=cursor) if cursor else query
            items, cursor = decode_keyset_page(self._gamma.get_json(path, page), key, path=path)
            yield from items
            if not cursor or not items:
                return
        raise MarketUnavailable(
            f"polymarket gamma {path}: more than max_pages={self.settings.max_pages} pages of "
            f"{self.settings.page_limit}; narrow the query or raise max_pages"
        )

    def list_markets(self, assets: Sequence[str]) -> list[VenueMarket]:
        """Open and recently closed crypto price markets on ``assets`` (both protocol versions).

        Raises
        ------
        ConfigError
            An unknown asset.
        MarketUnavailable, DataError
            Gamma failed after retries or sent a malformed listing.
        """
        _asset_pattern(assets)
        since = self._now() - timedelta(days=self.settings.resolved_lookback_days)
        base = {"tag_slug": "crypto", "version": ["v1", "v2"]}
        queries = [
            dict(base, closed="false"),
            dict(base, closed="true", end_date_min=since.strftime("%Y-%m-%dT%H:%M:%SZ")),
        ]
        found: dict[str, GammaMarketWire] = {}
        for query in queries:
            for raw_event in self.keyset("/events/keyset", "events", query):
                event = decode_gamma_event(raw_event)
                for raw_market in raw_event.get("markets") or []:
                    wire = decode_gamma_market(raw_market, event=event)
                    if is_crypto_price_market(wire, assets):
                        found[parse_gamma_market(wire).market_id] = wire
        self._wires.update(found)
        return [parse_gamma_market(w) for w in found.values()]

    def resolution(self, market: VenueMarket) -> MarketResolution | None:
        """Resolution of a market from the last listing (closed, prices settled at 1/0)."""
        wire = self._wires.get(market.market_id)
        return parse_gamma_resolution(wire) if wire else None

    # -- prices --------------------------------------------------------------------------------
    def price_history(self, market: VenueMarket, *, since: datetime | None = None) -> pd.DataFrame:
        """``/prices-history`` points after ``since`` for every outcome token.

        The window runs from ``since`` (else creation, else 30 days before the end) to the end
        of the market or now, in chunks of ``_HISTORY_CHUNK_POINTS`` points at
        ``history_fidelity_mins``.

        Raises
        ------
        MarketUnavailable, DataError
            The CLOB failed after retries or sent a malformed history.
        """
        now = self._now()
        end = min(t for t in (now, market.close_time or now, market.end_date or now))
        start = since + timedelta(seconds=1) if since else market.created_at
        if start is None:
            start = end - timedelta(days=30)
        fidelity = self.settings.history_fidelity_mins
        step = timedelta(minutes=fidelity * _HISTORY_CHUNK_POINTS)
        points: list[tuple[str, datetime, float]] = []
        for outcome, token in zip(market.outcomes, market.token_ids, strict=False):
            if not token:
                continue
            lo = start
            while lo < end:
                hi = min(end, lo + step)
                params = {
                    "market": token,
                    "startTs": int(lo.timestamp()),
                    "endTs": int(hi.timestamp()),
                    "fidelity": fidelity,
                }
                payload = self._history.get_json("/prices-history", params)
                points.extend((outcome, t, p) for t, p in _history_points(payload, market))
                lo = hi
        return history_frame(self.venue, market.market_id, points)

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
        summary = self.clob.book(self._token(market))
        return parse_clob_book(summary, market, received_at=self._now())

    def quote(self, market: VenueMarket) -> MarketQuote:
        """Best bid and ask of the first outcome, from the book."""
        book = self.order_book(market)
        return MarketQuote(
            self.venue, market.market_id, book.observed_at, book.best_bid, book.best_ask, book
        )

    def midpoint(self, market: VenueMarket) -> float:
        """CLOB midpoint of the first outcome."""
        return self.clob.midpoint(self._token(market))

    def tick_size(self, market: VenueMarket) -> float:
        """CLOB tick size of the first outcome."""
        return self.clob.tick_size(self._token(market))

    def fee_rate_bps(self, market: VenueMarket) -> int:
        """CLOB base fee rate (bps) of the first outcome."""
        return self.clob.fee_rate_bps(self._token(market))


def _history_points(payload: Any, market: VenueMarket) -> Iterator[tuple[datetime, float]]:
    where = f"polymarket CLOB /prices-history of {market.market_id}"
    if not isinstance(payload, Mapping) or not isinstance(payload.get("history"), list):
        raise DataError(f"{where}: field 'history' is required; found {str(payload)[:80]!r}")
    for point in payload["history"]:
        try:
            ts = datetime.fromtimestamp(int(point["t"]), tz=UTC)
            price = float(point["p"])
        except KeyError as e:
            raise DataError(f"{where}: field {e.args[0]!r} is required; found {point!r}") from None
        except (TypeError, ValueError):
            raise DataError(f"{where}: point must hold numbers t and p; found {point!r}") from None
        if not 0.0 <= price <= 1.0:
            raise DataError(f"{where}: price must be within [0, 1]; found {price}")
        yield ts, price
