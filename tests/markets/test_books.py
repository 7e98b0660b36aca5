"""Books as quotes: the complementary outcome's book and a book's best bid/ask."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from levercast.markets.books import mirror_book, quote_from_book
from levercast.markets.types import BookLevel, OrderBook

NOW = datetime(2026, 8, 22, 16, 10, tzinfo=UTC)
BOOK = OrderBook(
    "polymarket", "m", "90k", NOW, bids=(BookLevel(0.30, 10),), asks=(BookLevel(0.35, 5),)
)


def test_mirroring_twice_gives_the_book_back():
    back = mirror_book(mirror_book(BOOK, "100k"), "90k")
    assert [lv.price for lv in back.bids + back.asks] == pytest.approx([0.30, 0.35])


def test_mirror_swaps_sides_at_one_minus_the_price():
    other = mirror_book(BOOK, "100k")
    assert other.outcome == "100k"
    assert [(lv.price, lv.size) for lv in other.bids] == [(pytest.approx(0.65), 5)]
    assert [(lv.price, lv.size) for lv in other.asks] == [(pytest.approx(0.70), 10)]


def test_quote_from_book_is_the_best_bid_and_ask_with_the_book():
    quote = quote_from_book(BOOK)
    assert (quote.prob_bid, quote.prob_ask) == (0.30, 0.35)
    assert quote.book is BOOK and quote.observed_at == NOW
