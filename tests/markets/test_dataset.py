"""Store rows <-> venue records: markets rows to ``VenueMarket``, books rows to ``OrderBook``,
and a markets frame to ``parse`` objects."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from levercast.markets.dataset import (
    book_rows,
    books_from_rows,
    parse_markets,
    venue_market_from_row,
)
from levercast.markets.types import BookLevel, OrderBook

AT = datetime(2026, 1, 10, 12, tzinfo=UTC)


def test_venue_market_row_ignores_family():
    row = {
        "venue": "polymarket",
        "market_id": "m",
        "question": "Will Bitcoin dip to $1 in May?",
        "outcomes": "Yes|No",
        "family": "btc-a",
    }
    assert venue_market_from_row(row) == venue_market_from_row(row | {"family": "other"})


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        ({}, {"venue": "polymarket", "outcomes": ("Yes", "No"), "created_at": None}),
        ({"outcomes": pd.NA, "floor_strike": float("nan")}, {"floor_strike": None}),
        (
            {"venue": "kalshi", "floor_strike": "95000"},
            {"venue": "kalshi", "floor_strike": 95000.0},
        ),
        ({"created_at": pd.NaT, "slug": pd.NA}, {"created_at": None, "slug": None}),
        (
            {"created_at": pd.Timestamp("2026-01-01T00:00Z")},
            {"created_at": datetime(2026, 1, 1, tzinfo=UTC)},
        ),
    ],
    ids=["defaults", "nan-number", "number-text", "missing-time", "time"],
)
def test_missing_cells_read_as_none_or_defaults(cells, expected):
    market = venue_market_from_row({"market_id": "m", "question": "q"} | cells)
    for name, value in expected.items():
        assert getattr(market, name) == value, name


def test_books_rows_round_trip():
    yes = OrderBook(
        "polymarket", "m", "Yes", AT, bids=(BookLevel(0.4, 10.0),), asks=(BookLevel(0.45, 5.0),)
    )
    no = OrderBook("polymarket", "m", "No", AT, bids=(BookLevel(0.5, 3.0),), asks=())
    rows = pd.concat([book_rows(b, received_at=AT) for b in (yes, no)], ignore_index=True)
    back = books_from_rows(rows)
    assert [(b.outcome, b.bids, b.asks, b.observed_at) for b in back] == [
        (b.outcome, b.bids, b.asks, b.observed_at) for b in (yes, no)
    ]


def test_parse_markets_reads_a_market_without_created_at_from_its_first_price():
    markets = pd.DataFrame(
        {
            "venue": ["polymarket", "polymarket"],
            "market_id": ["a", "b"],
            "question": ["Will Bitcoin reach $150,000 by December 31?", "Will it rain?"],
            "outcomes": ["Yes|No", "Yes|No"],
            "created_at": pd.to_datetime([None, None], utc=True),
        }
    )
    prices = pd.DataFrame(
        {
            "market_id": ["a", "a"],
            "ts": pd.to_datetime(["2025-03-02T00:00Z", "2025-03-01T00:00Z"], utc=True),
        }
    )
    a, b = parse_markets(markets, prices)
    assert a["market_id"] == "a" and a["yes_outcome"] == "Yes"
    assert (a["contract"]["start"], a["contract"]["end"]) == (
        "2025-03-01T00:00:00Z",  # the earliest price ts
        "2026-01-01T05:00:00Z",  # December 31 of that year, 23:59:59 ET
    )
    assert b == {"market_id": "b", "unsupported": b["unsupported"]}
    assert b["unsupported"].startswith("not a price question")
    without = parse_markets(markets)[0]  # no reference time: the year is unknown
    assert "unsupported" in without
