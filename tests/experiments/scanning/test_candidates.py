"""Scanner quotes: a candidate's book or last price oriented to the outcome the contract names."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from levercast.experiments.scanning.candidates import Candidate, event_quote
from levercast.markets.types import BookLevel, OrderBook, VenueMarket

NOW = datetime(2026, 8, 22, 16, 10, tzinfo=UTC)
MARKET = VenueMarket("polymarket", "m", "q", outcomes=("90k", "100k"))
BOOK = OrderBook(
    "polymarket", "m", "90k", NOW, bids=(BookLevel(0.30, 10),), asks=(BookLevel(0.35, 5),)
)


def test_book_of_the_other_outcome_is_mirrored():
    quote, source = event_quote(Candidate(MARKET, book=BOOK), "100k")
    assert (quote.prob_bid, quote.prob_ask) == pytest.approx((0.65, 0.70))
    assert "mirrored" in source


@pytest.mark.parametrize(
    ("outcome", "expected"), [("100k", (0.19, 0.21)), ("90k", (0.79, 0.81))], ids=["own", "other"]
)
def test_last_price_quote_is_price_plus_minus_half_spread(outcome, expected):
    ts = pd.Timestamp("2026-08-22T00:00Z")
    cand = Candidate(MARKET, last_prices={outcome: (0.2, ts, "daily_close")}, source="x")
    quote, source = event_quote(cand, "100k")
    assert (quote.prob_bid, quote.prob_ask) == pytest.approx(expected)
    assert "assumed half-spread" in source
