"""Quotes for the scanner: the markets open at a time and their executable prices.

Replay (``open_markets_at``) reads only what the store knew at ``at``: a market is open when it
was listed by then (``created_at <= at``, or, when ``created_at`` is unknown, a price point was
already known), is not resolved by then and is on a scanned venue (the scanner also drops a
contract whose parsed end has passed). Its quote is the last archived ``books`` snapshot known
at ``at``, else its last ``market_prices`` point known at ``at`` with bid/ask at the price
+- ``ASSUMED_HALF_SPREAD`` (one Polymarket tick; depth unknown), as each row's
``quote_source`` states.

Orientation (``event_quote``): a quote is turned into the quote of the outcome the contract
names; a book or price of the other outcome of a binary market is mirrored (``p -> 1 - p``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

import pandas as pd

from levercast.features.dataset.store import Store
from levercast.markets.books import mirror_book, quote_from_book
from levercast.markets.dataset import books_from_rows, venue_market_from_row
from levercast.markets.types import MarketQuote, OrderBook, VenueMarket

__all__ = ["ASSUMED_HALF_SPREAD", "Candidate", "event_quote", "open_markets_at"]

ASSUMED_HALF_SPREAD: Final = 0.01
_FLOOR: Final = 0.001


@dataclass(frozen=True, slots=True)
class Candidate:
    """A market to price with what is known of its prices.

    Attributes
    ----------
    market
        The venue market.
    book
        Its book (live, or the last archived snapshot in replay), of ``book.outcome``.
    last_prices
        Replay without a book: outcome -> (last price, its time, its kind).
    source
        Where the quote comes from, or why there is none.
    reference_time
        Parser reference for a market without ``created_at`` (its first price point).
    """

    market: VenueMarket
    book: OrderBook | None = None
    last_prices: Mapping[str, tuple[float, datetime, str]] = field(default_factory=dict)
    source: str = "book"
    reference_time: datetime | None = None


def _from_price(market: VenueMarket, price: float, ts: datetime) -> MarketQuote:
    bid = min(max(price - ASSUMED_HALF_SPREAD, _FLOOR), 1.0 - _FLOOR)
    ask = max(min(price + ASSUMED_HALF_SPREAD, 1.0 - _FLOOR), _FLOOR)
    return MarketQuote(market.venue, market.market_id, ts, min(bid, ask), max(bid, ask))


def event_quote(cand: Candidate, yes: str) -> tuple[MarketQuote | None, str]:
    """The quote of outcome ``yes`` of the candidate's market, and where it comes from."""
    outcomes = cand.market.outcomes
    others = [o for o in outcomes if o != yes]
    other = others[0] if len(outcomes) == 2 and len(others) == 1 else None
    if cand.book is not None:
        if cand.book.outcome == yes:
            return quote_from_book(cand.book), cand.source
        if other is not None and cand.book.outcome == other:
            return quote_from_book(mirror_book(cand.book, yes)), f"{cand.source} (mirrored)"
        return None, f"book of outcome {cand.book.outcome!r} cannot price {yes!r}"
    seen = [(ts, o, p, k) for o, (p, ts, k) in cand.last_prices.items() if o in (yes, other)]
    if not seen:
        return None, cand.source if cand.source != "book" else "no quote known"
    ts, outcome, price, kind = max(seen, key=lambda item: item[0])
    price = price if outcome == yes else 1.0 - price
    source = (
        f"last price {price:.3f} ({kind}{'' if outcome == yes else ', other outcome'}) "
        f"+- {ASSUMED_HALF_SPREAD:g} assumed half-spread"
    )
    return _from_price(
        cand.market, price, ts.to_pydatetime() if hasattr(ts, "to_pydatetime") else ts
    ), source


def _books_at(store: Store, at: datetime) -> dict[str, OrderBook]:
    """The last book snapshot known at ``at`` of each market id."""
    if not store.has("books"):
        return {}
    rows = store.as_of("books", at)
    if rows.empty:
        return {}
    latest = rows.groupby(["venue", "market_id"])["ts"].transform("max")
    return {book.market_id: book for book in books_from_rows(rows[rows["ts"] == latest])}


def _last_prices(
    prices: pd.DataFrame,
) -> dict[str, dict[str, tuple[float, datetime, str]]]:
    if prices.empty:
        return {}
    last = prices.sort_values(["available_at", "ts"], kind="stable").drop_duplicates(
        ["market_id", "outcome"], keep="last"
    )
    out: dict[str, dict[str, tuple[float, datetime, str]]] = {}
    for market_id, outcome, price, ts, kind in zip(
        last["market_id"],
        last["outcome"],
        last["price"],
        last["available_at"],
        last["kind"],
        strict=True,
    ):
        out.setdefault(str(market_id), {})[str(outcome)] = (float(price), ts, str(kind))
    return out


def open_markets_at(
    store: Store, at: datetime, venues: Sequence[str]
) -> tuple[list[Candidate], list[str]]:
    """Markets open at ``at`` with the last quote known at ``at`` (see module docstring).

    Returns
    -------
    candidates, notes
        ``notes`` say which inputs were missing (never an error).
    """
    notes: list[str] = []
    if not store.has("markets"):
        return [], [f"no markets table in {store.root}: nothing to replay"]
    markets = store.markets_as_of(at)
    markets = markets[markets["venue"].isin(list(venues))]
    prices = store.as_of("market_prices", at) if store.has("market_prices") else pd.DataFrame()
    first_seen = (
        prices.groupby("market_id")["available_at"].min() if not prices.empty else pd.Series()
    )
    last = _last_prices(prices)
    books = _books_at(store, at)
    if not books:
        notes.append(
            "no archived books known at this time: quotes are last prices +- "
            f"{ASSUMED_HALF_SPREAD:g} (assumed half-spread)"
        )
    stamp = pd.Timestamp(at)
    out: list[Candidate] = []
    for row in markets.to_dict("records"):
        market_id = str(row["market_id"])
        seen = first_seen.get(market_id)
        created = row.get("created_at")
        listed = (not pd.isna(created) and created <= stamp) or (
            seen is not None and not pd.isna(seen)
        )
        if not listed or not pd.isna(row.get("resolved_at")):
            continue
        market = venue_market_from_row(row)
        reference = None if market.created_at is not None or seen is None else seen
        book = books.get(market_id)
        out.append(
            Candidate(
                market,
                book=book,
                last_prices=last.get(market_id, {}),
                source="archived book" if book is not None else "no quote known at this time",
                reference_time=None if reference is None else reference.to_pydatetime(),
            )
        )
    return out, notes
