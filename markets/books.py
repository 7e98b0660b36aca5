"""Order books as quotes: the complementary outcome's book and a book's best bid/ask.

A binary market's two outcomes are one book seen from both sides: buying the other outcome at
``p`` is selling this one at ``1 - p``. ``mirror_book`` turns a book of one outcome into the book
of the other (bids at ``1 - asks``, asks at ``1 - bids``); ``quote_from_book`` reads the best
bid/ask of a book into a ``MarketQuote`` that carries the book, so ``markets.odds`` can walk it.
"""

from __future__ import annotations

from levercast.markets.types import BookLevel, MarketQuote, OrderBook

__all__ = ["mirror_book", "quote_from_book"]


def mirror_book(book: OrderBook, outcome: str) -> OrderBook:
    """The book of the complementary outcome: bids at 1 - asks, asks at 1 - bids."""
    return OrderBook(
        venue=book.venue,
        market_id=book.market_id,
        outcome=outcome,
        observed_at=book.observed_at,
        bids=tuple(BookLevel(1.0 - lv.price, lv.size) for lv in book.asks),
        asks=tuple(BookLevel(1.0 - lv.price, lv.size) for lv in book.bids),
        tick_size=book.tick_size,
    )


def quote_from_book(book: OrderBook) -> MarketQuote:
    """Best bid/ask of a book, with the book attached (so the odds code walks it)."""
    return MarketQuote(
        book.venue, book.market_id, book.observed_at, book.best_bid, book.best_ask, book
    )
