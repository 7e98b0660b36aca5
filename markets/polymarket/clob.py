"""Polymarket CLOB reads (book, books, midpoint, price) through ``polymarket-client``.

``ClobReader`` wraps the SDK's ``get_order_book`` (``GET /book``), ``get_order_books``
(``POST /books``), ``get_midpoint`` and ``get_price`` with levercast's retries and errors
(``markets.polymarket.sdk.PolymarketSdk.call``); no process-wide state is touched (the
``py-clob-client`` this replaces needed its module-level httpx client patched). Tick size and
neg-risk come with the book. ``parse_clob_book`` maps the SDK's ``OrderBook`` into the domain
``OrderBook``: best prices by max/min, never from the venue's order (bids ascend and asks
descend, so the best of each is the last element; APIS.md §0.4).

The CLOB's ``/fee-rate`` (the legacy ``base_fee``, 1000 on every fee-enabled market, not a rate)
has no SDK method and is no longer read: fees come from the Gamma ``feeSchedule``
(``markets.fees``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final, Literal

from levercast.features.errors import ConfigError, DataError
from levercast.markets.polymarket.sdk import PolymarketSdk
from levercast.markets.types import BookLevel, OrderBook, Venue, VenueMarket

__all__ = ["ClobReader", "parse_clob_book"]

BOOKS_PER_REQUEST: Final = 100  # POST /books batch size (the server cap is not documented)


class ClobReader:
    """Level-0 CLOB reads through the SDK, retried; failures end as ``MarketUnavailable``.

    Parameters
    ----------
    sdk
        The shared SDK session (URLs, transport, retries).
    """

    def __init__(self, sdk: PolymarketSdk) -> None:
        self._sdk = sdk

    def book(self, token_id: str) -> Any:
        """The SDK ``OrderBook`` of one token."""
        sdk = self._sdk
        return sdk.call(
            "clob", f"book {token_id[:12]}", lambda: sdk.client.get_order_book(asset_id=token_id)
        )

    def books(self, token_ids: Sequence[str]) -> dict[str, Any]:
        """SDK ``OrderBook`` by token id, ``BOOKS_PER_REQUEST`` tokens per ``POST /books``.

        The server's order is not the request's, so books are matched on ``asset_id``.
        """
        sdk = self._sdk
        out: dict[str, Any] = {}
        ids = list(dict.fromkeys(t for t in token_ids if t))
        for start in range(0, len(ids), BOOKS_PER_REQUEST):
            chunk = ids[start : start + BOOKS_PER_REQUEST]
            found = sdk.call(
                "clob",
                f"books ({len(chunk)} tokens)",
                lambda chunk=chunk: sdk.client.get_order_books(asset_ids=chunk),  # type: ignore[misc]
            )
            out.update((str(book.asset_id), book) for book in found)
        return out

    def midpoint(self, token_id: str) -> float:
        """Mid price of one token."""
        sdk = self._sdk
        value = sdk.call(
            "clob", f"midpoint {token_id[:12]}", lambda: sdk.client.get_midpoint(asset_id=token_id)
        )
        return _probability(float(value), "midpoint")

    def price(self, token_id: str, side: Literal["BUY", "SELL"]) -> float:
        """Executable price of one token for ``side``."""
        if side not in ("BUY", "SELL"):
            raise ConfigError(f"side must be 'BUY' or 'SELL'; found {side!r}")
        sdk = self._sdk
        value = sdk.call(
            "clob",
            f"price {token_id[:12]}",
            lambda: sdk.client.get_price(asset_id=token_id, side=side),
        )
        return _probability(float(value), "price")


def _probability(value: float, what: str) -> float:
    if not 0.0 <= value <= 1.0:
        raise DataError(f"polymarket clob {what} must be within [0, 1]; found {value}")
    return value


def _levels(levels: Sequence[Any], what: str) -> tuple[BookLevel, ...]:
    try:
        return tuple(BookLevel(float(level.price), float(level.size)) for level in levels)
    except ConfigError as e:
        raise DataError(f"polymarket clob {what}: bad level: {e}") from e


def parse_clob_book(book: Any, market: VenueMarket, *, received_at: datetime) -> OrderBook:
    """The domain book of an SDK ``OrderBook`` for the market's first outcome.

    ``observed_at`` is the book's server timestamp when given, else ``received_at``.
    """
    what = f"book of {market.market_id}"
    tick = float(book.tick_size) if book.tick_size is not None else None
    return OrderBook(
        venue=Venue.POLYMARKET.value,
        market_id=market.market_id,
        outcome=market.outcomes[0],
        observed_at=book.timestamp or received_at,
        bids=_levels(book.bids, what),
        asks=_levels(book.asks, what),
        tick_size=tick,
    )
